//! Background work inside the service process, safe with several instances.

pub mod outbox;

//! Background work inside the service process, safe with several instances.

pub mod deadlines;
pub mod outbox;

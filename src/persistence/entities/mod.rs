//! sea-orm entities, one module per table. Only `persistence` sees these; the rest of the
//! service works with domain types and the query functions beside this module.

pub mod hospital_api_key;
pub mod identity_link;
pub mod institution;
pub mod notification;
pub mod officer;
pub mod subscription_consent;
pub mod user;

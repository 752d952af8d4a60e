//! The rules, pure: no web framework, database, HTTP client or key-value store in here.

mod text_enum;

pub use text_enum::LifeCycle;

pub mod application;
pub mod application_state;
pub mod audit;
pub mod certificate;
pub mod certificate_number;
pub mod consent;
pub mod courier_fee;
pub mod delivery;
pub mod eligibility;
pub mod institution;
pub mod masking;
pub mod modification;
pub mod names;
pub mod notification;
pub mod paging;
pub mod payment;
pub mod province;
pub mod region;
pub mod registration_form;
pub mod resident_id;
pub mod search;
pub mod shipment;
pub mod working_days;

pub use certificate_number::CertificateNumber;
pub use institution::Institution;
pub use resident_id::ResidentId;
pub use working_days::{Calendar, OfficeHours};

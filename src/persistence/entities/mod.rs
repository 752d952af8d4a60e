//! sea-orm entities, one module per table. Only `persistence` sees these; the rest of the
//! service works with domain types and the query functions beside this module.

pub mod application;
pub mod application_event;
pub mod audit_head;
pub mod audit_log;
pub mod certificate;
pub mod certificate_stock;
pub mod consent;
pub mod courier_event;
pub mod delivery_record;
pub mod document;
pub mod first_issuance_register;
pub mod health_card;
pub mod hospital_api_key;
pub mod identity_link;
pub mod identity_verification;
pub mod institution;
pub mod modification_request;
pub mod notification;
pub mod officer;
pub mod online_issuance_register;
pub mod parent;
pub mod payment;
pub mod province_report;
pub mod search_name;
pub mod shipment;
pub mod signature;
pub mod subscription_consent;
pub mod user;

//! The use cases, by actor and capability: `applicant/` (the family's journey), `issuing/`
//! (hospital, officer, stock, certificates, shipping, registers), `official_account` (what the
//! WeChat account answers), `staff` (officer accounts and hospital keys), `sign_in` (tokens for every audience). Each takes what it
//! needs (database, cipher, clients) rather than the whole state, returns `ServiceError`, and
//! changes an application's state only through `lifecycle::apply`. No web framework here.

pub mod applicant;
pub mod console;
pub mod digest;
pub mod error;
pub mod institutions;
pub mod issuing;
pub mod lifecycle;
pub mod official_account;
pub mod retention;
pub mod rotation;
pub mod sign_in;
pub mod staff;

pub use error::{FieldError, ServiceError};

use crate::crypto::{Field, PersonalDataCipher, Sealed};
use crate::domain::masking;
use crate::persistence::audit::{Actor, NewEntry};
use crate::persistence::StoredNumber;

/// A personal number as it is stored: sealed, blind-indexed and masked.
pub fn store_number(cipher: &PersonalDataCipher, field: Field, value: &str) -> StoredNumber {
    let masked = match field {
        Field::IdNumber => masking::mask_id_number(value),
        Field::Phone => masking::mask_phone(value),
    };
    StoredNumber { sealed: cipher.seal(field, value), bidx: cipher.blind_index(field, value), masked }
}

/// What an officer reads of personal data, for the audit log.
#[derive(Debug, Clone, Copy)]
pub enum PersonalRead<'a> {
    /// The unmasked case (`subject` = application id).
    Application(&'a str),
    /// One image of the case.
    Document { application_id: &'a str, kind: &'a str, sha256: &'a str },
    /// The printed registration form.
    PrintedForm { application_id: &'a str, form_digest: &'a str },
    /// A register export for a date range.
    Register { name: &'a str, from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>, format: &'a str },
    /// A page of the officer's queue (mothers' names, births, newborns' names).
    Queue { institution: &'a str, states: &'a [&'a str], overdue: Option<bool>, page: u64, per_page: u64 },
    /// The modification requests (the corrections families asked for, with their data).
    ModificationRequests { institution: &'a str, state: Option<&'a str> },
    /// A search of the institution's cases (`kind` of term: the term itself is personal data).
    Search { institution: &'a str, kind: &'a str },
    /// The certificate with its stub, printed.
    PrintedCertificate { application_id: &'a str, number: &'a str },
    /// The whole archive of a case (forms, images, certificates, audit extract).
    Archive(&'a str),
    /// The console's "show" of a case's ID numbers and phones in full (masked until asked).
    Unmasked(&'a str),
}

/// Every read of personal data goes through here, and is in the audit log before anything is
/// returned: callers audit first, then answer.
pub async fn audit_read(
    db: &crate::persistence::Db,
    reader: &Actor,
    read: PersonalRead<'_>,
) -> Result<(), ServiceError> {
    use serde_json::json;
    let (action, kind, subject, detail) = match read {
        PersonalRead::Application(id) => ("read_application", "application", id, json!({})),
        PersonalRead::Document { application_id, kind, sha256 } => {
            ("read_document", "application", application_id, json!({"kind": kind, "sha256": sha256}))
        }
        PersonalRead::PrintedForm { application_id, form_digest } => {
            ("print_form", "application", application_id, json!({"form_digest": form_digest}))
        }
        PersonalRead::Register { name, from, to, format } => {
            ("read_register", "register", name, json!({"from": from, "to": to, "format": format}))
        }
        PersonalRead::Queue { institution, states, overdue, page, per_page } => (
            "read_queue",
            "institution",
            institution,
            json!({"states": states, "overdue": overdue, "page": page, "per_page": per_page}),
        ),
        PersonalRead::ModificationRequests { institution, state } => {
            ("read_modification_requests", "institution", institution, json!({"state": state}))
        }
        PersonalRead::Search { institution, kind } => ("search", "institution", institution, json!({"kind": kind})),
        PersonalRead::PrintedCertificate { application_id, number } => {
            ("print_certificate", "certificate", number, json!({"application_id": application_id}))
        }
        PersonalRead::Archive(id) => ("read_archive", "application", id, json!({})),
        PersonalRead::Unmasked(id) => ("show_unmasked", "application", id, json!({})),
    };
    crate::persistence::audit::append_alone(db, NewEntry::new(reader, action, kind, subject, detail)).await?;
    Ok(())
}

/// A checked sign-in (success or failure), in the audit log in a transaction of its own. Like
/// the audited reads, it is written here and nowhere else.
pub async fn audit_sign_in(
    db: &crate::persistence::Db,
    actor: &Actor,
    action: &'static str,
    subject: (&str, &str),
    detail: serde_json::Value,
) -> Result<(), ServiceError> {
    crate::persistence::audit::append_alone(db, NewEntry::new(actor, action, subject.0, subject.1, detail)).await?;
    Ok(())
}

/// The registration form as the family confirmed it, opened, with its digest; None before
/// confirmation. A form that does not open or parse is our fault (500).
pub async fn frozen_form(
    db: &crate::persistence::Db,
    cipher: &PersonalDataCipher,
    application_id: &str,
) -> Result<Option<(crate::domain::registration_form::RegistrationForm, String)>, ServiceError> {
    let Some((stored, digest)) = crate::persistence::applications::frozen_form(db, application_id).await? else {
        return Ok(None);
    };
    Ok(Some((open_frozen_form(cipher, application_id, &stored)?, digest)))
}

/// Opens a frozen form as stored (sealed JSON); one that does not open is our fault (500).
pub fn open_frozen_form(
    cipher: &PersonalDataCipher,
    application_id: &str,
    stored: &str,
) -> Result<crate::domain::registration_form::RegistrationForm, ServiceError> {
    let broken = |e: anyhow::Error| ServiceError::internal(e.context(format!("frozen form of {application_id}")));
    let json = cipher.open_form(stored).map_err(|e| broken(e.into()))?;
    serde_json::from_str(&json).map_err(|e| broken(e.into()))
}

/// Opens a sealed number; a seal that does not open is our fault (500), named by `what`.
pub fn open_number(
    cipher: &PersonalDataCipher,
    field: Field,
    sealed: &Sealed,
    what: &str,
) -> Result<String, ServiceError> {
    cipher.open(field, sealed).map_err(|e| ServiceError::internal(anyhow::Error::new(e).context(what.to_string())))
}

//! The use cases, by actor and capability: `applicant/` (the family's journey), `issuing/`
//! (hospital, officer, stock, certificates, shipping, registers), `official_account` (what the
//! WeChat account answers), `staff` (officer accounts and hospital keys), `sign_in` (tokens for every audience). Each takes what it
//! needs (database, cipher, clients) rather than the whole state, returns `ServiceError`, and
//! changes an application's state only through `lifecycle::apply`. No web framework here.

pub mod applicant;
pub mod error;
pub mod institutions;
pub mod issuing;
pub mod lifecycle;
pub mod official_account;
pub mod sign_in;
pub mod staff;

pub use error::{FieldError, ServiceError};

use crate::crypto::{Field, PersonalDataCipher, Sealed};
use crate::domain::masking;
use crate::persistence::StoredNumber;

/// A personal number as it is stored: sealed, blind-indexed and masked.
pub fn store_number(cipher: &PersonalDataCipher, field: Field, value: &str) -> StoredNumber {
    let masked = match field {
        Field::IdNumber => masking::mask_id_number(value),
        Field::Phone => masking::mask_phone(value),
    };
    StoredNumber { sealed: cipher.seal(field, value), bidx: cipher.blind_index(field, value), masked }
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

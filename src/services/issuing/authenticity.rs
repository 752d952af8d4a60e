//! The authenticity check of a printed certificate. The certificate carries a QR code (and the
//! same address in print) with a token `<number>.<tag>`, the tag an HMAC of the number under the
//! service's index key, so only the service makes tokens. `GET /v/{token}` tells anyone whether
//! that certificate is valid or void, with the newborn's name masked; a forged or unknown token
//! is 404 (the same answer, so numbers cannot be probed), and each address may ask a limited
//! number of times a minute.

use chrono::NaiveDate;
use serde::Serialize;

use crate::crypto::PersonalDataCipher;
use crate::domain::masking::mask_name;
use crate::kv::KvStore;
use crate::persistence::{applications, certificates, institutions, Db};
use crate::services::ServiceError;

/// Checks per client address per minute.
pub const CHECKS_PER_MINUTE: i64 = 30;

/// The token printed on the certificate.
pub fn token_for(cipher: &PersonalDataCipher, certificate_number: &str) -> String {
    format!("{certificate_number}.{}", cipher.authenticity_tag(certificate_number))
}

/// The address printed on the certificate, as text and as its QR code.
pub fn url_for(public_url: &str, cipher: &PersonalDataCipher, certificate_number: &str) -> String {
    format!("{public_url}/v/{}", token_for(cipher, certificate_number))
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuthenticityView {
    pub certificate_number: String,
    pub issued_on: NaiveDate,
    pub institution: String,
    pub newborn_name_masked: String,
    /// `valid` (issued or delivered) or `void` (voided, lost, recovered).
    pub status: &'static str,
}

/// What the token says of its certificate.
#[tracing::instrument(skip_all)]
pub async fn check(
    db: &Db,
    cipher: &PersonalDataCipher,
    kv: &dyn KvStore,
    client: &str,
    token: &str,
) -> Result<AuthenticityView, ServiceError> {
    let tries = kv.increment(&format!("ratelimit:verify:{client}"), std::time::Duration::from_secs(60)).await?;
    if tries > CHECKS_PER_MINUTE {
        return Err(ServiceError::RateLimited);
    }
    let unknown = || ServiceError::NotFound("certificate");
    let (number, tag) = token.split_once('.').ok_or_else(unknown)?;
    if number.len() > 20 || tag.len() != 22 {
        return Err(unknown());
    }
    let expected = cipher.authenticity_tag(number);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), tag.as_bytes())) {
        return Err(unknown());
    }
    let certificate = certificates::certificate_by_number(db, number).await?.ok_or_else(unknown)?;
    let app = applications::application(db, &certificate.application_id).await?.ok_or_else(unknown)?;
    let institution = institutions::get(db, &certificate.institution_code)
        .await?
        .map_or_else(|| certificate.institution_code.clone(), |i| i.name);
    Ok(AuthenticityView {
        issued_on: crate::domain::working_days::to_china(certificate.issued_at).date_naive(),
        institution,
        newborn_name_masked: mask_name(app.newborn_name.as_deref().unwrap_or_default()),
        status: if certificate.state.in_force() { "valid" } else { "void" },
        certificate_number: certificate.number,
    })
}

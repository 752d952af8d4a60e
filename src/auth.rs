//! Tokens, passwords and API keys. No web framework here: the actix extractors that use this
//! live in `routes::extract`.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::JwtSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Applicant,
    Hospital,
    Officer,
    Admin,
}

/// JWT claims. `sub` is the user, officer or API-key id; `inst` scopes hospital and officer
/// tokens to their institution.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inst: Option<String>,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("token is invalid: {0}")]
    InvalidToken(String),
    #[error("token has expired")]
    Expired,
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    pub ttl_secs: u64,
}

impl JwtKeys {
    pub fn new(settings: &JwtSettings) -> JwtKeys {
        let secret = settings.secret.expose_secret().as_bytes();
        // Pin the algorithm: a token that names another one is refused.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            ttl_secs: settings.ttl_secs,
        }
    }

    pub fn issue(&self, sub: &str, role: Role, institution: Option<&str>) -> Result<String, AuthError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: sub.to_string(),
            role,
            inst: institution.map(str::to_string),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            iat: now,
            exp: now + i64::try_from(self.ttl_secs).unwrap_or(7200),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| AuthError::InvalidToken(e.to_string()))
    }

    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map(|data| data.claims).map_err(|e| {
            match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AuthError::Expired,
                other => AuthError::InvalidToken(format!("{other:?}")),
            }
        })
    }
}

/// argon2id with the crate's default (OWASP-recommended) parameters.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hashing(e.to_string()))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// A hash to compare against when the username is unknown, so a miss costs as much time as a
/// wrong password and does not reveal which usernames exist.
pub fn dummy_password_hash() -> &'static str {
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2Fv1v5cJfQ9Jv2i7gO3J8Y1q1Qm1x8Cq0l3rDqgk0m8"
}

/// A new hospital API key: `bck_` and 32 random bytes, URL-safe base64.
pub fn generate_api_key() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("bck_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// API keys carry 256 random bits, so a plain SHA-256 is as strong as a slow hash here and
/// allows an indexed lookup.
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.trim().as_bytes()))
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;

    fn settings(secret: &str, issuer: &str, audience: &str, ttl: u64) -> JwtSettings {
        JwtSettings {
            secret: SecretString::from(secret),
            issuer: issuer.into(),
            audience: audience.into(),
            ttl_secs: ttl,
        }
    }

    #[test]
    fn tokens_round_trip_with_role_and_institution() {
        let keys = JwtKeys::new(&settings("0123456789abcdef0123456789abcdef", "birthcert", "api", 60));
        let token = keys.issue("o-1", Role::Officer, Some("PY-RMYY")).expect("issued");
        let claims = keys.verify(&token).expect("valid");
        assert_eq!(claims.sub, "o-1");
        assert_eq!(claims.role, Role::Officer);
        assert_eq!(claims.inst.as_deref(), Some("PY-RMYY"));
    }

    #[test]
    fn wrong_secret_issuer_audience_or_expiry_is_refused() {
        let keys = JwtKeys::new(&settings("0123456789abcdef0123456789abcdef", "birthcert", "api", 60));
        let token = keys.issue("u", Role::Applicant, None).expect("issued");
        for other in [
            settings("another-secret-another-secret-xx", "birthcert", "api", 60),
            settings("0123456789abcdef0123456789abcdef", "someone-else", "api", 60),
            settings("0123456789abcdef0123456789abcdef", "birthcert", "other-api", 60),
        ] {
            assert!(JwtKeys::new(&other).verify(&token).is_err());
        }
        // Issued already expired (beyond the leeway).
        let mut expired = keys.clone();
        expired.ttl_secs = 0;
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: "u".into(),
            role: Role::Applicant,
            inst: None,
            iss: "birthcert".into(),
            aud: "api".into(),
            iat: now - 120,
            exp: now - 60,
        };
        let old = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &expired.encoding).expect("encoded");
        assert_eq!(keys.verify(&old).unwrap_err(), AuthError::Expired);
        assert!(keys.verify("not-a-token").is_err());
    }

    #[test]
    fn passwords_hash_and_verify() {
        let phc = hash_password("correct horse").expect("hashed");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("wrong", &phc));
        assert!(!verify_password("anything", "garbage"));
        assert!(!verify_password("anything", dummy_password_hash()));
    }

    #[test]
    fn api_keys_are_random_and_hash_stably() {
        let a = generate_api_key();
        assert!(a.starts_with("bck_") && a.len() > 40);
        assert_ne!(a, generate_api_key());
        assert_eq!(hash_api_key(&a), hash_api_key(&format!(" {a} ")));
    }
}

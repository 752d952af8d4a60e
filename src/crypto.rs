//! Personal data at rest: ID and phone numbers sealed with AES-256-GCM under a key id (so a new
//! key can be introduced without re-encrypting old rows), and an HMAC-SHA256 blind index so a
//! mother's ID can be matched to a delivery record without decrypting every row.

use std::collections::HashMap;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("unknown data key id {0:?}")]
    UnknownKey(String),
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("ciphertext failed authentication")]
    Authentication,
}

/// What a sealed value is, bound into the ciphertext as associated data so a value cannot be
/// moved from one column to another unnoticed, and into the blind index so equal numbers of
/// different kinds do not collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    IdNumber,
    Phone,
}

impl Field {
    fn label(self) -> &'static [u8] {
        match self {
            Field::IdNumber => b"id_number",
            Field::Phone => b"phone",
        }
    }
}

/// A sealed value as stored: the key id and base64 of nonce ‖ ciphertext ‖ tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub ciphertext: String,
}

#[derive(Clone)]
pub struct PersonalDataCipher {
    current_key_id: String,
    keys: HashMap<String, Aes256Gcm>,
    index_key: [u8; 32],
}

impl std::fmt::Debug for PersonalDataCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersonalDataCipher").field("current_key_id", &self.current_key_id).finish_non_exhaustive()
    }
}

const NONCE_LEN: usize = 12;

impl PersonalDataCipher {
    pub fn new(current_key_id: &str, current_key: &[u8; 32], index_key: [u8; 32]) -> PersonalDataCipher {
        let mut keys = HashMap::new();
        keys.insert(current_key_id.to_string(), Aes256Gcm::new(current_key.into()));
        PersonalDataCipher { current_key_id: current_key_id.to_string(), keys, index_key }
    }

    /// Keeps an older key for reading rows sealed before a rotation.
    pub fn with_previous_key(mut self, key_id: &str, key: &[u8; 32]) -> PersonalDataCipher {
        self.keys.entry(key_id.to_string()).or_insert_with(|| Aes256Gcm::new(key.into()));
        self
    }

    pub fn seal(&self, field: Field, plaintext: &str) -> Sealed {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let cipher = &self.keys[&self.current_key_id];
        // Encryption with a valid key and nonce cannot fail for inputs of this size.
        let ciphertext = cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext.as_bytes(), aad: field.label() })
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Sealed {
            key_id: self.current_key_id.clone(),
            ciphertext: base64::engine::general_purpose::STANDARD.encode(out),
        }
    }

    pub fn open(&self, field: Field, sealed: &Sealed) -> Result<String, CryptoError> {
        let cipher = self.keys.get(&sealed.key_id).ok_or_else(|| CryptoError::UnknownKey(sealed.key_id.clone()))?;
        let raw =
            base64::engine::general_purpose::STANDARD.decode(&sealed.ciphertext).map_err(|_| CryptoError::Malformed)?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad: field.label() })
            .map_err(|_| CryptoError::Authentication)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Malformed)
    }

    /// Deterministic, keyed, hex: equal inputs (after trimming and upper-casing) give equal
    /// indexes; without the key nothing can be learnt from it.
    pub fn blind_index(&self, field: Field, value: &str) -> String {
        let mut mac = hmac_sha256(&self.index_key);
        mac.update(field.label());
        mac.update(&[0]);
        mac.update(value.trim().to_ascii_uppercase().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// HMAC-SHA256 under `key`. HMAC takes keys of any length (longer ones are hashed first), so
/// this cannot fail.
pub fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    #[allow(clippy::expect_used)]
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> PersonalDataCipher {
        PersonalDataCipher::new("k1", &[7u8; 32], [9u8; 32])
    }

    #[test]
    fn round_trip() {
        let c = cipher();
        let sealed = c.seal(Field::IdNumber, "37012419900101123X");
        assert_eq!(sealed.key_id, "k1");
        assert!(!sealed.ciphertext.contains("370124"));
        assert_eq!(c.open(Field::IdNumber, &sealed).expect("opens"), "37012419900101123X");
    }

    #[test]
    fn each_seal_uses_a_fresh_nonce() {
        let c = cipher();
        assert_ne!(c.seal(Field::Phone, "13812345678"), c.seal(Field::Phone, "13812345678"));
    }

    #[test]
    fn tampering_and_field_swaps_are_detected() {
        let c = cipher();
        let sealed = c.seal(Field::IdNumber, "37012419900101123X");
        assert_eq!(c.open(Field::Phone, &sealed), Err(CryptoError::Authentication));
        let mut raw = base64::engine::general_purpose::STANDARD.decode(&sealed.ciphertext).expect("b64");
        raw[20] ^= 1;
        let tampered =
            Sealed { key_id: "k1".into(), ciphertext: base64::engine::general_purpose::STANDARD.encode(raw) };
        assert_eq!(c.open(Field::IdNumber, &tampered), Err(CryptoError::Authentication));
        assert_eq!(
            c.open(Field::IdNumber, &Sealed { key_id: "k9".into(), ciphertext: sealed.ciphertext.clone() }),
            Err(CryptoError::UnknownKey("k9".into()))
        );
        assert_eq!(
            c.open(Field::IdNumber, &Sealed { key_id: "k1".into(), ciphertext: "AAAA".into() }),
            Err(CryptoError::Malformed)
        );
    }

    #[test]
    fn rotation_keeps_old_rows_readable() {
        let old = cipher();
        let sealed = old.seal(Field::IdNumber, "37012419900101123X");
        let rotated = PersonalDataCipher::new("k2", &[8u8; 32], [9u8; 32]).with_previous_key("k1", &[7u8; 32]);
        assert_eq!(rotated.open(Field::IdNumber, &sealed).expect("opens"), "37012419900101123X");
        assert_eq!(rotated.seal(Field::IdNumber, "x").key_id, "k2");
    }

    #[test]
    fn blind_index_is_stable_normalised_and_keyed() {
        let c = cipher();
        let a = c.blind_index(Field::IdNumber, "37012419900101123x");
        assert_eq!(a, c.blind_index(Field::IdNumber, " 37012419900101123X "));
        assert_eq!(a.len(), 64);
        assert_ne!(a, c.blind_index(Field::Phone, "37012419900101123X"));
        let other_key = PersonalDataCipher::new("k1", &[7u8; 32], [1u8; 32]);
        assert_ne!(a, other_key.blind_index(Field::IdNumber, "37012419900101123X"));
    }
}

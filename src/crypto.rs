//! Personal data at rest: ID and phone numbers, the frozen registration form and every uploaded
//! image sealed with AES-256-GCM under a key id (so a new key can be introduced and old values
//! re-sealed at leisure: `birthcert crypto rotate`), and an HMAC-SHA256 blind index so a mother's
//! ID can be matched to a delivery record without decrypting every row.

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

/// A sealed image file starts with these bytes; no JPEG or PNG does, so a file without them is
/// one stored before images were sealed and is read as it is.
const BLOB_MAGIC: &[u8; 4] = b"BCS1";

const FORM_LABEL: &[u8] = b"registration_form";

/// A sealed text in one column starts with this, then `<key id>:<base64>`.
const TEXT_PREFIX: &str = "sealed:v1:";

/// Key ids are stored in headers and beside ciphertexts: short and plain.
pub fn valid_key_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
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

    pub fn current_key_id(&self) -> &str {
        &self.current_key_id
    }

    /// nonce ‖ ciphertext ‖ tag under the current key.
    fn seal_raw(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let cipher = &self.keys[&self.current_key_id];
        // Encryption with a valid key and nonce cannot fail for inputs of this size.
        let ciphertext = cipher.encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad }).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        out
    }

    fn open_raw(&self, key_id: &str, raw: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let cipher = self.keys.get(key_id).ok_or_else(|| CryptoError::UnknownKey(key_id.to_string()))?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(CryptoError::Malformed);
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        cipher.decrypt(Nonce::from_slice(nonce), Payload { msg: body, aad }).map_err(|_| CryptoError::Authentication)
    }

    pub fn seal(&self, field: Field, plaintext: &str) -> Sealed {
        Sealed {
            key_id: self.current_key_id.clone(),
            ciphertext: base64::engine::general_purpose::STANDARD
                .encode(self.seal_raw(plaintext.as_bytes(), field.label())),
        }
    }

    pub fn open(&self, field: Field, sealed: &Sealed) -> Result<String, CryptoError> {
        let raw =
            base64::engine::general_purpose::STANDARD.decode(&sealed.ciphertext).map_err(|_| CryptoError::Malformed)?;
        let plain = self.open_raw(&sealed.key_id, &raw, field.label())?;
        String::from_utf8(plain).map_err(|_| CryptoError::Malformed)
    }

    /// The frozen registration form (JSON) sealed into one column, key id included:
    /// `sealed:v1:<key id>:<base64>`. Its digest is of the clear JSON, so sealing and re-sealing
    /// never change it.
    pub fn seal_form(&self, form_json: &str) -> String {
        let raw = self.seal_raw(form_json.as_bytes(), FORM_LABEL);
        format!("{TEXT_PREFIX}{}:{}", self.current_key_id, base64::engine::general_purpose::STANDARD.encode(raw))
    }

    /// Opens what `seal_form` wrote; a form frozen before forms were sealed (no prefix) is
    /// returned as it is, so old rows stay readable until `crypto rotate` seals them.
    pub fn open_form(&self, stored: &str) -> Result<String, CryptoError> {
        let Some(sealed) = split_sealed_text(stored) else { return Ok(stored.to_string()) };
        let raw =
            base64::engine::general_purpose::STANDARD.decode(&sealed.ciphertext).map_err(|_| CryptoError::Malformed)?;
        String::from_utf8(self.open_raw(&sealed.key_id, &raw, FORM_LABEL)?).map_err(|_| CryptoError::Malformed)
    }

    /// Seals an image file. The associated data is the file's name (the SHA-256 of the image),
    /// so a sealed file moved under another name does not open.
    pub fn seal_blob(&self, name: &str, plaintext: &[u8]) -> Vec<u8> {
        let key_id = self.current_key_id.as_bytes();
        let mut out = Vec::with_capacity(plaintext.len() + 64);
        out.extend_from_slice(BLOB_MAGIC);
        // Key ids are at most 64 bytes (`valid_key_id`).
        out.push(key_id.len() as u8);
        out.extend_from_slice(key_id);
        out.extend_from_slice(&self.seal_raw(plaintext, &blob_aad(name)));
        out
    }

    /// Opens a sealed image file; a file stored before images were sealed is returned as it is.
    pub fn open_blob(&self, name: &str, stored: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match blob_key_id(stored)? {
            None => Ok(stored.to_vec()),
            Some(key_id) => {
                let body = &stored[BLOB_MAGIC.len() + 1 + key_id.len()..];
                self.open_raw(key_id, body, &blob_aad(name))
            }
        }
    }

    /// Is this stored value sealed under the current key? (What `crypto rotate` leaves alone.)
    pub fn is_current(&self, key_id: Option<&str>) -> bool {
        key_id == Some(self.current_key_id.as_str())
    }

    /// Deterministic, keyed, hex: equal inputs (after trimming and upper-casing) give equal
    /// indexes; without the key nothing can be learnt from it.
    /// The tag that makes a certificate's authenticity token unforgeable: HMAC-SHA256 of the
    /// number under the index key, 16 bytes, base64url (22 characters).
    pub fn authenticity_tag(&self, certificate_number: &str) -> String {
        use base64::Engine;
        let mut mac = hmac_sha256(&self.index_key);
        mac.update(b"authenticity-v1\0");
        mac.update(certificate_number.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16])
    }

    pub fn blind_index(&self, field: Field, value: &str) -> String {
        let mut mac = hmac_sha256(&self.index_key);
        mac.update(field.label());
        mac.update(&[0]);
        mac.update(value.trim().to_ascii_uppercase().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

fn blob_aad(name: &str) -> Vec<u8> {
    [b"blob:".as_slice(), name.as_bytes()].concat()
}

/// The key id in a sealed image file's header; None for a file stored in clear.
pub fn blob_key_id(stored: &[u8]) -> Result<Option<&str>, CryptoError> {
    let Some(rest) = stored.strip_prefix(BLOB_MAGIC.as_slice()) else { return Ok(None) };
    let (&len, rest) = rest.split_first().ok_or(CryptoError::Malformed)?;
    let id = rest.get(..usize::from(len)).ok_or(CryptoError::Malformed)?;
    std::str::from_utf8(id).map(Some).map_err(|_| CryptoError::Malformed)
}

/// The key id and ciphertext of a sealed text; None for a text stored in clear.
pub fn split_sealed_text(stored: &str) -> Option<Sealed> {
    let (key_id, ciphertext) = stored.strip_prefix(TEXT_PREFIX)?.split_once(':')?;
    Some(Sealed { key_id: key_id.to_string(), ciphertext: ciphertext.to_string() })
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
    fn images_are_sealed_bound_to_their_name_and_old_clear_files_still_read() {
        let c = cipher();
        let jpeg = b"\xFF\xD8\xFF\xE0 a photo".to_vec();
        let sealed = c.seal_blob("abc", &jpeg);
        assert!(sealed.starts_with(b"BCS1\x02k1"));
        assert!(!sealed.windows(7).any(|w| w == b"a photo"), "no clear bytes");
        assert_eq!(blob_key_id(&sealed), Ok(Some("k1")));
        assert_eq!(c.open_blob("abc", &sealed).expect("opens"), jpeg);
        assert_eq!(c.open_blob("abd", &sealed), Err(CryptoError::Authentication), "moved to another name");
        assert_eq!(c.open_blob("abc", &jpeg).expect("clear file"), jpeg);
        assert_eq!(blob_key_id(&jpeg), Ok(None));
        assert_eq!(c.open_blob("abc", b"BCS1\x09k1"), Err(CryptoError::Malformed));
        let rotated = PersonalDataCipher::new("k2", &[8u8; 32], [9u8; 32]).with_previous_key("k1", &[7u8; 32]);
        assert_eq!(rotated.open_blob("abc", &sealed).expect("old key still reads"), jpeg);
        assert!(!rotated.is_current(blob_key_id(&sealed).expect("header")));
        let without_old = PersonalDataCipher::new("k2", &[8u8; 32], [9u8; 32]);
        assert_eq!(without_old.open_blob("abc", &sealed), Err(CryptoError::UnknownKey("k1".into())));
    }

    #[test]
    fn a_sealed_text_names_its_key_and_a_clear_one_reads_as_it_is() {
        let c = cipher();
        let form = r#"{"mother":{"id_number":"37012419900101123X"}}"#;
        let stored = c.seal_form(form);
        assert!(stored.starts_with("sealed:v1:k1:") && !stored.contains("370124"), "{stored}");
        assert_eq!(c.open_form(&stored).expect("opens"), form);
        assert_eq!(c.open_form(form).expect("clear"), form);
        let as_number = split_sealed_text(&stored).expect("sealed");
        assert_eq!(c.open(Field::IdNumber, &as_number), Err(CryptoError::Authentication), "bound to the form");
        assert_eq!(split_sealed_text(&stored).map(|s| s.key_id), Some("k1".to_string()));
    }

    #[test]
    fn key_ids_are_short_and_plain() {
        assert!(valid_key_id("prod-2026.1_a"));
        for bad in ["", "a:b", "a b", &"k".repeat(65), "é"] {
            assert!(!valid_key_id(bad), "{bad:?}");
        }
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

//! WeChat Pay v3, the parts that are pure protocol: request signing (WECHATPAY2-SHA256-RSA2048),
//! the mini-program's pay parameters, notification signature checks in public-key and
//! certificate modes, and the AES-256-GCM resource.

use std::collections::HashMap;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use ring::signature::RsaPublicKeyComponents;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayError {
    #[error("key: {0}")]
    Key(String),
    #[error("unknown Wechatpay-Serial {0:?}")]
    UnknownSerial(String),
    #[error("signature does not verify")]
    Signature,
    #[error("timestamp is more than 5 minutes away from now")]
    Stale,
    #[error("resource does not decrypt")]
    Decrypt,
    #[error("{0} is not the notification's JSON")]
    Malformed(&'static str),
}

pub const MAX_SKEW_SECS: i64 = 300;

/// The merchant's RSA-2048 key. Signing goes through ring (constant-time, assembly
/// Montgomery multiplication): every order needs two signatures, and the `rsa` crate took
/// about 2 ms for each on this machine.
#[derive(Clone)]
pub struct MerchantSigner {
    key: std::sync::Arc<ring::signature::RsaKeyPair>,
    rng: ring::rand::SystemRandom,
}

impl MerchantSigner {
    pub fn from_pem(pem: &str) -> Result<MerchantSigner, PayError> {
        use rsa::pkcs8::EncodePrivateKey;
        let key = RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| PayError::Key(e.to_string()))?;
        let der = key.to_pkcs8_der().map_err(|e| PayError::Key(e.to_string()))?;
        let pair = ring::signature::RsaKeyPair::from_pkcs8(der.as_bytes()).map_err(|e| PayError::Key(e.to_string()))?;
        Ok(MerchantSigner { key: std::sync::Arc::new(pair), rng: ring::rand::SystemRandom::new() })
    }

    pub fn sign(&self, message: &str) -> String {
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        // Signing with a valid key into a buffer of the modulus length cannot fail; an empty
        // signature would be refused by the platform rather than panic here.
        if self.key.sign(&ring::signature::RSA_PKCS1_SHA256, &self.rng, message.as_bytes(), &mut signature).is_err() {
            tracing::error!("merchant signing failed");
            return String::new();
        }
        base64::engine::general_purpose::STANDARD.encode(signature)
    }

    /// `Authorization` for an API call: signs `METHOD\nPATH\nTIMESTAMP\nNONCE\nBODY\n`.
    #[allow(clippy::too_many_arguments)] // each is one named part of the signed message
    pub fn authorization(
        &self,
        mch_id: &str,
        serial_no: &str,
        method: &str,
        path: &str,
        timestamp: i64,
        nonce: &str,
        body: &str,
    ) -> String {
        let signature = self.sign(&format!("{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n"));
        format!(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"{mch_id}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{serial_no}\""
        )
    }

    /// What `wx.requestPayment` needs: paySign over `appId\ntimeStamp\nnonceStr\npackage\n`.
    pub fn pay_params(&self, app_id: &str, prepay_id: &str, timestamp: i64, nonce: &str) -> PayParams {
        let package = format!("prepay_id={prepay_id}");
        let pay_sign = self.sign(&format!("{app_id}\n{timestamp}\n{nonce}\n{package}\n"));
        PayParams {
            app_id: app_id.to_string(),
            time_stamp: timestamp.to_string(),
            nonce_str: nonce.to_string(),
            package,
            sign_type: "RSA",
            pay_sign,
        }
    }
}

/// What `wx.requestPayment` takes, spelled as it wants them.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayParams {
    pub app_id: String,
    /// Unix seconds, as a string.
    pub time_stamp: String,
    pub nonce_str: String,
    /// `prepay_id=…`
    pub package: String,
    /// Always `RSA` (WeChat Pay v3).
    pub sign_type: &'static str,
    /// Base64 SHA256-with-RSA of `appId\ntimeStamp\nnonceStr\npackage\n` under the merchant key.
    pub pay_sign: String,
}

/// The platform's verifying keys by serial: a public-key id (`PUB_KEY_ID_...`) and/or platform
/// certificates (serial as upper-case hex). Keys are read with the `rsa` crate and checked with
/// ring, as the merchant's signatures are made: the same check through `rsa`'s portable big
/// integers was 1 % of a whole journey's CPU in the profile, for two notifications.
#[derive(Clone, Default)]
pub struct PlatformKeys {
    keys: HashMap<String, RsaPublicKeyComponents<Vec<u8>>>,
}

/// WeChat Pay's keys are RSA-2048 or longer; a shorter one is refused when it is loaded, not
/// found out at the first notification.
fn verifying(key: &RsaPublicKey) -> Result<RsaPublicKeyComponents<Vec<u8>>, PayError> {
    if key.n().bits() < 2048 {
        return Err(PayError::Key(format!(
            "a {}-bit platform key; WeChat Pay's are 2048 bits or more",
            key.n().bits()
        )));
    }
    Ok(RsaPublicKeyComponents { n: key.n().to_bytes_be(), e: key.e().to_bytes_be() })
}

impl PlatformKeys {
    pub fn add_public_key(&mut self, key_id: &str, pem: &str) -> Result<(), PayError> {
        let key = RsaPublicKey::from_public_key_pem(pem).map_err(|e| PayError::Key(e.to_string()))?;
        self.keys.insert(key_id.to_string(), verifying(&key)?);
        Ok(())
    }

    pub fn add_certificate(&mut self, pem: &str) -> Result<String, PayError> {
        use x509_cert::der::{DecodePem, Encode};
        let cert = x509_cert::Certificate::from_pem(pem).map_err(|e| PayError::Key(e.to_string()))?;
        let serial = hex::encode_upper(cert.tbs_certificate.serial_number.as_bytes());
        let der = cert.tbs_certificate.subject_public_key_info.to_der().map_err(|e| PayError::Key(e.to_string()))?;
        let key = RsaPublicKey::from_public_key_der(&der).map_err(|e| PayError::Key(e.to_string()))?;
        self.keys.insert(serial.clone(), verifying(&key)?);
        Ok(serial)
    }

    /// Checks `Wechatpay-Signature` over `TIMESTAMP\nNONCE\nBODY\n` and the timestamp skew.
    pub fn verify(
        &self,
        serial: &str,
        timestamp: &str,
        nonce: &str,
        body: &str,
        signature_b64: &str,
        now: i64,
    ) -> Result<(), PayError> {
        let ts: i64 = timestamp.trim().parse().map_err(|_| PayError::Stale)?;
        if (now - ts).abs() > MAX_SKEW_SECS {
            return Err(PayError::Stale);
        }
        let key = self.keys.get(serial.trim()).ok_or_else(|| PayError::UnknownSerial(serial.to_string()))?;
        let raw =
            base64::engine::general_purpose::STANDARD.decode(signature_b64.trim()).map_err(|_| PayError::Signature)?;
        key.verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            format!("{timestamp}\n{nonce}\n{body}\n").as_bytes(),
            &raw,
        )
        .map_err(|_| PayError::Signature)
    }
}

/// AEAD_AES_256_GCM with the APIv3 key; `associated_data` may be empty.
pub fn decrypt_resource(
    api_v3_key: &[u8; 32],
    nonce: &str,
    associated_data: &str,
    ciphertext_b64: &str,
) -> Result<String, PayError> {
    let cipher = Aes256Gcm::new(api_v3_key.into());
    let data = base64::engine::general_purpose::STANDARD.decode(ciphertext_b64).map_err(|_| PayError::Decrypt)?;
    if nonce.len() != 12 {
        return Err(PayError::Decrypt);
    }
    let plain = cipher
        .decrypt(Nonce::from_slice(nonce.as_bytes()), Payload { msg: &data, aad: associated_data.as_bytes() })
        .map_err(|_| PayError::Decrypt)?;
    String::from_utf8(plain).map_err(|_| PayError::Decrypt)
}

/// A notification's envelope (`POST` body, signed): payments and refunds alike.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Notice {
    pub id: String,
    pub event_type: String,
    pub resource: Resource,
}

/// The encrypted part of a notification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Resource {
    pub algorithm: String,
    pub ciphertext: String,
    #[serde(default)]
    pub associated_data: String,
    pub nonce: String,
}

/// The transaction a `TRANSACTION.SUCCESS` notification carries, decrypted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Transaction {
    pub appid: String,
    pub mchid: String,
    pub out_trade_no: String,
    #[serde(default)]
    pub transaction_id: String,
    pub trade_state: String,
    pub amount: Amount,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Amount {
    /// Fen.
    pub total: i64,
}

/// The refund a `REFUND.*` notification carries, decrypted.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Refund {
    pub mchid: String,
    pub out_trade_no: String,
    pub out_refund_no: String,
    pub refund_id: String,
    /// `SUCCESS`, `CLOSED` or `ABNORMAL`.
    pub refund_status: String,
    pub amount: RefundAmount,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct RefundAmount {
    /// The order's total, fen.
    pub total: i64,
    /// What was refunded, fen.
    pub refund: i64,
}

impl Notice {
    pub const TRANSACTION_SUCCESS: &'static str = "TRANSACTION.SUCCESS";
    /// The refund reached the payer.
    pub const REFUND_SUCCESS: &'static str = "REFUND.SUCCESS";
    /// The refund could not be paid back the original way (a closed or frozen card).
    pub const REFUND_ABNORMAL: &'static str = "REFUND.ABNORMAL";
    pub const REFUND_CLOSED: &'static str = "REFUND.CLOSED";

    pub fn parse(body: &str) -> Result<Notice, PayError> {
        serde_json::from_str(body).map_err(|_| PayError::Malformed("body"))
    }

    pub fn is_refund(&self) -> bool {
        self.event_type.starts_with("REFUND.")
    }

    /// Decrypts the resource as a transaction (for `TRANSACTION.*` events).
    pub fn transaction(&self, api_v3_key: &[u8; 32]) -> Result<Transaction, PayError> {
        self.decrypt(api_v3_key)
    }

    /// Decrypts the resource as a refund (for `REFUND.*` events).
    pub fn refund(&self, api_v3_key: &[u8; 32]) -> Result<Refund, PayError> {
        self.decrypt(api_v3_key)
    }

    fn decrypt<T: serde::de::DeserializeOwned>(&self, api_v3_key: &[u8; 32]) -> Result<T, PayError> {
        let r = &self.resource;
        let plain = decrypt_resource(api_v3_key, &r.nonce, &r.associated_data, &r.ciphertext)?;
        serde_json::from_str(&plain).map_err(|_| PayError::Malformed("resource"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MERCHANT: &str = include_str!("../../config/dev-keys/merchant.pem");
    const PLATFORM_PUB: &str = include_str!("../../config/dev-keys/platform.pub");
    const PLATFORM_CERT: &str = include_str!("../../config/dev-keys/platform.crt");

    #[test]
    fn signatures_round_trip_and_tampering_fails() {
        // Sign with the merchant key and check with its public half, derived here.
        let signer = MerchantSigner::from_pem(MERCHANT).expect("key");
        let private = RsaPrivateKey::from_pkcs8_pem(MERCHANT).expect("key");
        let mut keys = PlatformKeys::default();
        keys.keys.insert("M".into(), verifying(&private.to_public_key()).expect("2048-bit key"));
        let sig = signer.sign("1714112445\nnonce\n{\"a\":1}\n");
        assert!(keys.verify("M", "1714112445", "nonce", "{\"a\":1}", &sig, 1714112445).is_ok());
        assert_eq!(keys.verify("M", "1714112445", "nonce", "{\"a\":2}", &sig, 1714112445), Err(PayError::Signature));
        assert_eq!(keys.verify("M", "1714112445", "nonce", "{\"a\":1}", &sig, 1714112445 + 301), Err(PayError::Stale));
        assert!(matches!(
            keys.verify("X", "1714112445", "nonce", "{\"a\":1}", &sig, 1714112445),
            Err(PayError::UnknownSerial(_))
        ));
    }

    #[test]
    fn platform_keys_load_in_both_modes() {
        let mut keys = PlatformKeys::default();
        keys.add_public_key("PUB_KEY_ID_0000000000000001", PLATFORM_PUB).expect("public key");
        let serial = keys.add_certificate(PLATFORM_CERT).expect("certificate");
        assert_eq!(serial, "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
    }

    #[test]
    fn a_short_platform_key_is_refused_when_loaded() {
        use rsa::pkcs8::{EncodePublicKey, LineEnding};
        let short = RsaPrivateKey::new(&mut rand::thread_rng(), 1024).expect("key").to_public_key();
        let pem = short.to_public_key_pem(LineEnding::LF).expect("pem");
        let mut keys = PlatformKeys::default();
        assert!(matches!(keys.add_public_key("PUB_KEY_ID_SHORT", &pem), Err(PayError::Key(_))));
        assert!(keys.keys.is_empty());
    }

    #[test]
    fn resource_decryption() {
        let key = [7u8; 32];
        let cipher = Aes256Gcm::new((&key).into());
        let ct = cipher
            .encrypt(Nonce::from_slice(b"abcdefghijkl"), Payload { msg: b"{\"x\":1}", aad: b"transaction" })
            .expect("enc");
        let b64 = base64::engine::general_purpose::STANDARD.encode(ct);
        assert_eq!(decrypt_resource(&key, "abcdefghijkl", "transaction", &b64).expect("dec"), "{\"x\":1}");
        assert_eq!(decrypt_resource(&key, "abcdefghijkl", "other", &b64), Err(PayError::Decrypt));
    }

    #[test]
    fn notifications_parse_into_their_transaction() {
        let key = [7u8; 32];
        let tx = r#"{"appid":"wxapp","mchid":"1900000109","out_trade_no":"BC1","transaction_id":"4200001",
                     "trade_state":"SUCCESS","amount":{"total":1800,"payer_total":1800,"currency":"CNY"},
                     "payer":{"openid":"o1"}}"#;
        let ct = Aes256Gcm::new((&key).into())
            .encrypt(Nonce::from_slice(b"abcdefghijkl"), Payload { msg: tx.as_bytes(), aad: b"transaction" })
            .expect("enc");
        let body = serde_json::json!({
            "id": "EV-1", "create_time": "2026-12-02T10:00:00+08:00", "event_type": "TRANSACTION.SUCCESS",
            "resource_type": "encrypt-resource", "summary": "支付成功",
            "resource": {"algorithm": "AEAD_AES_256_GCM", "ciphertext": base64::engine::general_purpose::STANDARD.encode(ct),
                         "associated_data": "transaction", "nonce": "abcdefghijkl", "original_type": "transaction"}
        })
        .to_string();
        let notice = Notice::parse(&body).expect("notice");
        assert_eq!(notice.event_type, Notice::TRANSACTION_SUCCESS);
        let t = notice.transaction(&key).expect("transaction");
        assert_eq!((t.out_trade_no.as_str(), t.amount.total, t.trade_state.as_str()), ("BC1", 1800, "SUCCESS"));
        assert_eq!(notice.transaction(&[8u8; 32]), Err(PayError::Decrypt));
        assert_eq!(Notice::parse("{\"id\":1}"), Err(PayError::Malformed("body")));
    }

    /// The plaintext of the refund notification as the WeChat Pay v3 documentation shows it
    /// (退款结果通知, the decrypted resource).
    #[test]
    fn refund_notifications_parse_into_their_refund() {
        let key = [9u8; 32];
        let refund = r#"{"mchid":"1900000100","transaction_id":"1008450740201411110005820873",
            "out_trade_no":"20150806125346","refund_id":"50200207182018070300011301001",
            "out_refund_no":"7752501201407033233368018","refund_status":"SUCCESS",
            "success_time":"2018-06-08T10:34:56+08:00","user_received_account":"招商银行信用卡0403",
            "amount":{"total":999,"refund":999,"payer_total":999,"payer_refund":999}}"#;
        let ct = Aes256Gcm::new((&key).into())
            .encrypt(Nonce::from_slice(b"mnopqrstuvwx"), Payload { msg: refund.as_bytes(), aad: b"refund" })
            .expect("enc");
        let body = serde_json::json!({
            "id": "EV-2018022511223320873", "create_time": "2018-06-08T10:34:56+08:00",
            "resource_type": "encrypt-resource", "event_type": "REFUND.SUCCESS", "summary": "退款成功",
            "resource": {"original_type": "refund", "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": base64::engine::general_purpose::STANDARD.encode(ct),
                         "associated_data": "refund", "nonce": "mnopqrstuvwx"}
        })
        .to_string();
        let notice = Notice::parse(&body).expect("notice");
        assert!(notice.is_refund());
        assert_eq!(notice.event_type, Notice::REFUND_SUCCESS);
        let r = notice.refund(&key).expect("refund");
        assert_eq!(
            (r.out_refund_no.as_str(), r.refund_id.as_str(), r.refund_status.as_str(), r.amount.refund),
            ("7752501201407033233368018", "50200207182018070300011301001", "SUCCESS", 999)
        );
        // A payment's resource is not a refund.
        assert!(matches!(notice.transaction(&key), Err(PayError::Malformed("resource"))));
    }
}

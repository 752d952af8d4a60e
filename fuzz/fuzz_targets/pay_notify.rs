//! A WeChat Pay notification. Half the inputs are the envelope as posted; the other half are a
//! resource sealed with the APIv3 key inside a valid envelope, so the decrypted transaction and
//! refund JSON is what gets fuzzed.
#![no_main]

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use libfuzzer_sys::fuzz_target;

const API_V3_KEY: &[u8; 32] = b"dev-apiv3-key-0123456789abcdefgh";

fuzz_target!(|data: &[u8]| {
    use birthcert::wechat::pay::Notice;
    let Some((&mode, rest)) = data.split_first() else { return };
    let envelope = if mode % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else { return };
        text.to_string()
    } else {
        let nonce = b"0123456789ab";
        let sealed = Aes256Gcm::new(API_V3_KEY.into())
            .encrypt(Nonce::from_slice(nonce), Payload { msg: rest, aad: b"transaction" })
            .expect("encrypts");
        let ciphertext = base64::engine::general_purpose::STANDARD.encode(sealed);
        format!(
            r#"{{"id":"n","create_time":"2026-12-02T10:00:00+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"s","resource":{{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"{ciphertext}","associated_data":"transaction","nonce":"0123456789ab"}}}}"#
        )
    };
    if let Ok(notice) = Notice::parse(&envelope) {
        let _ = notice.is_refund();
        let _ = notice.transaction(API_V3_KEY);
        let _ = notice.refund(API_V3_KEY);
    }
});

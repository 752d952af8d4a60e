//! Mini-program open data: `encryptedData` is AES-128-CBC/PKCS#7 under the session key, with
//! the client-supplied IV; `watermark.appid` must be ours. `rawData` is signed with
//! `sha1(rawData + session_key)`.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
use base64::Engine;
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

type Decryptor = cbc::Decryptor<aes::Aes128>;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenDataError {
    #[error("session key, iv or data is not valid base64 of the right length")]
    Encoding,
    #[error("data does not decrypt under this session key (stale session key?)")]
    Decrypt,
    #[error("decrypted data is not JSON")]
    Json,
    #[error("data was produced for another appid")]
    AppId,
}

pub fn decrypt(
    session_key: &str,
    iv: &str,
    encrypted_data: &str,
    app_id: &str,
) -> Result<serde_json::Value, OpenDataError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let key: [u8; 16] = b64.decode(session_key).ok().and_then(|k| k.try_into().ok()).ok_or(OpenDataError::Encoding)?;
    let iv: [u8; 16] = b64.decode(iv).ok().and_then(|k| k.try_into().ok()).ok_or(OpenDataError::Encoding)?;
    let mut data = b64.decode(encrypted_data).map_err(|_| OpenDataError::Encoding)?;
    let plain = Decryptor::new(&key.into(), &iv.into())
        .decrypt_padded_mut::<Pkcs7>(&mut data)
        .map_err(|_| OpenDataError::Decrypt)?;
    let value: serde_json::Value = serde_json::from_slice(plain).map_err(|_| OpenDataError::Json)?;
    if value["watermark"]["appid"] != app_id {
        return Err(OpenDataError::AppId);
    }
    Ok(value)
}

pub fn verify_raw_data(raw_data: &str, session_key: &str, signature: &str) -> bool {
    let mut h = Sha1::new();
    h.update(raw_data.as_bytes());
    h.update(session_key.as_bytes());
    let expected = hex::encode(h.finalize());
    expected.len() == signature.len() && bool::from(expected.as_bytes().ct_eq(signature.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DATA: &str = "CiyLU1Aw2KjvrjMdj8YKliAjtP4gsMZMQmRzooG2xrDcvSnxIMXFufNstNGTyaGS9uT5geRa0W4oTOb1WT7fJlAC+oNPdbB+3hVbJSRgv+4lGOETKUQz6OYStslQ142dNCuabNPGBzlooOmB231qMM85d2/fV6ChevvXvQP8Hkue1poOFtnEtpyxVLW1zAo6/1Xx1COxFvrc2d7UL/lmHInNlxuacJXwu0fjpXfz/YqYzBIBzD6WUfTIF9GRHpOn/Hz7saL8xz+W//FRAUid1OksQaQx4CMs8LOddcQhULW4ucetDf96JcR3g0gfRK4PC7E/r7Z6xNrXd2UIeorGj5Ef7b1pJAYB6Y5anaHqZ9J6nKEBvB4DnNLIVWSgARns/8wR2SiRS7MNACwTyrGvt9ts8p12PKFdlqYTopNHR1Vf7XjfhQlVsAJdNiKdYmYVoKlaRv85IfVunYzO0IKXsyl7JCUjCpoG20f0a04COwfneQAGGwd5oa+T8yO5hzuyDb/XcxxmK01EpqOyuxINew==";

    #[test]
    fn official_decrypt_vector() {
        let v = decrypt("tiihtNczf5v6AKRyjwEUhQ==", "r7BXXKkLb8qrSNn05n0qiA==", DATA, "wx4f4bc4dec97d474b")
            .expect("decrypts");
        assert_eq!(v["openId"], "oGZUI0egBJY1zhBYw2KhdUfwVJJE");
        assert_eq!(v["unionId"], "ocMvos6NjeKLIBqg5Mr9QjxrP1FA");
        assert_eq!(v["watermark"]["timestamp"], 1477314187);
        assert_eq!(
            decrypt("tiihtNczf5v6AKRyjwEUhQ==", "r7BXXKkLb8qrSNn05n0qiA==", DATA, "wxOTHER"),
            Err(OpenDataError::AppId)
        );
        // A stale session key does not decrypt.
        assert!(decrypt("HyVFkGl5F5OQWJZZaNzBBg==", "r7BXXKkLb8qrSNn05n0qiA==", DATA, "wx4f4bc4dec97d474b").is_err());
    }

    #[test]
    fn official_raw_data_signature() {
        let raw = r#"{"nickName":"Band","gender":1,"language":"zh_CN","city":"Guangzhou","province":"Guangdong","country":"CN","avatarUrl":"http://wx.qlogo.cn/mmopen/vi_32/1vZvI39NWFQ9XM4LtQpFrQJ1xlgZxx3w7bQxKARol6503Iuswjjn6nIGBiaycAjAtpujxyzYsrztuuICqIM5ibXQ/0"}"#;
        assert!(verify_raw_data(raw, "HyVFkGl5F5OQWJZZaNzBBg==", "75e81ceda165f4ffa64f4068af58c64b8f54b88c"));
        assert!(!verify_raw_data(raw, "HyVFkGl5F5OQWJZZaNzBBg==", "75E81CEDA165F4FFA64F4068AF58C64B8F54B88C"));
    }
}

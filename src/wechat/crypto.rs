//! Safe mode (消息加解密): AES-256-CBC with IV = key[0..16], PKCS#7 padded to 32-byte blocks,
//! plaintext `random(16) ‖ len (u32 BE) ‖ message ‖ appid`, base64 on the wire.
//!
//! Strict where SDKs are lenient: bad padding, an impossible length or a foreign appid are
//! typed errors, never a guess.

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine;
use rand::RngCore;

type Encryptor = cbc::Encryptor<aes::Aes256>;
type Decryptor = cbc::Decryptor<aes::Aes256>;

const BLOCK: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("EncodingAESKey must be 43 base64 characters decoding to 32 bytes")]
    InvalidKey,
    #[error("ciphertext is not valid base64")]
    Base64,
    #[error("ciphertext length is not a multiple of the AES block")]
    BlockLength,
    #[error("PKCS#7 padding is invalid")]
    Padding,
    #[error("declared message length does not fit the plaintext")]
    Length,
    #[error("message is not UTF-8")]
    Utf8,
    #[error("message was encrypted for another appid")]
    AppId,
}

/// One EncodingAESKey, decoded.
#[derive(Clone)]
pub struct AesKey {
    key: [u8; 32],
}

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesKey(..)")
    }
}

impl AesKey {
    pub fn from_encoding_aes_key(encoding_aes_key: &str) -> Result<AesKey, CryptoError> {
        if encoding_aes_key.len() != 43 {
            return Err(CryptoError::InvalidKey);
        }
        // The 43rd character carries 2 unused bits; accept them whatever they are, as WeChat does.
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
        );
        let bytes = engine.decode(format!("{encoding_aes_key}=")).map_err(|_| CryptoError::InvalidKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| CryptoError::InvalidKey)?;
        Ok(AesKey { key })
    }

    fn iv(&self) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&self.key[..16]);
        iv
    }

    /// Encrypts with a fresh random prefix.
    pub fn encrypt(&self, message: &str, app_id: &str) -> String {
        let mut random = [0u8; 16];
        rand::thread_rng().fill_bytes(&mut random);
        self.encrypt_with_random(message, app_id, &random)
    }

    /// Deterministic variant for the official vectors.
    pub fn encrypt_with_random(&self, message: &str, app_id: &str, random: &[u8; 16]) -> String {
        let msg = message.as_bytes();
        let mut buf = Vec::with_capacity(20 + msg.len() + app_id.len() + BLOCK);
        buf.extend_from_slice(random);
        buf.extend_from_slice(&u32::try_from(msg.len()).unwrap_or(u32::MAX).to_be_bytes());
        buf.extend_from_slice(msg);
        buf.extend_from_slice(app_id.as_bytes());
        let pad = BLOCK - buf.len() % BLOCK;
        buf.resize(buf.len() + pad, u8::try_from(pad).unwrap_or(BLOCK as u8));
        let len = buf.len();
        let encrypted =
            Encryptor::new(&self.key.into(), &self.iv().into()).encrypt_padded_mut::<NoPadding>(&mut buf, len);
        base64::engine::general_purpose::STANDARD.encode(encrypted.unwrap_or_default())
    }

    /// Decrypts and checks the trailing appid; returns the message and the random prefix.
    pub fn decrypt(&self, encrypted: &str, app_id: &str) -> Result<String, CryptoError> {
        let (message, found_app_id) = self.decrypt_any(encrypted)?;
        if found_app_id != app_id {
            return Err(CryptoError::AppId);
        }
        Ok(message)
    }

    /// Decrypts without judging the appid (the mock and diagnostics use this).
    pub fn decrypt_any(&self, encrypted: &str) -> Result<(String, String), CryptoError> {
        let mut buf =
            base64::engine::general_purpose::STANDARD.decode(encrypted.trim()).map_err(|_| CryptoError::Base64)?;
        if buf.is_empty() || buf.len() % 16 != 0 {
            return Err(CryptoError::BlockLength);
        }
        let plain = Decryptor::new(&self.key.into(), &self.iv().into())
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .map_err(|_| CryptoError::BlockLength)?;
        let pad = usize::from(*plain.last().ok_or(CryptoError::Padding)?);
        if pad == 0
            || pad > BLOCK
            || pad > plain.len()
            || !plain[plain.len() - pad..].iter().all(|b| usize::from(*b) == pad)
        {
            return Err(CryptoError::Padding);
        }
        let content = &plain[..plain.len() - pad];
        if content.len() < 20 {
            return Err(CryptoError::Length);
        }
        let len = u32::from_be_bytes([content[16], content[17], content[18], content[19]]) as usize;
        let rest = &content[20..];
        if len > rest.len() {
            return Err(CryptoError::Length);
        }
        let message = std::str::from_utf8(&rest[..len]).map_err(|_| CryptoError::Utf8)?;
        let app_id = std::str::from_utf8(&rest[len..]).map_err(|_| CryptoError::Utf8)?;
        Ok((message.to_string(), app_id.to_string()))
    }
}

/// The current key and, during a rotation, the previous one. Decryption tries both and says
/// which one worked so the reply can use the same key.
#[derive(Debug, Clone)]
pub struct KeyRing {
    pub current: AesKey,
    pub previous: Option<AesKey>,
}

impl KeyRing {
    pub fn decrypt(&self, encrypted: &str, app_id: &str) -> Result<(String, &AesKey), CryptoError> {
        match self.current.decrypt(encrypted, app_id) {
            Ok(m) => Ok((m, &self.current)),
            Err(first) => match &self.previous {
                Some(prev) => prev.decrypt(encrypted, app_id).map(|m| (m, prev)).map_err(|_| first),
                None => Err(first),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wechat::signature::sign;

    // V1: the current official "消息加解密说明" page.
    const V1_KEY: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const V1_ENCRYPT: &str = "+qdx1OKCy+5JPCBFWw70tm0fJGb2Jmeia4FCB7kao+/Q5c/ohsOzQHi8khUOb05JCpj0JB4RvQMkUyus8TPxLKJGQqcvZqzDpVzazhZv6JsXUnnR8XGT740XgXZUXQ7vJVnAG+tE8NUd4yFyjPy7GgiaviNrlCTj+l5kdfMuFUPpRSrfMZuMcp3Fn2Pede2IuQrKEYwKSqFIZoNqJ4M8EajAsjLY2km32IIjdf8YL/P50F7mStwntrA2cPDrM1kb6mOcfBgRtWygb3VIYnSeOBrebufAlr7F9mFUPAJGj04=";

    #[test]
    fn v1_official_inbound_decrypts_and_signs() {
        let key = AesKey::from_encoding_aes_key(V1_KEY).expect("key");
        assert_eq!(sign(&["AAAAA", "1714112445", "415670741", V1_ENCRYPT]), "046e02f8204d34f8ba5fa3b1db94908f3df2e9b3");
        let msg = key.decrypt(V1_ENCRYPT, "wxba5fad812f8e6fb9").expect("decrypts");
        assert_eq!(msg.len(), 167);
        assert_eq!(
            msg,
            r#"{"ToUserName":"gh_97417a04a28d","FromUserName":"o9AgO5Kd5ggOC-bXrbNODIiE3bGY","CreateTime":1714112445,"MsgType":"event","Event":"debug_demo","debug_str":"hello world"}"#
        );
    }

    #[test]
    fn v1_official_reply_encrypts_identically() {
        let key = AesKey::from_encoding_aes_key(V1_KEY).expect("key");
        let random: [u8; 16] = *b"707722b803182950";
        let encrypted = key.encrypt_with_random(r#"{"demo_resp":"good luck"}"#, "wxba5fad812f8e6fb9", &random);
        assert_eq!(
            encrypted,
            "ELGduP2YcVatjqIS+eZbp80MNLoAUWvzzyJxgGzxZO/5sAvd070Bs6qrLARC9nVHm48Y4hyRbtzve1L32tmxSQ=="
        );
        assert_eq!(sign(&["AAAAA", "1713424427", "415670741", &encrypted]), "1b9339964ed2e271e7c7b6ff2b0ef902fc94dea1");
    }

    #[test]
    fn v2_tencent_sample_py() {
        let key = AesKey::from_encoding_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").expect("key");
        assert_eq!(hex::encode(key.key), "69b71d79f8218a39259a7a29aabb2dbafc31cb3d35db7e39ebbf3d0010831051");
        let encrypt = "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=";
        assert_eq!(
            sign(&["spamtest", "1409735669", "1320562132", encrypt]),
            "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
        );
        let msg = key.decrypt(encrypt, "wx2c2769f8efd9abc2").expect("decrypts");
        assert_eq!(msg, "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName>\n<FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]></FromUserName>\n<CreateTime>1409735668</CreateTime>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[abcdteT]]></Content>\n<MsgId>6054768590064713728</MsgId>\n</xml>");
        assert_eq!(key.decrypt(encrypt, "wxSOMEONEELSE0000"), Err(CryptoError::AppId));
    }

    #[test]
    fn v3_wxjava_deterministic_encryption() {
        let key = AesKey::from_encoding_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").expect("key");
        let random: [u8; 16] = *b"aaaabbbbccccdddd";
        let e1 = key.encrypt_with_random("我是中文abcd123", "wxb11529c136998cb6", &random);
        assert_eq!(e1, "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg==");
        assert_eq!(sign(&["pamtest", "1409304348", "xxxxxx", &e1]), "82c962d39941aa48552f90ef55aa323dc620cc10");
        let reply2 = "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName><FromUserName><![CDATA[gh_7f083739789a]]></FromUserName><CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType><Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]></MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title><Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>";
        let e2 = key.encrypt_with_random(reply2, "wxb11529c136998cb6", &random);
        assert_eq!(e2.len(), 640);
        assert!(e2.starts_with("jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesxlkupqcEcW7ZQweImX9"));
        assert!(e2.ends_with("OwofJb"));
        assert_eq!(sign(&["pamtest", "1409304348", "xxxxxx", &e2]), "ea88b765074e41eb8c7a75b449db34fa2fd560d5");
        assert_eq!(key.decrypt(&e2, "wxb11529c136998cb6").expect("round trip"), reply2);
    }

    #[test]
    fn v4_wechatpy_wecom_vectors() {
        let key = AesKey::from_encoding_aes_key("kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR").expect("key");
        let id = "wx49f0ab532d5d035a";
        let echostr = "4ByGGj+sVCYcvGeQYhaKIk1o0pQRNbRjxybjTGblXrBaXlTXeOo1+bXFXDQQb1o6co6Yh9Bv41n7hOchLF6p+Q==";
        assert_eq!(sign(&["123456", "1411443780", "437374425", echostr]), "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96");
        assert_ne!(sign(&["123456", "1411443780", "437374424", echostr]), "dd6b9c95b495b3f7e2901bfbc76c664930ffdb96");
        assert_eq!(key.decrypt(echostr, id).expect("echostr"), "5927782489442352469");

        let encrypt = "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHCrsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpXaG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQiMS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQipvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0=";
        assert_eq!(sign(&["123456", "1411525903", "461056294", encrypt]), "74d92dfeb87ba7c714f89d98870ae5eb62dff26d");
        let msg = key.decrypt(encrypt, id).expect("decrypts");
        assert!(msg.contains("<FromUserName><![CDATA[messense]]></FromUserName>"), "{msg}");
        assert!(msg.contains("<Content><![CDATA[test]]></Content>"));
        assert!(msg.contains("4363689963896700987"));

        let reply = "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n<CreateTime>1411525903</CreateTime>\n</xml>";
        let encrypted = key.encrypt_with_random(reply, id, b"1234567890123456");
        assert_eq!(encrypted, "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3");
        assert_eq!(
            sign(&["123456", "1411525903", "461056294", &encrypted]),
            "407518b7649e86ef23978113f92d27afa9296533"
        );
    }

    #[test]
    fn v5_tencent_csharp_sample() {
        let key = AesKey::from_encoding_aes_key("jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C").expect("key");
        let encrypt = "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==";
        assert_eq!(sign(&["QDG6eK", "1409659813", "1372623149", encrypt]), "477715d11cdb4164915debcba66cb864d751f3e6");
        let msg = key.decrypt(encrypt, "wx5823bf96d3bd56c7").expect("decrypts");
        assert!(msg.contains("hello") && msg.contains("mycreate") && msg.contains("4561255354251345929"), "{msg}");
    }

    #[test]
    fn strict_errors() {
        let key = AesKey::from_encoding_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").expect("key");
        assert_eq!(AesKey::from_encoding_aes_key("short").unwrap_err(), CryptoError::InvalidKey);
        assert_eq!(key.decrypt("***", "x"), Err(CryptoError::Base64));
        assert_eq!(key.decrypt("AAAA", "x"), Err(CryptoError::BlockLength));
        // A valid block under another key almost surely fails padding or length checks.
        let other = AesKey::from_encoding_aes_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").expect("key");
        let foreign = other.encrypt("hello", "wx1");
        assert!(key.decrypt(&foreign, "wx1").is_err());
        // Round trip of a message whose padded length is an exact multiple of 32.
        let exact = "x".repeat(32 - 20 - 3);
        let e = key.encrypt(&exact, "wx1");
        assert_eq!(key.decrypt(&e, "wx1").expect("round trip"), exact);
    }

    #[test]
    fn rotation_accepts_the_previous_key_and_says_which() {
        let new = AesKey::from_encoding_aes_key("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG").expect("key");
        let old = AesKey::from_encoding_aes_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").expect("key");
        let ring = KeyRing { current: new.clone(), previous: Some(old.clone()) };
        let (msg, used) = ring.decrypt(&old.encrypt("hi", "wx1"), "wx1").expect("old key accepted");
        assert_eq!(msg, "hi");
        assert_eq!(used.key, old.key);
        let (_, used) = ring.decrypt(&new.encrypt("hi", "wx1"), "wx1").expect("new key accepted");
        assert_eq!(used.key, new.key);
        let alone = KeyRing { current: new, previous: None };
        assert!(alone.decrypt(&old.encrypt("hi", "wx1"), "wx1").is_err());
    }
}

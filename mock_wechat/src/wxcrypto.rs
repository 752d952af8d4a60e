//! The platform's side of signing and safe mode, written apart from the service's code so that
//! each checks the other.

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::Engine;
use rand::RngCore;
use sha1::{Digest, Sha1};

pub fn sha1_sorted(parts: &[&str]) -> String {
    let mut v: Vec<String> = parts.iter().map(|s| s.to_string()).collect();
    v.sort();
    let joined: String = v.concat();
    let mut h = Sha1::new();
    h.update(joined.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

pub fn aes_key(encoding_aes_key: &str) -> Option<[u8; 32]> {
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
    );
    engine.decode(format!("{encoding_aes_key}=")).ok()?.try_into().ok()
}

pub fn encrypt(key: &[u8; 32], app_id: &str, message: &str) -> String {
    let mut plain = vec![0u8; 16];
    rand::thread_rng().fill_bytes(&mut plain);
    plain.extend_from_slice(&(message.len() as u32).to_be_bytes());
    plain.extend_from_slice(message.as_bytes());
    plain.extend_from_slice(app_id.as_bytes());
    let n = 32 - plain.len() % 32;
    plain.extend(std::iter::repeat_n(n as u8, n));
    let len = plain.len();
    let iv: [u8; 16] = key[..16].try_into().unwrap_or([0; 16]);
    let out = cbc::Encryptor::<aes::Aes256>::new(key.into(), &iv.into())
        .encrypt_padded_mut::<NoPadding>(&mut plain, len)
        .map(|b| b.to_vec())
        .unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// Returns (message, appid) or None when anything is off.
pub fn decrypt(key: &[u8; 32], encrypted: &str) -> Option<(String, String)> {
    let mut data = base64::engine::general_purpose::STANDARD.decode(encrypted).ok()?;
    let iv: [u8; 16] = key[..16].try_into().ok()?;
    let plain =
        cbc::Decryptor::<aes::Aes256>::new(key.into(), &iv.into()).decrypt_padded_mut::<NoPadding>(&mut data).ok()?;
    let n = *plain.last()? as usize;
    if n == 0 || n > 32 || n > plain.len() {
        return None;
    }
    let body = &plain[..plain.len() - n];
    let len = u32::from_be_bytes(body.get(16..20)?.try_into().ok()?) as usize;
    let msg = body.get(20..20 + len)?;
    let app = body.get(20 + len..)?;
    Some((String::from_utf8(msg.to_vec()).ok()?, String::from_utf8(app.to_vec()).ok()?))
}

/// Text of `<tag>` in a flat WeChat XML document (CDATA or plain).
pub fn xml_field(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&close)?;
    let inner = xml[start..end].trim();
    Some(match inner.strip_prefix("<![CDATA[").and_then(|s| s.strip_suffix("]]>")) {
        Some(c) => c.to_string(),
        None => inner.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"),
    })
}

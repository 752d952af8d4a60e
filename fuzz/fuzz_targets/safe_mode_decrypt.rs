//! Safe-mode decryption. Half the inputs go in as they are (base64, length and padding checks);
//! the other half are encrypted first with the account's key, so the decrypted layout (random,
//! length, message, app id, PKCS#7 padding) is what gets fuzzed.
#![no_main]

use aes::cipher::{block_padding::NoPadding, BlockEncryptMut, KeyIvInit};
use base64::Engine;
use libfuzzer_sys::fuzz_target;

const ENCODING_AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
/// The same key decoded (its value in the official sample's notes).
const AES_KEY: [u8; 32] = [
    0x69, 0xb7, 0x1d, 0x79, 0xf8, 0x21, 0x8a, 0x39, 0x25, 0x9a, 0x7a, 0x29, 0xaa, 0xbb, 0x2d, 0xba, 0xfc, 0x31, 0xcb,
    0x3d, 0x35, 0xdb, 0x7e, 0x39, 0xeb, 0xbf, 0x3d, 0x00, 0x10, 0x83, 0x10, 0x51,
];

fuzz_target!(|data: &[u8]| {
    let Ok(key) = birthcert::wechat::crypto::AesKey::from_encoding_aes_key(ENCODING_AES_KEY) else { return };
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        if let Ok(text) = std::str::from_utf8(rest) {
            let _ = key.decrypt_any(text);
        }
        return;
    }
    // AES-256-CBC, IV = the key's first 16 bytes, as WeChat does; the plaintext is the input
    // itself, zero-filled to whole blocks (its padding is what the decrypter must judge).
    let mut block = rest.to_vec();
    block.resize(rest.len().div_ceil(16).max(1) * 16, 0);
    let len = block.len();
    let encryptor = cbc::Encryptor::<aes::Aes256>::new_from_slices(&AES_KEY, &AES_KEY[..16]).expect("32-byte key");
    let Ok(ciphertext) = encryptor.encrypt_padded_mut::<NoPadding>(&mut block, len) else { return };
    let _ = key.decrypt_any(&base64::engine::general_purpose::STANDARD.encode(ciphertext));
});

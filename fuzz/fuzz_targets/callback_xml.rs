//! A callback body as WeChat posts it: any bytes must parse to a message or an error, never
//! panic, and a parsed message must give its dedupe key.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(message) = birthcert::wechat::message::Inbound::parse(text) {
        let _ = message.dedupe_key();
    }
});

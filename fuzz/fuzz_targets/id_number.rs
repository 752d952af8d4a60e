//! ID numbers as families type them: a resident ID parses or is refused, never panics, and a
//! parsed one gives its birth date, sex and region.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(id) = birthcert::domain::resident_id::ResidentId::parse(text) {
        let _ = (id.birth_date(), id.sex(), id.region_code());
        assert_eq!(birthcert::domain::resident_id::ResidentId::parse(id.as_str()).map(|again| again == id), Ok(true));
    }
});

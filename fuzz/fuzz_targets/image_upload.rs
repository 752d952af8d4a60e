//! An uploaded file: judged by its first bytes, then decoded whole under the limits. Any bytes
//! must end in a type and a size, or a refusal: never a panic, never more memory than the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = birthcert::blobs::ImageType::sniff(data);
    if let Ok((_, width, height)) = birthcert::blobs::check_image(data) {
        assert!(width <= birthcert::blobs::MAX_SIDE && height <= birthcert::blobs::MAX_SIDE);
    }
});

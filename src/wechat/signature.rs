//! Callback signatures: `signature = sha1(sort[token, timestamp, nonce])` on every request and,
//! in safe mode, `msg_signature = sha1(sort[token, timestamp, nonce, Encrypt])` over the body.

use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// Lower-case hex SHA-1 of the lexicographically sorted, concatenated parts.
pub fn sign(parts: &[&str]) -> String {
    hex::encode(digest(parts))
}

fn digest(parts: &[&str]) -> [u8; 20] {
    // WeChat signs three or four parts: sorted on the stack, not in an allocation per callback.
    let mut on_stack = [""; 4];
    let mut on_heap = Vec::new();
    let sorted: &mut [&str] = match on_stack.get_mut(..parts.len()) {
        Some(slots) => {
            slots.copy_from_slice(parts);
            slots
        }
        None => {
            on_heap.extend_from_slice(parts);
            &mut on_heap
        }
    };
    sorted.sort_unstable();
    let mut hasher = Sha1::new();
    for p in sorted.iter() {
        hasher.update(p.as_bytes());
    }
    hasher.finalize().into()
}

/// Constant-time comparison against the expected lower-case hex; WeChat sends lower case, so
/// upper-case hex is refused rather than normalised. The offered hex is decoded (nothing is
/// formatted): every callback checks one or two of these.
pub fn verify(expected_parts: &[&str], offered: &str) -> bool {
    let lower_hex = offered.len() == 40 && offered.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let mut offered_digest = [0u8; 20];
    lower_hex
        && hex::decode_to_slice(offered, &mut offered_digest).is_ok()
        && bool::from(digest(expected_parts).ct_eq(&offered_digest))
}

/// Whether a callback stamped `timestamp` (Unix seconds, as WeChat sends it) is within
/// `max_age_secs` of `now`, either way: a signed callback recorded and posted again later is a
/// replay. `max_age_secs == 0` switches the check off (the official test vectors carry fixed,
/// old timestamps); a timestamp that is not a number is never fresh.
pub fn is_fresh(timestamp: &str, now: i64, max_age_secs: u64) -> bool {
    if max_age_secs == 0 {
        return true;
    }
    timestamp.trim().parse::<i64>().is_ok_and(|ts| now.abs_diff(ts) <= max_age_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_recent_callbacks_are_fresh() {
        let now = 1_764_633_600;
        assert!(is_fresh("1764633600", now, 300));
        assert!(is_fresh("1764633300", now, 300) && is_fresh("1764633900", now, 300));
        assert!(!is_fresh("1764633299", now, 300), "five minutes and a second ago");
        assert!(!is_fresh("1764460800", now, 300), "two days ago");
        assert!(!is_fresh("1764633600000", now, 300), "milliseconds are not seconds");
        assert!(!is_fresh("", now, 300) && !is_fresh("yesterday", now, 300));
        assert!(!is_fresh("-9223372036854775808", now, 300));
        assert!(is_fresh("1714036504", now, 0), "switched off for the official vectors");
    }

    #[test]
    fn official_get_example() {
        // Token AAAAA, the official URL-verification example.
        assert_eq!(sign(&["AAAAA", "1714036504", "1514711492"]), "f464b24fc39322e44b38aa78f5edd27bd1441696");
        assert!(verify(&["AAAAA", "1714036504", "1514711492"], "f464b24fc39322e44b38aa78f5edd27bd1441696"));
    }

    #[test]
    fn official_plaintext_post_example() {
        assert_eq!(sign(&["AAAAA", "1714037059", "486452656"]), "899cf89e464efb63f54ddac96b0a0a235f53aa78");
    }

    #[test]
    fn sdk_signature_vectors() {
        assert_eq!(sign(&["a", "b", "c"]), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(
            sign(&["RMNlACHlV5ThzfRlVS4D4", "timestamp", "nonce", "encrypt"]),
            "8edac0945683c119ee71c9f6256d76c48aa08a96"
        );
    }

    #[test]
    fn any_number_of_parts_is_signed_in_sorted_order() {
        // Past four the parts are sorted in an allocation instead: the same digest either way.
        let mut parts = ["f", "e", "d", "c", "b", "a"];
        let six = sign(&parts);
        parts.sort_unstable();
        assert_eq!(six, hex::encode(Sha1::digest(parts.concat())));
        assert_eq!(sign(&["c", "a", "b"]), sign(&["a", "b", "c"]));
        assert_eq!(sign(&[]), hex::encode(Sha1::digest(b"")));
    }

    #[test]
    fn negatives() {
        let good = "f464b24fc39322e44b38aa78f5edd27bd1441696";
        // Wrong nonce.
        assert!(!verify(&["AAAAA", "1714036504", "1514711493"], good));
        // Upper-case hex.
        assert!(!verify(&["AAAAA", "1714036504", "1514711492"], &good.to_uppercase()));
        // Missing parameter (an empty nonce) and an empty signature.
        assert!(!verify(&["AAAAA", "1714036504", ""], good));
        assert!(!verify(&["AAAAA", "1714036504", "1514711492"], ""));
        // Truncated, padded, not hex, or forty bytes that are not forty hex digits.
        let parts = ["AAAAA", "1714036504", "1514711492"];
        assert!(!verify(&parts, &good[..39]));
        assert!(!verify(&parts, &format!("{good} ")) && !verify(&parts, &format!("{good}0")));
        assert!(!verify(&parts, &format!("g{}", &good[1..])));
        assert!(!verify(&parts, &format!("签{}", &good[3..])));
    }
}

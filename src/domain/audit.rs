//! The audit chain: each entry's hash covers its content and the previous entry's hash, so
//! altering, removing or reordering a stored entry breaks the chain at that point.

use sha2::{Digest, Sha256};

/// What one audit entry says; `at` is RFC 3339 with microseconds, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContent<'a> {
    pub at: &'a str,
    pub actor_kind: &'a str,
    pub actor_id: &'a str,
    pub action: &'a str,
    pub subject_kind: &'a str,
    pub subject_id: &'a str,
    pub detail: &'a str,
}

/// SHA-256 over the previous hash and each field, every field length-prefixed so that moving
/// text from one field to the next changes the hash.
pub fn chain_hash(prev_hash: &str, entry: &AuditContent<'_>) -> String {
    let mut h = Sha256::new();
    for part in [
        prev_hash,
        entry.at,
        entry.actor_kind,
        entry.actor_id,
        entry.action,
        entry.subject_kind,
        entry.subject_id,
        entry.detail,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Why the chain is broken at an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Break {
    /// The entry does not point at the hash of the entry before it (one removed or reordered).
    PrevHash,
    /// The entry's content no longer gives its stored hash (it was altered).
    Content,
}

/// Checks one stored entry against the hash of the entry before it.
pub fn check_link(
    expected_prev: &str,
    stored_prev: &str,
    stored_hash: &str,
    entry: &AuditContent<'_>,
) -> Option<Break> {
    if stored_prev != expected_prev {
        return Some(Break::PrevHash);
    }
    if chain_hash(stored_prev, entry) != stored_hash {
        return Some(Break::Content);
    }
    None
}

/// A witness of the chain kept outside the database (`audit.anchor_file`): after `entries`
/// entries the chain's hash was `hash`. Someone who can rewrite the database can recompute every
/// hash after an entry they altered, but not the anchors already written elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub entries: u64,
    pub hash: String,
    /// When it was written (RFC 3339), for the operator reading a report.
    pub at: String,
}

impl Anchor {
    /// One line of the anchor file: `entries<TAB>hash<TAB>at`.
    pub fn line(&self) -> String {
        format!("{}\t{}\t{}\n", self.entries, self.hash, self.at)
    }

    /// Reads an anchor file; a line that is not an anchor is named (1-based), not skipped.
    pub fn parse_all(text: &str) -> Result<Vec<Anchor>, usize> {
        text.lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(n, line)| {
                let mut parts = line.split('\t');
                let entries = parts.next().and_then(|e| e.parse().ok());
                let hash = parts.next().filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()));
                match (entries, hash, parts.next()) {
                    (Some(entries), Some(hash), Some(at)) => {
                        Ok(Anchor { entries, hash: hash.to_string(), at: at.to_string() })
                    }
                    _ => Err(n + 1),
                }
            })
            .collect()
    }
}

/// Where a chain disagrees with an anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnchorBreak {
    /// At the anchor's entry the chain's hash is another: entries up to it were rewritten.
    Differs(Anchor),
    /// The chain is shorter than the anchor: entries were removed.
    Missing(Anchor),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchor_lines_round_trip_and_a_bad_line_is_named() {
        let a = Anchor { entries: 12, hash: "ab".repeat(32), at: "2026-12-02T15:00:00Z".into() };
        let b = Anchor { entries: 40, hash: "cd".repeat(32), at: "2026-12-02T15:01:00Z".into() };
        let text = format!("{}{}\n", a.line(), b.line());
        assert_eq!(Anchor::parse_all(&text), Ok(vec![a.clone(), b]));
        assert_eq!(Anchor::parse_all(&format!("{}12\tnot-a-hash\tx\n", a.line())), Err(2));
        assert_eq!(Anchor::parse_all(""), Ok(vec![]));
    }

    const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    fn entry(detail: &str) -> AuditContent<'_> {
        AuditContent {
            at: "2026-11-26T08:00:00.000000Z",
            actor_kind: "officer",
            actor_id: "o-1",
            action: "read_application",
            subject_kind: "application",
            subject_id: "a-1",
            detail,
        }
    }

    #[test]
    fn a_sound_chain_checks_out_link_by_link() {
        let first = chain_hash(GENESIS, &entry("{}"));
        let second = chain_hash(&first, &entry("{\"n\":2}"));
        assert_eq!(check_link(GENESIS, GENESIS, &first, &entry("{}")), None);
        assert_eq!(check_link(&first, &first, &second, &entry("{\"n\":2}")), None);
        assert_eq!(first.len(), 64);
        assert_ne!(first, second);
    }

    #[test]
    fn altered_content_and_a_missing_predecessor_are_told_apart() {
        let first = chain_hash(GENESIS, &entry("{}"));
        let second = chain_hash(&first, &entry("{\"n\":2}"));
        assert_eq!(check_link(&first, &first, &second, &entry("{\"n\":3}")), Some(Break::Content));
        // The entry before was removed: this one points at a hash the walk never saw.
        assert_eq!(check_link(GENESIS, &first, &second, &entry("{\"n\":2}")), Some(Break::PrevHash));
    }

    #[test]
    fn moving_text_between_fields_changes_the_hash() {
        let a = AuditContent { actor_id: "o-1x", action: "y", ..entry("{}") };
        let b = AuditContent { actor_id: "o-1", action: "xy", ..entry("{}") };
        assert_ne!(chain_hash(GENESIS, &a), chain_hash(GENESIS, &b));
    }
}

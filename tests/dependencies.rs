//! Dependency versions with known vulnerabilities in older releases, checked on the lock file
//! (what is actually built), not on the manifest's requirement.

use std::path::Path;

/// Every locked version of `name`, as (major, minor, patch).
fn locked_versions(name: &str) -> Vec<(u64, u64, u64)> {
    let lock = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock")).expect("Cargo.lock");
    let mut versions = Vec::new();
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{name}\"") {
            let version =
                lines.next().and_then(|l| l.trim().strip_prefix("version = \"")).map(|v| v.trim_end_matches('"'));
            let parts: Vec<u64> = version.unwrap_or_default().split('.').filter_map(|p| p.parse().ok()).collect();
            if let [major, minor, patch] = parts[..] {
                versions.push((major, minor, patch));
            }
        }
    }
    versions
}

#[test]
fn jsonwebtoken_is_past_cve_2026_25537() {
    let versions = locked_versions("jsonwebtoken");
    assert!(!versions.is_empty(), "jsonwebtoken is locked");
    for v in versions {
        assert!(v >= (10, 3, 0), "jsonwebtoken {v:?} is affected by CVE-2026-25537 (fixed in 10.3)");
    }
}

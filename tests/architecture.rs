//! The layout's rules, checked on the source: one door for state changes, sea-orm only in
//! `persistence`, the web framework only at the edge, a pure domain, arrows pointing one way.

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Every source file of the service with its text, comments and string contents removed
/// line by line where they would confuse a plain search (doc and line comments).
fn sources() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    rust_files(&root.join("src"))
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).expect("read");
            let code: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
            let rel = p.strip_prefix(root).expect("under root").to_string_lossy().replace('\\', "/");
            (rel, code.join("\n"))
        })
        .collect()
}

fn files_mentioning(needle: &str) -> Vec<String> {
    sources().into_iter().filter(|(_, code)| code.contains(needle)).map(|(path, _)| path).collect()
}

#[test]
fn only_the_lifecycle_service_moves_an_application() {
    let callers: Vec<(String, usize)> = sources()
        .into_iter()
        .map(|(path, code)| {
            let calls = code.matches("move_state(").count() - code.matches("fn move_state(").count();
            (path, calls)
        })
        .filter(|(_, calls)| *calls > 0)
        .collect();
    assert_eq!(callers, vec![("src/services/lifecycle.rs".to_string(), 1)], "move_state has one caller: apply");
}

#[test]
fn only_persistence_speaks_sea_orm() {
    let users: Vec<String> = files_mentioning("sea_orm::")
        .into_iter()
        .chain(files_mentioning("use sea_orm"))
        .filter(|p| !p.starts_with("src/persistence/"))
        .collect();
    assert!(users.is_empty(), "sea-orm outside persistence: {users:?}");
}

#[test]
fn the_web_framework_stays_at_the_edge() {
    let edge = ["src/routes/", "src/console/", "src/startup.rs", "src/telemetry.rs", "src/main.rs"];
    let users: Vec<String> =
        files_mentioning("actix").into_iter().filter(|p| !edge.iter().any(|e| p.starts_with(e))).collect();
    assert!(users.is_empty(), "actix outside routes and start-up: {users:?}");
}

#[test]
fn the_domain_is_pure() {
    let forbidden = [
        "crate::persistence",
        "crate::services",
        "crate::routes",
        "crate::clients",
        "crate::kv",
        "crate::state",
        "sea_orm",
        "actix",
        "reqwest",
        "redis",
        "tokio",
    ];
    for (path, code) in sources().into_iter().filter(|(p, _)| p.starts_with("src/domain/")) {
        for f in forbidden {
            assert!(!code.contains(f), "{path} uses {f}");
        }
    }
}

#[test]
fn dependencies_point_one_way() {
    for (path, code) in sources() {
        let below_routes = ["src/services/", "src/persistence/", "src/wechat/", "src/clients/", "src/domain/"];
        if below_routes.iter().any(|b| path.starts_with(b)) {
            for up in ["crate::routes", "crate::startup", "crate::state"] {
                assert!(!code.contains(up), "{path} imports {up}");
            }
        }
        if path.starts_with("src/persistence/") {
            assert!(!code.contains("crate::services"), "{path} imports the services");
        }
        if path.starts_with("src/routes/") {
            assert!(!code.contains("crate::startup"), "{path} imports start-up");
        }
    }
}

#[test]
fn routes_reach_storage_only_through_services() {
    // What a handler may name directly: who acts, the HTTP idempotency store, the readiness ping.
    let allowed =
        ["persistence::audit::Actor", "persistence::PersistenceError", "persistence::idempotency", "persistence::ping"];
    for (path, code) in sources().into_iter().filter(|(p, _)| p.starts_with("src/routes/")) {
        for (at, _) in code.match_indices("persistence::") {
            let rest = &code[at..];
            assert!(
                allowed.iter().any(|a| rest.starts_with(a)),
                "{path} reads storage directly: {}",
                &rest[..40.min(rest.len())]
            );
        }
    }
}

#[test]
fn every_read_of_personal_data_is_audited_in_one_place() {
    let callers: Vec<String> = files_mentioning("append_alone(")
        .into_iter()
        .filter(|p| p != "src/persistence/audit.rs" && p != "src/services/mod.rs")
        .collect();
    assert!(callers.is_empty(), "audited reads go through services::audit_read: {callers:?}");
}

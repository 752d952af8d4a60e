//! Start-up with bad configuration: one clear line, non-zero exit, no panic.

use std::process::Command;

use crate::helpers::config_dir;

fn run_with(env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_birthcert"));
    cmd.arg("migrate").env("BIRTHCERT_CONFIG_DIR", config_dir()).env_remove("RUST_LOG");
    for (k, _) in std::env::vars() {
        if k.starts_with("BIRTHCERT__") {
            cmd.env_remove(k);
        }
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("binary runs");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).to_string())
}

#[test]
fn production_without_secrets_names_the_missing_key() {
    let (code, stderr) = run_with(&[("BIRTHCERT_ENV", "production")]);
    assert_ne!(code, 0);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("database.url"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn production_names_each_missing_secret_in_turn() {
    let (code, stderr) =
        run_with(&[("BIRTHCERT_ENV", "production"), ("BIRTHCERT__DATABASE__URL", "postgres://127.0.0.1:1/x")]);
    assert_ne!(code, 0);
    assert!(stderr.contains("jwt.secret") && stderr.contains("BIRTHCERT__JWT__SECRET"), "{stderr}");
}

#[test]
fn malformed_urls_are_refused_in_one_line() {
    for (key, value, named) in [
        ("BIRTHCERT__DATABASE__URL", "not a url", "database.url"),
        ("BIRTHCERT__DATABASE__URL", "mysql://localhost/x", "database.url"),
        ("BIRTHCERT__REDIS__URL", "http://localhost:6379", "redis.url"),
    ] {
        let (code, stderr) = run_with(&[(key, value)]);
        assert_ne!(code, 0, "{key}={value}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(named), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn unknown_environment_is_refused() {
    let (code, stderr) = run_with(&[("BIRTHCERT_ENV", "staging")]);
    assert_ne!(code, 0);
    assert!(stderr.contains("staging"), "{stderr}");
}

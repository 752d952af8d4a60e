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

/// `officer add` and `hospital-key add` against a fresh SQLite file; then the service accepts
/// what they created.
#[tokio::test]
async fn command_line_creates_officers_and_hospital_keys() {
    let dir = tempfile::tempdir().expect("dir");
    let db_url = format!("sqlite://{}?mode=rwc", dir.path().join("cli.db").display());
    let base = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_birthcert"));
        cmd.args(args)
            .env("BIRTHCERT_CONFIG_DIR", config_dir())
            .env("BIRTHCERT__DATABASE__URL", &db_url)
            .env("BIRTHCERT__SEED__DEMO_ACCOUNTS", "false")
            .env("RUST_LOG", "error");
        cmd
    };
    let out = base(&["officer", "add", "--institution", "PY-ZYY", "--username", "zhao.officer"])
        .env("BIRTHCERT_PASSWORD", "a sufficiently long one")
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = base(&["officer", "add", "--institution", "NOPE", "--username", "x.officer"])
        .env("BIRTHCERT_PASSWORD", "a sufficiently long one")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("NOPE"));

    let out = base(&["hospital-key", "add", "--institution", "PY-ZYY"]).output().expect("runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let key = String::from_utf8(out.stdout).expect("utf8").trim().to_string();
    assert!(key.starts_with("bck_"), "{key}");

    // The service, started on that database, signs both in.
    let mut settings =
        birthcert::config::Settings::load_from(&config_dir(), birthcert::config::Environment::Test).expect("settings");
    settings.database.url = secrecy::SecretString::from(db_url.clone());
    let app = birthcert::startup::Application::build(settings).await.expect("builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let officer = client
        .post(format!("{address}/api/v1/officer/session"))
        .json(&serde_json::json!({"username": "zhao.officer", "password": "a sufficiently long one"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(officer.status(), 200);
    let hospital = client
        .post(format!("{address}/api/v1/hospital/session"))
        .json(&serde_json::json!({"institution_code": "PY-ZYY", "api_key": key}))
        .send()
        .await
        .expect("sent");
    assert_eq!(hospital.status(), 200);
    handle.stop(false).await;
}

/// `birthcert demo` drives one application from the hospital's record to delivery, checks the
/// certificate's authenticity as its QR code would, and shows the four messages the parent
/// receives.
#[test]
fn demo_walks_one_application_to_delivery() {
    let out = Command::new(env!("CARGO_BIN_EXE_birthcert"))
        .arg("demo")
        .env("BIRTHCERT_CONFIG_DIR", config_dir())
        .env("RUST_LOG", "error")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("delivered, certificate R370000001"), "{stdout}");
    assert!(stdout.contains("authenticity check (the certificate's QR code) 200 R370000001 valid (张**)"), "{stdout}");
    for status in ["已提交，待审核", "已签发", "已寄出", "已签收"] {
        assert!(stdout.contains(status), "{status} missing from\n{stdout}");
    }
}

/// Every secret set to a value of its own, as an operator would.
fn production_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("BIRTHCERT_ENV", "production"),
        ("BIRTHCERT__DATABASE__URL", "postgres://127.0.0.1:1/x"),
        ("BIRTHCERT__JWT__SECRET", "a-real-jwt-secret-of-at-least-32-characters"),
        ("BIRTHCERT__CRYPTO__DATA_KEY", "cmVhbC1kYXRhLWtleS0zMi1ieXRlcy1sb25nLS0tLS0="),
        ("BIRTHCERT__CRYPTO__INDEX_KEY", "cmVhbC1pbmRleC1rZXktMzItYnl0ZXMtbG9uZy0tLS0="),
        ("BIRTHCERT__WECHAT__APP_SECRET", "real-official-account-secret"),
        ("BIRTHCERT__WECHAT__TOKEN", "real-token"),
        ("BIRTHCERT__WECHAT__ENCODING_AES_KEY", "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210abcdefg"),
        ("BIRTHCERT__WECHAT__MINI_PROGRAM_APP_SECRET", "real-mini-program-secret"),
        ("BIRTHCERT__HEALTH_CARD__APP_SECRET", "real-health-card-secret"),
        ("BIRTHCERT__PAY__API_V3_KEY", "real-apiv3-key-0123456789abcdefg"),
        ("BIRTHCERT__COURIER__SECRET", "real-courier-secret"),
        ("BIRTHCERT__SMS__SECRET", "real-sms-secret"),
        ("BIRTHCERT__PROVINCE__SECRET", "real-province-secret"),
        ("BIRTHCERT__SEED__DEMO_PASSWORD", "not-used-in-production"),
    ]
}

#[test]
fn production_refuses_development_secrets_and_keys_naming_each() {
    // Every secret real, but WeChat Pay still verifying with the platform key of
    // config/dev-keys/ (whose private half ships in the mock).
    let (code, stderr) = run_with(&production_env());
    assert_ne!(code, 0);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("pay.platform_public_key_file") && stderr.contains("development"), "{stderr}");

    // The development merchant key copied somewhere else is still the development key.
    let dir = tempfile::tempdir().expect("dir");
    let copy = dir.path().join("apiclient_key.pem");
    std::fs::copy(config_dir().join("dev-keys/merchant.pem"), &copy).expect("copy");
    let mut env = production_env();
    let copy = copy.to_string_lossy().to_string();
    env.push(("BIRTHCERT__PAY__MERCHANT_PRIVATE_KEY_FILE", &copy));
    let (code, stderr) = run_with(&env);
    assert_ne!(code, 0);
    assert!(stderr.contains("pay.merchant_private_key_file") && stderr.contains("development"), "{stderr}");

    // One secret put back to its development value is named, whatever else is right.
    for (key, dev, named) in [
        ("BIRTHCERT__JWT__SECRET", "dev-jwt-secret-change-me-in-production-0123456789", "jwt.secret"),
        ("BIRTHCERT__WECHAT__TOKEN", "birthcert-dev-token", "wechat.token"),
        ("BIRTHCERT__PAY__API_V3_KEY", "dev-apiv3-key-0123456789abcdefgh", "pay.api_v3_key"),
    ] {
        let mut env = production_env();
        env.retain(|(k, _)| *k != key);
        env.push((key, dev));
        let (code, stderr) = run_with(&env);
        assert_ne!(code, 0);
        assert!(stderr.contains(named) && stderr.contains("development"), "{key}: {stderr}");
        assert!(!stderr.contains(dev), "the refused value itself is not printed: {stderr}");
    }
}

#[test]
fn the_binary_names_its_version() {
    let out = Command::new(env!("CARGO_BIN_EXE_birthcert")).arg("--version").output().expect("binary runs");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("birthcert {}", env!("CARGO_PKG_VERSION")));
}

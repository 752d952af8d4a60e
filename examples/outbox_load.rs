//! The notification outbox's throughput with two workers on two instances of the service over
//! one database: N messages queued for followers of the official account, both instances'
//! workers draining them against the mock platform at once; prints messages per second and
//! checks that each was sent exactly once (one attempt, one platform message per row).
//!
//!   cargo run --release --example outbox_load -- [MESSAGES=20000] [FOLLOWERS=200]
//!   BIRTHCERT__DATABASE__URL=postgres://postgres@127.0.0.1:5432/outbox_load \
//!   BIRTHCERT__REDIS__URL=redis://127.0.0.1:6379 cargo run --release --example outbox_load
//!
//! Without BIRTHCERT__DATABASE__URL it runs on a SQLite file in a temporary directory.

// A report printed to the terminal is this program's purpose.
#![allow(clippy::print_stdout)]

// The service's allocator (src/main.rs): the service runs in this process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use birthcert::config::{Environment, Settings};
use birthcert::domain::notification::Notification;
use birthcert::persistence::{outbox, users};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let messages: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let followers: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(200);
    let mock_settings = mock_wechat::MockSettings { template_daily_quota: u64::MAX / 2, ..Default::default() };
    let mock = mock_wechat::MockServer::start("127.0.0.1", 0, mock_settings).await?;
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut settings = Settings::load_from(&dir, Environment::Test)?;
    settings.use_platform_at(&mock.base_url());
    settings.database.max_connections = 20;
    let scratch = tempfile::tempdir()?;
    settings.blobs.dir = scratch.path().join("blobs");
    if let Ok(url) = std::env::var("BIRTHCERT__DATABASE__URL") {
        settings.database.url = secrecy::SecretString::from(url);
    } else {
        settings.database.url =
            secrecy::SecretString::from(format!("sqlite://{}?mode=rwc", scratch.path().join("outbox.db").display()));
    }
    if let Ok(url) = std::env::var("BIRTHCERT__REDIS__URL") {
        settings.redis.url = Some(secrecy::SecretString::from(url));
    }
    let first = birthcert::startup::Application::build(settings.clone()).await?;
    let second = birthcert::startup::Application::build(settings).await?;
    let (a, b) = (first.state.clone(), second.state.clone());
    mock.set_service_url(&format!("http://127.0.0.1:{}", first.port()));
    tokio::spawn(first.run_until_stopped());
    tokio::spawn(second.run_until_stopped());

    let http = reqwest::Client::new();
    let mut user_ids = Vec::new();
    for _ in 0..followers {
        let user: Value = http
            .post(format!("{}/_mock/users", mock.base_url()))
            .json(&serde_json::json!({"follows_official_account": true}))
            .send()
            .await?
            .json()
            .await?;
        let unionid = user["unionid"].as_str().ok_or("unionid")?;
        let openid = user["official_openid"].as_str().ok_or("openid")?;
        user_ids.push(users::link_official_account(&a.db, unionid, openid).await?);
    }
    let due = chrono::Utc::now() + chrono::Duration::days(2);
    for chunk in (0..messages).collect::<Vec<_>>().chunks(500) {
        let txn = birthcert::persistence::begin(&a.db).await?;
        for &n in chunk {
            let note = Notification::Submitted { reference: format!("LOAD{n:06}"), review_due_at: due };
            outbox::enqueue(&txn, &user_ids[n % followers], None, &note, &format!("load:{n}")).await?;
        }
        birthcert::persistence::commit(txn).await?;
    }
    println!("{messages} messages queued for {followers} followers; two workers on two instances draining");

    let started = Instant::now();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let drain = |state: actix_web::web::Data<birthcert::startup::AppState>| {
        let stop = stop.clone();
        tokio::spawn(async move {
            let worker = state.outbox_worker();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match worker.run_once().await {
                    Ok(0) => tokio::time::sleep(Duration::from_millis(5)).await,
                    Ok(_) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
            Ok::<(), String>(())
        })
    };
    let workers = [drain(a.clone()), drain(b)];
    // Done when nothing is pending (the gauge's count query, every 20 ms).
    let elapsed = loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let pending = birthcert::persistence::gauges::read(&a.db, chrono::Utc::now()).await?.outbox_pending;
        if pending == 0 {
            break started.elapsed().as_secs_f64();
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(format!("{pending} still pending after 10 minutes").into());
        }
    };
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.await??;
    }
    let rows = outbox::list(&a.db).await?;
    let sent = rows.iter().filter(|r| r.state == "sent" || r.state == "delivered").count();
    let once = rows.iter().all(|r| r.attempts == 1 && r.msgid.as_deref() != Some("0"));
    let platform: Value = http.get(format!("{}/_mock/messages", mock.base_url())).send().await?.json().await?;
    let platform = platform.as_array().map(Vec::as_slice).unwrap_or_default();
    let distinct: HashSet<_> = platform.iter().map(|m| m["client_msg_id"].as_str().unwrap_or_default()).collect();
    println!(
        "sent {sent} of {messages} in {elapsed:.2} s: {:.0} messages/s; each row one attempt: {once}; \
         platform received {} ({} distinct)",
        sent as f64 / elapsed,
        platform.len(),
        distinct.len()
    );
    if sent != messages || !once || platform.len() != messages || distinct.len() != messages {
        return Err("not every message was sent exactly once".into());
    }
    Ok(())
}

//! The issuing side at county scale: generates 100,000 applications (and 100,000 register
//! rows) in PostgreSQL, then measures the officer's queue (p50/p99 over many requests) and
//! streams a 100,000-row register export while sampling the process's memory.
//!
//!   createdb -h 127.0.0.1 -U postgres birthcert_issuing_load
//!   BIRTHCERT__DATABASE__URL=postgres://postgres@127.0.0.1:5432/birthcert_issuing_load \
//!   cargo run --release --example issuing_load -- 100000
//!
//! The database must be empty (or left by an earlier run of this program, which is cleared).

// A report printed to the terminal is this program's purpose.
#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use birthcert::auth::Role;
use birthcert::config::{Environment, Settings};
use sea_orm::ConnectionTrait;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

/// Rows generated in the database itself (generate_series): seconds, not minutes.
async fn generate(db: &sea_orm::DatabaseConnection, n: i64) -> Result<(), sea_orm::DbErr> {
    // Rows of an earlier run go first (children before parents).
    for table in ["first_issuance_register", "applications", "delivery_records", "health_cards", "users"] {
        db.execute_unprepared(&format!("DELETE FROM {table} WHERE id LIKE 'gen-%'")).await?;
    }
    db.execute_unprepared(&format!(
        "INSERT INTO users (id, created_at) SELECT 'gen-u' || i, now() FROM generate_series(1, {n}) i"
    ))
    .await?;
    db.execute_unprepared(&format!(
        "INSERT INTO health_cards (id, user_id, name, id_number_enc, id_number_key_id, id_number_bidx, id_number_masked, created_at) \
         SELECT 'gen-h' || i, 'gen-u' || i, '李梅', 'x', 'k1', 'gen-b' || i, '3701**********0021', now() FROM generate_series(1, {n}) i"
    ))
    .await?;
    db.execute_unprepared(&format!(
        "INSERT INTO delivery_records (id, institution_code, mother_name, mother_id_type, mother_id_number_enc, \
           mother_id_number_key_id, mother_id_number_bidx, mother_id_number_masked, baby_sex, birth_at, birth_place, \
           gestational_weeks, weight_g, length_cm, health_status, midwife_name, late, created_at, updated_at) \
         SELECT 'gen-d' || i, (ARRAY['PY-RMYY','PY-ZYY','PY-FYBJ'])[1 + i % 3], '母亲' || i, 'resident_id', 'x', 'k1', \
           'gen-b' || i, '3701**********0021', CASE WHEN i % 2 = 0 THEN 'male' ELSE 'female' END, \
           now() - (i || ' minutes')::interval, '平阴县人民医院', 39, 3300, 50, 'good', '王芳', false, now(), now() \
         FROM generate_series(1, {n}) i"
    ))
    .await?;
    // A third waiting for review with deadlines spread over two weeks (some overdue), the rest
    // along the rest of the life.
    db.execute_unprepared(&format!(
        "INSERT INTO applications (id, user_id, delivery_id, health_card_id, institution_code, claimant_relation, state, \
           newborn_name, submitted_at, review_due_at, overdue, version, created_at, updated_at) \
         SELECT 'gen-a' || i, 'gen-u' || i, 'gen-d' || i, 'gen-h' || i, (ARRAY['PY-RMYY','PY-ZYY','PY-FYBJ'])[1 + i % 3], \
           'mother', (ARRAY['submitted','issued','shipped','delivered','returned','documents_uploaded'])[1 + (i / 3) % 6], \
           '张小满', now() - interval '1 day', now() + ((i % 20160) - 2000 || ' minutes')::interval, false, 0, \
           now() - (i || ' seconds')::interval, now() \
         FROM generate_series(1, {n}) i"
    ))
    .await?;
    db.execute_unprepared(&format!(
        "INSERT INTO first_issuance_register (id, certificate_number, application_id, institution_code, newborn_name, \
           baby_sex, birth_at, mother_name, father_name, issued_by, issued_at) \
         SELECT 'gen-r' || i, 'G' || lpad(i::text, 9, '0'), 'gen-a' || i, 'PY-RMYY', '张小满', 'female', now(), \
           '李梅', '张伟', 'officer-1', now() - (i || ' seconds')::interval \
         FROM generate_series(1, {n}) i"
    ))
    .await?;
    // The steady state autovacuum keeps: statistics and the visibility map (index-only counts).
    db.execute_unprepared("VACUUM ANALYZE").await?;
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: i64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut settings = Settings::load_from(&dir, Environment::Test)?;
    if std::env::var("BIRTHCERT__DATABASE__URL").is_err() {
        return Err("set BIRTHCERT__DATABASE__URL to an empty PostgreSQL database".into());
    }
    settings.server.workers = 2;
    settings.database.max_connections = 20;
    let app = birthcert::startup::Application::build(settings).await?;
    let port = app.port();
    let state = app.state.clone();
    tokio::spawn(app.run_until_stopped());

    let started = Instant::now();
    generate(&state.db, n).await?;
    println!("generated {n} applications and {n} register rows in {:.1} s", started.elapsed().as_secs_f64());

    // A real officer row: officer tokens are checked against it on every request.
    let officer =
        birthcert::persistence::staff::create_officer(&state.db, "PY-RMYY", "load.officer", "!", false).await?;
    let token = state.jwt.issue(&officer.id, Role::Officer, Some("PY-RMYY"))?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .pool_idle_timeout(birthcert::clients::IDLE_CONNECTION)
        .build()?;
    let total: serde_json::Value = http
        .get(format!("{base}/api/v1/officer/applications?per_page=1"))
        .bearer_auth(&token)
        .send()
        .await?
        .json()
        .await?;
    println!("PY-RMYY review queue: {} applications waiting", total["total"]);

    // The officer's queue: first pages, deep pages, the overdue view and another state, with
    // 1, 4 and 16 officers asking at once.
    let queries = ["", "&page=2", "&page=40", "&overdue=true", "&state=returned"];
    for concurrency in [1usize, 4, 16] {
        let requests = 500 * concurrency.min(8);
        let timings = Arc::new(tokio::sync::Mutex::new(Vec::with_capacity(requests)));
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let (http, base, token, timings, next) =
                    (http.clone(), base.clone(), token.clone(), timings.clone(), next.clone());
                tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= requests {
                            break;
                        }
                        let url =
                            format!("{base}/api/v1/officer/applications?per_page=20{}", queries[i % queries.len()]);
                        let t = Instant::now();
                        let ok = http.get(url).bearer_auth(&token).send().await.map(|r| r.status().is_success());
                        let elapsed = t.elapsed();
                        if ok.unwrap_or(false) {
                            timings.lock().await.push(elapsed);
                        }
                    }
                })
            })
            .collect();
        let started = Instant::now();
        for t in tasks {
            t.await?;
        }
        let wall = started.elapsed();
        let mut v = timings.lock().await.clone();
        v.sort();
        println!(
            "officer queue, {concurrency:>2} at once: {requests} requests ({} ok), {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            v.len(),
            v.len() as f64 / wall.as_secs_f64(),
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            percentile(&v, 1.0)
        );
    }

    // The register export, streamed, with the process's memory sampled while it runs.
    for (label, format) in [("JSON", "json"), ("CSV", "csv")] {
        let from = (chrono::Utc::now() - chrono::Duration::days(400)).format("%Y-%m-%d");
        let to = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d");
        let before = rss_kib();
        let peak = Arc::new(std::sync::atomic::AtomicU64::new(before));
        let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let sampler = {
            let (peak, sampling) = (peak.clone(), sampling.clone());
            tokio::spawn(async move {
                while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                    peak.fetch_max(rss_kib(), std::sync::atomic::Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        };
        let t = Instant::now();
        let res = http
            .get(format!("{base}/api/v1/officer/registers/first-issuance?from={from}&to={to}&format={format}"))
            .bearer_auth(&token)
            .send()
            .await?;
        let mut res = res;
        let (mut bytes, mut newlines, mut objects, mut first_byte) = (0usize, 0usize, 0usize, None);
        while let Some(chunk) = res.chunk().await? {
            first_byte.get_or_insert_with(|| t.elapsed());
            bytes += chunk.len();
            newlines += chunk.iter().filter(|b| **b == b'\n').count();
            objects += chunk.iter().filter(|b| **b == b'{').count();
        }
        sampling.store(false, std::sync::atomic::Ordering::Relaxed);
        sampler.await?;
        let rows = if format == "csv" { newlines.saturating_sub(1) } else { objects };
        println!(
            "register export {label}: {rows} rows, {:.1} MiB in {:.2} s (first byte after {:.0} ms); process RSS {} MiB before, peak {} MiB",
            bytes as f64 / 1048576.0,
            t.elapsed().as_secs_f64(),
            first_byte.unwrap_or_default().as_secs_f64() * 1000.0,
            before / 1024,
            peak.load(std::sync::atomic::Ordering::Relaxed) / 1024,
        );
    }
    Ok(())
}

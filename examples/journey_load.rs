//! Many complete parent journeys at once, from sign-in to `submitted`, against the service and
//! the mock platform in this process, through real HTTP. Reports journeys/s and p50/p99 per
//! endpoint.
//!
//!   BIRTHCERT__DATABASE__URL=postgres://postgres@127.0.0.1:5432/birthcert_load \
//!   BIRTHCERT__REDIS__URL=redis://127.0.0.1:6379 \
//!   cargo run --release --example journey_load -- 200 [THINK_MS] [RATE]
//!
//! LOAD_SERVER_WORKERS (default 2) sets the service's HTTP workers.
//!
//! THINK_MS (default 0) is the parent's time between two steps, drawn uniformly from
//! [THINK_MS/2, 3·THINK_MS/2], and journeys start spread over the first 2·THINK_MS: a real parent reads, types and photographs between calls, so
//! a paced run shows latency at that many concurrent families, while THINK_MS = 0 makes every
//! journey fire its next call at once and shows the throughput ceiling instead.
//!
//! RATE (journeys started per second; default none) paces the arrivals instead: journey n starts
//! at n/RATE seconds, as families arrive at an office, whatever the service's speed. The run then
//! says whether every call's p99 stayed under 50 ms with no error: the capacity search
//! (`scripts/journey-capacity`) raises RATE until it does not.
//!
//! The database named must exist and be empty or migrated; delivery records are seeded through
//! the library (the hospital endpoint comes with the issuing side).

// A report printed to the terminal is this program's purpose.
#![allow(clippy::print_stdout)]

// The service's allocator (src/main.rs): the service runs in this process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use birthcert::config::{Environment, Settings};
use birthcert::crypto::Field;
use birthcert::domain::resident_id::check_char;
use birthcert::persistence::deliveries::{insert_delivery, DeliveryRecord};
use birthcert::services::store_number;
use serde_json::{json, Value};

type Timings = Arc<Mutex<BTreeMap<&'static str, Vec<Duration>>>>;
/// (started after the run began, endpoint, took)
type SlowCalls = Arc<Mutex<Vec<(Duration, &'static str, Duration)>>>;

struct Client {
    think_ms: u64,
    http: reqwest::Client,
    base: String,
    mock: String,
    timings: Timings,
    /// Calls slower than the target, with when they started: tails that line up in time point
    /// at a stall of the whole machine rather than at one endpoint.
    slow: SlowCalls,
    epoch: Instant,
}

/// The per-call latency target.
const TARGET: Duration = Duration::from_millis(50);

impl Client {
    async fn call(&self, name: &'static str, req: reqwest::RequestBuilder) -> Result<Value, String> {
        if self.think_ms > 0 {
            use rand::Rng;
            let pause = rand::thread_rng().gen_range(self.think_ms / 2..=self.think_ms * 3 / 2);
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
        let started = Instant::now();
        let res = req.send().await.map_err(|e| format!("{name}: {}", causes(&e)))?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        let took = started.elapsed();
        self.timings.lock().map_err(|_| "lock")?.entry(name).or_default().push(took);
        if took > TARGET {
            self.slow.lock().map_err(|_| "lock")?.push((started - self.epoch, name, took));
        }
        if !status.is_success() {
            return Err(format!("{name}: HTTP {status}: {body}"));
        }
        Ok(body)
    }
}

/// An error with its causes: "error sending request" alone does not say what broke.
fn causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn id(body: &str) -> String {
    format!("{body}{}", check_char(body.as_bytes()))
}

/// A real image (every upload is decoded whole), small like a scanned ID card's thumbnail.
fn png() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(64, 40, |x, y| {
        image::Rgb([(x * 3) as u8, (y * 5) as u8, ((x ^ y) * 7) as u8])
    }));
    img.write_to(&mut out, image::ImageOutputFormat::Png).map(|_| out.into_inner()).unwrap_or_default()
}

/// Month, day and sequence number unique for each of the first 336,000 journeys (one live
/// application per delivery record: a repeated mother would be refused, rightly).
fn birthday_and_sequence(n: usize) -> String {
    format!("{:02}{:02}{:03}", 1 + (n / 28_000) % 12, 1 + (n / 1000) % 28, n % 1000)
}

fn mother_id(n: usize) -> String {
    id(&format!("3701241992{}", birthday_and_sequence(n)))
}

async fn journey(c: Arc<Client>, n: usize) -> Result<(), String> {
    let mother_id = mother_id(n);
    let father_id = id(&format!("3701241988{}", birthday_and_sequence(n)));
    let user: Value = c
        .http
        .post(format!("{}/_mock/users", c.mock))
        .json(&json!({}))
        .send()
        .await
        .map_err(|e| causes(&e))?
        .json()
        .await
        .map_err(|e| causes(&e))?;
    let login = c
        .call(
            "POST /auth/login",
            c.http.post(format!("{}/api/v1/auth/login", c.base)).json(&json!({"code": user["code"]})),
        )
        .await?;
    let token = login["token"].as_str().unwrap_or_default().to_string();
    let auth = |r: reqwest::RequestBuilder| r.bearer_auth(&token);
    let code: Value = c
        .http
        .post(format!("{}/_mock/health-cards", c.mock))
        .json(&json!({"name": "李梅", "id_number": mother_id}))
        .send()
        .await
        .map_err(|e| causes(&e))?
        .json()
        .await
        .map_err(|e| causes(&e))?;
    let card = c
        .call(
            "POST /health-cards",
            auth(c.http.post(format!("{}/api/v1/health-cards", c.base)))
                .json(&json!({"health_code": code["health_code"]})),
        )
        .await?;
    let card_id = card["id"].as_str().unwrap_or_default();
    let deliveries = c
        .call("GET /deliveries", auth(c.http.get(format!("{}/api/v1/deliveries?health_card_id={card_id}", c.base))))
        .await?;
    let delivery_id = deliveries[0]["id"].as_str().ok_or("no delivery")?;
    let app = c
        .call(
            "POST /applications",
            auth(c.http.post(format!("{}/api/v1/applications", c.base)))
                .json(&json!({"delivery_id": delivery_id, "health_card_id": card_id, "claimant_relation": "mother"})),
        )
        .await?;
    let base = format!("{}/api/v1/applications/{}", c.base, app["id"].as_str().unwrap_or_default());
    let parents = json!({
        "mother": {"name": "李梅", "id_type": "resident_id", "id_number": mother_id, "nationality": "中国", "ethnicity": "汉族"},
        "father": {"name": "张伟", "id_type": "resident_id", "id_number": father_id, "nationality": "中国", "ethnicity": "汉族"}
    });
    let p = c.call("PUT /parents", auth(c.http.put(format!("{base}/parents"))).json(&parents)).await?;
    if p["eligibility"]["eligible"] != true {
        return Err(format!("not eligible: {p}"));
    }
    for text in birthcert::services::applicant::consent::current() {
        let body = json!({"kind": text.kind, "version": text.version});
        c.call("POST /consents", auth(c.http.post(format!("{}/api/v1/consents", c.base))).json(&body)).await?;
    }
    for role in ["mother", "father"] {
        let s =
            c.call("POST /face-sessions", auth(c.http.post(format!("{base}/identity/{role}/face-sessions")))).await?;
        c.call(
            "POST /face-result",
            auth(c.http.post(format!("{base}/identity/{role}/face-result")))
                .json(&json!({"verify_id": s["verify_id"]})),
        )
        .await?;
    }
    for kind in ["mother_id_front", "mother_id_back", "father_id_front", "father_id_back"] {
        let form =
            reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(png()).file_name("x.png"));
        c.call("PUT /documents", auth(c.http.put(format!("{base}/documents/{kind}"))).multipart(form)).await?;
    }
    c.call("GET /registration-form", auth(c.http.get(format!("{base}/registration-form")))).await?;
    c.call(
        "POST /confirmation",
        auth(c.http.post(format!("{base}/confirmation"))).json(&json!({"newborn_name": "张小满"})),
    )
    .await?;
    let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(png()).file_name("s.png"));
    c.call("PUT /signature", auth(c.http.put(format!("{base}/signature"))).multipart(form)).await?;
    c.call("PUT /delivery-address", auth(c.http.put(format!("{base}/delivery-address"))).json(&json!({"recipient": "张伟", "phone": "13987654321", "region_code": "370124", "address": "平阴县榆山街道青龙路1号"}))).await?;
    let order = c.call("POST /payment", auth(c.http.post(format!("{base}/payment")))).await?;
    let started = Instant::now();
    let paid: Value = c
        .http
        .post(format!("{}/_mock/pay/{}", c.mock, order["out_trade_no"].as_str().unwrap_or_default()))
        .json(&json!({}))
        .send()
        .await
        .map_err(|e| causes(&e))?
        .json()
        .await
        .map_err(|e| causes(&e))?;
    {
        let mut timings = c.timings.lock().map_err(|_| "lock")?;
        timings.entry("mock pays (signs, sends notify x2)").or_default().push(started.elapsed());
        // Each notification's round trip as the platform measured it: our endpoint's latency.
        for ms in paid["round_trips_ms"].as_array().into_iter().flatten().filter_map(Value::as_f64) {
            timings.entry("POST /payments/notify").or_default().push(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    if paid["deliveries"][0] != 204 {
        return Err(format!("notify: {paid}"));
    }
    let view = c.call("GET /applications/{id}", auth(c.http.get(base.clone()))).await?;
    if view["state"] != "submitted" {
        return Err(format!("ended in {}", view["state"]));
    }
    Ok(())
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let journeys: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let think_ms: u64 = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(0);
    let rate: Option<f64> = std::env::args().nth(3).and_then(|a| a.parse().ok()).filter(|r: &f64| *r > 0.0);
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    let mock = mock_wechat::MockServer::start("127.0.0.1", 0, mock_wechat::MockSettings::default()).await?;
    let mut settings = Settings::load_from(&dir, Environment::Test)?;
    settings.use_platform_at(&mock.base_url());
    settings.server.workers = std::env::var("LOAD_SERVER_WORKERS").ok().and_then(|w| w.parse().ok()).unwrap_or(2);
    settings.database.max_connections = 30;
    settings.database.min_connections = 30;
    let scratch = tempfile::tempdir()?;
    settings.blobs.dir = scratch.path().join("blobs");
    if std::env::var("BIRTHCERT__DATABASE__URL").is_err() {
        settings.database.url =
            secrecy::SecretString::from(format!("sqlite://{}?mode=rwc", scratch.path().join("load.db").display()));
    }
    let app = birthcert::startup::Application::build(settings).await?;
    let port = app.port();
    let state = app.state.clone();
    tokio::spawn(app.run_until_stopped());
    mock.set_service_url(&format!("http://127.0.0.1:{port}"));

    for n in 0..journeys {
        let mother_id = mother_id(n);
        insert_delivery(
            &state.db,
            &DeliveryRecord {
                institution_code: "PY-RMYY".into(),
                mother_name: "李梅".into(),
                mother_id_type: "resident_id".into(),
                mother_id_number: store_number(&state.cipher, Field::IdNumber, &mother_id),
                baby_sex: "male".into(),
                birth_at: chrono::Utc::now() - chrono::Duration::days(2),
                birth_place: "平阴县人民医院".into(),
                gestational_weeks: 39,
                weight_g: 3300,
                length_cm: 50,
                health_status: "good".into(),
                midwife_name: "王芳".into(),
                late: false,
            },
        )
        .await?;
    }
    let client = Arc::new(Client {
        think_ms,
        // Idle connections retired before the servers' 5 s keep-alive, as the service does.
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(512)
            .pool_idle_timeout(birthcert::clients::IDLE_CONNECTION)
            .build()?,
        base: format!("http://127.0.0.1:{port}"),
        mock: mock.base_url(),
        timings: Arc::default(),
        slow: Arc::default(),
        epoch: Instant::now(),
    });
    let started = Instant::now();
    // Families do not all open the mini-program in the same millisecond: with a think time,
    // journeys start spread over the first two think times.
    let tasks: Vec<_> = (0..journeys)
        .map(|n| {
            let client = client.clone();
            tokio::spawn(async move {
                if let Some(rate) = rate {
                    tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate)).await;
                } else if client.think_ms > 0 {
                    use rand::Rng;
                    let delay = rand::thread_rng().gen_range(0..=client.think_ms * 2);
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                }
                journey(client, n).await
            })
        })
        .collect();
    let mut errors = Vec::new();
    for t in tasks {
        if let Err(e) = t.await? {
            errors.push(e);
        }
    }
    let elapsed = started.elapsed();
    println!(
        "{journeys} concurrent journeys (think time {think_ms} ms ± 50%), {} errors, {:.1} s, {:.1} journeys/s",
        errors.len(),
        elapsed.as_secs_f64(),
        journeys as f64 / elapsed.as_secs_f64()
    );
    for e in errors.iter().take(5) {
        println!("error: {e}");
    }
    println!("{:<42} {:>6} {:>9} {:>9} {:>9}", "endpoint", "calls", "p50 ms", "p99 ms", "max ms");
    let timings = client.timings.lock().map_err(|_| "lock")?.clone();
    let mut worst_p99: f64 = 0.0;
    for (name, mut v) in timings {
        v.sort();
        // The mock's own work (signing, two sends) is not one of the service's calls.
        if !name.starts_with("mock") {
            worst_p99 = worst_p99.max(percentile(&v, 0.99));
        }
        println!(
            "{name:<42} {:>6} {:>9.1} {:>9.1} {:>9.1}",
            v.len(),
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            percentile(&v, 1.0)
        );
    }
    if let Some(rate) = rate {
        let held = errors.is_empty() && worst_p99 < TARGET.as_secs_f64() * 1000.0;
        println!(
            "paced {rate} journeys/s: worst p99 {worst_p99:.1} ms, {} errors: {}",
            errors.len(),
            if held { "HELD" } else { "NOT HELD" }
        );
    }
    let mut slow = client.slow.lock().map_err(|_| "lock")?.clone();
    slow.sort();
    if !slow.is_empty() {
        println!("calls over {} ms, by start time:", TARGET.as_millis());
    }
    for (at, name, took) in slow {
        println!("  at {:>8.3} s  {name:<28} {:>7.1} ms", at.as_secs_f64(), took.as_secs_f64() * 1000.0);
    }
    Ok(())
}

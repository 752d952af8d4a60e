//! `birthcert demo`: one complete application against the embedded defaults — a fresh SQLite
//! file, the in-process store and the mock platform in this process — driven through the real
//! HTTP API: the hospital's record, the parent's journey, the officer's approval, shipment and
//! delivery. Prints each step and every message the parent received.

// Printing the walk-through is this command's purpose.
#![allow(clippy::print_stdout)]

use std::time::Duration;

use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::config::Settings;
use crate::domain::resident_id::check_char;
use crate::startup::Application;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{step}: {detail}")]
    Step { step: &'static str, detail: String },
    #[error("could not start: {0}")]
    Start(String),
}

struct Walk {
    http: reqwest::Client,
    base: String,
    mock: String,
    n: usize,
}

fn resident_id(first17: &str) -> String {
    format!("{first17}{}", check_char(first17.as_bytes()))
}

/// The smallest valid PNG: 1×1, one grey pixel.
pub(crate) const PNG_1X1: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x3A, 0x7E, 0x9B, 0x55, 0x00, 0x00, 0x00, 0x0A, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x68, 0x00, 0x00, 0x00, 0x82, 0x00, 0x81, 0x77, 0xCD, 0x72, 0xB6, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

impl Walk {
    /// One API call, printed with its outcome; anything but 2xx ends the demo.
    async fn call(
        &mut self,
        step: &'static str,
        req: reqwest::RequestBuilder,
        show: impl Fn(&Value) -> String,
    ) -> Result<Value, DemoError> {
        let res = req.send().await.map_err(|e| DemoError::Step { step, detail: e.to_string() })?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(DemoError::Step { step, detail: format!("HTTP {status}: {body}") });
        }
        self.n += 1;
        println!("{:>2}. {step:<34} {} {}", self.n, status.as_u16(), show(&body));
        Ok(body)
    }

    /// What the mock recorded at `path`, once it holds `at_least` items (the workers send in the
    /// background) or after ten seconds, whatever it holds then.
    async fn mock_list(&self, path: &str, at_least: usize) -> Result<Vec<Value>, DemoError> {
        let mut items = Vec::new();
        for _ in 0..50 {
            items = self
                .http
                .get(format!("{}{path}", self.mock))
                .send()
                .await
                .map_err(|e| DemoError::Step { step: "mock platform", detail: e.to_string() })?
                .json::<Vec<Value>>()
                .await
                .unwrap_or_default();
            if items.len() >= at_least {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(items)
    }

    async fn mock(&self, path: &str, body: Value) -> Result<Value, DemoError> {
        let step = "mock platform";
        let res = self
            .http
            .post(format!("{}{path}", self.mock))
            .json(&body)
            .send()
            .await
            .map_err(|e| DemoError::Step { step, detail: e.to_string() })?;
        res.json().await.map_err(|e| DemoError::Step { step, detail: e.to_string() })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn upload(&self, path: &str, token: &str) -> reqwest::RequestBuilder {
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(PNG_1X1.to_vec()).file_name("photo.png"));
        self.http.put(self.url(path)).bearer_auth(token).multipart(form)
    }
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_string()
}

pub async fn run(mut settings: Settings) -> Result<(), DemoError> {
    let scratch = tempfile::tempdir().map_err(|e| DemoError::Start(e.to_string()))?;
    let mock = mock_wechat::MockServer::start("127.0.0.1", 0, mock_wechat::MockSettings::default())
        .await
        .map_err(|e| DemoError::Start(e.to_string()))?;
    settings.database.url =
        secrecy::SecretString::from(format!("sqlite://{}?mode=rwc", scratch.path().join("demo.db").display()));
    settings.redis.url = None;
    settings.mock.enabled = false;
    settings.server.port = 0;
    settings.workers.outbox_poll_ms = 200;
    settings.use_platform_at(&mock.base_url());
    settings.blobs.dir = scratch.path().join("blobs");
    let demo_password = settings.seed.demo_password.expose_secret().to_string();
    let institution = settings.seed.demo_institution.clone();
    let app = Application::build(settings).await.map_err(|e| DemoError::Start(e.to_string()))?;
    let port = app.port();
    let state = app.state.clone();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    mock.set_service_url(&format!("http://127.0.0.1:{port}"));
    let mut w =
        Walk { http: reqwest::Client::new(), base: format!("http://127.0.0.1:{port}"), mock: mock.base_url(), n: 0 };
    let mother_id = resident_id("37012419950310002");
    let father_id = resident_id("37012419930521001");

    println!("birthcert demo: service on {}, mock platform on {}\n", w.base, w.mock);
    println!("— the hospital —");
    let api_key =
        crate::services::staff::add_hospital_key(&state.db, crate::services::staff::By::Operator, &institution)
            .await
            .map_err(|e| DemoError::Start(e.to_string()))?;
    let s = w
        .call(
            "hospital signs in",
            w.http
                .post(w.url("/api/v1/hospital/session"))
                .json(&json!({"institution_code": institution, "api_key": api_key})),
            |_| String::new(),
        )
        .await?;
    let hospital = text(&s, "token");
    let birth_at = (chrono::Utc::now() - chrono::Duration::hours(20)).to_rfc3339();
    w.call(
        "hospital records the delivery",
        w.http.post(w.url("/api/v1/hospital/deliveries")).bearer_auth(&hospital).json(&json!({
            "mother_name": "李梅", "mother_id_type": "resident_id", "mother_id_number": mother_id,
            "baby_sex": "female", "birth_at": birth_at, "birth_place": "平阴县人民医院",
            "gestational_weeks": 39, "weight_g": 3300, "length_cm": 50, "health_status": "good", "midwife_name": "王芳"
        })),
        |b| format!("late: {}", b["late"]),
    )
    .await?;

    println!("\n— the parent, in the mini-program —");
    let user = w.mock("/_mock/users", json!({"follows_official_account": true})).await?;
    let login = w
        .call(
            "sign in (wx.login code)",
            w.http.post(w.url("/api/v1/auth/login")).json(&json!({"code": user["code"]})),
            |_| String::new(),
        )
        .await?;
    let token = text(&login, "token");
    let subscribe = format!(
        "<xml><ToUserName><![CDATA[gh_birthcert0001]]></ToUserName><FromUserName><![CDATA[{}]]></FromUserName>\
         <CreateTime>{}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event></xml>",
        text(&user, "official_openid"),
        chrono::Utc::now().timestamp()
    );
    let answer = w.mock("/_mock/callbacks", json!({"xml": subscribe, "encrypt": true})).await?;
    w.n += 1;
    println!("{:>2}. {:<34} {}", w.n, "follow the official account", answer["status"]);
    // The account link (through the unionid) is made in the background; give it a moment.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let code =
        w.mock("/_mock/health-cards", json!({"name": "李梅", "id_number": mother_id, "phone": "13812345678"})).await?;
    let card = w
        .call(
            "bind the mother's health card",
            w.http
                .post(w.url("/api/v1/health-cards"))
                .bearer_auth(&token)
                .json(&json!({"health_code": code["health_code"]})),
            |b| format!("{} {}", text(b, "name_masked"), text(b, "id_number_masked")),
        )
        .await?;
    let card_id = text(&card, "id");
    let deliveries = w
        .call(
            "find the delivery record",
            w.http.get(w.url(&format!("/api/v1/deliveries?health_card_id={card_id}"))).bearer_auth(&token),
            |b| format!("{} record(s)", b.as_array().map_or(0, Vec::len)),
        )
        .await?;
    let application = w
        .call(
            "start the application",
            w.http.post(w.url("/api/v1/applications")).bearer_auth(&token).json(&json!({
                "delivery_id": deliveries[0]["id"], "health_card_id": card_id, "claimant_relation": "father"
            })),
            |b| text(b, "state"),
        )
        .await?;
    let app_id = text(&application, "id");
    let base = format!("/api/v1/applications/{app_id}");
    w.call(
        "enter both parents",
        w.http.put(w.url(&format!("{base}/parents"))).bearer_auth(&token).json(&json!({
            "mother": {"name": "李梅", "id_type": "resident_id", "id_number": mother_id, "nationality": "中国", "ethnicity": "汉族"},
            "father": {"name": "张伟", "id_type": "resident_id", "id_number": father_id, "nationality": "中国", "ethnicity": "汉族"}
        })),
        |b| format!("eligible: {}", b["eligibility"]["eligible"]),
    )
    .await?;
    // The separate consents to face recognition and the privacy notice come first.
    for consent in crate::services::applicant::consent::current() {
        w.call(
            "consent",
            w.http
                .post(w.url("/api/v1/consents"))
                .bearer_auth(&token)
                .json(&json!({"kind": consent.kind, "version": consent.version})),
            |b| format!("{} {}", text(b, "kind"), text(b, "version")),
        )
        .await?;
    }
    for role in ["mother", "father"] {
        let session = w
            .call(
                if role == "mother" { "mother: face session" } else { "father: face session" },
                w.http.post(w.url(&format!("{base}/identity/{role}/face-sessions"))).bearer_auth(&token),
                |_| String::new(),
            )
            .await?;
        w.call(
            if role == "mother" { "mother: face verified" } else { "father: face verified" },
            w.http
                .post(w.url(&format!("{base}/identity/{role}/face-result")))
                .bearer_auth(&token)
                .json(&json!({"verify_id": session["verify_id"]})),
            |b| format!("verified: {}", b["verified"]),
        )
        .await?;
    }
    for kind in ["mother_id_front", "mother_id_back", "father_id_front", "father_id_back"] {
        let req = w.upload(&format!("{base}/documents/{kind}"), &token);
        w.call("upload an ID photo", req, |b| text(b, "kind")).await?;
    }
    w.call(
        "read the registration form",
        w.http.get(w.url(&format!("{base}/registration-form"))).bearer_auth(&token),
        |b| format!("mother {}", b["form"]["mother"]["id_number"].as_str().unwrap_or_default()),
    )
    .await?;
    w.call(
        "confirm with the name 张小满",
        w.http
            .post(w.url(&format!("{base}/confirmation")))
            .bearer_auth(&token)
            .json(&json!({"newborn_name": "张小满"})),
        |b| format!("digest {}…", &text(b, "form_digest").chars().take(12).collect::<String>()),
    )
    .await?;
    let req = w.upload(&format!("{base}/signature"), &token);
    w.call("the mother e-signs", req, |_| String::new()).await?;
    w.call(
        "give the delivery address",
        w.http.put(w.url(&format!("{base}/delivery-address"))).bearer_auth(&token).json(&json!({
            "recipient": "张伟", "phone": "13987654321", "region_code": "370124", "address": "平阴县榆山街道青龙路1号"
        })),
        |b| format!("courier fee {} fen", b["courier_fee_fen"]),
    )
    .await?;
    let order = w
        .call("create the payment", w.http.post(w.url(&format!("{base}/payment"))).bearer_auth(&token), |b| {
            format!("{} fen", b["amount_fen"])
        })
        .await?;
    w.mock(&format!("/_mock/pay/{}", text(&order, "out_trade_no")), json!({})).await?;
    w.call("(WeChat Pay notifies) application", w.http.get(w.url(&base)).bearer_auth(&token), |b| {
        format!("{}, review by {}", text(b, "state"), text(b, "review_due_at"))
    })
    .await?;

    println!("\n— the issuing officer —");
    let s = w
        .call(
            "officer signs in",
            w.http
                .post(w.url("/api/v1/officer/session"))
                .json(&json!({"username": "demo.admin", "password": demo_password})),
            |_| String::new(),
        )
        .await?;
    let officer = text(&s, "token");
    w.call(
        "receive blank certificate stock",
        w.http
            .post(w.url("/api/v1/officer/certificate-stock"))
            .bearer_auth(&officer)
            .json(&json!({"first": "R370000001", "last": "R370000100"})),
        |b| format!("{} blanks", b["received"]),
    )
    .await?;
    w.call("review queue", w.http.get(w.url("/api/v1/officer/applications")).bearer_auth(&officer), |b| {
        format!("{} waiting", b["total"])
    })
    .await?;
    w.call(
        "open the application (audited)",
        w.http.get(w.url(&format!("/api/v1/officer/applications/{app_id}"))).bearer_auth(&officer),
        |b| format!("mother {}", b["delivery"]["mother_id_number"].as_str().unwrap_or_default()),
    )
    .await?;
    let approved = w
        .call(
            "approve",
            w.http.post(w.url(&format!("/api/v1/officer/applications/{app_id}/approval"))).bearer_auth(&officer),
            |b| format!("certificate {}", text(b, "certificate_number")),
        )
        .await?;
    let number = text(&approved, "certificate_number");
    // The printed certificate's QR code leads anyone to its authenticity check.
    let check = crate::services::issuing::authenticity::token_for(&state.cipher, &number);
    w.call(
        "authenticity check (the certificate's QR code)",
        w.http.get(w.url(&format!("/v/{check}"))).header("Accept", "application/json"),
        |b| format!("{} {} ({})", text(b, "certificate_number"), text(b, "status"), text(b, "newborn_name_masked")),
    )
    .await?;
    let shipment = w
        .call(
            "book the courier",
            w.http.post(w.url(&format!("/api/v1/officer/applications/{app_id}/shipment"))).bearer_auth(&officer),
            |b| format!("{} {}", text(b, "carrier"), text(b, "tracking_number")),
        )
        .await?;
    let tracking = text(&shipment, "tracking_number");

    println!("\n— the courier —");
    for (event, signed_by) in [("picked_up", None), ("delivered", Some("张伟"))] {
        let sent = w
            .mock(&format!("/_mock/courier/{tracking}/events"), json!({"event": event, "signed_by": signed_by}))
            .await?;
        w.n += 1;
        println!("{:>2}. courier event {event:<20} {}", w.n, sent["status"]);
    }
    w.call("application", w.http.get(w.url(&base)).bearer_auth(&token), |b| {
        format!("{}, certificate {}", text(b, "state"), text(b, "certificate_number"))
    })
    .await?;

    println!("\n— what the parent received on WeChat —");
    let messages = w.mock_list("/_mock/messages", 4).await?;
    if messages.is_empty() {
        for row in crate::persistence::outbox::list(&state.db).await.unwrap_or_default() {
            println!("   {} → {}", row.event, row.state);
        }
    }
    for m in &messages {
        let fields: Vec<String> = ["keyword1", "keyword2", "keyword3", "keyword4"]
            .iter()
            .filter_map(|k| m["data"][k]["value"].as_str().map(str::to_string))
            .collect();
        println!("   [{}] {}", m["kind"].as_str().unwrap_or_default(), fields.join(" | "));
    }

    println!("\n— what the province received —");
    // The delivery record and the issued certificate.
    let reported = w.mock_list("/_mock/province/reports", 2).await?;
    for r in &reported {
        println!("   [{}] {} receipt {}", text(r, "kind"), text(r, "report_id"), text(r, "receipt"));
    }
    w.call(
        "the officer sees the province's status",
        w.http.get(w.url(&format!("/api/v1/officer/applications/{app_id}"))).bearer_auth(&officer),
        |b| {
            let p = &b["province_report"];
            format!("{} at {}", text(p, "status"), text(p, "reported_at"))
        },
    )
    .await?;
    handle.stop(true).await;
    Ok(())
}

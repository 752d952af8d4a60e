//! A faithful stand-in for the WeChat platform (and the other outside systems of DESIGN §4),
//! written independently of the service so that the service accepting it is a real
//! cross-check. Runs in-process (tests, embedded defaults) or alone (`cargo run -p mock_wechat`).
//!
//! Platform side: `/cgi-bin/stable_token`, `/cgi-bin/token`, `/sns/jscode2session`,
//! `/cgi-bin/user/info`, `/cgi-bin/message/template/send`, `/cgi-bin/message/subscribe/send`,
//! `/cityservice/face/identify/getverifyid` and `queryverifyinfo`.
//! Control side (under `/_mock`): see API.md, plus `GET /_mock/stats` (token fetch counts).

mod wxcrypto;

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::dev::ServerHandle;
use actix_web::{get, post, web, App, HttpRequest, HttpResponse, HttpServer};
use serde::Deserialize;
use serde_json::{json, Value};

pub use wxcrypto::{decrypt as mock_decrypt, encrypt as mock_encrypt, sha1_sorted as mock_sign};

/// Credentials the mock shares with the service; defaults equal `config/default.toml`.
#[derive(Debug, Clone)]
pub struct MockSettings {
    pub app_id: String,
    pub app_secret: String,
    pub token: String,
    pub encoding_aes_key: String,
    pub original_id: String,
    pub mini_program_app_id: String,
    pub mini_program_app_secret: String,
    /// Where callbacks (official account, pay, courier) are sent.
    pub service_url: Option<String>,
    /// How long a `/cgi-bin/token` token stays valid after a newer one was issued.
    pub token_grace: Duration,
    /// Lifetime of access tokens.
    pub token_ttl: Duration,
    /// Template messages accepted per day before 45009.
    pub template_daily_quota: u64,
    /// WeChat's callback timeout.
    pub callback_timeout: Duration,
    pub health_card_app_id: String,
    pub health_card_app_secret: String,
    pub mch_id: String,
    /// APIv3 key (32 bytes) that encrypts notification resources.
    pub api_v3_key: String,
    /// `Wechatpay-Serial` of notifications in public-key mode.
    pub platform_public_key_id: String,
    /// Serial of the platform certificate, for certificate-mode notifications.
    pub platform_certificate_serial: String,
    /// The courier's app key and HMAC secret (bookings in, events out).
    pub courier_app_key: String,
    pub courier_secret: String,
}

impl Default for MockSettings {
    fn default() -> Self {
        MockSettings {
            app_id: "wx0000000000000001".into(),
            app_secret: "dev-official-account-secret".into(),
            token: "birthcert-dev-token".into(),
            encoding_aes_key: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".into(),
            original_id: "gh_birthcert0001".into(),
            mini_program_app_id: "wx0000000000000002".into(),
            mini_program_app_secret: "dev-mini-program-secret".into(),
            service_url: None,
            token_grace: Duration::from_secs(300),
            token_ttl: Duration::from_secs(7200),
            template_daily_quota: 100_000,
            callback_timeout: Duration::from_secs(5),
            health_card_app_id: "hc0000000000000001".into(),
            health_card_app_secret: "dev-health-card-secret".into(),
            mch_id: "1900000001".into(),
            api_v3_key: "dev-apiv3-key-0123456789abcdefgh".into(),
            platform_public_key_id: "PUB_KEY_ID_0000000000000001".into(),
            platform_certificate_serial: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1".into(),
            courier_app_key: "birthcert-pingyin".into(),
            courier_secret: "dev-courier-secret".into(),
        }
    }
}

impl MockSettings {
    /// Defaults overridden by `MOCK_WECHAT__APP_ID`, `MOCK_WECHAT__TOKEN`, ...
    pub fn from_env() -> MockSettings {
        let mut s = MockSettings::default();
        let var = |name: &str| std::env::var(format!("MOCK_WECHAT__{name}")).ok();
        for (name, field) in [
            ("APP_ID", &mut s.app_id),
            ("APP_SECRET", &mut s.app_secret),
            ("TOKEN", &mut s.token),
            ("ENCODING_AES_KEY", &mut s.encoding_aes_key),
            ("ORIGINAL_ID", &mut s.original_id),
            ("MINI_PROGRAM_APP_ID", &mut s.mini_program_app_id),
            ("MINI_PROGRAM_APP_SECRET", &mut s.mini_program_app_secret),
            ("COURIER_APP_KEY", &mut s.courier_app_key),
            ("COURIER_SECRET", &mut s.courier_secret),
        ] {
            if let Some(v) = var(name) {
                *field = v;
            }
        }
        s.service_url = var("SERVICE_URL");
        s
    }

    pub fn with_service_url(mut self, url: String) -> MockSettings {
        if self.service_url.is_none() {
            self.service_url = Some(url);
        }
        self
    }
}

#[derive(Debug, Clone)]
struct User {
    mini_openid: String,
    official_openid: String,
    unionid: String,
    follows: bool,
    blocks_templates: bool,
}

#[derive(Debug, Clone)]
struct LoginCode {
    mini_openid: String,
    issued: Instant,
    used: bool,
}

#[derive(Debug, Clone)]
struct Fault {
    path: String,
    mode: String,
    errcode: i64,
    times: u32,
}

#[derive(Debug, Clone)]
struct FaceSession {
    out_seq_no: String,
    cert_type: String,
    cert_name: String,
    cert_no: String,
    openid: String,
}

#[derive(Default)]
struct Inner {
    service_url: Option<String>,
    /// token → (appid, valid until)
    tokens: HashMap<String, (String, Instant)>,
    /// appid → current stable token
    stable: HashMap<String, String>,
    /// appid → latest /cgi-bin/token token
    latest_plain: HashMap<String, String>,
    stable_fetches: u64,
    plain_fetches: u64,
    users: Vec<User>,
    codes: HashMap<String, LoginCode>,
    logins: HashMap<String, Vec<Instant>>,
    messages: Vec<Value>,
    client_msg_ids: HashMap<(String, String), Instant>,
    template_sends: u64,
    next_msgid: u64,
    faults: Vec<Fault>,
    face_outcomes: HashMap<String, String>,
    face_sessions: HashMap<String, FaceSession>,
    health_cards: HashMap<String, Value>,
    used_health_codes: std::collections::HashSet<String>,
    orders: HashMap<String, Value>,
    health_card_tokens: std::collections::HashSet<String>,
    callbacks_sent: u64,
    user_info_calls: u64,
    /// order_ref → booking (with its tracking number)
    courier_orders: HashMap<String, Value>,
}

struct MockState {
    settings: MockSettings,
    inner: Mutex<Inner>,
    http: reqwest::Client,
}

impl MockState {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

type State = web::Data<MockState>;

fn err(errcode: i64, errmsg: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({"errcode": errcode, "errmsg": errmsg}))
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

fn random_id(prefix: &str) -> String {
    use rand::Rng;
    let n: u128 = rand::thread_rng().gen();
    format!("{prefix}{n:032x}")
}

/// Applies a fault injected for `path`, if one is pending.
async fn injected_fault(state: &State, path: &str) -> Option<HttpResponse> {
    let fault = {
        let mut inner = state.lock();
        let f = inner.faults.iter_mut().find(|f| f.path == path && f.times > 0)?;
        f.times -= 1;
        f.clone()
    };
    match fault.mode.as_str() {
        "http_500" => Some(HttpResponse::InternalServerError().body("mock fault")),
        "timeout" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Some(HttpResponse::GatewayTimeout().finish())
        }
        _ => Some(err(fault.errcode, "injected by mock")),
    }
}

/// The app a token belongs to, or None when it is unknown or no longer valid.
fn token_app(state: &State, req: &HttpRequest) -> Option<String> {
    let token = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("access_token").cloned())?;
    let inner = state.lock();
    let (app, until) = inner.tokens.get(&token)?;
    (Instant::now() < *until).then(|| app.clone())
}

/// The errcode for a wrong appid or secret, if any.
fn app_secret_error(s: &MockSettings, appid: &str, secret: &str) -> Option<HttpResponse> {
    let expected = if appid == s.app_id {
        &s.app_secret
    } else if appid == s.mini_program_app_id {
        &s.mini_program_app_secret
    } else {
        return Some(err(40013, "invalid appid"));
    };
    (secret != expected).then(|| err(40125, "invalid appsecret"))
}

#[derive(Deserialize)]
struct StableTokenBody {
    grant_type: String,
    appid: String,
    secret: String,
    #[serde(default)]
    force_refresh: bool,
}

#[post("/cgi-bin/stable_token")]
async fn stable_token(state: State, body: web::Json<StableTokenBody>) -> HttpResponse {
    if let Some(f) = injected_fault(&state, "/cgi-bin/stable_token").await {
        return f;
    }
    if body.grant_type != "client_credential" {
        return err(40002, "invalid grant_type");
    }
    if let Some(e) = app_secret_error(&state.settings, &body.appid, &body.secret) {
        return e;
    }
    let mut inner = state.lock();
    inner.stable_fetches += 1;
    let now = Instant::now();
    // Inside its window the stable token stays the same unless forced.
    if !body.force_refresh {
        if let Some(t) = inner.stable.get(&body.appid).cloned() {
            if let Some((_, until)) = inner.tokens.get(&t) {
                if *until > now {
                    let left = until.duration_since(now).as_secs();
                    return HttpResponse::Ok().json(json!({"access_token": t, "expires_in": left}));
                }
            }
        }
    }
    let token = random_id("stable_");
    inner.tokens.insert(token.clone(), (body.appid.clone(), now + state.settings.token_ttl));
    inner.stable.insert(body.appid.clone(), token.clone());
    HttpResponse::Ok().json(json!({"access_token": token, "expires_in": state.settings.token_ttl.as_secs()}))
}

#[get("/cgi-bin/token")]
async fn plain_token(state: State, query: web::Query<HashMap<String, String>>) -> HttpResponse {
    if let Some(f) = injected_fault(&state, "/cgi-bin/token").await {
        return f;
    }
    let get = |k: &str| query.get(k).cloned().unwrap_or_default();
    if get("grant_type") != "client_credential" {
        return err(40002, "invalid grant_type");
    }
    let appid = get("appid");
    if let Some(e) = app_secret_error(&state.settings, &appid, &get("secret")) {
        return e;
    }
    let mut inner = state.lock();
    inner.plain_fetches += 1;
    let now = Instant::now();
    // A new token cuts the previous one's life to the grace period.
    if let Some(prev) = inner.latest_plain.get(&appid).cloned() {
        if let Some(entry) = inner.tokens.get_mut(&prev) {
            entry.1 = entry.1.min(now + state.settings.token_grace);
        }
    }
    let token = random_id("token_");
    inner.tokens.insert(token.clone(), (appid.clone(), now + state.settings.token_ttl));
    inner.latest_plain.insert(appid, token.clone());
    HttpResponse::Ok().json(json!({"access_token": token, "expires_in": state.settings.token_ttl.as_secs()}))
}

#[get("/sns/jscode2session")]
async fn jscode2session(state: State, query: web::Query<HashMap<String, String>>) -> HttpResponse {
    if let Some(f) = injected_fault(&state, "/sns/jscode2session").await {
        return f;
    }
    let get = |k: &str| query.get(k).cloned().unwrap_or_default();
    if get("appid") != state.settings.mini_program_app_id {
        return err(40013, "invalid appid");
    }
    if get("secret") != state.settings.mini_program_app_secret {
        return err(40125, "invalid appsecret");
    }
    let mut inner = state.lock();
    let code = get("js_code");
    let Some(entry) = inner.codes.get_mut(&code) else {
        return err(40029, "invalid code");
    };
    if entry.used {
        return err(40163, "code been used");
    }
    if entry.issued.elapsed() > Duration::from_secs(300) {
        return err(40029, "invalid code (expired)");
    }
    entry.used = true;
    let openid = entry.mini_openid.clone();
    let window = inner.logins.entry(openid.clone()).or_default();
    window.retain(|t| t.elapsed() < Duration::from_secs(60));
    if window.len() >= 100 {
        return err(45011, "api minute-quota reach limit");
    }
    window.push(Instant::now());
    let Some(user) = inner.users.iter().find(|u| u.mini_openid == openid) else {
        return err(40029, "invalid code");
    };
    let session_key = {
        use base64::Engine;
        let bytes: [u8; 16] = rand::random();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    HttpResponse::Ok().json(json!({"openid": user.mini_openid, "session_key": session_key, "unionid": user.unionid}))
}

#[get("/cgi-bin/user/info")]
async fn user_info(state: State, req: HttpRequest, query: web::Query<HashMap<String, String>>) -> HttpResponse {
    if let Some(f) = injected_fault(&state, "/cgi-bin/user/info").await {
        return f;
    }
    if token_app(&state, &req).as_deref() != Some(state.settings.app_id.as_str()) {
        return err(40001, "invalid credential, access_token is invalid or not latest");
    }
    let openid = query.get("openid").cloned().unwrap_or_default();
    let mut inner = state.lock();
    inner.user_info_calls += 1;
    match inner.users.iter().find(|u| u.official_openid == openid) {
        Some(u) if u.follows => HttpResponse::Ok().json(json!({
            "subscribe": 1, "openid": u.official_openid, "unionid": u.unionid, "language": "zh_CN",
            "subscribe_time": now_secs(), "subscribe_scene": "ADD_SCENE_QR_CODE"
        })),
        Some(u) => HttpResponse::Ok().json(json!({"subscribe": 0, "openid": u.official_openid})),
        None => err(40003, "invalid openid"),
    }
}

fn template_value_problem(data: &Value) -> Option<String> {
    let map = data.as_object()?;
    for (k, v) in map {
        if k == "first" || k == "remark" {
            return Some(format!("data.{k} is no longer allowed"));
        }
        let value = v.get("value").and_then(Value::as_str).unwrap_or_default();
        if value.chars().count() > 20 || value.contains('\n') || v.get("color").is_some() {
            return Some(format!("data.{k}.value invalid"));
        }
    }
    None
}

#[post("/cgi-bin/message/template/send")]
async fn template_send(state: State, req: HttpRequest, body: web::Json<Value>) -> HttpResponse {
    if let Some(f) = injected_fault(&state, "/cgi-bin/message/template/send").await {
        return f;
    }
    if token_app(&state, &req).as_deref() != Some(state.settings.app_id.as_str()) {
        return err(40001, "invalid credential, access_token is invalid or not latest");
    }
    let touser = body["touser"].as_str().unwrap_or_default().to_string();
    let template_id = body["template_id"].as_str().unwrap_or_default().to_string();
    if template_id.is_empty() {
        return err(40037, "invalid template_id");
    }
    if let Some(problem) = template_value_problem(&body["data"]) {
        return err(47003, &problem);
    }
    let (msgid, blocked) = {
        let mut inner = state.lock();
        let Some(user) = inner.users.iter().find(|u| u.official_openid == touser).cloned() else {
            return err(40003, "invalid openid");
        };
        if !user.follows {
            return err(43004, "require subscribe");
        }
        if inner.template_sends >= state.settings.template_daily_quota {
            return err(45009, "reach max api daily quota limit");
        }
        let client_msg_id = body["client_msg_id"].as_str().unwrap_or_default().to_string();
        if !client_msg_id.is_empty() {
            let key = (touser.clone(), client_msg_id.clone());
            if inner.client_msg_ids.get(&key).is_some_and(|t| t.elapsed() < Duration::from_secs(600)) {
                // WeChat drops the duplicate and answers as if sent.
                return HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok", "msgid": 0}));
            }
            inner.client_msg_ids.insert(key, Instant::now());
        }
        inner.template_sends += 1;
        inner.next_msgid += 1;
        let msgid = 1_000_000_000 + inner.next_msgid;
        inner.messages.push(json!({
            "kind": "template", "touser": touser, "template_id": template_id, "data": body["data"],
            "msgid": msgid.to_string(), "client_msg_id": client_msg_id, "miniprogram": body["miniprogram"],
        }));
        (msgid, user.blocks_templates)
    };
    // Like WeChat, report the delivery afterwards through the callback.
    let state2 = state.clone();
    let status = if blocked { "failed:user block" } else { "success" };
    let xml = format!(
        "<xml><ToUserName><![CDATA[{}]]></ToUserName><FromUserName><![CDATA[{touser}]]></FromUserName><CreateTime>{}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event><MsgID>{msgid}</MsgID><Status><![CDATA[{status}]]></Status></xml>",
        state.settings.original_id,
        now_secs()
    );
    actix_web::rt::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let _ = send_callback(&state2, &xml, false).await;
    });
    HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok", "msgid": msgid}))
}

#[post("/cgi-bin/message/subscribe/send")]
async fn subscribe_send(state: State, req: HttpRequest, body: web::Json<Value>) -> HttpResponse {
    if let Some(f) = injected_fault(&state, "/cgi-bin/message/subscribe/send").await {
        return f;
    }
    if token_app(&state, &req).as_deref() != Some(state.settings.mini_program_app_id.as_str()) {
        return err(40001, "invalid credential, access_token is invalid or not latest");
    }
    let touser = body["touser"].as_str().unwrap_or_default().to_string();
    let mut inner = state.lock();
    if !inner.users.iter().any(|u| u.mini_openid == touser) {
        return err(40003, "invalid openid");
    }
    if body["template_id"].as_str().unwrap_or_default().is_empty() {
        return err(40037, "invalid template_id");
    }
    inner.next_msgid += 1;
    let msgid = 2_000_000_000 + inner.next_msgid;
    inner.messages.push(json!({
        "kind": "subscribe", "touser": touser, "template_id": body["template_id"], "data": body["data"],
        "msgid": msgid.to_string(), "page": body["page"],
    }));
    HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok", "msgid": msgid}))
}

fn cert_hash(cert_type: &str, name: &str, no: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let b = base64::engine::general_purpose::STANDARD;
    let s = format!("cert_type={}&cert_name={}&cert_no={}", b.encode(cert_type), b.encode(name), b.encode(no));
    sha2::Sha256::digest(s.as_bytes()).iter().map(|x| format!("{x:02x}")).collect()
}

#[post("/cityservice/face/identify/getverifyid")]
async fn face_getverifyid(state: State, req: HttpRequest, body: web::Json<Value>) -> HttpResponse {
    if let Some(f) = injected_fault(&state, "/cityservice/face/identify/getverifyid").await {
        return f;
    }
    if token_app(&state, &req).as_deref() != Some(state.settings.mini_program_app_id.as_str()) {
        return err(40001, "invalid credential, access_token is invalid or not latest");
    }
    let out_seq_no = body["out_seq_no"].as_str().unwrap_or_default().to_string();
    let valid_seq = (5..=32).contains(&out_seq_no.len())
        && out_seq_no.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid_seq {
        return err(40097, "invalid out_seq_no");
    }
    let session = FaceSession {
        out_seq_no,
        cert_type: body["cert_info"]["cert_type"].as_str().unwrap_or_default().to_string(),
        cert_name: body["cert_info"]["cert_name"].as_str().unwrap_or_default().to_string(),
        cert_no: body["cert_info"]["cert_no"].as_str().unwrap_or_default().to_string(),
        openid: body["openid"].as_str().unwrap_or_default().to_string(),
    };
    let verify_id = random_id("verify_");
    state.lock().face_sessions.insert(verify_id.clone(), session);
    HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok", "verify_id": verify_id, "expires_in": 3600}))
}

#[post("/cityservice/face/identify/queryverifyinfo")]
async fn face_query(state: State, req: HttpRequest, body: web::Json<Value>) -> HttpResponse {
    if let Some(f) = injected_fault(&state, "/cityservice/face/identify/queryverifyinfo").await {
        return f;
    }
    if token_app(&state, &req).as_deref() != Some(state.settings.mini_program_app_id.as_str()) {
        return err(40001, "invalid credential, access_token is invalid or not latest");
    }
    let inner = state.lock();
    let Some(s) = inner.face_sessions.get(body["verify_id"].as_str().unwrap_or_default()) else {
        return err(84001, "invalid verify_id");
    };
    if body["out_seq_no"].as_str() != Some(s.out_seq_no.as_str()) || body["openid"].as_str() != Some(s.openid.as_str())
    {
        return err(40097, "out_seq_no or openid does not match the verify_id");
    }
    if body["cert_hash"].as_str() != Some(cert_hash(&s.cert_type, &s.cert_name, &s.cert_no).as_str()) {
        return err(40097, "cert_hash does not match the verify_id");
    }
    let passed = inner.face_outcomes.get(&s.cert_no).map(String::as_str).unwrap_or("pass") == "pass";
    // 90100-range codes mean the person did not pass; 10000 is the only pass.
    HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok", "verify_ret": if passed { 10000 } else { 90100 }}))
}

// ---- electronic health card platform ---------------------------------------------------

fn hc_out(code: i64, msg: &str, rsp: Value) -> HttpResponse {
    HttpResponse::Ok().json(json!({"commonOut": {"resultCode": code, "errMsg": msg}, "rsp": rsp}))
}

/// The platform's signature, computed apart from the service's code.
fn hc_sign(common_in: &Value, req: &Value, secret: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for obj in [common_in, req] {
        for (k, v) in obj.as_object().into_iter().flatten() {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            if k != "sign" && !text.is_empty() {
                pairs.push((k.clone(), text));
            }
        }
    }
    pairs.sort();
    let joined = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(format!("{joined}{secret}").as_bytes()))
}

#[post("/rest/auth/HealthCard/HealthOpenAuth/AuthObj/getAppToken")]
async fn hc_app_token(state: State, body: web::Json<Value>) -> HttpResponse {
    if body["appId"].as_str() != Some(state.settings.health_card_app_id.as_str()) {
        return hc_out(-1, "invalid appId", Value::Null);
    }
    let token = random_id("hctoken_");
    state.lock().health_card_tokens.insert(token.clone());
    hc_out(0, "", json!({"appToken": token, "expiresIn": 7200}))
}

#[post("/rest/auth/HealthCard/HealthOpenPlatform/ISVOpenObj/getHealthCardByHealthCode")]
async fn hc_card_by_code(state: State, body: web::Json<Value>) -> HttpResponse {
    if let Some(f) =
        injected_fault(&state, "/rest/auth/HealthCard/HealthOpenPlatform/ISVOpenObj/getHealthCardByHealthCode").await
    {
        return f;
    }
    let common_in = &body["commonIn"];
    let req = &body["req"];
    if common_in["sign"].as_str() != Some(hc_sign(common_in, req, &state.settings.health_card_app_secret).as_str()) {
        return hc_out(-2, "sign mismatch", Value::Null);
    }
    let mut inner = state.lock();
    if !inner.health_card_tokens.contains(common_in["appToken"].as_str().unwrap_or_default()) {
        return hc_out(-3, "invalid appToken", Value::Null);
    }
    let code = req["healthCode"].as_str().unwrap_or_default().to_string();
    if inner.used_health_codes.contains(&code) {
        return hc_out(10002, "healthCode already used", Value::Null);
    }
    let Some(card) = inner.health_cards.get(&code).cloned() else {
        return hc_out(10001, "invalid healthCode", Value::Null);
    };
    inner.used_health_codes.insert(code);
    hc_out(0, "", json!({"isSelf": true, "card": card}))
}

// ---- WeChat Pay v3 -----------------------------------------------------------------------

const PLATFORM_PRIVATE_KEY: &str = include_str!("../keys/platform.pem");

/// The platform's signing key, parsed once.
fn platform_key() -> Option<&'static rsa::RsaPrivateKey> {
    use rsa::pkcs8::DecodePrivateKey;
    static KEY: std::sync::OnceLock<Option<rsa::RsaPrivateKey>> = std::sync::OnceLock::new();
    KEY.get_or_init(|| rsa::RsaPrivateKey::from_pkcs8_pem(PLATFORM_PRIVATE_KEY).ok()).as_ref()
}
const MERCHANT_PUBLIC_KEY: &str = include_str!("../keys/merchant.pub");

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// Checks the merchant's `Authorization: WECHATPAY2-SHA256-RSA2048 ...` over the request.
fn merchant_signed(req: &HttpRequest, body: &str, mch_id: &str) -> bool {
    use base64::Engine;
    use rsa::pkcs8::DecodePublicKey;
    use rsa::signature::Verifier;
    let Some(auth) = req.headers().get("authorization").and_then(|h| h.to_str().ok()) else { return false };
    let Some(params) = auth.strip_prefix("WECHATPAY2-SHA256-RSA2048 ") else { return false };
    let field = |name: &str| {
        params.split(',').find_map(|kv| {
            kv.trim().strip_prefix(&format!("{name}=\"")).and_then(|v| v.strip_suffix('"')).map(str::to_string)
        })
    };
    let (Some(mchid), Some(nonce), Some(signature), Some(ts)) =
        (field("mchid"), field("nonce_str"), field("signature"), field("timestamp"))
    else {
        return false;
    };
    let Ok(key) = rsa::RsaPublicKey::from_public_key_pem(MERCHANT_PUBLIC_KEY) else { return false };
    let Ok(raw) = b64().decode(signature) else { return false };
    let Ok(sig) = rsa::pkcs1v15::Signature::try_from(raw.as_slice()) else { return false };
    let path = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let message = format!("{}\n{path}\n{ts}\n{nonce}\n{body}\n", req.method());
    mchid == mch_id
        && rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(key).verify(message.as_bytes(), &sig).is_ok()
}

#[post("/v3/pay/transactions/jsapi")]
async fn pay_jsapi(state: State, req: HttpRequest, body: String) -> HttpResponse {
    if let Some(f) = injected_fault(&state, "/v3/pay/transactions/jsapi").await {
        return f;
    }
    if !merchant_signed(&req, &body, &state.settings.mch_id) {
        return HttpResponse::Unauthorized().json(json!({"code": "SIGN_ERROR", "message": "签名错误"}));
    }
    let Ok(order) = serde_json::from_str::<Value>(&body) else {
        return HttpResponse::BadRequest().json(json!({"code": "PARAM_ERROR", "message": "body"}));
    };
    let total = order["amount"]["total"].as_i64().unwrap_or(0);
    let out_trade_no = order["out_trade_no"].as_str().unwrap_or_default().to_string();
    if total <= 0 || out_trade_no.len() < 6 || order["payer"]["openid"].as_str().unwrap_or_default().is_empty() {
        return HttpResponse::BadRequest()
            .json(json!({"code": "PARAM_ERROR", "message": "amount, out_trade_no or payer"}));
    }
    if order["mchid"].as_str() != Some(state.settings.mch_id.as_str()) {
        return HttpResponse::BadRequest().json(json!({"code": "MCH_NOT_EXISTS", "message": "mchid"}));
    }
    let mut inner = state.lock();
    let prepay_id = inner.orders.get(&out_trade_no).map(|o| o["prepay_id"].clone());
    let prepay_id = match prepay_id {
        Some(p) => p,
        None => {
            let p = json!(random_id("wx_prepay_"));
            let mut stored = order.clone();
            stored["prepay_id"] = p.clone();
            inner.orders.insert(out_trade_no, stored);
            p
        }
    };
    HttpResponse::Ok().json(json!({"prepay_id": prepay_id}))
}

#[derive(Deserialize, Default)]
struct PayControl {
    /// "public_key" (default) or "certificate": which serial signs the notification.
    #[serde(default)]
    mode: Option<String>,
    /// Pay this amount instead of the order's (to test the service's amount check).
    #[serde(default)]
    amount: Option<i64>,
    /// Name this appid or mchid in the transaction instead of the order's (a notification meant
    /// for another mini-program or merchant, correctly signed).
    #[serde(default)]
    appid: Option<String>,
    #[serde(default)]
    mchid: Option<String>,
    /// Sign with a wrong key (forged notification).
    #[serde(default)]
    forge: bool,
}

/// Pays an order: sends the signed, encrypted notification to the order's notify_url twice,
/// as WeChat sometimes does.
#[post("/_mock/pay/{out_trade_no}")]
async fn mock_pay(state: State, path: web::Path<String>, control: Option<web::Json<PayControl>>) -> HttpResponse {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use base64::Engine;
    use rsa::signature::{SignatureEncoding, Signer};
    let control = control.map(web::Json::into_inner).unwrap_or_default();
    let Some(order) = state.lock().orders.get(path.as_str()).cloned() else {
        return HttpResponse::NotFound().json(json!({"error": "no such order"}));
    };
    let s = &state.settings;
    let transaction = json!({
        "appid": control.appid.as_deref().map_or(order["appid"].clone(), |a| json!(a)),
        "mchid": control.mchid.as_deref().map_or(order["mchid"].clone(), |m| json!(m)),
        "out_trade_no": order["out_trade_no"],
        "transaction_id": format!("4200{}", &random_id("")[..24]), "trade_type": "JSAPI", "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功", "bank_type": "OTHERS", "attach": "", "success_time": "2026-11-26T10:00:00+08:00",
        "payer": order["payer"],
        "amount": {"total": control.amount.unwrap_or(order["amount"]["total"].as_i64().unwrap_or(0)), "payer_total": order["amount"]["total"], "currency": "CNY", "payer_currency": "CNY"}
    });
    let nonce: String = random_id("").chars().take(12).collect();
    let key: [u8; 32] = match s.api_v3_key.as_bytes().try_into() {
        Ok(k) => k,
        Err(_) => return HttpResponse::InternalServerError().json(json!({"error": "api_v3_key must be 32 bytes"})),
    };
    let cipher = aes_gcm::Aes256Gcm::new((&key).into());
    let Ok(ct) = cipher.encrypt(
        aes_gcm::Nonce::from_slice(nonce.as_bytes()),
        Payload { msg: transaction.to_string().as_bytes(), aad: b"transaction" },
    ) else {
        return HttpResponse::InternalServerError().finish();
    };
    let body = json!({
        "id": uuid::Uuid::new_v4().to_string(), "create_time": "2026-11-26T10:00:01+08:00",
        "resource_type": "encrypt-resource", "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
        "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM", "ciphertext": b64().encode(ct), "associated_data": "transaction", "nonce": nonce}
    })
    .to_string();
    let platform = if control.forge {
        rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).ok()
    } else {
        platform_key().cloned()
    };
    let Some(platform) = platform else { return HttpResponse::InternalServerError().finish() };
    let ts = now_secs().to_string();
    let header_nonce = random_id("").chars().take(16).collect::<String>();
    let message = format!("{ts}\n{header_nonce}\n{body}\n");
    // RSA signing takes milliseconds: off the worker, so other platform calls are not held up.
    let signed = web::block(move || {
        let signer = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(platform);
        b64().encode(signer.sign(message.as_bytes()).to_bytes())
    })
    .await;
    let Ok(signature) = signed else { return HttpResponse::InternalServerError().finish() };
    let serial = if control.mode.as_deref() == Some("certificate") {
        &s.platform_certificate_serial
    } else {
        &s.platform_public_key_id
    };
    let url = order["notify_url"].as_str().unwrap_or_default().to_string();
    let mut deliveries = Vec::new();
    let mut round_trips_ms = Vec::new();
    for _ in 0..2 {
        let sent = Instant::now();
        let res = state
            .http
            .post(&url)
            .header("content-type", "application/json")
            .header("Wechatpay-Timestamp", &ts)
            .header("Wechatpay-Nonce", &header_nonce)
            .header("Wechatpay-Signature", &signature)
            .header("Wechatpay-Serial", serial.as_str())
            .body(body.clone())
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        round_trips_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
        deliveries.push(match res {
            Ok(r) => json!(r.status().as_u16()),
            Err(e) => json!(e.to_string()),
        });
    }
    // How long the service took to answer each delivery, as the platform saw it.
    HttpResponse::Ok().json(json!({
        "deliveries": deliveries,
        "round_trips_ms": round_trips_ms,
        "transaction_id": transaction["transaction_id"]
    }))
}

// ---- courier ----------------------------------------------------------------------------

/// hex HMAC-SHA256 of `timestamp + "\n" + body`, the courier's scheme both ways.
fn courier_signature(secret: &str, timestamp: &str, body: &str) -> String {
    use hmac::{Hmac, Mac};
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else { return String::new() };
    mac.update(timestamp.as_bytes());
    mac.update(b"\n");
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Books a delivery. Signed like the events; the same `order_ref` gets the same tracking number
/// (a retried booking does not book twice).
#[post("/courier/v1/orders")]
async fn courier_book(state: State, req: HttpRequest, body: String) -> HttpResponse {
    if let Some(fault) = injected_fault(&state, "/courier/v1/orders").await {
        return fault;
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let s = &state.settings;
    if header("X-Courier-App-Key") != s.courier_app_key
        || header("X-Courier-Signature") != courier_signature(&s.courier_secret, &header("X-Courier-Timestamp"), &body)
    {
        return HttpResponse::Unauthorized().json(json!({"code": "bad_signature"}));
    }
    let Ok(order) = serde_json::from_str::<Value>(&body) else {
        return HttpResponse::BadRequest().json(json!({"code": "bad_json"}));
    };
    let Some(order_ref) = order["order_ref"].as_str().filter(|r| !r.is_empty()).map(str::to_string) else {
        return HttpResponse::BadRequest().json(json!({"code": "order_ref_required"}));
    };
    for field in ["name", "phone", "address"] {
        if order["recipient"][field].as_str().is_none_or(str::is_empty) {
            return HttpResponse::BadRequest().json(json!({"code": "recipient_incomplete", "field": field}));
        }
    }
    let mut inner = state.lock();
    let booking = inner
        .courier_orders
        .entry(order_ref)
        .or_insert_with(|| {
            let digits: String = random_id("").chars().filter(char::is_ascii_digit).take(10).collect();
            json!({"tracking_number": format!("EMS{digits:0>10}CN"), "carrier": "EMS", "order": order})
        })
        .clone();
    HttpResponse::Ok().json(json!({"tracking_number": booking["tracking_number"], "carrier": booking["carrier"]}))
}

#[get("/_mock/courier/orders")]
async fn courier_orders(state: State) -> HttpResponse {
    let orders: Vec<Value> = state.lock().courier_orders.values().cloned().collect();
    HttpResponse::Ok().json(orders)
}

#[derive(Deserialize)]
struct CourierEventControl {
    event: String,
    signed_by: Option<String>,
    loss_certificate_no: Option<String>,
    /// Event time (Unix seconds); default now.
    at: Option<i64>,
    /// Sign with a wrong secret (a forged event).
    #[serde(default)]
    forge: bool,
    /// Stamp the request this many seconds in the past (a replay).
    #[serde(default)]
    timestamp_offset_secs: i64,
}

/// Sends the signed courier event for a booked tracking number to the service.
#[post("/_mock/courier/{tracking_number}/events")]
async fn courier_send_event(
    state: State,
    path: web::Path<String>,
    body: web::Json<CourierEventControl>,
) -> HttpResponse {
    let tracking = path.into_inner();
    let service_url = {
        let inner = state.lock();
        if !inner.courier_orders.values().any(|o| o["tracking_number"] == tracking.as_str()) {
            return HttpResponse::NotFound().json(json!({"error": "no such tracking number"}));
        }
        inner.service_url.clone()
    };
    let Some(service_url) = service_url else {
        return HttpResponse::Conflict().json(json!({"error": "no service URL configured"}));
    };
    let now = i64::try_from(now_secs()).unwrap_or_default();
    let mut event = json!({"tracking_number": tracking, "event": body.event, "at": body.at.unwrap_or(now)});
    if let Some(s) = &body.signed_by {
        event["signed_by"] = json!(s);
    }
    if let Some(l) = &body.loss_certificate_no {
        event["loss_certificate_no"] = json!(l);
    }
    let payload = event.to_string();
    let ts = (now - body.timestamp_offset_secs).to_string();
    let secret = if body.forge { "not-the-secret" } else { state.settings.courier_secret.as_str() };
    let res = state
        .http
        .post(format!("{service_url}/api/v1/courier/events"))
        .header("content-type", "application/json")
        .header("X-Courier-Timestamp", &ts)
        .header("X-Courier-Signature", courier_signature(secret, &ts, &payload))
        .body(payload.clone())
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    match res {
        Ok(r) => HttpResponse::Ok().json(json!({"status": r.status().as_u16(), "event": event, "timestamp": ts})),
        Err(e) => HttpResponse::BadGateway().json(json!({"error": e.to_string()})),
    }
}

// ---- control API ------------------------------------------------------------------------

#[get("/_mock/health")]
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

#[derive(Deserialize, Default)]
struct NewUser {
    openid: Option<String>,
    unionid: Option<String>,
    follows_official_account: Option<bool>,
    blocks_templates: Option<bool>,
}

#[post("/_mock/users")]
async fn create_user(state: State, body: Option<web::Json<NewUser>>) -> HttpResponse {
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    let mut inner = state.lock();
    let existing = body.openid.as_ref().and_then(|o| inner.users.iter().position(|u| &u.mini_openid == o));
    let user = match existing {
        Some(i) => {
            if let Some(f) = body.follows_official_account {
                inner.users[i].follows = f;
            }
            if let Some(b) = body.blocks_templates {
                inner.users[i].blocks_templates = b;
            }
            inner.users[i].clone()
        }
        None => {
            let user = User {
                mini_openid: body.openid.unwrap_or_else(|| random_id("o_mini_")),
                official_openid: random_id("o_oa_"),
                unionid: body.unionid.unwrap_or_else(|| random_id("u_")),
                follows: body.follows_official_account.unwrap_or(false),
                blocks_templates: body.blocks_templates.unwrap_or(false),
            };
            inner.users.push(user.clone());
            user
        }
    };
    let code = random_id("code_");
    inner
        .codes
        .insert(code.clone(), LoginCode { mini_openid: user.mini_openid.clone(), issued: Instant::now(), used: false });
    HttpResponse::Ok().json(json!({
        "code": code, "openid": user.mini_openid, "official_openid": user.official_openid,
        "unionid": user.unionid, "follows_official_account": user.follows
    }))
}

#[derive(Deserialize)]
struct FaceOutcome {
    cert_no: String,
    #[serde(default = "pass")]
    outcome: String,
}

fn pass() -> String {
    "pass".into()
}

#[post("/_mock/face")]
async fn set_face(state: State, body: web::Json<FaceOutcome>) -> HttpResponse {
    state.lock().face_outcomes.insert(body.cert_no.clone(), body.outcome.clone());
    HttpResponse::Ok().json(json!({"ok": true}))
}

#[derive(Deserialize)]
struct NewHealthCard {
    name: String,
    id_number: String,
    #[serde(default)]
    phone: String,
}

#[post("/_mock/health-cards")]
async fn create_health_card(state: State, body: web::Json<NewHealthCard>) -> HttpResponse {
    let code = random_id("hc_");
    state.lock().health_cards.insert(
        code.clone(),
        json!({"name": body.name, "idNumber": body.id_number, "idType": "01", "phone1": body.phone, "healthCardId": random_id("card_")}),
    );
    HttpResponse::Ok().json(json!({"health_code": code}))
}

#[get("/_mock/messages")]
async fn messages(state: State) -> HttpResponse {
    HttpResponse::Ok().json(state.lock().messages.clone())
}

#[get("/_mock/stats")]
async fn stats(state: State) -> HttpResponse {
    let inner = state.lock();
    HttpResponse::Ok().json(json!({
        "stable_token_fetches": inner.stable_fetches,
        "token_fetches": inner.plain_fetches,
        "callbacks_sent": inner.callbacks_sent,
        "user_info_calls": inner.user_info_calls,
    }))
}

#[derive(Deserialize)]
struct NewFault {
    path: String,
    mode: String,
    #[serde(default)]
    errcode: Option<i64>,
    #[serde(default = "one")]
    times: u32,
}

fn one() -> u32 {
    1
}

#[post("/_mock/faults")]
async fn add_fault(state: State, body: web::Json<NewFault>) -> HttpResponse {
    if !matches!(body.mode.as_str(), "errcode" | "http_500" | "timeout") {
        return HttpResponse::BadRequest().json(json!({"error": "mode is errcode, http_500 or timeout"}));
    }
    state.lock().faults.push(Fault {
        path: body.path.clone(),
        mode: body.mode.clone(),
        errcode: body.errcode.unwrap_or(-1),
        times: body.times,
    });
    HttpResponse::Ok().json(json!({"ok": true}))
}

#[post("/_mock/tokens/expire")]
async fn expire_tokens(state: State) -> HttpResponse {
    let mut inner = state.lock();
    inner.tokens.clear();
    inner.stable.clear();
    inner.latest_plain.clear();
    HttpResponse::Ok().json(json!({"ok": true}))
}

#[derive(Deserialize)]
struct CallbackRequest {
    xml: String,
    #[serde(default)]
    encrypt: bool,
}

#[post("/_mock/callbacks")]
async fn post_callback(state: State, body: web::Json<CallbackRequest>) -> HttpResponse {
    match send_callback(&state, &body.xml, body.encrypt).await {
        Ok(v) => HttpResponse::Ok().json(v),
        Err(e) => HttpResponse::BadGateway().json(json!({"error": e})),
    }
}

/// Signs (and in safe mode encrypts) like WeChat and posts to the service, with WeChat's 5 s
/// timeout and up to 3 retries on timeout or connection failure. The answer reports every
/// attempt and, in safe mode, the reply as decrypted and verified by the mock's own code.
async fn send_callback(state: &State, xml: &str, encrypt: bool) -> Result<Value, String> {
    let Some(base) = state.lock().service_url.clone() else {
        return Err("no service_url configured".into());
    };
    let s = &state.settings;
    let openid = wxcrypto::xml_field(xml, "FromUserName").unwrap_or_default();
    let mut attempts = Vec::new();
    for _ in 0..4 {
        let timestamp = now_secs().to_string();
        let nonce = random_id("").chars().take(10).collect::<String>();
        let signature = wxcrypto::sha1_sorted(&[&s.token, &timestamp, &nonce]);
        let mut query = vec![
            ("signature", signature),
            ("timestamp", timestamp.clone()),
            ("nonce", nonce.clone()),
            ("openid", openid.clone()),
        ];
        let key = wxcrypto::aes_key(&s.encoding_aes_key).ok_or("bad EncodingAESKey")?;
        let body = if encrypt {
            let encrypted = wxcrypto::encrypt(&key, &s.app_id, xml);
            query.push(("encrypt_type", "aes".into()));
            query.push(("msg_signature", wxcrypto::sha1_sorted(&[&s.token, &timestamp, &nonce, &encrypted])));
            format!(
                "<xml><ToUserName><![CDATA[{}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>",
                s.original_id
            )
        } else {
            xml.to_string()
        };
        state.lock().callbacks_sent += 1;
        let started = Instant::now();
        let result = state
            .http
            .post(format!("{base}/wechat/callback"))
            .query(&query)
            .header("content-type", "text/xml")
            .body(body)
            .timeout(s.callback_timeout)
            .send()
            .await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match result {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let text = resp.text().await.unwrap_or_default();
                let reply = if encrypt && status == 200 && text != "success" && !text.is_empty() {
                    Some(open_reply(&key, s, &text))
                } else {
                    None
                };
                attempts.push(json!({"status": status, "elapsed_ms": elapsed_ms}));
                return Ok(json!({"attempts": attempts, "status": status, "body": text, "reply": reply}));
            }
            Err(e) => attempts.push(json!({"error": e.to_string(), "elapsed_ms": elapsed_ms})),
        }
    }
    Ok(json!({"attempts": attempts, "status": null, "body": null, "reply": null}))
}

/// Verifies and decrypts a safe-mode reply with the mock's own code.
fn open_reply(key: &[u8; 32], s: &MockSettings, text: &str) -> Value {
    let field = |t: &str| wxcrypto::xml_field(text, t).unwrap_or_default();
    let (encrypted, signature, timestamp, nonce) =
        (field("Encrypt"), field("MsgSignature"), field("TimeStamp"), field("Nonce"));
    let signature_ok = wxcrypto::sha1_sorted(&[&s.token, &timestamp, &nonce, &encrypted]) == signature;
    match wxcrypto::decrypt(key, &encrypted) {
        Some((plain, app_id)) => json!({
            "signature_ok": signature_ok, "app_id_ok": app_id == s.app_id, "timestamp": timestamp, "xml": plain
        }),
        None => json!({"signature_ok": signature_ok, "decrypted": false}),
    }
}

/// A running mock; stops when dropped.
pub struct MockServer {
    port: u16,
    handle: ServerHandle,
    state: web::Data<MockState>,
}

impl MockServer {
    /// Binds `host:port` (port 0 = any free port) and serves in the background.
    pub async fn start(host: &str, port: u16, settings: MockSettings) -> std::io::Result<MockServer> {
        let listener = TcpListener::bind((host, port))?;
        let port = listener.local_addr()?.port();
        let http = reqwest::Client::builder().build().map_err(std::io::Error::other)?;
        let inner = Inner { service_url: settings.service_url.clone(), ..Inner::default() };
        let state = web::Data::new(MockState { settings, inner: Mutex::new(inner), http });
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .service(health)
                .service(stable_token)
                .service(plain_token)
                .service(jscode2session)
                .service(user_info)
                .service(template_send)
                .service(subscribe_send)
                .service(face_getverifyid)
                .service(face_query)
                .service(create_user)
                .service(set_face)
                .service(create_health_card)
                .service(messages)
                .service(stats)
                .service(add_fault)
                .service(expire_tokens)
                .service(post_callback)
                .service(hc_app_token)
                .service(hc_card_by_code)
                .service(pay_jsapi)
                .service(mock_pay)
                .service(courier_book)
                .service(courier_orders)
                .service(courier_send_event)
        })
        .workers(2)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(MockServer { port, handle, state })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Where callbacks go; set once the service's port is known.
    pub fn set_service_url(&self, url: &str) {
        self.state.lock().service_url = Some(url.to_string());
    }

    pub fn settings(&self) -> &MockSettings {
        &self.state.settings
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        // Sends the stop command now; completion is not awaited.
        drop(self.handle.stop(false));
    }
}

//! The WeChat platform proper: access tokens (stable and plain), mini-program login, user info,
//! template and subscribe messages (recorded), and official-account callbacks sent to the
//! service with WeChat's retries; plus the control routes that create users and read messages.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::control::injected_fault;
use crate::{err, now_secs, random_id, wxcrypto, MockSettings, State};

/// What this system remembers.
#[derive(Default)]
pub(crate) struct Platform {
    /// token → (appid, valid until)
    pub(crate) tokens: HashMap<String, (String, Instant)>,
    /// appid → current stable token
    pub(crate) stable: HashMap<String, String>,
    /// appid → latest /cgi-bin/token token
    pub(crate) latest_plain: HashMap<String, String>,
    pub(crate) stable_fetches: u64,
    pub(crate) plain_fetches: u64,
    users: Vec<User>,
    codes: HashMap<String, LoginCode>,
    logins: HashMap<String, Vec<Instant>>,
    messages: Vec<Value>,
    client_msg_ids: HashMap<(String, String), Instant>,
    template_sends: u64,
    next_msgid: u64,
    pub(crate) callbacks_sent: u64,
    pub(crate) user_info_calls: u64,
    /// The official account's menu as last created.
    menu: Option<Value>,
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

/// The app a token belongs to, or None when it is unknown or no longer valid.
pub(crate) fn token_app(state: &State, req: &HttpRequest) -> Option<String> {
    let token = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.get("access_token").cloned())?;
    let inner = state.platform();
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
pub(crate) async fn stable_token(state: State, body: web::Json<StableTokenBody>) -> HttpResponse {
    if let Some(f) = injected_fault(&state, "/cgi-bin/stable_token").await {
        return f;
    }
    if body.grant_type != "client_credential" {
        return err(40002, "invalid grant_type");
    }
    if let Some(e) = app_secret_error(&state.settings, &body.appid, &body.secret) {
        return e;
    }
    let mut inner = state.platform();
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
pub(crate) async fn plain_token(state: State, query: web::Query<HashMap<String, String>>) -> HttpResponse {
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
    let mut inner = state.platform();
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
pub(crate) async fn jscode2session(state: State, query: web::Query<HashMap<String, String>>) -> HttpResponse {
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
    let mut inner = state.platform();
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
pub(crate) async fn user_info(
    state: State,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    if let Some(f) = injected_fault(&state, "/cgi-bin/user/info").await {
        return f;
    }
    if token_app(&state, &req).as_deref() != Some(state.settings.app_id.as_str()) {
        return err(40001, "invalid credential, access_token is invalid or not latest");
    }
    let openid = query.get("openid").cloned().unwrap_or_default();
    let mut inner = state.platform();
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
pub(crate) async fn template_send(state: State, req: HttpRequest, body: web::Json<Value>) -> HttpResponse {
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
        let mut inner = state.platform();
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
pub(crate) async fn subscribe_send(state: State, req: HttpRequest, body: web::Json<Value>) -> HttpResponse {
    if let Some(f) = injected_fault(&state, "/cgi-bin/message/subscribe/send").await {
        return f;
    }
    if token_app(&state, &req).as_deref() != Some(state.settings.mini_program_app_id.as_str()) {
        return err(40001, "invalid credential, access_token is invalid or not latest");
    }
    let touser = body["touser"].as_str().unwrap_or_default().to_string();
    let mut inner = state.platform();
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

#[derive(Deserialize, Default)]
struct NewUser {
    openid: Option<String>,
    unionid: Option<String>,
    follows_official_account: Option<bool>,
    blocks_templates: Option<bool>,
}

#[post("/_mock/users")]
pub(crate) async fn create_user(state: State, body: Option<web::Json<NewUser>>) -> HttpResponse {
    let body = body.map(web::Json::into_inner).unwrap_or_default();
    let mut inner = state.platform();
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

/// Why WeChat would refuse this menu (errcodes of `/cgi-bin/menu/create`), if it would.
fn menu_problem(body: &Value) -> Option<(i64, String)> {
    let buttons = body["button"].as_array().filter(|b| (1..=3).contains(&b.len()));
    let Some(buttons) = buttons else { return Some((40017, "invalid button size".into())) };
    for (i, b) in
        buttons.iter().flat_map(|b| b["sub_button"].as_array().cloned().unwrap_or_else(|| vec![b.clone()])).enumerate()
    {
        let name = b["name"].as_str().unwrap_or_default();
        if name.is_empty() || name.len() > 60 {
            return Some((40018, format!("invalid button name size at {i}")));
        }
        match b["type"].as_str() {
            Some("click") if b["key"].as_str().is_some_and(|k| !k.is_empty() && k.len() <= 128) => {}
            Some("view") if b["url"].as_str().is_some_and(|u| u.starts_with("http")) => {}
            // A mini-program button needs the appid, the page and a web page for old clients.
            Some("miniprogram")
                if b["appid"].as_str().is_some_and(|a| !a.is_empty())
                    && b["pagepath"].as_str().is_some_and(|p| !p.is_empty())
                    && b["url"].as_str().is_some_and(|u| u.starts_with("http")) => {}
            Some("miniprogram") => return Some((40027, format!("invalid miniprogram button at {i}"))),
            _ => return Some((40016, format!("invalid button at {i}"))),
        }
    }
    None
}

#[post("/cgi-bin/menu/create")]
pub(crate) async fn menu_create(state: State, req: HttpRequest, body: web::Json<Value>) -> HttpResponse {
    if token_app(&state, &req).as_deref() != Some(state.settings.app_id.as_str()) {
        return err(40001, "invalid credential, access_token is invalid or not latest");
    }
    if let Some((code, message)) = menu_problem(&body) {
        return err(code, &message);
    }
    state.platform().menu = Some(body.into_inner());
    HttpResponse::Ok().json(json!({"errcode": 0, "errmsg": "ok"}))
}

/// The menu as created (null before).
#[get("/_mock/menu")]
pub(crate) async fn menu(state: State) -> HttpResponse {
    HttpResponse::Ok().json(state.platform().menu.clone())
}

#[get("/_mock/messages")]
pub(crate) async fn messages(state: State) -> HttpResponse {
    HttpResponse::Ok().json(state.platform().messages.clone())
}

#[post("/_mock/tokens/expire")]
pub(crate) async fn expire_tokens(state: State) -> HttpResponse {
    let mut inner = state.platform();
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
pub(crate) async fn post_callback(state: State, body: web::Json<CallbackRequest>) -> HttpResponse {
    match send_callback(&state, &body.xml, body.encrypt).await {
        Ok(v) => HttpResponse::Ok().json(v),
        Err(e) => HttpResponse::BadGateway().json(json!({"error": e})),
    }
}

/// Signs (and in safe mode encrypts) like WeChat and posts to the service, with WeChat's 5 s
/// timeout and up to 3 retries on timeout or connection failure. The answer reports every
/// attempt and, in safe mode, the reply as decrypted and verified by the mock's own code.
async fn send_callback(state: &State, xml: &str, encrypt: bool) -> Result<Value, String> {
    let Some(base) = state.service_url() else {
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
        state.platform().callbacks_sent += 1;
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

/// This system's routes.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(stable_token)
        .service(plain_token)
        .service(jscode2session)
        .service(user_info)
        .service(template_send)
        .service(subscribe_send)
        .service(create_user)
        .service(messages)
        .service(menu_create)
        .service(menu)
        .service(expire_tokens)
        .service(post_callback);
}

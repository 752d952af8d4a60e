//! WeChat Pay v3: merchant-signed JSAPI orders, closing and refunding them, and
//! `POST /_mock/pay/{out_trade_no}` that sends the signed, encrypted payment notification (and
//! repeats it); a refund's notification follows the refund by itself.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::control::injected_fault;
use crate::{now_secs, random_id, State};

/// What this system remembers.
#[derive(Default)]
pub(crate) struct Pay {
    orders: HashMap<String, Value>,
    /// By out_refund_no.
    refunds: HashMap<String, Value>,
    /// Refund results are held back (not sent) until `/_mock/refunds/{no}/notify`, so a test can
    /// act while a refund is still on its way.
    hold_refund_results: bool,
}

const PLATFORM_PRIVATE_KEY: &str = include_str!("../keys/platform.pem");

/// The platform's signing key, parsed once, for ring: WeChat Pay signs every notification, and
/// the `rsa` crate's portable arithmetic took about 5 % of a journey run's CPU doing it (the
/// mock shares the machine, and in the load programs the process, with the service).
fn platform_key() -> Option<&'static ring::signature::RsaKeyPair> {
    use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey};
    static KEY: std::sync::OnceLock<Option<ring::signature::RsaKeyPair>> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let der = rsa::RsaPrivateKey::from_pkcs8_pem(PLATFORM_PRIVATE_KEY).ok()?.to_pkcs8_der().ok()?;
        ring::signature::RsaKeyPair::from_pkcs8(der.as_bytes()).ok()
    })
    .as_ref()
}

/// PKCS#1 v1.5 over SHA-256 with the platform key, or with a key of nobody's when `forge`.
fn platform_signature(message: &[u8], forge: bool) -> Option<Vec<u8>> {
    use rsa::signature::{SignatureEncoding, Signer};
    if forge {
        let nobody = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).ok()?;
        return Some(rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(nobody).sign(message).to_vec());
    }
    let key = platform_key()?;
    let mut signature = vec![0u8; key.public().modulus_len()];
    let rng = ring::rand::SystemRandom::new();
    key.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, message, &mut signature).ok()?;
    Some(signature)
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

/// What every merchant API call meets first: a fault injected for `fault_path`, then the
/// merchant's signature (401 `SIGN_ERROR` when it does not verify).
async fn refused(state: &State, req: &HttpRequest, body: &str, fault_path: &str) -> Option<HttpResponse> {
    if let Some(fault) = injected_fault(state, fault_path).await {
        return Some(fault);
    }
    if !merchant_signed(req, body, &state.settings.mch_id) {
        return Some(HttpResponse::Unauthorized().json(json!({"code": "SIGN_ERROR", "message": "签名错误"})));
    }
    None
}

#[post("/v3/pay/transactions/jsapi")]
pub(crate) async fn pay_jsapi(state: State, req: HttpRequest, body: String) -> HttpResponse {
    if let Some(refusal) = refused(&state, &req, &body, "/v3/pay/transactions/jsapi").await {
        return refusal;
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
    let mut inner = state.pay();
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

/// Closes an unpaid order: it can no longer be paid.
#[post("/v3/pay/transactions/out-trade-no/{out_trade_no}/close")]
pub(crate) async fn pay_close(state: State, req: HttpRequest, path: web::Path<String>, body: String) -> HttpResponse {
    if let Some(refusal) = refused(&state, &req, &body, "/v3/pay/transactions/close").await {
        return refusal;
    }
    let mut inner = state.pay();
    match inner.orders.get_mut(path.as_str()) {
        Some(order) if order["paid"] == true => {
            HttpResponse::BadRequest().json(json!({"code": "ORDERPAID", "message": "订单已支付"}))
        }
        Some(order) => {
            order["closed"] = json!(true);
            HttpResponse::NoContent().finish()
        }
        None => HttpResponse::NotFound().json(json!({"code": "ORDER_NOT_EXIST", "message": "订单不存在"})),
    }
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
pub(crate) async fn mock_pay(
    state: State,
    path: web::Path<String>,
    control: Option<web::Json<PayControl>>,
) -> HttpResponse {
    let control = control.map(web::Json::into_inner).unwrap_or_default();
    let order = {
        let mut inner = state.pay();
        let Some(order) = inner.orders.get_mut(path.as_str()) else {
            return HttpResponse::NotFound().json(json!({"error": "no such order"}));
        };
        if order["closed"] == true {
            return HttpResponse::Conflict().json(json!({"error": "the order is closed and cannot be paid"}));
        }
        // Only a genuine payment of the order counts as paid; the test variants do not.
        if !control.forge && control.amount.is_none() && control.appid.is_none() && control.mchid.is_none() {
            order["paid"] = json!(true);
        }
        order.clone()
    };
    let transaction = json!({
        "appid": control.appid.as_deref().map_or(order["appid"].clone(), |a| json!(a)),
        "mchid": control.mchid.as_deref().map_or(order["mchid"].clone(), |m| json!(m)),
        "out_trade_no": order["out_trade_no"],
        "transaction_id": format!("4200{}", &random_id("")[..24]), "trade_type": "JSAPI", "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功", "bank_type": "OTHERS", "attach": "", "success_time": "2026-11-26T10:00:00+08:00",
        "payer": order["payer"],
        "amount": {"total": control.amount.unwrap_or(order["amount"]["total"].as_i64().unwrap_or(0)), "payer_total": order["amount"]["total"], "currency": "CNY", "payer_currency": "CNY"}
    });
    if let Some(o) = state.pay().orders.get_mut(path.as_str()) {
        o["transaction_id"] = transaction["transaction_id"].clone();
    }
    let kind = NoticeKind { event_type: "TRANSACTION.SUCCESS", summary: "支付成功", original_type: "transaction" };
    let notice = match signed_notice(&state, &kind, &transaction, control.forge, control.mode.as_deref()).await {
        Ok(n) => n,
        Err(e) => return HttpResponse::InternalServerError().json(json!({"error": e})),
    };
    let url = order["notify_url"].as_str().unwrap_or_default();
    let (deliveries, round_trips_ms) = deliver_twice(&state, url, &notice).await;
    // How long the service took to answer each delivery, as the platform saw it.
    HttpResponse::Ok().json(json!({
        "deliveries": deliveries,
        "round_trips_ms": round_trips_ms,
        "transaction_id": transaction["transaction_id"]
    }))
}

/// What kind of notification the platform sends.
struct NoticeKind {
    event_type: &'static str,
    summary: &'static str,
    /// Also the resource's associated data.
    original_type: &'static str,
}

/// A notification ready to post: its body and the platform's signature headers.
struct SignedNotice {
    body: String,
    timestamp: String,
    nonce: String,
    signature: String,
    serial: String,
}

/// Encrypts `resource` with the APIv3 key and signs the body with the platform key (or, when
/// `forge`, with a key of nobody's), as WeChat Pay does for every notification.
async fn signed_notice(
    state: &State,
    kind: &NoticeKind,
    resource: &Value,
    forge: bool,
    mode: Option<&str>,
) -> Result<SignedNotice, &'static str> {
    use aes_gcm::aead::{Aead, KeyInit, Payload};
    use base64::Engine;
    let s = &state.settings;
    let nonce: String = random_id("").chars().take(12).collect();
    let key: [u8; 32] = s.api_v3_key.as_bytes().try_into().map_err(|_| "api_v3_key must be 32 bytes")?;
    let cipher = aes_gcm::Aes256Gcm::new((&key).into());
    let ct = cipher
        .encrypt(
            aes_gcm::Nonce::from_slice(nonce.as_bytes()),
            Payload { msg: resource.to_string().as_bytes(), aad: kind.original_type.as_bytes() },
        )
        .map_err(|_| "encryption failed")?;
    let body = json!({
        "id": uuid::Uuid::new_v4().to_string(), "create_time": "2026-11-26T10:00:01+08:00",
        "resource_type": "encrypt-resource", "event_type": kind.event_type, "summary": kind.summary,
        "resource": {"original_type": kind.original_type, "algorithm": "AEAD_AES_256_GCM", "ciphertext": b64().encode(ct), "associated_data": kind.original_type, "nonce": nonce}
    })
    .to_string();
    let timestamp = now_secs().to_string();
    let header_nonce = random_id("").chars().take(16).collect::<String>();
    let message = format!("{timestamp}\n{header_nonce}\n{body}\n");
    // RSA signing (and, for a forgery, making the forger's key) takes milliseconds: off the
    // worker, so other platform calls are not held up.
    let signature = web::block(move || platform_signature(message.as_bytes(), forge))
        .await
        .ok()
        .flatten()
        .map(|signature| b64().encode(signature))
        .ok_or("signing failed")?;
    let serial = if mode == Some("certificate") {
        s.platform_certificate_serial.clone()
    } else {
        s.platform_public_key_id.clone()
    };
    Ok(SignedNotice { body, timestamp, nonce: header_nonce, signature, serial })
}

/// Posts the notification twice, as WeChat sometimes does → what each delivery got, and how
/// long the service took to answer it.
async fn deliver_twice(state: &State, url: &str, notice: &SignedNotice) -> (Vec<Value>, Vec<f64>) {
    let mut deliveries = Vec::new();
    let mut round_trips_ms = Vec::new();
    for _ in 0..2 {
        let sent = Instant::now();
        let res = state
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("Wechatpay-Timestamp", &notice.timestamp)
            .header("Wechatpay-Nonce", &notice.nonce)
            .header("Wechatpay-Signature", &notice.signature)
            .header("Wechatpay-Serial", notice.serial.as_str())
            .body(notice.body.clone())
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        round_trips_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
        deliveries.push(match res {
            Ok(r) => json!(r.status().as_u16()),
            Err(e) => json!(e.to_string()),
        });
    }
    (deliveries, round_trips_ms)
}

/// A refund of a paid order (WeChat Pay v3 申请退款). Keyed by `out_refund_no`: asking again
/// answers the same refund and pays nothing more. The answer says `PROCESSING`; the
/// `REFUND.SUCCESS` notification follows (twice, as WeChat sometimes does) to the refund's
/// notify_url, and `GET /_mock/refunds` shows what each delivery got.
#[post("/v3/refund/domestic/refunds")]
pub(crate) async fn pay_refund(state: State, req: HttpRequest, body: String) -> HttpResponse {
    if let Some(refusal) = refused(&state, &req, &body, "/v3/refund/domestic/refunds").await {
        return refusal;
    }
    let Ok(request) = serde_json::from_str::<Value>(&body) else {
        return HttpResponse::BadRequest().json(json!({"code": "PARAM_ERROR", "message": "body"}));
    };
    let param_error = |m: &str| HttpResponse::BadRequest().json(json!({"code": "PARAM_ERROR", "message": m}));
    let out_trade_no = request["out_trade_no"].as_str().unwrap_or_default().to_string();
    let out_refund_no = request["out_refund_no"].as_str().unwrap_or_default().to_string();
    let notify_url = request["notify_url"].as_str().unwrap_or_default().to_string();
    let (Some(amount), Some(total)) = (request["amount"]["refund"].as_i64(), request["amount"]["total"].as_i64())
    else {
        return param_error("amount.refund and amount.total");
    };
    if out_refund_no.is_empty() || out_refund_no.len() > 64 {
        return param_error("out_refund_no");
    }
    let refund = {
        let mut inner = state.pay();
        if let Some(existing) = inner.refunds.get(&out_refund_no) {
            return HttpResponse::Ok().json(answer_of(existing));
        }
        let Some(order) = inner.orders.get(&out_trade_no) else {
            return HttpResponse::NotFound().json(json!({"code": "RESOURCE_NOT_EXISTS", "message": "订单不存在"}));
        };
        if order["paid"] != true {
            return HttpResponse::BadRequest().json(json!({"code": "INVALID_REQUEST", "message": "订单未支付"}));
        }
        let order_total = order["amount"]["total"].as_i64().unwrap_or(0);
        let refunded: i64 = inner
            .refunds
            .values()
            .filter(|r| r["out_trade_no"] == out_trade_no.as_str())
            .map(|r| r["amount"]["refund"].as_i64().unwrap_or(0))
            .sum();
        if total != order_total || amount <= 0 || refunded + amount > order_total {
            return param_error("amount: refund above what was paid, or total differs from the order");
        }
        let refund = json!({
            "refund_id": format!("5030{}", &random_id("")[..25]),
            "out_refund_no": out_refund_no, "out_trade_no": out_trade_no,
            "transaction_id": order["transaction_id"], "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱", "create_time": "2026-12-02T10:00:00+08:00",
            "status": "PROCESSING", "notify_url": notify_url, "reason": request["reason"],
            "amount": {"total": total, "refund": amount, "payer_total": total, "payer_refund": amount, "currency": "CNY"},
            "deliveries": [],
        });
        inner.refunds.insert(out_refund_no.clone(), refund.clone());
        refund
    };
    let answer = answer_of(&refund);
    if state.pay().hold_refund_results {
        return HttpResponse::Ok().json(answer);
    }
    // The result follows the answer, as on the platform.
    let notifier = state.clone();
    tokio::spawn(async move {
        let deliveries = notify_refund(&notifier, &refund, &PayControl::default()).await;
        if let Some(r) = notifier.pay().refunds.get_mut(&out_refund_no) {
            r["status"] = json!("SUCCESS");
            r["deliveries"] = json!(deliveries);
        }
    });
    HttpResponse::Ok().json(answer)
}

/// Sends a refund's `REFUND.SUCCESS` notification (twice) → what each delivery got.
async fn notify_refund(state: &State, refund: &Value, control: &PayControl) -> Vec<Value> {
    let mut amount = refund["amount"].clone();
    if let Some(refunded) = control.amount {
        amount["refund"] = json!(refunded);
    }
    let resource = json!({
        "mchid": control.mchid.as_deref().unwrap_or(&state.settings.mch_id), "out_trade_no": refund["out_trade_no"],
        "transaction_id": refund["transaction_id"], "out_refund_no": refund["out_refund_no"],
        "refund_id": refund["refund_id"], "refund_status": "SUCCESS",
        "success_time": "2026-12-02T10:00:05+08:00", "user_received_account": "支付用户零钱",
        "amount": amount,
    });
    let kind = NoticeKind { event_type: "REFUND.SUCCESS", summary: "退款成功", original_type: "refund" };
    let url = refund["notify_url"].as_str().unwrap_or_default();
    match signed_notice(state, &kind, &resource, control.forge, control.mode.as_deref()).await {
        Ok(notice) => deliver_twice(state, url, &notice).await.0,
        Err(e) => vec![json!(e)],
    }
}

/// Sends a refund's notification again (twice), as the platform does when it is unsure it
/// arrived. The same controls as a payment: `forge` (signed by a key that is not the
/// platform's), `amount` (another refunded amount), `mchid` (another merchant's), `mode`.
#[post("/_mock/refunds/{out_refund_no}/notify")]
pub(crate) async fn renotify_refund(
    state: State,
    path: web::Path<String>,
    control: Option<web::Json<PayControl>>,
) -> HttpResponse {
    let control = control.map(web::Json::into_inner).unwrap_or_default();
    let Some(refund) = state.pay().refunds.get(path.as_str()).cloned() else {
        return HttpResponse::NotFound().json(json!({"error": "no such refund"}));
    };
    HttpResponse::Ok().json(json!({ "deliveries": notify_refund(&state, &refund, &control).await }))
}

/// The platform's answer for a refund (without the mock's own bookkeeping).
fn answer_of(stored: &Value) -> Value {
    let mut answer = stored.clone();
    if let Some(map) = answer.as_object_mut() {
        map.remove("deliveries");
        map.remove("notify_url");
    }
    answer
}

#[derive(Deserialize)]
struct HoldControl {
    hold: bool,
}

/// `{"hold": true}`: refund results are not sent by themselves any more (see `Pay`).
#[post("/_mock/refunds/hold")]
pub(crate) async fn hold_refund_results(state: State, control: web::Json<HoldControl>) -> HttpResponse {
    state.pay().hold_refund_results = control.hold;
    HttpResponse::NoContent().finish()
}

/// Every refund asked for, with what its notification deliveries got.
#[get("/_mock/refunds")]
pub(crate) async fn refunds(state: State) -> HttpResponse {
    let inner = state.pay();
    let mut all: Vec<&Value> = inner.refunds.values().collect();
    all.sort_by_key(|r| r["out_refund_no"].as_str().unwrap_or_default().to_string());
    HttpResponse::Ok().json(json!({ "refunds": all }))
}

/// This system's routes.
pub(crate) fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(pay_jsapi)
        .service(pay_close)
        .service(mock_pay)
        .service(pay_refund)
        .service(refunds)
        .service(hold_refund_results)
        .service(renotify_refund);
}

//! The whole journey through HTTP, from sign-in to `submitted`, and the payment notification's
//! defences.

use birthcert::persistence::outbox;
use serde_json::json;

use crate::helpers::{spawn_app, TestApp};

#[tokio::test]
async fn the_whole_journey_from_sign_in_to_submitted() {
    let app = spawn_app().await;
    let (token, app_id) = app.ready_to_pay().await;
    let path = format!("/api/v1/applications/{app_id}/payment");
    let (status, order) = app.send(reqwest::Method::POST, &path, &token, None).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["amount_fen"], 1800);
    let params = &order["pay_params"];
    assert_eq!(params["signType"], "RSA");
    assert!(params["package"].as_str().expect("package").starts_with("prepay_id="));
    assert!(!params["paySign"].as_str().expect("sign").is_empty());
    assert_eq!(app.view(&token, &app_id).await["state"], "awaiting_payment");
    // Asking again answers the same order.
    let (_, again) = app.send(reqwest::Method::POST, &path, &token, None).await;
    assert_eq!(again["out_trade_no"], order["out_trade_no"]);

    let paid = app.mock_post(&format!("/_mock/pay/{}", order["out_trade_no"].as_str().expect("no")), &json!({})).await;
    assert_eq!(paid["deliveries"], json!([204, 204]), "the notification and its repeat are both acknowledged");
    let v = app.view(&token, &app_id).await;
    assert_eq!(v["state"], "submitted");
    let due = chrono::DateTime::parse_from_rfc3339(v["review_due_at"].as_str().expect("deadline")).expect("time");
    assert!(due > chrono::Utc::now() && due.format("%H:%M").to_string() == "17:30", "{due}");
    let rows = outbox::list(&app.state.db).await.expect("outbox");
    assert_eq!(rows.len(), 1, "one submitted notification despite two notifications");
    assert_eq!(rows[0].event, "submitted");
    let kinds: Vec<&str> =
        v["timeline"].as_array().expect("timeline").iter().filter_map(|e| e["to_state"].as_str()).collect();
    assert!(kinds.ends_with(&["awaiting_payment", "submitted"]), "{kinds:?}");
    // Paying is over: no second order, no withdrawal.
    assert_eq!(app.send(reqwest::Method::POST, &path, &token, None).await.0, 409);
    assert_eq!(
        app.send(reqwest::Method::POST, &format!("/api/v1/applications/{app_id}/withdrawal"), &token, None).await.0,
        409
    );
}

#[tokio::test]
async fn certificate_mode_notifications_are_accepted() {
    let app = spawn_app().await;
    let (token, app_id) = app.ready_to_pay().await;
    let (_, order) =
        app.send(reqwest::Method::POST, &format!("/api/v1/applications/{app_id}/payment"), &token, None).await;
    let paid = app
        .mock_post(
            &format!("/_mock/pay/{}", order["out_trade_no"].as_str().expect("no")),
            &json!({"mode": "certificate"}),
        )
        .await;
    assert_eq!(paid["deliveries"][0], 204);
    assert_eq!(app.view(&token, &app_id).await["state"], "submitted");
}

#[tokio::test]
async fn forged_wrong_amount_or_foreign_notifications_change_nothing() {
    let app = spawn_app().await;
    let (token, app_id) = app.ready_to_pay().await;
    let (_, order) =
        app.send(reqwest::Method::POST, &format!("/api/v1/applications/{app_id}/payment"), &token, None).await;
    let no = order["out_trade_no"].as_str().expect("no");
    let forged = app.mock_post(&format!("/_mock/pay/{no}"), &json!({"forge": true})).await;
    assert_eq!(forged["deliveries"], json!([401, 401]));
    let cheaper = app.mock_post(&format!("/_mock/pay/{no}"), &json!({"amount": 1})).await;
    assert_eq!(cheaper["deliveries"], json!([401, 401]));
    for other in [json!({"appid": "wx0000000000000000"}), json!({"mchid": "1900000000"})] {
        let paid = app.mock_post(&format!("/_mock/pay/{no}"), &other).await;
        assert_eq!(paid["deliveries"], json!([401, 401]), "signed and sealed, but not ours: {other}");
    }
    assert_eq!(app.view(&token, &app_id).await["state"], "awaiting_payment");
    assert!(outbox::list(&app.state.db).await.expect("outbox").is_empty());

    // Unsigned, stale or from an unknown serial: refused before anything is read.
    let signer = birthcert::wechat::pay::MerchantSigner::from_pem(include_str!("../../mock_wechat/keys/platform.pem"))
        .expect("key");
    let body = "{\"event_type\":\"TRANSACTION.SUCCESS\"}";
    let old = (chrono::Utc::now().timestamp() - 600).to_string();
    let sig = signer.sign(&format!("{old}\nn1\n{body}\n"));
    for (ts, serial, signature) in
        [(old.as_str(), "PUB_KEY_ID_0000000000000001", sig.as_str()), ("1", "NOPE", "x"), ("", "", "")]
    {
        let res = app
            .client
            .post(app.url("/api/v1/payments/notify"))
            .header("Wechatpay-Timestamp", ts)
            .header("Wechatpay-Nonce", "n1")
            .header("Wechatpay-Signature", signature)
            .header("Wechatpay-Serial", serial)
            .body(body)
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status(), 401, "{ts} {serial}");
    }
    // The genuine one still works afterwards.
    let paid = app.mock_post(&format!("/_mock/pay/{no}"), &json!({})).await;
    assert_eq!(paid["deliveries"][0], 204);
    assert_eq!(app.view(&token, &app_id).await["state"], "submitted");
}

#[tokio::test]
async fn payment_needs_a_signed_form_and_an_address() {
    let app = spawn_app().await;
    let (token, app_id) = app.application_with_parents().await;
    let (status, body) =
        app.send(reqwest::Method::POST, &format!("/api/v1/applications/{app_id}/payment"), &token, None).await;
    assert_eq!(status, 409);
    assert_eq!(body["code"], "wrong_state");
}

#[tokio::test]
async fn the_fee_follows_the_address_and_the_old_order_can_no_longer_be_paid() {
    let app = spawn_app().await;
    let (token, app_id) = app.ready_to_pay().await;
    let base = format!("/api/v1/applications/{app_id}");
    let (status, first) = app.send(reqwest::Method::POST, &format!("{base}/payment"), &token, None).await;
    assert_eq!((status, first["amount_fen"].as_i64()), (201, Some(1800)), "{first}");

    // To Ürümqi: 26 yuan. The 18-yuan order is closed at the platform.
    let (status, body) = app.send(reqwest::Method::PUT, &format!("{base}/delivery-address"), &token,
        Some(json!({"recipient": "张伟", "phone": "13987654321", "region_code": "650102", "address": "乌鲁木齐市天山区解放南路1号"}))).await;
    assert_eq!((status, body["courier_fee_fen"].as_i64()), (200, Some(2600)), "{body}");
    assert_eq!(app.state_of(&token, &app_id).await, "signed");
    let old = first["out_trade_no"].as_str().expect("order");
    let res = app.client.post(format!("{}/_mock/pay/{old}", app.mock.base_url())).json(&json!({})).send().await;
    assert_eq!(res.expect("mock").status(), 409, "a closed order cannot be paid");

    let (status, second) = app.send(reqwest::Method::POST, &format!("{base}/payment"), &token, None).await;
    assert_eq!((status, second["amount_fen"].as_i64()), (201, Some(2600)), "{second}");
    assert_ne!(second["out_trade_no"], first["out_trade_no"]);
    let new = second["out_trade_no"].as_str().expect("order");
    app.mock_post(&format!("/_mock/pay/{new}"), &json!({})).await;
    assert_eq!(app.state_of(&token, &app_id).await, "submitted");
}

#[tokio::test]
async fn withdrawing_with_an_open_order_closes_it() {
    let app = spawn_app().await;
    let (token, app_id) = app.ready_to_pay().await;
    let base = format!("/api/v1/applications/{app_id}");
    let (_, order) = app.send(reqwest::Method::POST, &format!("{base}/payment"), &token, None).await;
    let (status, body) = app.send(reqwest::Method::POST, &format!("{base}/withdrawal"), &token, None).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("withdrawn")), "{body}");
    let no = order["out_trade_no"].as_str().expect("order");
    let res = app.client.post(format!("{}/_mock/pay/{no}", app.mock.base_url())).json(&json!({})).send().await;
    assert_eq!(res.expect("mock").status(), 409, "the family cannot pay for a case that ended");
}

/// The refunds the mock platform holds for one order.
async fn refunds_of(app: &TestApp, out_trade_no: &str) -> Vec<serde_json::Value> {
    let all = app.mock_get("/_mock/refunds").await;
    all["refunds"].as_array().expect("refunds").iter().filter(|r| r["out_trade_no"] == out_trade_no).cloned().collect()
}

/// Every step up to an open courier-fee order: (token, application id, out_trade_no).
async fn with_order(app: &TestApp) -> (String, String, String) {
    let (token, app_id) = app.ready_to_pay().await;
    let (status, order) =
        app.send(reqwest::Method::POST, &format!("/api/v1/applications/{app_id}/payment"), &token, None).await;
    assert_eq!(status, 201, "{order}");
    let no = order["out_trade_no"].as_str().expect("order").to_string();
    (token, app_id, no)
}

/// WeChat Pay cannot be reached for the next close of an order.
async fn close_fails_once(app: &TestApp) {
    app.mock_post("/_mock/faults", &json!({"path": "/v3/pay/transactions/close", "mode": "http_500", "times": 1}))
        .await;
}

/// Withdrawn while WeChat Pay could not be told: the withdrawal does not wait for it, the close
/// is owed, and the order can still be paid at the cashier. (token, application id, order.)
async fn withdrawn_with_payable_order(app: &TestApp) -> (String, String, String) {
    let (token, app_id, no) = with_order(app).await;
    close_fails_once(app).await;
    let (status, body) =
        app.send(reqwest::Method::POST, &format!("/api/v1/applications/{app_id}/withdrawal"), &token, None).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("withdrawn")), "{body}");
    (token, app_id, no)
}

/// Waits for the refund of this order and both deliveries of its notification.
async fn refund_notified(app: &TestApp, out_trade_no: &str) {
    crate::helpers::eventually("both refund notifications answered", || async {
        refunds_of(app, out_trade_no).await.first().is_some_and(|r| r["deliveries"] == json!([204, 204]))
    })
    .await;
}

#[tokio::test]
async fn a_payment_that_arrives_after_withdrawal_is_refunded_once_even_when_notified_twice() {
    let app = spawn_app().await;
    // WeChat Pay cannot be reached when the family withdraws; meanwhile the payer still pays.
    let (token, app_id, no) = withdrawn_with_payable_order(&app).await;
    assert_eq!(app.view(&token, &app_id).await["payment"]["status"], "closed");
    let paid = app.mock_post(&format!("/_mock/pay/{no}"), &json!({})).await;
    assert_eq!(paid["deliveries"], json!([204, 204]), "both deliveries are acknowledged");

    // Recorded and owed back; the case stays withdrawn.
    let view = app.view(&token, &app_id).await;
    assert_eq!(
        (view["state"].as_str(), view["payment"]["status"].as_str()),
        (Some("withdrawn"), Some("refund_pending"))
    );
    assert_eq!(view["payment"]["amount_fen"], 1800);
    assert!(refunds_of(&app, &no).await.is_empty(), "nothing is refunded before the worker runs");

    // The worker asks for the refund once; the platform's REFUND.SUCCESS comes twice.
    assert_eq!(app.drain_payment_calls().await, 1);
    refund_notified(&app, &no).await;
    let refunds = refunds_of(&app, &no).await;
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    assert_eq!(
        (refunds[0]["amount"]["refund"].as_i64(), refunds[0]["amount"]["total"].as_i64()),
        (Some(1800), Some(1800))
    );

    let view = app.view(&token, &app_id).await;
    assert_eq!(view["payment"]["status"], "refunded", "{view}");
    assert_eq!(view["payment"]["refund_id"], refunds[0]["refund_id"]);
    let kinds: Vec<&str> =
        view["timeline"].as_array().expect("timeline").iter().filter_map(|e| e["kind"].as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "payment_refund_started").count(), 1, "{kinds:?}");
    assert_eq!(kinds.iter().filter(|k| **k == "payment_refunded").count(), 1, "{kinds:?}");

    // The officer sees the same; nothing more is owed, and a late repeat of the refund's
    // notification changes nothing.
    let (status, detail) = app
        .send(
            reqwest::Method::GET,
            &format!("/api/v1/officer/applications/{app_id}"),
            &app.officer_token("PY-RMYY"),
            None,
        )
        .await;
    assert_eq!((status, detail["payment"]["status"].as_str()), (200, Some("refunded")), "{detail}");
    assert_eq!(app.drain_payment_calls().await, 0);
    let out_refund_no = refunds[0]["out_refund_no"].as_str().expect("out_refund_no");
    let again = app.mock_post(&format!("/_mock/refunds/{out_refund_no}/notify"), &json!({})).await;
    assert_eq!(again["deliveries"], json!([204, 204]));
    assert_eq!(refunds_of(&app, &no).await.len(), 1);
    let after = app.view(&token, &app_id).await;
    assert_eq!(after["timeline"], view["timeline"], "a repeated refund notification adds nothing");
    assert_eq!(after["payment"], view["payment"]);
}

#[tokio::test]
async fn a_refund_the_platform_could_not_take_is_asked_again_and_a_forged_result_changes_nothing() {
    let app = crate::helpers::spawn_app_with(crate::helpers::TestOptions {
        // The first retry comes after two seconds.
        configure: Some(Box::new(|s| s.workers.outbox_base_backoff_secs = 1)),
        ..Default::default()
    })
    .await;
    let (token, app_id, no) = withdrawn_with_payable_order(&app).await;
    app.mock_post(&format!("/_mock/pay/{no}"), &json!({})).await;

    app.mock_post("/_mock/faults", &json!({"path": "/v3/refund/domestic/refunds", "mode": "http_500", "times": 1}))
        .await;
    assert_eq!(app.drain_payment_calls().await, 1, "the first attempt fails at the platform");
    assert!(refunds_of(&app, &no).await.is_empty());
    assert_eq!(app.view(&token, &app_id).await["payment"]["status"], "refund_pending", "still owed");
    assert_eq!(app.drain_payment_calls().await, 0, "the retry waits for its back-off");
    crate::helpers::eventually("the refund asked again", || async { app.drain_payment_calls().await == 1 }).await;
    refund_notified(&app, &no).await;
    let refunds = refunds_of(&app, &no).await;
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    let before = app.view(&token, &app_id).await;
    assert_eq!(before["payment"]["status"], "refunded");

    let out_refund_no = refunds[0]["out_refund_no"].as_str().expect("out_refund_no");
    let forged = app.mock_post(&format!("/_mock/refunds/{out_refund_no}/notify"), &json!({"forge": true})).await;
    assert_eq!(forged["deliveries"], json!([401, 401]), "a notification the platform did not sign is refused");
    let after = app.view(&token, &app_id).await;
    assert_eq!(
        (after["timeline"].clone(), after["payment"].clone()),
        (before["timeline"].clone(), before["payment"].clone())
    );
}

#[tokio::test]
async fn an_order_the_platform_could_not_close_is_closed_later_and_cannot_be_paid() {
    let app = spawn_app().await;
    let (token, app_id, no) = withdrawn_with_payable_order(&app).await;
    assert_eq!(app.drain_payment_calls().await, 1, "the owed close is made");
    assert_eq!(app.drain_payment_calls().await, 0, "and only once");
    let res = app.client.post(format!("{}/_mock/pay/{no}", app.mock.base_url())).json(&json!({})).send().await;
    assert_eq!(res.expect("mock").status(), 409, "closed at the platform now");
    assert_eq!(app.view(&token, &app_id).await["payment"]["status"], "closed");
    assert!(refunds_of(&app, &no).await.is_empty());
}

#[tokio::test]
async fn an_old_order_paid_after_the_address_changed_is_refunded_and_the_new_one_submits() {
    let app = spawn_app().await;
    let (token, app_id, old) = with_order(&app).await;
    let base = format!("/api/v1/applications/{app_id}");
    close_fails_once(&app).await;
    let (status, body) = app.send(reqwest::Method::PUT, &format!("{base}/delivery-address"), &token,
        Some(json!({"recipient": "张伟", "phone": "13987654321", "region_code": "650102", "address": "乌鲁木齐市天山区解放南路1号"}))).await;
    assert_eq!((status, body["courier_fee_fen"].as_i64()), (200, Some(2600)), "{body}");
    // The 18-yuan cashier was still open on the phone: paid before the owed close was made.
    app.mock_post(&format!("/_mock/pay/{old}"), &json!({})).await;
    assert_eq!(app.state_of(&token, &app_id).await, "signed", "an old order does not submit the case");

    let (status, second) = app.send(reqwest::Method::POST, &format!("{base}/payment"), &token, None).await;
    assert_eq!((status, second["amount_fen"].as_i64()), (201, Some(2600)), "{second}");
    let new = second["out_trade_no"].as_str().expect("order");
    app.mock_post(&format!("/_mock/pay/{new}"), &json!({})).await;
    assert_eq!(app.state_of(&token, &app_id).await, "submitted");
    assert_eq!(app.view(&token, &app_id).await["payment"]["out_trade_no"], new, "the payment that counts is shown");

    assert_eq!(app.drain_payment_calls().await, 1, "one refund, of the old order");
    refund_notified(&app, &old).await;
    assert_eq!(refunds_of(&app, &old).await[0]["amount"]["refund"], 1800);
    assert!(refunds_of(&app, new).await.is_empty(), "the payment that counts is kept");
    let view = app.view(&token, &app_id).await;
    assert_eq!((view["state"].as_str(), view["payment"]["status"].as_str()), (Some("submitted"), Some("paid")));
}

#[tokio::test]
async fn a_signed_refund_result_for_another_merchant_or_amount_is_refused_and_the_true_one_still_counts() {
    let app = spawn_app().await;
    let (token, app_id, no) = withdrawn_with_payable_order(&app).await;
    app.mock_post(&format!("/_mock/pay/{no}"), &json!({})).await;
    // The platform takes the refund, but its result has not arrived yet.
    app.client
        .post(format!("{}/_mock/refunds/hold", app.mock.base_url()))
        .json(&json!({"hold": true}))
        .send()
        .await
        .expect("hold");
    assert_eq!(app.drain_payment_calls().await, 1);
    let out_refund_no = refunds_of(&app, &no).await[0]["out_refund_no"].as_str().expect("no").to_string();
    let renotify = format!("/_mock/refunds/{out_refund_no}/notify");
    let before = app.view(&token, &app_id).await;
    assert_eq!(before["payment"]["status"], "refund_pending");
    for (why, control) in
        [("another merchant's", json!({"mchid": "1900009999"})), ("a different amount", json!({"amount": 1}))]
    {
        let answer = app.mock_post(&renotify, &control).await;
        assert_eq!(answer["deliveries"], json!([401, 401]), "{why}");
        let after = app.view(&token, &app_id).await;
        assert_eq!((&after["payment"], &after["timeline"]), (&before["payment"], &before["timeline"]), "{why}");
    }
    // The genuine result, here in certificate mode, still counts.
    let answer = app.mock_post(&renotify, &json!({"mode": "certificate"})).await;
    assert_eq!(answer["deliveries"], json!([204, 204]));
    assert_eq!(app.view(&token, &app_id).await["payment"]["status"], "refunded");
}

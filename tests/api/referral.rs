//! Referral to the counter: a special situation the online path cannot handle ends the case
//! `referred`; the paid fee goes back through WeChat Pay; the family is told where to go.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{eventually, spawn_app};

#[tokio::test]
async fn a_referred_case_ends_online_refunds_the_fee_and_tells_the_family_where_to_go() {
    let app = spawn_app().await;
    let officer = app.officer_token("PY-RMYY");
    let (family, app_id) = app.submitted().await;
    let path = format!("/api/v1/officer/applications/{app_id}/referral");

    // Without a reason: refused, nothing changed. Another institution: not found.
    let (status, body) = app.send(Method::POST, &path, &officer, Some(json!({"reason": "  "}))).await;
    assert_eq!((status, body["code"].as_str()), (422, Some("validation_failed")), "{body}");
    let (status, _) =
        app.send(Method::POST, &path, &app.officer_token("PY-ZYY"), Some(json!({"reason": "特殊情况"}))).await;
    assert_eq!(status, 404);
    assert_eq!(app.state_of(&family, &app_id).await, "submitted");

    let reason = "母亲为港澳居民，需现场核验证件";
    let (status, body) = app.send(Method::POST, &path, &officer, Some(json!({"reason": reason}))).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("referred")), "{body}");
    let view = app.view(&family, &app_id).await;
    assert_eq!(view["state"], "referred");
    assert_eq!(view["payment"]["status"], "refund_pending", "{view}");
    // Once only.
    let (status, body) = app.send(Method::POST, &path, &officer, Some(json!({"reason": reason}))).await;
    assert_eq!((status, body["code"].as_str()), (409, Some("wrong_state")));

    // The fee goes back through WeChat Pay, once.
    app.drain_payment_calls().await;
    let refunds = app.mock_get("/_mock/refunds").await;
    let out_trade_no = view["payment"]["out_trade_no"].as_str().map(str::to_string);
    let mine: Vec<_> = refunds["refunds"]
        .as_array()
        .expect("refunds")
        .iter()
        .filter(|r| out_trade_no.is_none() || r["out_trade_no"].as_str() == out_trade_no.as_deref())
        .collect();
    assert_eq!(mine.len(), 1, "{refunds}");
    assert_eq!(mine[0]["amount"]["refund"], 1800, "{refunds}");
    eventually("the refund notification settles it", || {
        let (app, family, app_id) = (&app, family.clone(), app_id.clone());
        async move { app.view(&family, &app_id).await["payment"]["status"] == "refunded" }
    })
    .await;

    // The family is told where to go: the institution, its phone and its hours.
    app.drain_outbox().await;
    let sent = app.mock_get("/_mock/messages").await;
    let referred: Vec<_> =
        sent.as_array().expect("list").iter().filter(|m| m["template_id"] == "TPL_REFERRED").collect();
    assert_eq!(referred.len(), 1, "{sent}");
    assert_eq!(referred[0]["data"]["keyword2"]["value"], "请到窗口现场办理");
    assert!(
        referred[0]["data"]["keyword3"]["value"].as_str().expect("contact").starts_with("平阴县人民医院"),
        "{sent}"
    );
    let (_, detail) = app.send(Method::GET, &format!("/api/v1/officer/applications/{app_id}"), &officer, None).await;
    let timeline = detail["timeline"].to_string();
    assert!(timeline.contains(reason) && timeline.contains("0531"), "{timeline}");

    // An issued case is past referral.
    let (_, issued) = app.submitted().await;
    app.stock("R370000950", "R370000950").await;
    app.approve(&issued, None).await;
    let (status, _) = app
        .send(
            Method::POST,
            &format!("/api/v1/officer/applications/{issued}/referral"),
            &officer,
            Some(json!({"reason": "x"})),
        )
        .await;
    assert_eq!(status, 409);
}

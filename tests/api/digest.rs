//! The officers' morning digest: opted in from the console with a code sent to the official
//! account from the officer's own WeChat; one message a working morning through the outbox.

use birthcert::services::digest;
use chrono::{TimeZone, Utc};
use reqwest::header::{COOKIE, SET_COOKIE};

use crate::helpers::{spawn_app, TestApp};
use crate::wechat_callback::text_xml;

const PASSWORD: &str = "digest password 1";

/// Signs in to the console → (cookie, the settings page).
async fn settings_page(app: &TestApp, username: &str) -> (String, String) {
    let res = app
        .client
        .post(app.url("/console/login"))
        .form(&[("username", username), ("password", PASSWORD)])
        .send()
        .await
        .expect("sent");
    let cookie = res.headers()[SET_COOKIE].to_str().expect("ascii").split(';').next().expect("cookie").to_string();
    let page = app.client.get(app.url("/console/settings")).header(COOKIE, &cookie).send().await.expect("sent");
    (cookie, page.text().await.expect("page"))
}

fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf_token\" value=\"").expect("a CSRF field") + 25;
    page[at..].split('"').next().expect("value").to_string()
}

async fn post(app: &TestApp, cookie: &str, path: &str, csrf: &str) -> String {
    let res = app.client.post(app.url(path)).header(COOKIE, cookie).form(&[("csrf_token", csrf)]).send().await;
    res.expect("sent").text().await.expect("page")
}

/// What the official account answers a text message from `openid`.
async fn say(app: &TestApp, openid: &str, text: &str, msg_id: u64) -> String {
    let answer = app.wechat_callback(&text_xml(openid, text, msg_id, Utc::now().timestamp()), false).await;
    let body = answer["body"].as_str().expect("body");
    birthcert::wechat::xml::parse(body).expect("xml").text_of("Content").unwrap_or_default().to_string()
}

#[tokio::test]
async fn an_officer_opts_in_with_a_code_and_gets_one_message_a_working_morning() {
    let app = spawn_app().await;
    app.officer_with_password("PY-RMYY", "he.officer", PASSWORD, false).await.expect("officer");
    let wechat = app.wechat_user(true).await;
    let openid = wechat["official_openid"].as_str().expect("openid").to_string();

    let (cookie, page) = settings_page(&app, "he.officer").await;
    assert!(page.contains("未开启"));
    let page = post(&app, &cookie, "/console/settings/digest", &csrf_of(&page)).await;
    let at = page.find("绑定 ").expect("the code to send") + "绑定 ".len();
    let code: String = page[at..].chars().take(8).collect();
    assert!(code.chars().all(|c| c.is_ascii_digit()), "{code}");

    // A wrong code binds nothing; the right one binds the WeChat it came from, once.
    assert!(say(&app, &openid, "绑定 00000000", 9101).await.contains("无效"));
    assert!(say(&app, &openid, &format!("绑定 {code}"), 9102).await.contains("已开启"));
    assert!(say(&app, "oSomeoneElse", &format!("绑定 {code}"), 9103).await.contains("无效"), "used once");
    let (_, page) = settings_page(&app, "he.officer").await;
    assert!(page.contains("已开启"));

    // Monday 2026-12-07: one case due that afternoon, one overdue since Friday.
    let (_, due) = app.submitted().await;
    let (_, late) = app.submitted().await;
    let china = chrono::FixedOffset::east_opt(8 * 3600).expect("+8");
    let at = |d: u32, h: u32| china.with_ymd_and_hms(2026, 12, d, h, 30, 0).single().expect("time").with_timezone(&Utc);
    app.set_column("applications", "review_due_at", at(7, 17), &format!("id = '{due}'")).await;
    app.set_column("applications", "review_due_at", at(4, 17), &format!("id = '{late}'")).await;
    let calendar = &app.state.calendar;
    assert_eq!(digest::run(&app.state.db, calendar, at(7, 7), 8).await.expect("run"), 0, "not before 8 o'clock");
    assert_eq!(digest::run(&app.state.db, calendar, at(6, 9), 8).await.expect("run"), 0, "not on a Sunday");
    assert_eq!(digest::run(&app.state.db, calendar, at(7, 9), 8).await.expect("run"), 1);
    digest::run(&app.state.db, calendar, at(7, 10), 8).await.expect("a later look the same morning");
    app.drain_outbox().await;
    let sent = app.mock_get("/_mock/messages").await;
    let digests: Vec<_> =
        sent.as_array().expect("list").iter().filter(|m| m["template_id"] == "TPL_DAILY_DIGEST").collect();
    assert_eq!(digests.len(), 1, "one a morning: {sent}");
    assert_eq!(digests[0]["touser"], openid.as_str());
    assert_eq!(digests[0]["data"]["keyword2"]["value"], "今日到期1件，已逾期1件");

    // Opting out ends it.
    let (cookie, page) = settings_page(&app, "he.officer").await;
    post(&app, &cookie, "/console/settings/digest/off", &csrf_of(&page)).await;
    assert!(settings_page(&app, "he.officer").await.1.contains("未开启"));
    assert_eq!(digest::run(&app.state.db, calendar, at(8, 9), 8).await.expect("run"), 0);
}

//! The official-account callback through real HTTP, signed and encrypted by the mock's own code.

use birthcert::config::ReplyFirst;
use birthcert::persistence::users;
use mock_wechat::mock_sign;
use serde_json::Value;

use crate::helpers::{eventually, spawn_app, spawn_app_with, TestApp, TestOptions};

const TOKEN: &str = "birthcert-dev-token";
const ACCOUNT: &str = "gh_birthcert0001";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn text_xml(from: &str, content: &str, msg_id: u64, create_time: i64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName><CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content><MsgId>{msg_id}</MsgId></xml>"
    )
}

pub fn event_xml(from: &str, event: &str, extra: &str, create_time: i64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><FromUserName><![CDATA[{from}]]></FromUserName><CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>{extra}</xml>"
    )
}

fn signed_query(timestamp: &str, nonce: &str) -> Vec<(String, String)> {
    vec![
        ("signature".into(), mock_sign(&[TOKEN, timestamp, nonce])),
        ("timestamp".into(), timestamp.into()),
        ("nonce".into(), nonce.into()),
    ]
}

async fn post_raw(app: &TestApp, query: &[(String, String)], body: impl Into<reqwest::Body>) -> reqwest::Response {
    app.client.post(app.url("/wechat/callback")).query(query).body(body).send().await.expect("sent")
}

fn reply_content(xml: &str) -> String {
    birthcert::wechat::xml::parse(xml).expect("reply is XML").text_of("Content").unwrap_or_default().to_string()
}

#[tokio::test]
async fn url_verification_echoes_only_with_a_valid_signature() {
    let app = spawn_app().await;
    let ts = now().to_string();
    let mut q = signed_query(&ts, "1514711492");
    q.push(("echostr".into(), "4375120948345356249".into()));
    let res = app.client.get(app.url("/wechat/callback")).query(&q).send().await.expect("sent");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.expect("text"), "4375120948345356249");

    let good_sig = q[0].1.clone();
    let cases: Vec<Vec<(String, String)>> = vec![
        // wrong nonce
        vec![
            ("signature".into(), good_sig.clone()),
            ("timestamp".into(), ts.clone()),
            ("nonce".into(), "1514711493".into()),
            ("echostr".into(), "x".into()),
        ],
        // upper-case hex
        vec![
            ("signature".into(), good_sig.to_uppercase()),
            ("timestamp".into(), ts.clone()),
            ("nonce".into(), "1514711492".into()),
            ("echostr".into(), "x".into()),
        ],
        // missing nonce
        vec![("signature".into(), good_sig.clone()), ("timestamp".into(), ts.clone()), ("echostr".into(), "x".into())],
        // nothing
        vec![("echostr".into(), "x".into())],
    ];
    for q in cases {
        let res = app.client.get(app.url("/wechat/callback")).query(&q).send().await.expect("sent");
        assert_eq!(res.status(), 403, "{q:?}");
    }
}

#[tokio::test]
async fn consultation_lists_institutions_phones_and_hours() {
    let app = spawn_app().await;
    let answer = app.wechat_callback(&text_xml("oUserA", "咨询", 7001, now()), false).await;
    assert_eq!(answer["status"], 200);
    let content = reply_content(answer["body"].as_str().expect("body"));
    for needle in ["平阴县人民医院", "0531-87888565", "0531-87880938", "0531-87896922", "08:30-12:00", "14:30-17:30"]
    {
        assert!(content.contains(needle), "{needle} missing from {content}");
    }
    let xml = birthcert::wechat::xml::parse(answer["body"].as_str().expect("body")).expect("xml");
    assert_eq!(xml.text_of("ToUserName"), Some("oUserA"));
    assert_eq!(xml.text_of("FromUserName"), Some(ACCOUNT));
    let created: i64 = xml.text_of("CreateTime").expect("CreateTime").parse().expect("seconds");
    assert!((created - now()).abs() < 60, "CreateTime must be Unix seconds");
}

#[tokio::test]
async fn progress_for_an_unknown_follower_says_how_to_start() {
    let app = spawn_app().await;
    let answer = app.wechat_callback(&text_xml("oNobody", "进度", 7002, now()), false).await;
    assert!(reply_content(answer["body"].as_str().expect("body")).contains("小程序"));
}

#[tokio::test]
async fn menu_click_explains_how_to_apply_and_unknown_text_gets_success() {
    let app = spawn_app().await;
    let answer = app
        .wechat_callback(
            &event_xml("oUserB", "CLICK", "<EventKey><![CDATA[APPLY_BIRTH_CERT]]></EventKey>", now()),
            false,
        )
        .await;
    assert!(reply_content(answer["body"].as_str().expect("body")).contains("电子健康卡"));
    let answer = app.wechat_callback(&text_xml("oUserB", "hello", 7003, now()), false).await;
    assert_eq!(answer["body"], "success");
    let answer = app
        .wechat_callback(
            &event_xml(
                "oUserB",
                "LOCATION",
                "<Latitude>36.28</Latitude><Longitude>116.45</Longitude><Precision>30</Precision>",
                now(),
            ),
            false,
        )
        .await;
    assert_eq!(answer["body"], "success");
}

#[tokio::test]
async fn safe_mode_request_from_the_mock_is_accepted_and_the_reply_opens_with_the_mocks_code() {
    let app = spawn_app().await;
    let answer = app.wechat_callback(&text_xml("oUserC", "咨询", 7004, now()), true).await;
    assert_eq!(answer["status"], 200, "{answer}");
    let reply = &answer["reply"];
    assert_eq!(reply["signature_ok"], true, "{answer}");
    assert_eq!(reply["app_id_ok"], true, "{answer}");
    let ts: i64 = reply["timestamp"].as_str().expect("timestamp").parse().expect("integer");
    assert!((ts - now()).abs() < 60, "reply TimeStamp must be seconds, got {ts}");
    assert!(reply_content(reply["xml"].as_str().expect("xml")).contains("0531-87888565"));
}

#[tokio::test]
async fn safe_mode_requires_msg_signature_over_the_encrypted_body() {
    let app = spawn_app().await;
    let settings = app.mock.settings().clone();
    let aes = birthcert::wechat::crypto::AesKey::from_encoding_aes_key(&settings.encoding_aes_key).expect("key");
    let encrypted = aes.encrypt(&text_xml("oUserD", "咨询", 7005, now()), &settings.app_id);
    let body =
        format!("<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>");
    let ts = now().to_string();
    let nonce = "n0nce";
    // `signature` alone, where safe mode needs msg_signature too.
    let mut q = signed_query(&ts, nonce);
    q.push(("encrypt_type".into(), "aes".into()));
    assert_eq!(post_raw(&app, &q, body.clone()).await.status(), 403);
    // msg_signature computed without the Encrypt field (i.e. just `signature`).
    let mut wrong = q.clone();
    wrong.push(("msg_signature".into(), mock_sign(&[TOKEN, &ts, nonce])));
    assert_eq!(post_raw(&app, &wrong, body.clone()).await.status(), 403);
    // The right one.
    let mut right = q.clone();
    right.push(("msg_signature".into(), mock_sign(&[TOKEN, &ts, nonce, &encrypted])));
    assert_eq!(post_raw(&app, &right, body).await.status(), 200);
}

#[tokio::test]
async fn bad_signature_malformed_and_oversized_bodies_are_refused_with_nothing_stored() {
    let app = spawn_app().await;
    let ts = now().to_string();
    let mut q = signed_query(&ts, "abc");
    q[0].1 = "0".repeat(40);
    let res = post_raw(&app, &q, event_xml("oUserE", "unsubscribe", "", now())).await;
    assert_eq!(res.status(), 403);

    let q = signed_query(&ts, "abc");
    for body in ["<xml><ToUserName>x</ToUserName>", "{\"json\": 1}", "<xml><MsgType>text</MsgType></xml>", ""] {
        let res = post_raw(&app, &q, body.to_string()).await;
        assert_eq!(res.status(), 400, "{body}");
        assert_eq!(res.json::<Value>().await.expect("json")["code"], "invalid_xml");
    }
    // Bytes that are not UTF-8 inside an otherwise well-formed message.
    let xml = text_xml("oUserE", "咨询", 7008, now());
    let at = xml.find('询').expect("询");
    let mut not_utf8 = xml.into_bytes();
    not_utf8[at + 1] = 0xff;
    let res = post_raw(&app, &q, not_utf8).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.expect("json")["code"], "invalid_xml");
    let huge = text_xml("oUserE", &"x".repeat(70 * 1024), 7006, now());
    let res = post_raw(&app, &q, huge).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.expect("json")["code"], "xml_too_large");

    // A foreign appid inside a correctly signed safe-mode body.
    let aes =
        birthcert::wechat::crypto::AesKey::from_encoding_aes_key(&app.mock.settings().encoding_aes_key).expect("key");
    let encrypted = aes.encrypt(&text_xml("oUserE", "咨询", 7007, now()), "wxOTHER000000000x");
    let mut q = signed_query(&ts, "abc");
    q.push(("encrypt_type".into(), "aes".into()));
    q.push(("msg_signature".into(), mock_sign(&[TOKEN, &ts, "abc", &encrypted])));
    let res = post_raw(&app, &q, format!("<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")).await;
    assert_eq!(res.status(), 400);

    assert!(birthcert::persistence::outbox::list(&app.state.db).await.expect("list").is_empty());
    assert_eq!(users::user_by_official_openid(&app.state.db, "oUserE").await.expect("query"), None);
}

/// A body that arrives in pieces (chunked, the second piece later) is read whole: most arrive in
/// one, which the service keeps without copying, and the rest must still be answered.
#[tokio::test]
async fn a_callback_body_sent_in_pieces_is_answered_like_one_sent_whole() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app().await;
    let ts = now().to_string();
    let query = serde_urlencoded::to_string(signed_query(&ts, "pieces")).expect("query");
    let body = text_xml("oUserP", "咨询", 7401, now());
    // Split inside 咨 (three bytes): the pieces are joined before the text is read.
    let inside = body.find('咨').expect("咨") + 1;
    let (head, tail) = body.as_bytes().split_at(inside);
    let host = app.address.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("connect");
    let request = format!(
        "POST /wechat/callback?{query} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/xml\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n",
        head.len()
    );
    stream.write_all(&[request.as_bytes(), head, b"\r\n"].concat()).await.expect("first piece");
    stream.flush().await.expect("flush");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let second = [format!("{:x}\r\n", tail.len()).as_bytes(), tail, b"\r\n0\r\n\r\n"].concat();
    stream.write_all(&second).await.expect("second piece");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let reply = response.split_once("\r\n\r\n").expect("a body").1;
    assert!(reply_content(reply).contains("0531-87888565"), "{reply}");
}

#[tokio::test]
async fn a_query_naming_another_follower_than_the_message_is_refused_before_the_claim() {
    let app = spawn_app().await;
    let (ts, created) = (now().to_string(), now());
    // Signed, but the query's openid is not the message's sender: not from WeChat.
    let mut q = signed_query(&ts, "n1");
    q.push(("openid".into(), "oVictim".into()));
    let res = post_raw(&app, &q, text_xml("oSomeoneElse", "咨询", 7301, created)).await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.expect("json")["code"], "invalid_xml");

    // Nothing was claimed: the same message with the right openid is handled as a first
    // delivery (answered, not taken for a retry of the refused one).
    let mut q = signed_query(&ts, "n2");
    q.push(("openid".into(), "oSomeoneElse".into()));
    let res = post_raw(&app, &q, text_xml("oSomeoneElse", "咨询", 7301, created)).await;
    assert_eq!(res.status(), 200);
    assert!(reply_content(&res.text().await.expect("body")).contains("电话"), "answered as a first delivery");
}

#[tokio::test]
async fn subscribe_links_through_the_unionid_and_unsubscribe_only_unlinks() {
    let app = spawn_app().await;
    let user = app.wechat_user(true).await;
    let (_, user_id) = app.login(user["code"].as_str().expect("code")).await;
    let official = user["official_openid"].as_str().expect("openid").to_string();

    let answer = app
        .wechat_callback(
            &event_xml(&official, "subscribe", "<EventKey><![CDATA[qrscene_123]]></EventKey>", now()),
            false,
        )
        .await;
    assert!(reply_content(answer["body"].as_str().expect("body")).contains("欢迎关注"));
    let db = app.state.db.clone();
    let o = official.clone();
    eventually("the follower to be linked", || {
        let db = db.clone();
        let o = o.clone();
        async move { users::user_by_official_openid(&db, &o).await.ok().flatten().is_some() }
    })
    .await;
    assert_eq!(
        users::user_by_official_openid(&app.state.db, &official).await.expect("q").as_deref(),
        Some(user_id.as_str())
    );

    let answer = app.wechat_callback(&event_xml(&official, "unsubscribe", "", now() + 1), false).await;
    assert_eq!(answer["body"], "success");
    assert_eq!(users::user_by_official_openid(&app.state.db, &official).await.expect("q"), None);
    // The user and their mini-program identity remain.
    assert!(users::external_id(&app.state.db, &user_id, users::MINI_PROGRAM).await.expect("q").is_some());
}

#[tokio::test]
async fn a_callback_delivered_three_times_has_one_effect_and_the_same_reply() {
    let app = spawn_app().await;
    let user = app.wechat_user(true).await;
    let official = user["official_openid"].as_str().expect("openid").to_string();
    let xml = event_xml(&official, "subscribe", "", now());
    let mut replies = Vec::new();
    for _ in 0..3 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        replies.push(app.wechat_callback(&xml, false).await["body"].clone());
    }
    assert_eq!(replies[0], replies[1]);
    assert_eq!(replies[1], replies[2]);
    let db = app.state.db.clone();
    let o = official.clone();
    eventually("the follower to be linked", || {
        let db = db.clone();
        let o = o.clone();
        async move { users::user_by_official_openid(&db, &o).await.ok().flatten().is_some() }
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(app.mock_get("/_mock/stats").await["user_info_calls"], 1, "user/info must be asked once");

    // Same MsgId three times, encrypted this time: the same reply each time.
    let xml = text_xml(&official, "咨询", 880001, now());
    let mut contents = Vec::new();
    for _ in 0..3 {
        // WeChat retries seconds apart; the first reply is stored just after it is answered.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let a = app.wechat_callback(&xml, true).await;
        contents.push(reply_content(a["reply"]["xml"].as_str().expect("reply")));
    }
    assert!(contents.iter().all(|c| c == &contents[0] && c.contains("0531")));
}

#[tokio::test]
async fn a_retry_gets_the_first_reply_byte_for_byte_even_after_the_answer_changed() {
    let app = spawn_app().await;
    let user = app.wechat_user(true).await;
    let official = user["official_openid"].as_str().expect("openid").to_string();
    for (encrypt, msg_id) in [(false, 880101), (true, 880201)] {
        let question = text_xml(&official, "进度", msg_id, now());
        let first = app.wechat_callback(&question, encrypt).await;
        let first_body = first["body"].as_str().expect("body").to_string();
        let first_text = if encrypt {
            assert_eq!(first["reply"]["signature_ok"], true);
            reply_content(first["reply"]["xml"].as_str().expect("reply"))
        } else {
            reply_content(&first_body)
        };
        assert!(first_text.contains("暂未找到"), "{first_text}");

        // The follower is linked in between: asked anew, the answer differs.
        users::link_official_account(&app.state.db, user["unionid"].as_str().expect("unionid"), &official)
            .await
            .expect("linked");
        // WeChat's retry of the first question, seconds later: the very bytes first sent (in
        // safe mode the same envelope, timestamp and nonce), not a new answer.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let retry = app.wechat_callback(&question, encrypt).await;
        assert_eq!(retry["body"].as_str(), Some(first_body.as_str()));
        let asked_again = text_xml(&official, "进度", msg_id + 1, now());
        let again = app.wechat_callback(&asked_again, encrypt).await;
        let second = if encrypt { again["reply"]["xml"].as_str() } else { again["body"].as_str() };
        assert!(reply_content(second.expect("a reply")).contains("还没有出生医学证明申请"));
        users::unlink_official_account(&app.state.db, &official).await.expect("unlinked");
    }
}

#[tokio::test]
async fn a_retry_in_the_other_mode_gets_success_not_the_first_reply() {
    let app = spawn_app().await;
    // First delivered in plaintext, retried in safe mode (the account switched in between): the
    // kept plaintext reply is not sent to a safe-mode request, nor the reverse.
    for (first_encrypted, msg_id) in [(false, 880301), (true, 880302)] {
        let question = text_xml("oSwitcher", "咨询", msg_id, now());
        let first = app.wechat_callback(&question, first_encrypted).await;
        assert_ne!(first["body"], "success");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let retry = app.wechat_callback(&question, !first_encrypted).await;
        assert_eq!(retry["status"], 200);
        assert_eq!(retry["body"], "success");
        // In its own mode the retry still gets the first reply.
        let same_mode = app.wechat_callback(&question, first_encrypted).await;
        assert_eq!(same_mode["body"], first["body"]);
    }
}

fn app_replying_first(order: ReplyFirst) -> TestOptions {
    TestOptions {
        configure: Some(Box::new(move |s| {
            s.wechat.callback_reply_first = order;
            s.wechat.echo_unknown_text = true;
        })),
        ..TestOptions::default()
    }
}

fn apply_click(from: &str) -> String {
    event_xml(from, "CLICK", "<EventKey><![CDATA[APPLY_BIRTH_CERT]]></EventKey>", now())
}

#[tokio::test]
async fn immediate_replies_are_kept_for_retries_whether_rendered_before_or_after_the_claim() {
    for order in [ReplyFirst::Always, ReplyFirst::Never, ReplyFirst::Auto] {
        let app = spawn_app_with(app_replying_first(order)).await;
        for (encrypt, n) in [(false, 1u64), (true, 2)] {
            let click = apply_click(&format!("oClicker{n}"));
            let echo = text_xml(&format!("oEchoer{n}"), "你好，平阴", 881_000 + n, now());
            for (xml, expected) in [(click, "电子健康卡"), (echo, "你好，平阴")] {
                let first = app.wechat_callback(&xml, encrypt).await;
                let first_body = first["body"].as_str().expect("body").to_string();
                let text = if encrypt { first["reply"]["xml"].as_str().expect("reply") } else { &first_body };
                assert!(reply_content(text).contains(expected), "{order:?}: {text}");
                // After the claim, the reply is kept by a command the answer does not wait for.
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                // In safe mode a new rendering would carry a new nonce and timestamp: equal bytes
                // are the first delivery's own.
                let retry = app.wechat_callback(&xml, encrypt).await;
                assert_eq!(retry["body"].as_str(), Some(first_body.as_str()), "{order:?}");
                let other_mode = app.wechat_callback(&xml, !encrypt).await;
                assert_eq!(other_mode["body"], "success", "{order:?}");
            }
        }
    }
}

#[tokio::test]
async fn previous_encoding_aes_key_is_accepted_and_the_reply_uses_it() {
    // The mock still encrypts with the old key; the service has rotated to a new one.
    let app = spawn_app_with(TestOptions {
        configure: Some(Box::new(|s| {
            s.wechat.previous_encoding_aes_key = Some(s.wechat.encoding_aes_key.clone());
            s.wechat.encoding_aes_key = secrecy::SecretString::from("ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut");
        })),
        ..TestOptions::default()
    })
    .await;
    let answer = app.wechat_callback(&text_xml("oUserF", "咨询", 7008, now()), true).await;
    assert_eq!(answer["status"], 200, "{answer}");
    assert_eq!(answer["reply"]["signature_ok"], true);
    assert!(reply_content(answer["reply"]["xml"].as_str().expect("decrypted with the old key")).contains("0531"));
}

/// The body of a `subscribe_msg_popup_event`: one entry per (template, choice).
fn consent_popup(choices: &[(&str, &str)]) -> String {
    let entries: String = choices
        .iter()
        .map(|(template, status)| {
            format!("<List><TemplateId><![CDATA[{template}]]></TemplateId><SubscribeStatusString><![CDATA[{status}]]></SubscribeStatusString><PopupScene>2</PopupScene></List>")
        })
        .collect();
    format!("<SubscribeMsgPopupEvent>{entries}</SubscribeMsgPopupEvent>")
}

#[tokio::test]
async fn subscribe_message_consent_events_are_recorded() {
    let app = spawn_app().await;
    let (user_id, user) = app.follower(false).await;
    let official = user["official_openid"].as_str().expect("openid");

    let popup = consent_popup(&[("TPL_SUBMITTED", "accept"), ("TPL_ISSUED", "reject")]);
    app.wechat_callback(&event_xml(official, "subscribe_msg_popup_event", &popup, now()), false).await;
    let status = |t: &'static str| {
        let db = app.state.db.clone();
        let u = user_id.clone();
        async move { users::consent_status(&db, &u, t).await.expect("q") }
    };
    assert_eq!(status("TPL_SUBMITTED").await.as_deref(), Some("accept"));
    assert_eq!(status("TPL_ISSUED").await.as_deref(), Some("reject"));

    let change = "<SubscribeMsgChangeEvent><List><TemplateId><![CDATA[TPL_SUBMITTED]]></TemplateId><SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString></List></SubscribeMsgChangeEvent>";
    app.wechat_callback(&event_xml(official, "subscribe_msg_change_event", change, now() + 1), false).await;
    assert_eq!(status("TPL_SUBMITTED").await.as_deref(), Some("reject"));
}

/// WeChat is answered within its deadline, but an effect that takes longer is finished, not
/// dropped half-way: here the first consent waits on a lock held past the reply's budget, and the
/// second is still written after it (a retry would find the message claimed and change nothing).
#[tokio::test]
async fn an_event_whose_writes_outlast_the_reply_budget_is_answered_and_still_recorded_whole() {
    use sea_orm::TransactionTrait;
    let app = spawn_app().await;
    let (user_id, user) = app.follower(false).await;
    let official = user["official_openid"].as_str().expect("openid");

    // Another writer holds the first template's consent (on SQLite: the database) for 5 s.
    let blocker = app.state.db.begin().await.expect("begin");
    users::record_consent(&blocker, &user_id, "TPL_SUBMITTED", "reject").await.expect("held");
    let popup = consent_popup(&[("TPL_SUBMITTED", "accept"), ("TPL_ISSUED", "accept")]);
    let xml = event_xml(official, "subscribe_msg_popup_event", &popup, now());
    let (delivered, ()) = tokio::join!(app.wechat_callback(&xml, false), async {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        blocker.commit().await.expect("commit");
    });
    // Answered before the lock went, with success, in one attempt.
    assert_eq!(delivered["attempts"].as_array().map(Vec::len), Some(1), "{delivered}");
    assert_eq!(delivered["attempts"][0]["status"], 200, "{delivered}");
    assert_eq!(delivered["body"], "success", "{delivered}");

    let db = app.state.db.clone();
    eventually("both consents written once the lock is gone", || {
        let (db, u) = (db.clone(), user_id.clone());
        async move {
            let submitted = users::consent_status(&db, &u, "TPL_SUBMITTED").await.expect("q");
            let issued = users::consent_status(&db, &u, "TPL_ISSUED").await.expect("q");
            submitted.as_deref() == Some("accept") && issued.as_deref() == Some("accept")
        }
    })
    .await;
}

#[tokio::test]
async fn a_signed_callback_stamped_two_days_ago_is_a_replay_and_refused() {
    let app = spawn_app().await;
    let two_days_ago = (now() - 2 * 24 * 3600).to_string();
    let xml = text_xml("oNobody", "进度", 7101, now());
    let res = post_raw(&app, &signed_query(&two_days_ago, "r1"), xml.clone()).await;
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["code"], "stale_timestamp", "{body}");
    // Six minutes ahead is as stale as six minutes ago; the same message stamped now is answered.
    let ahead = (now() + 360).to_string();
    assert_eq!(post_raw(&app, &signed_query(&ahead, "r2"), xml.clone()).await.status(), 403);
    let res = post_raw(&app, &signed_query(&now().to_string(), "r3"), xml).await;
    assert_eq!(res.status(), 200);
    assert!(reply_content(&res.text().await.expect("text")).contains("小程序"));
}

#[tokio::test]
async fn with_the_age_check_off_old_timestamps_pass_and_safe_mode_only_refuses_plaintext() {
    let app = spawn_app_with(TestOptions {
        configure: Some(Box::new(|s| {
            s.wechat.callback_max_age_secs = 0;
            s.wechat.safe_mode_only = true;
        })),
        ..TestOptions::default()
    })
    .await;
    // The official vectors' kind of timestamp (2024), correctly signed and encrypted: accepted.
    let settings = app.mock.settings().clone();
    let aes = birthcert::wechat::crypto::AesKey::from_encoding_aes_key(&settings.encoding_aes_key).expect("key");
    let encrypted = aes.encrypt(&text_xml("oUserS", "咨询", 7102, now()), &settings.app_id);
    let body =
        format!("<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>");
    let (ts, nonce) = ("1714036504", "1514711492");
    let mut q = signed_query(ts, nonce);
    q.push(("encrypt_type".into(), "aes".into()));
    q.push(("msg_signature".into(), mock_sign(&[TOKEN, ts, nonce, &encrypted])));
    assert_eq!(post_raw(&app, &q, body).await.status(), 200);
    // A plaintext post, correctly signed: refused in safe-mode-only.
    let res = post_raw(&app, &signed_query(ts, nonce), text_xml("oUserS", "咨询", 7103, now())).await;
    assert_eq!(res.status(), 403);
    assert_eq!(res.json::<Value>().await.expect("json")["code"], "safe_mode_required");
}

#[tokio::test]
async fn the_menu_is_synced_with_a_mini_program_button_and_its_replies_open_the_mini_program() {
    let app = spawn_app().await;
    assert!(app.mock_get("/_mock/menu").await.is_null(), "no menu before");
    let out = app.command_with(
        &["wechat", "menu", "sync"],
        &[("BIRTHCERT__WECHAT__API_BASE_URL", app.mock.base_url().as_str())],
    );
    assert!(out.success, "{}", out.stderr);
    let menu = app.mock_get("/_mock/menu").await;
    let first = &menu["button"][0];
    assert_eq!(first["type"], "miniprogram", "{menu}");
    assert_eq!(first["appid"], app.state.settings.wechat.mini_program_app_id.as_str());
    assert_eq!(first["pagepath"], "pages/application/index");
    assert!(first["url"].as_str().expect("fallback url").starts_with("https://"));
    assert_eq!(menu["button"][1]["key"], "APPLY_BIRTH_CERT");

    // "How to apply" links to the mini-program page; "whom to ask" gives the phone numbers.
    let click = |key: &str| event_xml("oUserM", "CLICK", &format!("<EventKey><![CDATA[{key}]]></EventKey>"), now());
    let answer = app.wechat_callback(&click("APPLY_BIRTH_CERT"), false).await;
    let content = reply_content(answer["body"].as_str().expect("body"));
    let link = format!(
        "data-miniprogram-appid=\"{}\" data-miniprogram-path=\"pages/application/index\"",
        app.state.settings.wechat.mini_program_app_id
    );
    assert!(content.contains(&link), "{content}");
    let answer = app.wechat_callback(&click("CONSULT"), false).await;
    assert!(reply_content(answer["body"].as_str().expect("body")).contains("0531-87888565"));

    // WeChat refuses a menu the service did not build right; the command says so and fails.
    let out = app.command_with(
        &["wechat", "menu", "sync"],
        &[
            ("BIRTHCERT__WECHAT__API_BASE_URL", app.mock.base_url().as_str()),
            ("BIRTHCERT__WECHAT__MENU_FALLBACK_URL", "not a url"),
        ],
    );
    assert!(!out.success && out.stderr.contains("40027"), "{}", out.stderr);
}

#[tokio::test]
async fn percent_encoded_query_values_are_read_decoded_and_a_broken_query_is_refused() {
    let app = spawn_app().await;
    // WeChat's values are plain digits and letters; a value that arrives percent-encoded is
    // signed over its decoded form, as any URL decoder reads it.
    let (ts, nonce) = (now().to_string(), "n 0+ce/中");
    let mut q = signed_query(&ts, nonce);
    q.push(("openid".into(), "oUser C".into()));
    let res = post_raw(&app, &q, text_xml("oUser C", "咨询", 7201, now())).await;
    assert_eq!(res.status(), 200);
    assert!(reply_content(&res.text().await.expect("body")).contains("电话"), "answered");
    // The same signature over the encoded form does not verify.
    let encoded = "n%200%2Bce%2F%E4%B8%AD";
    let wrong = [
        ("signature".to_string(), mock_sign(&[TOKEN, &ts, encoded])),
        ("timestamp".to_string(), ts.clone()),
        ("nonce".to_string(), nonce.to_string()),
    ];
    assert_eq!(post_raw(&app, &wrong, text_xml("oUser C", "咨询", 7202, now())).await.status(), 403);
    // A query that names a field twice is not WeChat's: refused before anything is read.
    let url = format!("{}?timestamp={ts}&timestamp={ts}&nonce=1&signature=x", app.url("/wechat/callback"));
    let res = app.client.post(url).body(text_xml("oUserC", "咨询", 7203, now())).send().await.expect("sent");
    assert_eq!(res.status(), 400);
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["code"], "invalid_query");
}

//! The officers' web console through HTTP as a browser speaks it: forms, a session cookie,
//! redirects. (Browser tests in a real headless Chromium come with the rest of the console.)

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

use crate::helpers::{spawn_app, TestApp, MOTHER};

const PASSWORD: &str = "console password 1";

async fn officer(app: &TestApp, username: &str) {
    app.officer_with_password("PY-RMYY", username, PASSWORD, false).await.expect("officer");
}

pub(crate) async fn sign_in(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.client
        .post(app.url("/console/login"))
        .form(&[("username", username), ("password", password)])
        .send()
        .await
        .expect("sent")
}

/// The session cookie's `name=value`, after checking how it is set.
pub(crate) fn session_cookie(res: &reqwest::Response) -> String {
    let set = res.headers()[SET_COOKIE].to_str().expect("ascii").to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(set.contains(flag), "{flag} in {set}");
    }
    set.split(';').next().expect("name=value").to_string()
}

async fn hospital_sign_in(app: &TestApp, institution: &str, key: &str) -> reqwest::Response {
    let form = [("institution_code", institution), ("api_key", key)];
    app.client.post(app.url("/console/hospital-login")).form(&form).send().await.expect("sent")
}

async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = app.client.get(app.url(path));
    if let Some(c) = cookie {
        req = req.header(COOKIE, c);
    }
    req.send().await.expect("sent")
}

fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf_token\" value=\"").expect("a CSRF field") + 25;
    page[at..].split('"').next().expect("value").to_string()
}

#[tokio::test]
async fn an_officer_signs_in_sees_the_queue_with_deadlines_and_signs_out() {
    let app = spawn_app().await;
    officer(&app, "zhou.officer").await;
    let (_, app_id) = app.submitted().await;

    for home in ["/console", "/console/"] {
        let res = get(&app, home, None).await;
        assert_eq!((res.status().as_u16(), res.headers()[LOCATION].to_str().ok()), (303, Some("/console/login")));
    }
    let res = get(&app, "/console/queue", None).await;
    assert_eq!((res.status().as_u16(), res.headers()[LOCATION].to_str().ok()), (303, Some("/console/login")));
    let page = get(&app, "/console/login", None).await.text().await.expect("page");
    assert!(page.contains("签发人员登录") && page.contains("name=\"username\"") && page.contains("name=\"password\""));

    let res = sign_in(&app, "zhou.officer", "wrong password").await;
    assert_eq!(res.status(), 401);
    assert!(res.headers().get(SET_COOKIE).is_none());
    assert!(res.text().await.expect("page").contains("用户名或密码错误"));

    let res = sign_in(&app, "zhou.officer", PASSWORD).await;
    assert_eq!((res.status().as_u16(), res.headers()[LOCATION].to_str().ok()), (303, Some("/console/queue")));
    let cookie = session_cookie(&res);
    let res = get(&app, "/console/queue", Some(&cookie)).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.expect("page");
    assert!(page.contains(&format!("/console/applications/{app_id}")), "the case links to its page");
    assert!(page.contains(MOTHER) && page.contains("待审核"), "{page}");
    assert!(!page.contains("<span class=\"overdue\">"), "due in two working days: {page}");
    // A day later than its deadline, the case is marked overdue.
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    app.set_column("applications", "review_due_at", past, &format!("id = '{app_id}'")).await;
    let page = get(&app, "/console/queue", Some(&cookie)).await.text().await.expect("page");
    assert!(
        page.contains("<span class=\"overdue\">已逾期</span>")
            && page.contains("已逾期 <strong class=\"overdue\">1</strong> 件"),
        "{page}"
    );

    // Signing out needs the form's CSRF token; then the cookie no longer works.
    let without = app.client.post(app.url("/console/logout")).header(COOKIE, &cookie).form(&[("x", "")]).send().await;
    assert_eq!(without.expect("sent").status(), 403);
    assert_eq!(get(&app, "/console/queue", Some(&cookie)).await.status(), 200, "still signed in");
    let token = csrf_of(&page);
    let out = app
        .client
        .post(app.url("/console/logout"))
        .header(COOKIE, &cookie)
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(out.status(), 303);
    assert_eq!(get(&app, "/console/queue", Some(&cookie)).await.status(), 303, "signed out");
}

#[tokio::test]
async fn a_disabled_officer_or_a_forged_cookie_gets_the_sign_in_page() {
    let app = spawn_app().await;
    officer(&app, "wu.officer").await;
    let cookie = session_cookie(&sign_in(&app, "wu.officer", PASSWORD).await);
    assert_eq!(get(&app, "/console/queue", Some(&cookie)).await.status(), 200);
    assert_eq!(get(&app, "/console/queue", Some("bc_console=forged")).await.status(), 303);
    assert!(app.command(&["officer", "disable", "--username", "wu.officer"], None).success);
    assert_eq!(get(&app, "/console/queue", Some(&cookie)).await.status(), 303, "disabled: signed out at once");
    // The console's sign-in is the API's: the same limit per username.
    for _ in 0..app.state.settings.security.login_max_failures {
        sign_in(&app, "wu.officer", "wrong").await;
    }
    let res = sign_in(&app, "wu.officer", PASSWORD).await;
    assert_eq!(res.status(), 429);
    assert!(res.text().await.expect("page").contains("尝试次数过多"));
}

#[tokio::test]
async fn an_officer_approves_a_case_from_its_page_and_another_institution_cannot_open_it() {
    let app = spawn_app().await;
    app.stock("R370000600", "R370000602").await;
    officer(&app, "zheng.officer").await;
    app.officer_with_password("PY-ZYY", "feng.officer", PASSWORD, false).await.expect("officer");
    let (family, app_id) = app.submitted().await;
    let cookie = session_cookie(&sign_in(&app, "zheng.officer", PASSWORD).await);
    let path = format!("/console/applications/{app_id}");
    let res = get(&app, &path, Some(&cookie)).await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.expect("page");
    assert!(page.contains("待审核") && page.contains(MOTHER) && page.contains("审核通过并签发"), "{page}");
    assert!(!page.contains(&crate::helpers::mother_id()), "ID numbers are masked on the page");

    let approve = |token: Option<String>| {
        let app = &app;
        let (cookie, path) = (cookie.clone(), format!("{path}/approval"));
        async move {
            let mut form = vec![("certificate_number", String::new())];
            if let Some(t) = token {
                form.push(("csrf_token", t));
            }
            app.client.post(app.url(&path)).header(COOKIE, cookie).form(&form).send().await.expect("sent")
        }
    };
    assert_eq!(approve(None).await.status(), 403, "no CSRF token, no approval");
    assert_eq!(app.view(&family, &app_id).await["state"], "submitted");
    let res = approve(Some(csrf_of(&page))).await;
    let done = format!("{path}?done=approved");
    assert_eq!((res.status().as_u16(), res.headers()[LOCATION].to_str().ok()), (303, Some(done.as_str())));
    let page = get(&app, &path, Some(&cookie)).await.text().await.expect("page");
    assert!(page.contains("已签发") && page.contains("R370000600"), "{page}");
    assert_eq!(app.view(&family, &app_id).await["state"], "issued", "the family sees it");
    // Approving again is refused with the API's reason, on the page.
    let res = approve(Some(csrf_of(&page))).await;
    assert_eq!(res.status(), 409);
    let page = res.text().await.expect("page");
    assert!(page.contains("未能完成") && page.contains("wrong_state"), "{page}");

    let elsewhere = session_cookie(&sign_in(&app, "feng.officer", PASSWORD).await);
    assert_eq!(get(&app, &path, Some(&elsewhere)).await.status(), 404, "another institution's case, even with its URL");
}

#[tokio::test]
async fn each_role_reaches_only_its_pages_and_its_institution() {
    let app = spawn_app().await;
    officer(&app, "lu.officer").await;
    app.officer_with_password("PY-RMYY", "lu.admin", PASSWORD, true).await.expect("admin");
    app.officer_with_password("PY-ZYY", "ma.officer", PASSWORD, false).await.expect("officer elsewhere");
    let key = app.new_hospital_key("PY-ZYY").await.expect("key");
    let officer_cookie = session_cookie(&sign_in(&app, "lu.officer", PASSWORD).await);
    let admin_cookie = session_cookie(&sign_in(&app, "lu.admin", PASSWORD).await);

    // An officer is not an admin; an unknown console path is the console's own 404 page.
    let res = get(&app, "/console/admin/stock", Some(&officer_cookie)).await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.expect("page").contains("无权操作"));
    let res = get(&app, "/console/no-such-page", Some(&officer_cookie)).await;
    assert_eq!(res.status(), 404);
    assert!(res.headers()["content-type"].to_str().expect("type").starts_with("text/html"));
    // Absurd paging is a 400 page, not a 500.
    assert_eq!(get(&app, "/console/queue?page=99999999999999999", Some(&officer_cookie)).await.status(), 400);
    assert_eq!(get(&app, "/console/queue?state=nonsense", Some(&officer_cookie)).await.status(), 400);

    // An admin cannot touch another institution's officer or key: "unknown", nothing changed.
    let page = get(&app, "/console/admin/officers", Some(&admin_cookie)).await.text().await.expect("page");
    assert!(page.contains("lu.officer") && !page.contains("ma.officer"), "{page}");
    let csrf = csrf_of(&page);
    let post = |path: &str| {
        app.client.post(app.url(path)).header(COOKIE, &admin_cookie).form(&[("csrf_token", csrf.as_str())]).send()
    };
    assert_eq!(post("/console/admin/officers/ma.officer/disable").await.expect("sent").status(), 404);
    assert_eq!(sign_in(&app, "ma.officer", PASSWORD).await.status(), 303, "still signed in elsewhere");
    let keys = birthcert::services::staff::hospital_keys(&app.state.db, "PY-ZYY").await.expect("keys");
    assert_eq!(post(&format!("/console/admin/hospital-keys/{}/revoke", keys[0].id)).await.expect("sent").status(), 404);
    let keys = birthcert::services::staff::hospital_keys(&app.state.db, "PY-ZYY").await.expect("keys");
    assert!(keys.iter().all(|k| k.revoked_at.is_none()), "not revoked");
    // Nor disable their own account (they would lock themselves out).
    assert_eq!(post("/console/admin/officers/lu.admin/disable").await.expect("sent").status(), 409);

    // A hospital signs in with its key and sees only its pages.
    let res = hospital_sign_in(&app, "PY-ZYY", &key).await;
    assert_eq!(res.headers()[LOCATION], "/console/hospital/deliveries");
    let hospital = session_cookie(&res);
    assert_eq!(get(&app, "/console/queue", Some(&hospital)).await.status(), 403);
    assert_eq!(get(&app, "/console/hospital/deliveries", Some(&hospital)).await.status(), 200);
    let bad = hospital_sign_in(&app, "PY-RMYY", &key).await;
    assert_eq!(bad.status(), 401, "a key works only for its own institution");
    // Another institution's delivery record is not found.
    let delivery = app.seed_delivery(MOTHER, &crate::helpers::mother_id()).await;
    assert_eq!(get(&app, &format!("/console/hospital/deliveries/{delivery}"), Some(&hospital)).await.status(), 404);
}

/// Posts a console form with the session's cookie → the response.
async fn post_form(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    app.client.post(app.url(path)).header(COOKIE, cookie).form(form).send().await.expect("sent")
}

#[tokio::test]
async fn certificates_are_voided_reissued_and_recovered_and_modifications_decided_from_the_console() {
    let app = spawn_app().await;
    app.stock("R370000900", "R370000902").await;
    officer(&app, "tang.officer").await;
    let (family, app_id) = app.submitted().await;
    app.approve(&app_id, None).await;
    let tracking = app.ship(&app_id).await;
    app.courier(&tracking, serde_json::json!({"event": "delivered", "signed_by": MOTHER})).await;
    let cookie = session_cookie(&sign_in(&app, "tang.officer", PASSWORD).await);
    let case = format!("/console/applications/{app_id}");
    let page = get(&app, &case, Some(&cookie)).await.text().await.expect("page");
    let csrf = csrf_of(&page);

    // Void: the API's refusal without a reason, then the void and its new number.
    let void = "/console/certificates/R370000900/void";
    let res =
        post_form(&app, &cookie, void, &[("csrf_token", &csrf), ("application_id", &app_id), ("reason", "")]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.expect("page").contains("未能完成"));
    let reason = "出生地点打印错误";
    let form = [("csrf_token", csrf.as_str()), ("application_id", app_id.as_str()), ("reason", reason)];
    let res = post_form(&app, &cookie, void, &form).await;
    assert_eq!(res.headers()[LOCATION].to_str().expect("to"), format!("{case}?done=voided"));
    let page = get(&app, &case, Some(&cookie)).await.text().await.expect("page");
    assert!(page.contains("R370000901") && page.contains("已作废") && page.contains(reason), "{page}");
    // The voided one comes back.
    let recovery = "/console/certificates/R370000900/recovery";
    let res = post_form(&app, &cookie, recovery, &[("csrf_token", &csrf), ("application_id", &app_id)]).await;
    assert_eq!(res.status(), 303);
    assert!(get(&app, &case, Some(&cookie)).await.text().await.expect("page").contains("已收回"));
    // A certificate of another institution's number is not found, whatever case it names.
    let res = post_form(
        &app,
        &cookie,
        "/console/certificates/R999999999/recovery",
        &[("csrf_token", &csrf), ("application_id", &app_id)],
    )
    .await;
    assert_eq!(res.status(), 404);

    // A family's correction request, decided on the console's list.
    let (token, other) = app.documents_uploaded().await;
    let path = format!("/api/v1/applications/{other}/modification-requests");
    let items = serde_json::json!({"items": [{"field": "weight_g", "requested": "3350", "reason": "称重记录有误"}]});
    assert_eq!(app.send(reqwest::Method::POST, &path, &token, Some(items)).await.0, 201);
    let list = get(&app, "/console/modification-requests", Some(&cookie)).await.text().await.expect("page");
    let at = list.find("/console/modification-requests/").expect("a decision form")
        + "/console/modification-requests/".len();
    let request: String = list[at..].split('/').next().expect("id").to_string();
    let decide = format!("/console/modification-requests/{request}/decision");
    let res = post_form(&app, &cookie, &decide, &[("csrf_token", &csrf), ("approved", "true"), ("note", "")]).await;
    assert_eq!(res.status(), 409, "a decision needs its note");
    let res =
        post_form(&app, &cookie, &decide, &[("csrf_token", &csrf), ("approved", "true"), ("note", "已核对原始记录")])
            .await;
    assert_eq!(res.headers()[LOCATION].to_str().expect("to"), format!("/console/applications/{other}?done=decided"));
    let view = app.view(&token, &other).await;
    assert_eq!(view["state"], "documents_uploaded", "{view}");
    let res =
        post_form(&app, &cookie, &decide, &[("csrf_token", &csrf), ("approved", "false"), ("note", "again")]).await;
    assert_eq!(res.status(), 409, "decided once");
    assert_eq!(app.view(&family, &app_id).await["state"], "issued");
}

#[tokio::test]
async fn a_hospital_corrects_its_record_until_an_application_froze_it() {
    let app = spawn_app().await;
    let key = app.new_hospital_key("PY-RMYY").await.expect("key");
    let res = hospital_sign_in(&app, "PY-RMYY", &key).await;
    let cookie = session_cookie(&res);
    let (_, app_id) = app.documents_uploaded().await;
    let delivery = app.state.db.clone();
    let delivery = birthcert::persistence::applications::application(&delivery, &app_id)
        .await
        .expect("read")
        .expect("app")
        .delivery_id;
    let path = format!("/console/hospital/deliveries/{delivery}");
    let page = get(&app, &path, Some(&cookie)).await.text().await.expect("page");
    assert!(page.contains(&format!("value=\"{}\"", crate::helpers::mother_id())), "the hospital's own entry, in full");
    let csrf = csrf_of(&page);
    // The form as shown, with one field changed.
    let field = |name: &str| {
        let at = page.find(&format!("name=\"{name}\"")).expect(name);
        let rest = &page[at..];
        let v = rest.find("value=\"").expect("value") + 7;
        rest[v..].split('"').next().expect("end").to_string()
    };
    let mut form: Vec<(String, String)> = [
        "mother_name",
        "mother_id_number",
        "birth_at",
        "birth_place",
        "gestational_weeks",
        "length_cm",
        "midwife_name",
    ]
    .iter()
    .map(|n| (n.to_string(), field(n)))
    .collect();
    form.extend([
        ("mother_id_type".into(), "resident_id".into()),
        ("baby_sex".into(), "female".into()),
        ("health_status".into(), "good".into()),
        ("weight_g".into(), "3450".into()),
        ("csrf_token".into(), csrf.clone()),
    ]);
    let res = app.client.post(app.url(&path)).header(COOKIE, &cookie).form(&form).send().await.expect("sent");
    assert_eq!(res.headers()[LOCATION], "/console/hospital/deliveries?saved=1");
    assert!(get(&app, &path, Some(&cookie)).await.text().await.expect("page").contains("value=\"3450\""));

    // Once the family confirmed the form, the record is frozen: refused with the API's reason.
    let app_state_form = app.ready_to_pay().await;
    let frozen = birthcert::persistence::applications::application(&app.state.db, &app_state_form.1)
        .await
        .expect("read")
        .expect("app")
        .delivery_id;
    let path = format!("/console/hospital/deliveries/{frozen}");
    let res = app.client.post(app.url(&path)).header(COOKIE, &cookie).form(&form).send().await.expect("sent");
    assert_eq!(res.status(), 409);
    assert!(res.text().await.expect("page").contains("form_frozen"));
}

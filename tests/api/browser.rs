//! The console in a real headless Chromium, as officers, admins and hospitals use it: typing,
//! clicking, answering "are you sure?". Screenshots of the main pages land in
//! `target/console-screenshots/` (and in `docs/console/` through `scripts/screenshots`).

use serde_json::json;

use crate::helpers::{mother_id, spawn_app, TestApp, MOTHER};

const PASSWORD: &str = "console password 1";

async fn account(app: &TestApp, institution: &str, username: &str, admin: bool) {
    app.officer_with_password(institution, username, PASSWORD, admin).await.expect("account");
}

/// The parent's messages the mock platform received, as their template ids.
async fn templates_sent(app: &TestApp) -> Vec<String> {
    app.drain_outbox().await;
    let sent = app.mock_get("/_mock/messages").await;
    sent.as_array().expect("list").iter().filter_map(|m| m["template_id"].as_str().map(str::to_string)).collect()
}

#[tokio::test]
async fn an_officer_signs_in_and_walks_a_case_through_approval_printing_and_the_courier() {
    let app = spawn_app().await;
    app.stock("R370000700", "R370000701").await;
    account(&app, "PY-RMYY", "zhou.officer", false).await;
    account(&app, "PY-ZYY", "feng.officer", false).await;
    let (family, app_id) = app.submitted().await;
    // Due at the end of today (China time): the queue marks it as the day's work.
    let today = birthcert::domain::working_days::to_china(chrono::Utc::now()).date_naive();
    let tonight =
        birthcert::domain::working_days::china_midnight(today + chrono::Days::new(1)) - chrono::Duration::minutes(1);
    app.set_column("applications", "review_due_at", tonight, &format!("id = '{app_id}'")).await;
    let b = app.browser().await;

    // Signed out, the console opens on its sign-in page; a wrong password is refused there.
    b.goto("/console/").await;
    assert_eq!(b.path().await, "/console/login");
    b.screenshot("login").await;
    b.sign_in("zhou.officer", "not the password").await;
    assert_eq!(b.path().await, "/console/login");
    assert!(b.text().await.contains("用户名或密码错误"));
    b.sign_in("zhou.officer", PASSWORD).await;
    assert_eq!(b.path().await, "/console/queue", "{}", b.text().await);
    let queue = b.text().await;
    assert!(queue.contains("待审核") && queue.contains(MOTHER), "{queue}");
    assert_eq!(b.text_of("table.cases span.due-today").await, "今日到期");
    b.screenshot("queue").await;

    // From the queue to the case.
    b.follow(&format!("a[href='/console/applications/{app_id}']")).await;
    assert_eq!(b.path().await, format!("/console/applications/{app_id}"));
    let page = b.text().await;
    assert!(page.contains(MOTHER) && page.contains("待审核") && page.contains("审核通过并签发"), "{page}");
    assert!(!page.contains(&mother_id()), "ID numbers are masked until shown");
    // The ID images and the signature load in the page (each an audited read).
    let loaded = b
        .client
        .execute("return [...document.images].filter(i => i.complete && i.naturalWidth > 0).length", vec![])
        .await
        .expect("images");
    assert!(loaded.as_u64().unwrap_or(0) >= 5, "four ID images and the signature: {loaded}");
    b.screenshot("case").await;
    b.submit("#unmask").await;
    assert!(b.text().await.contains(&mother_id()), "shown on request");
    let audit =
        birthcert::persistence::audit::entries_about(&app.state.db, "application", &app_id).await.expect("audit");
    assert!(audit.iter().any(|e| e.action == "show_unmasked"), "the show is in the audit log");

    // A form posted without its CSRF token is refused, and nothing happens.
    b.goto(&format!("/console/applications/{app_id}")).await;
    b.client
        .execute("document.querySelector('form[action$=\"/approval\"] input[name=csrf_token]').remove()", vec![])
        .await
        .expect("script");
    b.submit_and_confirm("#approve").await;
    assert!(b.text().await.contains("无权操作"));
    assert_eq!(app.view(&family, &app_id).await["state"], "submitted");

    // Approval takes the next blank.
    b.goto(&format!("/console/applications/{app_id}")).await;
    b.submit_and_confirm("#approve").await;
    let page = b.text().await;
    assert!(page.contains("已审核通过") && page.contains("R370000700"), "{page}");
    assert_eq!(app.view(&family, &app_id).await["state"], "issued");

    // The registration form prints as a PDF.
    let href = b.find("#print-form").await.attr("href").await.expect("attr").expect("href");
    let (status, content_type, body) = b.fetch(&href).await;
    assert_eq!((status, content_type.as_str()), (200, "application/pdf"));
    assert!(body.starts_with("%PDF"));

    // The certificate prints with its stub; the stamp is recorded by the seal keeper only.
    let href = b.find("a.print-certificate").await.attr("href").await.expect("attr").expect("href");
    let (status, content_type, body) = b.fetch(&href).await;
    assert_eq!((status, content_type.as_str(), body.starts_with("%PDF")), (200, "application/pdf", true));
    b.submit_and_confirm("button.seal").await;
    assert!(b.text().await.contains("not_seal_keeper"));
    let keeper = birthcert::services::staff::By::Operator;
    birthcert::services::staff::set_seal_keeper(&app.state.db, keeper, "zhou.officer", true).await.expect("keeper");
    b.goto(&format!("/console/applications/{app_id}")).await;
    b.submit_and_confirm("button.seal").await;
    assert!(b.text().await.contains("已记录盖章"));

    // The courier is booked; the tracking number shows on the case.
    b.submit_and_confirm("#ship").await;
    assert!(b.text().await.contains("已预约快递"));
    let shipment = b.text_of("#shipment").await;
    assert!(!shipment.trim().is_empty(), "carrier and tracking number");
    assert_eq!(app.view(&family, &app_id).await["state"], "shipped");
    let sent = templates_sent(&app).await;
    for template in ["TPL_SUBMITTED", "TPL_ISSUED", "TPL_SHIPPED"] {
        assert!(sent.iter().any(|t| t == template), "{template} reached the parent: {sent:?}");
    }

    // An officer of another institution cannot open the case, even with its URL.
    b.submit("header form[action='/console/logout'] button").await;
    b.sign_in("feng.officer", PASSWORD).await;
    b.goto(&format!("/console/applications/{app_id}")).await;
    assert!(b.text().await.contains("找不到"));
    b.close().await;
}

#[tokio::test]
async fn an_officer_returns_a_case_with_reasons_the_parent_sees_them_and_it_goes_to_the_counter() {
    let app = spawn_app().await;
    account(&app, "PY-RMYY", "qian.officer", false).await;
    let (family, app_id) = app.submitted().await;
    let b = app.browser().await;
    b.sign_in("qian.officer", PASSWORD).await;
    b.goto(&format!("/console/applications/{app_id}")).await;
    b.click("input[name=reasons][value=id_image_unclear]").await;
    b.fill("input[name=message]", "父亲身份证国徽面反光，请在光线均匀处重拍。").await;
    b.click("input[name=redo_documents][value=father_id_back]").await;
    b.submit_and_confirm("#return").await;
    assert!(b.text().await.contains("已退回"));

    let view = app.view(&family, &app_id).await;
    assert_eq!(view["state"], "returned");
    let reasons = view["return_reasons"].to_string();
    assert!(reasons.contains("身份证照片不清晰") && reasons.contains("国徽面反光"), "{reasons}");
    let sent = templates_sent(&app).await;
    assert!(sent.iter().any(|t| t == "TPL_RETURNED"), "{sent:?} {}", app.mock_get("/_mock/messages").await);

    // A returned case can still go to the counter instead: the console asks, then it is final.
    b.goto(&format!("/console/applications/{app_id}")).await;
    b.fill("input[name=reason]", "父亲为外籍人士，需到窗口核验护照").await;
    b.submit_and_confirm("#refer").await;
    assert!(b.text().await.contains("已转窗口办理"));
    assert_eq!(app.view(&family, &app_id).await["state"], "referred");

    // Searching by the mother's name finds the case.
    b.goto("/console/queue").await;
    b.fill("header input[name=q]", MOTHER).await;
    b.submit("header form[action='/console/search'] button").await;
    assert!(b
        .find(&format!("a[href='/console/applications/{app_id}']"))
        .await
        .text()
        .await
        .expect("t")
        .contains(MOTHER));
    b.screenshot("search").await;
    b.close().await;
}

#[tokio::test]
async fn an_admin_receives_stock_sees_the_dashboard_and_downloads_a_register() {
    let app = spawn_app().await;
    account(&app, "PY-RMYY", "sun.admin", true).await;
    let b = app.browser().await;
    b.sign_in("sun.admin", PASSWORD).await;
    b.goto("/console/admin/stock").await;
    b.fill("input[name=first]", "R370000800").await;
    b.fill("input[name=last]", "R370000804").await;
    b.submit_and_confirm("#receive").await;
    assert!(b.text().await.contains("已入库"));
    assert_eq!(b.text_of("#stock-left").await, "5");
    assert_eq!(b.text_of("#stock-next").await, "R370000800");
    b.screenshot("stock").await;
    // A range that overlaps what is there is refused with the API's reason.
    b.fill("input[name=first]", "R370000804").await;
    b.fill("input[name=last]", "R370000806").await;
    b.submit_and_confirm("#receive").await;
    assert!(b.text().await.contains("未能完成"));
    assert_eq!(b.text_of("#stock-left").await, "5");

    // A case issued today is in the register; its CSV downloads.
    let (_, app_id) = app.submitted().await;
    assert_eq!(app.approve(&app_id, None).await.0, 200);
    b.goto("/console/admin/registers").await;
    assert!(b.text().await.contains("R370000800"));
    b.screenshot("registers").await;
    let href = b.find("#first-issuance-csv").await.attr("href").await.expect("attr").expect("href");
    let (status, content_type, csv) = b.fetch(&href).await;
    assert_eq!((status, content_type.as_str()), (200, "text/csv; charset=utf-8"));
    let mut lines = csv.trim_start_matches('\u{feff}').lines();
    assert!(lines.next().expect("header").starts_with("certificate_number,application_id"));
    assert!(lines.next().expect("a row").starts_with(&format!("R370000800,{app_id}")));

    // The dashboard: counts per state, a bar per day for 30 days, today's application on it.
    b.goto("/console/admin").await;
    let bars = b.client.execute("return document.querySelectorAll('svg rect.day').length", vec![]).await.expect("js");
    assert_eq!(bars, json!(30));
    let today = b
        .client
        .execute("const r = document.querySelectorAll('svg rect.day'); return r[r.length - 1].dataset.count", vec![])
        .await
        .expect("js");
    assert_eq!(today, json!("1"));
    assert!(b.text().await.contains("已签发"));
    b.screenshot("dashboard").await;

    // A new officer; a hospital key shown once.
    b.goto("/console/admin/officers").await;
    b.fill("form[action='/console/admin/officers'] input[name=username]", "li.new").await;
    b.fill("form[action='/console/admin/officers'] input[name=password]", "a fresh password 1").await;
    b.click("form[action='/console/admin/officers'] input[name=can_seal]").await;
    b.submit("form[action='/console/admin/officers'] button").await;
    assert!(b.text().await.contains("li.new"));
    let keeper = birthcert::persistence::staff::find_officer_by_username(&app.state.db, "li.new").await.expect("read");
    assert!(keeper.is_some_and(|o| o.can_seal && !o.is_admin), "a seal keeper, not an admin");
    b.goto("/console/admin/hospital-keys").await;
    b.submit("#new-key-button").await;
    let key = b.text_of("#new-key").await;
    assert!(key.len() >= 32, "{key}");
    b.goto("/console/admin/hospital-keys").await;
    assert!(!b.text().await.contains(&key), "shown once only");
    b.close().await;
}

#[tokio::test]
async fn a_hospital_enters_a_delivery_sees_the_one_bad_field_and_corrects_it() {
    let app = spawn_app().await;
    let key = app.new_hospital_key("PY-RMYY").await.expect("key");
    let b = app.browser().await;
    b.goto("/console/login").await;
    b.fill("input[name=institution_code]", "PY-RMYY").await;
    b.fill("input[name=api_key]", &key).await;
    b.submit("#hospital-sign-in").await;
    assert_eq!(b.path().await, "/console/hospital/deliveries");

    b.goto("/console/hospital/deliveries/new").await;
    b.fill("#mother_name", "韩雪梅").await;
    b.fill("#mother_id_number", &mother_id()).await;
    b.click("#baby_sex option[value=female]").await;
    let birth = (chrono::Utc::now() - chrono::Duration::hours(3))
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("+8"));
    b.client
        .execute(
            "document.getElementById('birth_at').value = arguments[0]",
            vec![json!(birth.format("%Y-%m-%dT%H:%M").to_string())],
        )
        .await
        .expect("js");
    b.fill("#birth_place", "平阴县人民医院").await;
    b.fill("#gestational_weeks", "39").await;
    b.fill("#weight_g", "33000").await;
    b.fill("#length_cm", "50").await;
    b.fill("#midwife_name", "刘芳").await;
    b.submit("#save").await;
    assert_eq!(b.text_of("#weight_g-error").await, "超出合理范围，请核对。");
    assert_eq!(b.client.find_all(fantoccini::Locator::Css(".field-error")).await.expect("errors").len(), 1);
    b.screenshot("hospital-delivery").await;
    // What was typed is kept; only the bad field needs fixing.
    b.fill("#weight_g", "3300").await;
    b.submit("#save").await;
    assert_eq!(b.path().await, "/console/hospital/deliveries?saved=1");
    assert!(b.text().await.contains("韩雪梅"));
    b.close().await;
}

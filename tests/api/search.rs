//! The officer's one search box (`GET /api/v1/officer/search?q=`): a parent's name, an ID number,
//! a certificate number, a tracking number or a case reference finds the case — only within the
//! officer's institution, and every search is in the audit log without the term itself.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{father_id, mother_id, parents, spawn_app, TestApp, FATHER_NAME, MOTHER};

async fn search(app: &TestApp, token: &str, q: &str) -> (u16, Value) {
    let url = reqwest::Url::parse_with_params(&app.url("/api/v1/officer/search"), &[("q", q)]).expect("url");
    let res = app.client.get(url).bearer_auth(token).send().await.expect("sent");
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn one_box_finds_a_case_by_name_id_certificate_tracking_number_or_reference() {
    let app = spawn_app().await;
    app.stock("R370000700", "R370000705").await;
    let (_, app_id) = app.submitted().await;
    let (_, approved) = app.approve(&app_id, None).await;
    let certificate = approved["certificate_number"].as_str().expect("number").to_string();
    let tracking = app.ship(&app_id).await;
    // Another case of the same institution that must not come up.
    let (_, other) = app.documents_uploaded().await;
    let officer = app.officer_token("PY-RMYY");

    let lower_x = mother_id().to_lowercase();
    let spaced = format!("{} {}", &father_id()[..6], &father_id()[6..]);
    for (q, read_as) in [
        (MOTHER, "name"),
        (FATHER_NAME, "name"),
        (lower_x.as_str(), "code"),
        (spaced.as_str(), "code"),
        (certificate.as_str(), "code"),
        (tracking.as_str(), "code"),
        (app_id.as_str(), "case_reference"),
    ] {
        let (status, found) = search(&app, &officer, q).await;
        assert_eq!((status, found["read_as"].as_str()), (200, Some(read_as)), "{q}: {found}");
        let ids: Vec<&str> =
            found["items"].as_array().expect("items").iter().filter_map(|i| i["id"].as_str()).collect();
        assert!(ids.contains(&app_id.as_str()), "{q} finds the case: {found}");
        if q != MOTHER && q != FATHER_NAME && q != lower_x && q != spaced {
            assert_eq!(ids, [app_id.as_str()], "{q} finds only it");
        }
        assert_eq!(found["items"][0]["mother_name"], MOTHER);
    }
    // Both cases share the test parents: a name finds both.
    let (_, by_name) = search(&app, &officer, MOTHER).await;
    assert_eq!(by_name["items"].as_array().map(Vec::len), Some(2), "{by_name}");
    assert!(by_name["items"].as_array().expect("items").iter().any(|i| i["id"] == other.as_str()));
    // Newest first, and at most the limit: the two newest of three when two are asked for.
    let (_, newest) = app.documents_uploaded().await;
    let (_, by_name) = search(&app, &officer, MOTHER).await;
    let order: Vec<&str> =
        by_name["items"].as_array().expect("items").iter().filter_map(|i| i["id"].as_str()).collect();
    assert_eq!(order, [newest.as_str(), other.as_str(), app_id.as_str()], "{by_name}");
    use birthcert::persistence::search::{search as find, SearchKeys};
    let keys = SearchKeys { name: Some(MOTHER), ..SearchKeys::default() };
    let two: Vec<String> =
        find(&app.state.db, "PY-RMYY", &keys, 2).await.expect("search").into_iter().map(|a| a.id).collect();
    assert_eq!(two, [newest.clone(), other.clone()]);

    // Nothing of it for another institution's officer, whatever the term.
    let elsewhere = app.officer_token("PY-ZYY");
    for q in [MOTHER, certificate.as_str(), tracking.as_str(), app_id.as_str(), lower_x.as_str()] {
        let (status, found) = search(&app, &elsewhere, q).await;
        assert_eq!((status, found["items"].as_array().map(Vec::len)), (200, Some(0)), "{q}: {found}");
    }
    // Nothing found is an empty list, not an error.
    let (status, found) = search(&app, &officer, "王小二").await;
    assert_eq!((status, found["items"].as_array().map(Vec::len)), (200, Some(0)));

    // Every search is audited, without the term.
    let entries =
        birthcert::persistence::audit::entries_about(&app.state.db, "institution", "PY-RMYY").await.expect("audit");
    let searches: Vec<_> = entries.iter().filter(|e| e.action == "search").collect();
    assert_eq!(searches.len(), 10);
    assert!(searches.iter().all(|e| !e.detail.contains(&mother_id()) && !e.detail.contains(MOTHER)), "{searches:?}");
}

#[tokio::test]
async fn absurd_terms_and_other_roles_are_refused() {
    let app = spawn_app().await;
    let officer = app.officer_token("PY-RMYY");
    for q in ["", "   ", &"9".repeat(65), "a' OR '1'='1", "%", "R37*"] {
        let (status, body) = search(&app, &officer, q).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("invalid_search")), "{q:?}: {body}");
    }
    let res = app.client.get(app.url("/api/v1/officer/search")).bearer_auth(&officer).send().await.expect("sent");
    assert_eq!(res.status(), 400, "q is required");
    let (status, _) = search(&app, &app.hospital_token("PY-RMYY"), MOTHER).await;
    assert_eq!(status, 403);
    let entries =
        birthcert::persistence::audit::entries_about(&app.state.db, "institution", "PY-RMYY").await.expect("audit");
    assert!(entries.iter().all(|e| e.action != "search"), "a refused search reads nothing");
}

/// The ids a name finds, newest first.
async fn found_by(app: &TestApp, token: &str, name: &str) -> Vec<String> {
    let (status, found) = search(app, token, name).await;
    assert_eq!(status, 200, "{found}");
    found["items"].as_array().expect("items").iter().filter_map(|i| i["id"].as_str().map(str::to_string)).collect()
}

#[tokio::test]
async fn a_name_finds_the_case_by_the_names_it_has_now() {
    let app = spawn_app().await;
    let officer = app.officer_token("PY-RMYY");
    let (token, app_id) = app.application_with_parents().await;
    let mine = vec![app_id.clone()];
    assert_eq!(found_by(&app, &officer, FATHER_NAME).await, mine);

    // The family corrects the father's name before confirming: the old name no longer finds it.
    let mut corrected = parents(&mother_id(), "resident_id", &father_id());
    corrected["father"]["name"] = json!("张维");
    let path = format!("/api/v1/applications/{app_id}/parents");
    let (status, body) = app.send(Method::PUT, &path, &token, Some(corrected.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert!(found_by(&app, &officer, FATHER_NAME).await.is_empty());
    assert_eq!(found_by(&app, &officer, "张维").await, mine);
    // The same parents given again change nothing.
    let (status, _) = app.send(Method::PUT, &path, &token, Some(corrected)).await;
    assert_eq!(status, 200);
    assert_eq!(found_by(&app, &officer, "张维").await, mine);

    // The hospital corrects the mother's name on its record: found by the recorded name and, as
    // long as the family's form says so, by the name the family entered.
    let (_, detail) = app.send(Method::GET, &format!("/api/v1/officer/applications/{app_id}"), &officer, None).await;
    let delivery = detail["delivery"]["id"].as_str().expect("delivery id");
    let record = json!({
        "mother_name": "李玫", "mother_id_type": "resident_id", "mother_id_number": mother_id(),
        "baby_sex": "female", "birth_at": (chrono::Utc::now() - chrono::Duration::days(3)).to_rfc3339(),
        "birth_place": "平阴县人民医院", "gestational_weeks": 39, "weight_g": 3300, "length_cm": 50,
        "health_status": "good", "midwife_name": "王芳"
    });
    let hospital = app.hospital_token("PY-RMYY");
    let (status, body) =
        app.send(Method::PUT, &format!("/api/v1/hospital/deliveries/{delivery}"), &hospital, Some(record)).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(found_by(&app, &officer, "李玫").await, mine);
    assert_eq!(found_by(&app, &officer, MOTHER).await, mine, "the form's mother");

    // Migrated from the data already there (the names are filled from the parents and the
    // records by migration 16), the search answers the same. Down past it (and the queue's index
    // after it), then up again.
    use migrations::MigratorTrait;
    migrations::Migrator::down(&app.state.db, Some(2)).await.expect("down");
    migrations::Migrator::up(&app.state.db, None).await.expect("up");
    for name in [MOTHER, "李玫", "张维"] {
        assert_eq!(found_by(&app, &officer, name).await, mine, "{name}");
    }
    assert!(found_by(&app, &officer, FATHER_NAME).await.is_empty());
}

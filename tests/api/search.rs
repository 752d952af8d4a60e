//! The officer's one search box (`GET /api/v1/officer/search?q=`): a parent's name, an ID number,
//! a certificate number, a tracking number or a case reference finds the case — only within the
//! officer's institution, and every search is in the audit log without the term itself.

use serde_json::Value;

use crate::helpers::{father_id, mother_id, spawn_app, TestApp, FATHER_NAME, MOTHER};

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

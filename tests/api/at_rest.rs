//! Personal data at rest: every uploaded image and the frozen registration form are sealed under
//! the data key, read back whole, and survive a change of key (`birthcert crypto rotate`).

use base64::Engine;
use birthcert::blobs::BlobStore;
use birthcert::crypto::{Field, PersonalDataCipher, Sealed};
use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use sha2::{Digest, Sha256};

use crate::helpers::{config_dir, mother_id, png, spawn_app, TestApp};

/// Every image file the service keeps.
fn stored_files(app: &TestApp) -> Vec<(String, Vec<u8>)> {
    let dir = app.database.dir.path().join("blobs");
    let mut files = Vec::new();
    for shard in std::fs::read_dir(&dir).expect("blobs dir").filter_map(Result::ok) {
        if shard.file_name() == "tmp" {
            continue;
        }
        for file in std::fs::read_dir(shard.path()).expect("shard").filter_map(Result::ok) {
            let name = file.file_name().to_string_lossy().to_string();
            files.push((name, std::fs::read(file.path()).expect("file")));
        }
    }
    files.sort();
    files
}

async fn texts(app: &TestApp, sql: &str) -> Vec<String> {
    let db = &app.state.db;
    let rows = db.query_all(Statement::from_string(db.get_database_backend(), sql)).await.expect("query");
    rows.into_iter().map(|r| r.try_get_by_index::<String>(0).expect("text")).collect()
}

async fn officer_document(app: &TestApp, app_id: &str, kind: &str) -> Vec<u8> {
    let res = app
        .client
        .get(app.url(&format!("/api/v1/officer/applications/{app_id}/documents/{kind}")))
        .bearer_auth(app.officer_token("PY-RMYY"))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200);
    res.bytes().await.expect("bytes").to_vec()
}

#[tokio::test]
async fn no_image_and_no_registration_form_is_stored_in_clear_and_each_reads_back_whole() {
    let app = spawn_app().await;
    let (_, app_id) = app.submitted().await;
    let files = stored_files(&app);
    assert!(!files.is_empty(), "the ID images and the signature");
    for (name, bytes) in &files {
        assert!(image::load_from_memory(bytes).is_err(), "{name} decodes as an image on disk");
        assert!(bytes.starts_with(b"BCS1"), "{name} is not sealed");
    }
    // The officer sees the image as it was uploaded.
    assert_eq!(officer_document(&app, &app_id, "mother_id_front").await, png());
    let forms = texts(&app, "SELECT form_snapshot FROM applications").await;
    assert_eq!(forms.len(), 1);
    assert!(forms[0].starts_with("sealed:v1:") && !forms[0].contains(&mother_id()), "{}", forms[0]);
    let (_, detail) = app
        .send(Method::GET, &format!("/api/v1/officer/applications/{app_id}"), &app.officer_token("PY-RMYY"), None)
        .await;
    assert_eq!(detail["form"]["mother"]["id_number"], mother_id().as_str(), "the officer reads it opened");
}

#[tokio::test]
async fn a_new_data_key_is_rotated_in_without_losing_a_number_an_image_or_a_form() {
    let app = spawn_app().await;
    let (token, app_id) = app.submitted().await;
    let old_key_id = app.state.cipher.current_key_id().to_string();
    let form_path = format!("/api/v1/applications/{app_id}/registration-form");
    let (_, before) = app.send(Method::GET, &form_path, &token, None).await;
    let digest = before["form_digest"].as_str().expect("digest").to_string();

    // What an older deployment left: one image and the form in clear. Both still read.
    let (clear_name, _) = stored_files(&app).into_iter().next().expect("a file");
    let clear = app.state.blobs.read(&clear_name).await.expect("opens");
    let path = app.state.blobs.dir().join(&clear_name[..2]).join(&clear_name);
    std::fs::write(&path, &clear).expect("written in clear");
    let stored_form = texts(&app, "SELECT form_snapshot FROM applications").await.remove(0);
    let clear_form = app.state.cipher.open_form(&stored_form).expect("opens");
    app.set_column("applications", "form_snapshot", clear_form.clone(), "form_snapshot IS NOT NULL").await;
    assert_eq!(app.state.blobs.read(&clear_name).await.expect("a clear file reads"), clear);
    let (status, form) = app.send(Method::GET, &form_path, &token, None).await;
    assert_eq!((status, form["form_digest"].as_str()), (200, Some(digest.as_str())), "a clear form reads");

    // A new key, the old one kept for reading.
    let new_key = [42u8; 32];
    let b64 = |k: &[u8]| base64::engine::general_purpose::STANDARD.encode(k);
    let settings =
        birthcert::config::Settings::load_from(&config_dir(), birthcert::config::Environment::Test).expect("settings");
    let old_key = secrecy::ExposeSecret::expose_secret(&settings.crypto.data_key).to_string();
    let previous = format!(r#"[{{"id":"{old_key_id}","key":"{old_key}"}}]"#);
    let new_env = [
        ("BIRTHCERT__CRYPTO__DATA_KEY", b64(&new_key)),
        ("BIRTHCERT__CRYPTO__DATA_KEY_ID", "k-2027".to_string()),
        ("BIRTHCERT__CRYPTO__PREVIOUS_DATA_KEYS", previous),
    ];
    let env: Vec<(&str, &str)> = new_env.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // Without the old key nothing can be re-sealed, and nothing is changed.
    let out = app.command_with(&["crypto", "rotate"], &env[..2]);
    assert!(!out.success && out.stderr.contains("does not open"), "{}", out.stderr);
    let out = app.command_with(&["crypto", "rotate"], &env);
    assert!(out.success, "{}", out.stderr);
    assert!(out.stderr.contains("k-2027"), "{}", out.stderr);
    let out = app.command_with(&["crypto", "rotate"], &env);
    assert!(out.stderr.contains("0 values and 0 images re-sealed"), "a second run has nothing to do: {}", out.stderr);

    // From now on the new key alone opens everything.
    let index_key = [0u8; 32]; // blind indexes are not read here
    let only_new = PersonalDataCipher::new("k-2027", &new_key, index_key);
    for (name, bytes) in stored_files(&app) {
        assert!(bytes.starts_with(b"BCS1\x06k-2027"), "{name} under the new key");
        let opened = BlobStore::new(app.state.blobs.dir(), only_new.clone()).read(&name).await.expect("opens");
        assert_eq!(hex::encode(Sha256::digest(&opened)), name);
    }
    let ids = texts(&app, "SELECT id_number_key_id || ' ' || id_number_enc FROM parents").await;
    assert_eq!(ids.len(), 2);
    let mut opened: Vec<String> = ids
        .iter()
        .map(|row| {
            let (key_id, ciphertext) = row.split_once(' ').expect("row");
            let sealed = Sealed { key_id: key_id.into(), ciphertext: ciphertext.into() };
            only_new.open(Field::IdNumber, &sealed).expect("opens with the new key")
        })
        .collect();
    opened.sort();
    assert!(opened.contains(&mother_id()));
    let form = texts(&app, "SELECT form_snapshot FROM applications").await.remove(0);
    let form = only_new.open_form(&form).expect("the form opens with the new key");
    assert_eq!(form, clear_form);
    assert_eq!(hex::encode(Sha256::digest(form.as_bytes())), digest, "the digest did not change");
    let entries = birthcert::persistence::audit::entries_about(&app.state.db, "data_key", "k-2027").await.expect("a");
    assert_eq!(entries.iter().filter(|e| e.action == "crypto.rotated").count(), 2);
}

//! Backup and restore: a copy taken while the service serves, the originals destroyed, the
//! copy put back into an empty database and image directory, every case and image found intact
//! and the audit chain verified; a damaged copy or a target that holds data is refused.

use birthcert::backup;
use birthcert::persistence::{self, applications, documents};
use secrecy::SecretString;

use crate::helpers::{spawn_app, TestDatabase};

/// Every case's current images, by case: (application id, [(kind, sha256)]).
async fn cases(db: &persistence::Db, ids: &[String]) -> Vec<(String, String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    for id in ids {
        let app = applications::application(db, id).await.expect("read").expect("the case is there");
        let docs = documents::current_documents(db, id).await.expect("documents");
        out.push((app.id, app.state.as_str().to_string(), docs.into_iter().map(|d| (d.kind, d.sha256)).collect()));
    }
    out
}

#[tokio::test]
async fn a_backup_restores_every_case_and_image_after_the_originals_are_destroyed() {
    let app = spawn_app().await;
    app.stock("R370000800", "R370000809").await;
    let (_t, first) = app.submitted().await;
    let (_t, second) = app.submitted().await;
    app.approve(&second, None).await;
    let ids = vec![first.clone(), second.clone()];
    let before = cases(&app.state.db, &ids).await;
    let blobs = birthcert::blobs::BlobStore::new(app.state.settings.blobs.dir.clone(), app.state.cipher.clone());
    let image = before[0].2[0].1.clone();
    let image_bytes = blobs.read(&image).await.expect("the image reads");
    birthcert::audit_anchor::AnchorFile::new(app.state.settings.audit.anchor_file.clone())
        .anchor_now(&app.state.db)
        .await
        .expect("anchored");

    let out = tempfile::tempdir().expect("dir");
    let copy = out.path().join("backup");
    let manifest = backup::backup(&app.state.settings, &copy).await.expect("backed up while serving");
    assert_eq!(manifest.applications, 2);
    assert!(manifest.files.iter().any(|f| f.path.starts_with("blobs/") && f.path.ends_with(&image)));
    assert!(manifest.files.iter().any(|f| f.path == "audit-anchors.log"));
    assert!(manifest.files.iter().all(|f| f.sha256.len() == 64));
    assert!(backup::backup(&app.state.settings, &copy).await.is_err(), "never into a directory that holds one");

    // The originals are gone: the images, and (in effect) the database — the copy goes into a
    // new, empty one.
    std::fs::remove_dir_all(&app.state.settings.blobs.dir).expect("images destroyed");
    assert!(blobs.read(&image).await.is_err());
    let target = TestDatabase::create().await;
    let mut settings = (*app.state.settings).clone();
    settings.database.url = SecretString::from(target.url.clone());
    settings.blobs.dir = target.dir.path().join("blobs");
    settings.audit.anchor_file = target.dir.path().join("anchors.log");

    let restored = backup::restore(&settings, &copy, false).await.expect("restored");
    assert_eq!(restored.applications, 2);
    // Images are stored once per content (the test's ID photos are one picture).
    let images_in_copy = manifest.files.iter().filter(|f| f.path.starts_with("blobs/")).count();
    assert_eq!(restored.images, images_in_copy);
    assert!(images_in_copy >= 2, "the ID images and the signature");
    assert!(restored.audit_entries > 0);
    let db = persistence::connect(&settings).await.expect("connect");
    assert_eq!(cases(&db, &ids).await, before, "every case as it was, with its images");
    let restored_blobs = birthcert::blobs::BlobStore::new(settings.blobs.dir.clone(), app.state.cipher.clone());
    for (_, _, docs) in &before {
        for (_, sha) in docs {
            assert!(restored_blobs.read(sha).await.is_ok(), "image {sha} readable");
        }
    }
    assert_eq!(restored_blobs.read(&image).await.expect("reads"), image_bytes);
    let certificates = persistence::certificates::certificates_of(&db, &second).await.expect("certificates");
    assert_eq!(certificates.len(), 1);
    db.close().await.expect("closed");

    // Into a database that now holds the cases: refused without --replace, accepted with it.
    let err = backup::restore(&settings, &copy, false).await.expect_err("refused");
    assert!(err.to_string().contains("--replace"), "{err}");
    backup::restore(&settings, &copy, true).await.expect("replaced");

    // A damaged copy is refused before anything is touched, naming the file.
    let damaged = copy.join("blobs").join(&image[..2]).join(&image);
    let mut bytes = std::fs::read(&damaged).expect("read");
    bytes[0] ^= 1;
    std::fs::write(&damaged, bytes).expect("write");
    let err = backup::restore(&settings, &copy, true).await.expect_err("damaged");
    assert!(err.to_string().contains(&image), "{err}");
}

//! The archive of one case, as the notice files it: the registration form, both parents' ID
//! images (and the hand-held photo when there is one), the mother's e-signature, each certificate
//! with its stub, and the case's audit entries — one ZIP with `manifest.json` listing every file
//! with its SHA-256 and size, so a copy can be checked years later. Reading it is an audited read.

use std::io::Write;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::application_in;
use super::printing::{self, PrintFont};
use crate::blobs::{BlobStore, ImageType};
use crate::persistence::audit::Actor;
use crate::persistence::{audit, certificates, documents, identity, signatures, Db};
use crate::services::{audit_read, PersonalRead, ServiceError};

/// A file of the archive: its name inside the ZIP and its bytes.
pub struct ArchiveFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

fn image_name(stem: &str, bytes: &[u8]) -> String {
    let ext = match ImageType::sniff(bytes) {
        Some(ImageType::Jpeg) => "jpg",
        Some(ImageType::Png) => "png",
        None => "bin",
    };
    format!("{stem}.{ext}")
}

async fn blob(blobs: &BlobStore, sha: &str) -> Result<Vec<u8>, ServiceError> {
    blobs.read(sha).await.map_err(|e| ServiceError::internal(anyhow::Error::new(e).context(format!("blob {sha}"))))
}

/// Every file of the case's archive (without the manifest), in a stable order. An audited read.
#[tracing::instrument(skip_all, fields(application_id = %id))]
#[allow(clippy::too_many_arguments)]
pub async fn case_files(
    db: &Db,
    cipher: &crate::crypto::PersonalDataCipher,
    public_url: &str,
    blobs: &BlobStore,
    font: &PrintFont,
    reader: &Actor,
    institution: &str,
    id: &str,
) -> Result<Vec<ArchiveFile>, ServiceError> {
    let app = application_in(db, institution, id).await?;
    audit_read(db, reader, PersonalRead::Archive(&app.id)).await?;
    let mut files = Vec::new();
    let signature = match signatures::signature_of(db, &app.id).await? {
        Some((sha, _, _)) => Some(blob(blobs, &sha).await?),
        None => None,
    };
    if let Some((form, digest)) = crate::services::frozen_form(db, cipher, &app.id).await? {
        let number = certificates::current_certificate(db, &app.id).await?.map(|c| c.number);
        let font = font.bytes().await?;
        let (sig, f, font_bytes) = (signature.clone(), form.clone(), font.clone());
        let pdf = tokio::task::spawn_blocking(move || {
            printing::render(&f, &digest, number.as_deref(), sig.as_deref(), &font_bytes)
        })
        .await
        .map_err(ServiceError::internal)?
        .map_err(ServiceError::internal)?;
        files.push(ArchiveFile { name: "registration-form.pdf".into(), bytes: pdf });
        // Each certificate with its stub, voided and lost ones too: the archive keeps them all.
        for c in certificates::certificates_of(db, &app.id).await? {
            let issued_on = crate::domain::working_days::to_china(c.issued_at).format("%Y年%m月%d日").to_string();
            let (sig, f, number, font_bytes) = (signature.clone(), form.clone(), c.number.clone(), font.clone());
            let url = super::authenticity::url_for(public_url, cipher, &c.number);
            let pdf = tokio::task::spawn_blocking(move || {
                printing::render_certificate(&f, &number, &issued_on, &url, sig.as_deref(), &font_bytes)
            })
            .await
            .map_err(ServiceError::internal)?
            .map_err(ServiceError::internal)?;
            files.push(ArchiveFile { name: format!("certificate-{}-{}.pdf", c.number, c.state), bytes: pdf });
        }
    }
    for d in documents::current_documents(db, &app.id).await? {
        let bytes = blob(blobs, &d.sha256).await?;
        files.push(ArchiveFile { name: image_name(&format!("documents/{}", d.kind), &bytes), bytes });
    }
    if let Some((sha, _)) = identity::handheld_photo(db, &app.id).await? {
        let bytes = blob(blobs, &sha).await?;
        files.push(ArchiveFile { name: image_name("documents/father_handheld_photo", &bytes), bytes });
    }
    if let Some(bytes) = signature {
        files.push(ArchiveFile { name: "signature.png".into(), bytes });
    }
    let entries: Vec<serde_json::Value> = audit::entries_about(db, "application", &app.id)
        .await?
        .into_iter()
        .map(|e| {
            serde_json::json!({"seq": e.seq, "at": e.at, "actor": format!("{}:{}", e.actor_kind, e.actor_id),
                               "action": e.action, "detail": e.detail, "hash": e.hash})
        })
        .collect();
    let audit_json = serde_json::to_vec_pretty(&entries).map_err(ServiceError::internal)?;
    files.push(ArchiveFile { name: "audit.json".into(), bytes: audit_json });
    Ok(files)
}

/// The archive as one ZIP: the files and `manifest.json` (application id, when it was made,
/// each file's name, size and SHA-256).
pub fn zip(application_id: &str, made_at: DateTime<Utc>, files: &[ArchiveFile]) -> Result<Vec<u8>, ServiceError> {
    let manifest = serde_json::json!({
        "application_id": application_id,
        "made_at": made_at,
        "files": files.iter().map(|f| serde_json::json!({
            "name": f.name, "size": f.bytes.len(), "sha256": hex::encode(Sha256::digest(&f.bytes)),
        })).collect::<Vec<_>>(),
    });
    let manifest = serde_json::to_vec_pretty(&manifest).map_err(ServiceError::internal)?;
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files.iter().map(|f| (f.name.as_str(), &f.bytes)).chain([("manifest.json", &manifest)]) {
        out.start_file(name, options).map_err(ServiceError::internal)?;
        out.write_all(bytes).map_err(ServiceError::internal)?;
    }
    Ok(out.finish().map_err(ServiceError::internal)?.into_inner())
}

/// The cases whose certificate was first issued in `[from, to)`, any institution: (institution,
/// application id), for `birthcert archive export`.
pub async fn issued_between(
    db: &Db,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<(String, String)>, ServiceError> {
    Ok(certificates::first_issued_between(db, from, to).await?)
}

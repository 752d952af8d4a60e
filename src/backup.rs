//! `birthcert backup` and `birthcert restore`: the database and the sealed images, consistent,
//! with a manifest of SHA-256 sums, and back.
//!
//! Backup takes the database first (SQLite: `VACUUM INTO`, one snapshot while the service
//! serves; PostgreSQL: `pg_dump`, one snapshot too), then the images: an image is stored before
//! any row names it and images are never changed in place, so every image the copied database
//! names is there to copy. The audit anchors file goes with them. Nothing is decrypted: the copy
//! is as sealed as the original, and needs the same `crypto.*` keys to be read.
//!
//! Restore checks every file against the manifest before it touches anything, refuses a
//! database that already holds applications unless told to replace it, puts the database, the
//! images and the anchors back, migrates the schema forward and verifies the audit chain.

use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{DatabaseKind, Settings};
use crate::persistence::{self, PersistenceError};

pub const MANIFEST: &str = "manifest.json";
const SQLITE_FILE: &str = "database.sqlite";
const PG_FILE: &str = "database.pgdump";
const BLOBS: &str = "blobs";
const ANCHORS: &str = "audit-anchors.log";

#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub service_version: String,
    /// `sqlite` or `postgres`: a backup goes back into the same kind of database.
    pub backend: String,
    pub applications: u64,
    pub files: Vec<FileSum>,
}

#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileSum {
    /// Relative to the backup's directory, with `/`.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Usage(String),
    #[error("the backup is damaged: {0}")]
    Damaged(String),
    #[error("{tool} failed: {detail}")]
    Tool { tool: &'static str, detail: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Persistence(#[from] PersistenceError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io { path: path.to_path_buf(), source }
}

fn backend_name(kind: DatabaseKind) -> &'static str {
    match kind {
        DatabaseKind::Sqlite => "sqlite",
        DatabaseKind::Postgres => "postgres",
    }
}

fn kind_of(settings: &Settings) -> Result<DatabaseKind, BackupError> {
    settings.database_kind().map_err(|e| BackupError::Usage(e.to_string()))
}

/// Writes a backup of the service's database, images and audit anchors into `out` (which must
/// not exist, or be empty).
pub async fn backup(settings: &Settings, out: &Path) -> Result<Manifest, BackupError> {
    if out.exists() && std::fs::read_dir(out).map_err(io(out))?.next().is_some() {
        return Err(BackupError::Usage(format!("{} is not empty; back up into a new directory", out.display())));
    }
    std::fs::create_dir_all(out).map_err(io(out))?;
    let kind = kind_of(settings)?;
    let db = persistence::connect(settings).await?;
    let applications = persistence::application_count(&db).await.unwrap_or(0);
    match kind {
        DatabaseKind::Sqlite => {
            // VACUUM INTO wants an absolute or working-directory path; give it the absolute one.
            let target = std::path::absolute(out.join(SQLITE_FILE)).map_err(io(out))?;
            persistence::sqlite_copy_into(&db, &target).await?;
        }
        DatabaseKind::Postgres => {
            let file = out.join(PG_FILE);
            run_tool(
                "pg_dump",
                std::process::Command::new("pg_dump")
                    .args(["--format=custom", "--no-owner", "--no-privileges", "--file"])
                    .arg(&file)
                    .arg(format!("--dbname={}", settings.database.url.expose_secret())),
            )?;
        }
    }
    db.close().await.map_err(PersistenceError::from)?;
    copy_tree(&settings.blobs.dir, &out.join(BLOBS), &|p| p.starts_with("tmp"))?;
    if settings.audit.anchor_file.exists() {
        std::fs::copy(&settings.audit.anchor_file, out.join(ANCHORS)).map_err(io(&settings.audit.anchor_file))?;
    }
    let manifest = Manifest {
        format: 1,
        created_at: chrono::Utc::now(),
        service_version: env!("CARGO_PKG_VERSION").to_string(),
        backend: backend_name(kind).to_string(),
        applications,
        files: sums(out)?,
    };
    let text = serde_json::to_vec_pretty(&manifest).map_err(|e| BackupError::Usage(e.to_string()))?;
    std::fs::write(out.join(MANIFEST), text).map_err(io(out))?;
    Ok(manifest)
}

/// What a restore put back.
#[derive(Debug)]
pub struct Restored {
    pub applications: u64,
    pub images: usize,
    pub audit_entries: u64,
}

/// Puts a backup back into the configured database, image directory and anchors file, then
/// verifies the audit chain. A target that already holds applications is refused unless
/// `replace` is given (its tables are dropped and replaced by the backup's).
pub async fn restore(settings: &Settings, from: &Path, replace: bool) -> Result<Restored, BackupError> {
    let manifest_path = from.join(MANIFEST);
    let text = std::fs::read(&manifest_path).map_err(io(&manifest_path))?;
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|e| BackupError::Damaged(format!("{MANIFEST}: {e}")))?;
    let found = sums(from)?;
    for expected in &manifest.files {
        match found.iter().find(|f| f.path == expected.path) {
            Some(f) if f == expected => {}
            Some(_) => return Err(BackupError::Damaged(format!("{} differs from the manifest", expected.path))),
            None => return Err(BackupError::Damaged(format!("{} is missing", expected.path))),
        }
    }
    if let Some(extra) = found.iter().find(|f| !manifest.files.iter().any(|e| e.path == f.path)) {
        return Err(BackupError::Damaged(format!("{} is not in the manifest", extra.path)));
    }
    let kind = kind_of(settings)?;
    if manifest.backend != backend_name(kind) {
        return Err(BackupError::Usage(format!(
            "this is a {} backup; database.url names a {} database",
            manifest.backend,
            backend_name(kind)
        )));
    }
    let db = persistence::connect(settings).await?;
    let present = persistence::application_count(&db).await.unwrap_or(0);
    db.close().await.map_err(PersistenceError::from)?;
    if present > 0 && !replace {
        return Err(BackupError::Usage(format!(
            "the database already holds {present} applications; restore into an empty one, or pass --replace"
        )));
    }
    match kind {
        DatabaseKind::Sqlite => {
            let url = settings.database.url.expose_secret();
            let target = persistence::sqlite_file(url)
                .ok_or_else(|| BackupError::Usage("database.url names an in-memory database".into()))?;
            // A write-ahead log beside the old file would be replayed onto the restored one.
            for stale in ["-wal", "-shm"] {
                let mut p = target.clone().into_os_string();
                p.push(stale);
                let _ = std::fs::remove_file(PathBuf::from(p));
            }
            std::fs::copy(from.join(SQLITE_FILE), &target).map_err(io(&target))?;
        }
        DatabaseKind::Postgres => {
            run_tool(
                "pg_restore",
                std::process::Command::new("pg_restore")
                    .args(["--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction"])
                    .arg(format!("--dbname={}", settings.database.url.expose_secret()))
                    .arg(from.join(PG_FILE)),
            )?;
        }
    }
    let images = copy_tree(&from.join(BLOBS), &settings.blobs.dir, &|_| false)?;
    let anchors = from.join(ANCHORS);
    if anchors.exists() && (replace || !settings.audit.anchor_file.exists()) {
        if let Some(parent) = settings.audit.anchor_file.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::copy(&anchors, &settings.audit.anchor_file).map_err(io(&anchors))?;
    }
    let db = persistence::connect(settings).await?;
    persistence::migrate(&db).await?;
    let applications = persistence::application_count(&db).await.unwrap_or(0);
    let anchors = crate::audit_anchor::AnchorFile::new(settings.audit.anchor_file.clone())
        .read()
        .map_err(|e| BackupError::Usage(e.to_string()))?;
    let report = persistence::audit::verify(&db, &anchors).await?;
    db.close().await.map_err(PersistenceError::from)?;
    if let Some((seq, _)) = report.first_break {
        return Err(BackupError::Damaged(format!("the restored audit chain breaks at entry {seq}")));
    }
    if report.head_mismatch || report.anchor_break.is_some() {
        return Err(BackupError::Damaged("the restored audit chain disagrees with its head or its anchors".into()));
    }
    Ok(Restored { applications, images, audit_entries: report.entries })
}

fn run_tool(tool: &'static str, command: &mut std::process::Command) -> Result<(), BackupError> {
    let out = command.output().map_err(|e| BackupError::Tool { tool, detail: e.to_string() })?;
    if !out.status.success() {
        return Err(BackupError::Tool { tool, detail: String::from_utf8_lossy(&out.stderr).trim().to_string() });
    }
    Ok(())
}

/// Copies every file under `from` to the same place under `to` (skipping relative paths
/// `skip` names) → how many files.
fn copy_tree(from: &Path, to: &Path, skip: &dyn Fn(&Path) -> bool) -> Result<usize, BackupError> {
    let mut copied = 0;
    for relative in files_under(from)? {
        if skip(&relative) {
            continue;
        }
        let target = to.join(&relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::copy(from.join(&relative), &target).map_err(io(&target))?;
        copied += 1;
    }
    Ok(copied)
}

/// Every file under `root`, relative to it, sorted; none when `root` does not exist.
fn files_under(root: &Path) -> Result<Vec<PathBuf>, BackupError> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && dir == root => return Ok(files),
            Err(e) => return Err(BackupError::Io { path: dir, source: e }),
        };
        for entry in entries {
            let path = entry.map_err(io(&dir))?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if let Ok(relative) = path.strip_prefix(root) {
                files.push(relative.to_path_buf());
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Size and SHA-256 of every file of a backup but the manifest.
fn sums(dir: &Path) -> Result<Vec<FileSum>, BackupError> {
    let mut sums = Vec::new();
    for relative in files_under(dir)? {
        if relative == Path::new(MANIFEST) {
            continue;
        }
        let path = dir.join(&relative);
        let mut file = std::fs::File::open(&path).map_err(io(&path))?;
        let mut hasher = Sha256::new();
        let size = std::io::copy(&mut file, &mut hasher).map_err(io(&path))?;
        let name: Vec<String> = relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        sums.push(FileSum { path: name.join("/"), size, sha256: hex::encode(hasher.finalize()) });
    }
    Ok(sums)
}

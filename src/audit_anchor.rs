//! The audit chain's anchors, kept outside the database (`audit.anchor_file`): a line per
//! witnessed head, appended by the service every `audit.anchor_secs` when the chain has
//! grown, and by `birthcert audit anchor`. `birthcert audit verify` checks the chain against
//! every line. The file belongs on storage a database administrator cannot write (another host's
//! mount, or copied off the machine by the operator's log shipping); a rewrite of the chain up to
//! the last anchor is then found, and only the entries since it are exposed.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::domain::audit::Anchor;
use crate::persistence::{self, Db, PersistenceError};

#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error("anchor file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("anchor file {path}: line {line} is not an anchor")]
    BadLine { path: PathBuf, line: usize },
    #[error(transparent)]
    Db(#[from] PersistenceError),
}

#[derive(Debug, Clone)]
pub struct AnchorFile {
    path: PathBuf,
}

impl AnchorFile {
    pub fn new(path: impl Into<PathBuf>) -> AnchorFile {
        AnchorFile { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self) -> impl Fn(std::io::Error) -> AnchorError + '_ {
        |source| AnchorError::Io { path: self.path.clone(), source }
    }

    /// Every anchor written so far; none if the file does not exist yet.
    pub fn read(&self) -> Result<Vec<Anchor>, AnchorError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => Anchor::parse_all(&text).map_err(|line| AnchorError::BadLine { path: self.path.clone(), line }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(self.io()(e)),
        }
    }

    /// Writes the chain's head as it is now, unless it is `last` (what this process wrote
    /// before) → the anchor written. One `write` in append mode, so lines from several instances
    /// never interleave.
    pub async fn anchor_now(&self, db: &Db, last: Option<&Anchor>) -> Result<Option<Anchor>, AnchorError> {
        let (entries, hash) = persistence::audit::head(db).await?;
        if entries == 0 || last.is_some_and(|a| a.entries == entries && a.hash == hash) {
            return Ok(None);
        }
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let anchor = Anchor { entries, hash, at };
        let path = self.path.clone();
        let line = anchor.line();
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
            file.write_all(line.as_bytes())?;
            file.sync_data()
        })
        .await
        .map_err(|e| self.io()(std::io::Error::other(e)))?
        .map_err(self.io())?;
        Ok(Some(anchor))
    }
}

/// The service's anchoring: the head every `every`, when it has moved. A failed write is logged
/// and tried again at the next turn.
pub async fn run(db: Db, file: AnchorFile, every: std::time::Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut last: Option<Anchor> = None;
    loop {
        match file.anchor_now(&db, last.as_ref()).await {
            Ok(Some(anchor)) => last = Some(anchor),
            Ok(None) => {}
            Err(e) => tracing::error!(error = %e, "audit anchor not written"),
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            break;
        }
    }
}

//! The audit chain's anchors, kept outside the database (`audit.anchor_file`): a line per
//! witnessed head, appended by the service every `audit.anchor_secs` (a worker) when the chain has
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
    /// The head this process last wrote, so an idle chain is not anchored again every turn.
    last_written: std::sync::Arc<std::sync::Mutex<Option<(u64, String)>>>,
}

impl AnchorFile {
    pub fn new(path: impl Into<PathBuf>) -> AnchorFile {
        AnchorFile { path: path.into(), last_written: Default::default() }
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

    /// Writes the chain's head as it is now, unless this process already wrote that head →
    /// the anchor written. One `write` in append mode, so lines from several instances never
    /// interleave.
    pub async fn anchor_now(&self, db: &Db) -> Result<Option<Anchor>, AnchorError> {
        let head = persistence::audit::head(db).await?;
        let last = self.last_written.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        if head.0 == 0 || last.as_ref() == Some(&head) {
            return Ok(None);
        }
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let anchor = Anchor { entries: head.0, hash: head.1.clone(), at };
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
        *self.last_written.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(head);
        Ok(Some(anchor))
    }
}

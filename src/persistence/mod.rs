//! The only module that speaks sea-orm, one file per table (or per small family of tables).
//! Everything above it calls the functions here with domain types and gets domain types back;
//! a stored life-cycle value that does not parse is `PersistenceError::Corrupt`, never a default.

pub mod applications;
pub mod audit;
pub mod certificates;
pub mod deliveries;
pub mod documents;
pub mod entities;
pub mod health_cards;
pub mod idempotency;
pub mod identity;
pub mod institutions;
pub mod modifications;
pub mod outbox;
pub mod parents;
pub mod payments;
pub mod registers;
pub mod shipments;
pub mod signatures;
pub mod staff;
pub mod users;

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};
use secrecy::ExposeSecret;

use crate::config::{DatabaseKind, Settings};
use crate::crypto::Sealed;

pub use sea_orm::DatabaseConnection as Db;
/// A database transaction: effects, their audit entries and their outbox rows go in one.
pub use sea_orm::DatabaseTransaction as Txn;

/// Begins a transaction that will write. On SQLite it takes the write lock with its first
/// statement: a deferred transaction that reads and then writes cannot wait for another writer
/// (SQLITE_BUSY at once, whatever the busy timeout), while a transaction that asks for the lock
/// before reading anything queues behind the busy timeout like any writer. A write statement
/// takes the lock even when it matches no row. PostgreSQL needs nothing: row locks and
/// conditional updates order concurrent writers there.
pub async fn begin(db: &Db) -> Result<Txn, PersistenceError> {
    use sea_orm::TransactionTrait;
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Sqlite {
        txn.execute_unprepared("UPDATE audit_head SET entries = entries WHERE id = -1").await?;
    }
    Ok(txn)
}

pub async fn commit(txn: Txn) -> Result<(), PersistenceError> {
    Ok(txn.commit().await?)
}

#[derive(Debug, thiserror::Error)]
pub enum PersistenceError {
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
}

impl PersistenceError {
    /// Two requests wrote the same thing at once (a "once" rule hit by both, or PostgreSQL
    /// giving up one of two transactions): the loser may reload and try again.
    pub fn is_write_conflict(&self) -> bool {
        let PersistenceError::Db(e) = self else { return false };
        if is_unique_violation(e) {
            return true;
        }
        let sqlx = match e {
            DbErr::Exec(sea_orm::RuntimeErr::SqlxError(s)) | DbErr::Query(sea_orm::RuntimeErr::SqlxError(s)) => s,
            _ => return false,
        };
        let code = sqlx.as_database_error().and_then(|d| d.code()).map(|c| c.into_owned());
        // serialization_failure, deadlock_detected
        matches!(code.as_deref(), Some("40001" | "40P01"))
    }
}

/// True when the error is a unique-constraint violation (the same "once" rule hit twice).
pub fn is_unique_violation(e: &DbErr) -> bool {
    matches!(e.sql_err(), Some(sea_orm::SqlErr::UniqueConstraintViolation(_)))
}

pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, PersistenceError> {
    let url = settings.database.url.expose_secret().to_string();
    let kind = settings.database_kind().map_err(|e| PersistenceError::Corrupt(e.to_string()))?;
    if kind == DatabaseKind::Sqlite {
        ensure_sqlite_dir(&url);
    }
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(settings.database.max_connections)
        .min_connections(settings.database.min_connections.min(settings.database.max_connections))
        .connect_timeout(Duration::from_secs(settings.database.connect_timeout_secs))
        .acquire_timeout(Duration::from_secs(settings.database.connect_timeout_secs))
        .sqlx_logging(false)
        // WAL lets readers proceed while one writer commits; the busy timeout makes writers
        // queue instead of failing with "database is locked".
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
        });
    Ok(Database::connect(options).await?)
}

/// `sqlite://./data/x.db?mode=rwc` → make sure `./data` exists.
fn ensure_sqlite_dir(url: &str) {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return;
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            let _ = std::fs::create_dir_all(parent);
        }
    }
}

pub async fn migrate(db: &DatabaseConnection) -> Result<(), PersistenceError> {
    use migrations::MigratorTrait;
    migrations::Migrator::up(db, None).await?;
    Ok(())
}

pub async fn ping(db: &DatabaseConnection) -> Result<(), PersistenceError> {
    db.execute_unprepared("SELECT 1").await?;
    Ok(())
}

/// A personal number as stored: ciphertext, blind index, masked form.
#[derive(Debug, Clone)]
pub struct StoredNumber {
    pub sealed: Sealed,
    pub bidx: String,
    pub masked: String,
}

/// The `i`-th (1-based) bind placeholder in the backend's spelling (`$i` on PostgreSQL, `?` on
/// SQLite): the one place raw SQL learns how the backend numbers its parameters.
pub(crate) fn placeholder(db: &impl ConnectionTrait, i: usize) -> String {
    if db.get_database_backend() == DbBackend::Postgres {
        format!("${i}")
    } else {
        "?".into()
    }
}

/// The first `N` placeholders: `let [p1, p2] = placeholders(db);`
pub(crate) fn placeholders<const N: usize>(db: &impl ConnectionTrait) -> [String; N] {
    std::array::from_fn(|i| placeholder(db, i + 1))
}

/// A stored text that names no known state of `what`.
pub(crate) fn corrupt(what: &str, id: &str, text: &str) -> PersistenceError {
    PersistenceError::Corrupt(format!("{what} {id} has state {text:?}"))
}

pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

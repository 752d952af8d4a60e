//! The only module that speaks sea-orm, one file per table (or per small family of tables).
//! Everything above it calls the functions here with domain types and gets domain types back;
//! a stored life-cycle value that does not parse is `PersistenceError::Corrupt`, never a default.

pub mod applications;
pub mod audit;
pub mod certificates;
pub mod consents;
pub mod counters;
pub mod deliveries;
pub mod documents;
pub mod entities;
pub mod gauges;
pub mod health_cards;
pub mod idempotency;
pub mod identity;
pub mod institutions;
pub mod modifications;
pub mod outbox;
pub mod parents;
pub mod payments;
pub mod province;
pub mod registers;
pub mod retention;
pub mod rotation;
pub mod search;
pub mod shipments;
pub mod signatures;
pub mod staff;
pub mod users;

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, Statement,
};
use secrecy::ExposeSecret;

use crate::config::{DatabaseKind, Settings};
use crate::crypto::Sealed;

pub use sea_orm::DatabaseConnection as Db;

/// A database transaction that will write: effects, their audit entries and their outbox rows
/// go in one. On SQLite it also holds this process's turn as the database's writer (see
/// [`begin`]). It reads and writes like the transaction it wraps.
pub struct Txn {
    inner: sea_orm::DatabaseTransaction,
    _writer: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Txn {
    /// Commits; the writer's turn ends after the commit, when `self` is dropped.
    pub async fn commit(self) -> Result<(), DbErr> {
        self.inner.commit().await
    }

    pub async fn rollback(self) -> Result<(), DbErr> {
        self.inner.rollback().await
    }
}

impl std::ops::Deref for Txn {
    type Target = sea_orm::DatabaseTransaction;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Txn {
    fn get_database_backend(&self) -> DbBackend {
        self.inner.get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.inner.execute(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.inner.execute_unprepared(sql).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.inner.query_one(stmt).await
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.inner.query_all(stmt).await
    }
}

/// One queue of writers per SQLite file in this process.
fn sqlite_writer_gate(db: &Db) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock, PoisonError};
    static GATES: OnceLock<Mutex<HashMap<std::path::PathBuf, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let file = db.get_sqlite_connection_pool().connect_options().get_filename().to_path_buf();
    let mut gates = GATES.get_or_init(Default::default).lock().unwrap_or_else(PoisonError::into_inner);
    gates.entry(file).or_default().clone()
}

/// Begins a transaction that will write. On SQLite writers take turns in this process first,
/// in arrival order, and then take the database's write lock with the transaction's first
/// statement. Without the queue, writers that find the lock taken wait in SQLite's busy handler,
/// which sleeps in steps growing to 100 ms and lets a newcomer overtake a writer that has waited
/// long (seen as 100–800 ms tails under 200 concurrent journeys); and a deferred transaction
/// that reads and then writes cannot wait for another writer at all (SQLITE_BUSY at once,
/// whatever the busy timeout). A write statement takes the lock even when it matches no row.
/// Another process writing the same file (a command-line tool) is still waited for through the
/// busy timeout. PostgreSQL needs nothing: row locks and conditional updates order concurrent
/// writers there. The one-connection-pool test proves no request opens a second transaction
/// while it holds one, so the queue cannot deadlock.
pub async fn begin(db: &Db) -> Result<Txn, PersistenceError> {
    use sea_orm::TransactionTrait;
    if db.get_database_backend() != DbBackend::Sqlite {
        return Ok(Txn { inner: db.begin().await?, _writer: None });
    }
    let writer = sqlite_writer_gate(db).lock_owned().await;
    let inner = db.begin().await?;
    inner.execute_unprepared("UPDATE audit_head SET entries = entries WHERE id = -1").await?;
    Ok(Txn { inner, _writer: Some(writer) })
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
        // No ping before each checkout: it cost a round trip per query (on SQLite a hop to the
        // connection's thread and back: 3 % of a journey's CPU in the profile). A connection
        // that broke fails its query, which is reported, and the pool replaces it.
        .test_before_acquire(false)
        // WAL lets readers proceed while one writer commits; the busy timeout makes writers
        // queue instead of failing with "database is locked". No commit checkpoints the log
        // (an automatic checkpoint runs inside the commit that crosses 1,000 pages and stalls
        // every writer queued behind it for tens of milliseconds): `checkpoint` does it in the
        // background, and the log is cut back to 64 MiB after it has been folded in.
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                .pragma("wal_autocheckpoint", "0")
                .pragma("journal_size_limit", "67108864")
        })
        // No JIT: PostgreSQL compiles any plan it costs above 100,000 (a search over a name with
        // thousands of cases), which took 37 ms of a 149 ms search on five million
        // applications and is spent again on every run of the statement. These are short
        // queries; interpreting them is always faster.
        .map_sqlx_postgres_opts(|o| o.options([("jit", "off")]));
    Ok(Database::connect(options).await?)
}

/// `sqlite://./data/x.db?mode=rwc` → make sure `./data` exists.
fn ensure_sqlite_dir(url: &str) {
    if let Some(parent) = sqlite_file(url).as_deref().and_then(std::path::Path::parent) {
        if !parent.as_os_str().is_empty() {
            let _ = std::fs::create_dir_all(parent);
        }
    }
}

/// The file a `sqlite:` URL names; None for an in-memory database.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// A consistent copy of a SQLite database, taken while it serves (`VACUUM INTO` reads one
/// snapshot and writes a compact file).
pub async fn sqlite_copy_into(db: &DatabaseConnection, file: &std::path::Path) -> Result<(), PersistenceError> {
    let path = file.to_str().ok_or_else(|| PersistenceError::Corrupt(format!("{} is not UTF-8", file.display())))?;
    db.execute_unprepared(&format!("VACUUM INTO '{}'", path.replace('\'', "''"))).await?;
    Ok(())
}

/// How many applications the database holds; None when it has no schema yet.
pub async fn application_count(db: &DatabaseConnection) -> Option<u64> {
    use sea_orm::{EntityTrait, PaginatorTrait};
    entities::application::Entity::find().count(db).await.ok()
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

/// SQLite: folds the write-ahead log back into the database without waiting for readers or
/// writers (a passive checkpoint; writers go on appending meanwhile). Nothing on PostgreSQL.
pub async fn checkpoint(db: &Db) -> Result<(), PersistenceError> {
    if db.get_database_backend() == DbBackend::Sqlite {
        db.execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)").await?;
    }
    Ok(())
}

//! The two registers an institution keeps (first issuance, online issuance), read for a date
//! range page by page so an export of any size streams in flat memory. Opening an export is an
//! audited read of personal data.

use chrono::{DateTime, Utc};

use crate::persistence::audit::Actor;
use crate::persistence::Db;
use crate::services::{audit_read, PersonalRead, ServiceError};

pub use crate::persistence::registers::{FirstIssuanceEntry, OnlineIssuanceEntry, Register, RegisterCursor};

/// Rows per page of an export.
pub const PAGE: u64 = 500;

/// Audits the officer's read of a register before any row leaves.
#[tracing::instrument(skip_all)]
pub async fn open_export(
    db: &Db,
    officer: &Actor,
    register: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    format: &str,
) -> Result<(), ServiceError> {
    audit_read(db, officer, PersonalRead::Register { name: register, from, to, format }).await?;
    Ok(())
}

/// The page after `cursor` → (rows, the cursor for the next page).
#[tracing::instrument(skip_all)]
pub async fn page<R: Register>(
    db: &Db,
    institution: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    cursor: &RegisterCursor,
) -> Result<(Vec<R>, RegisterCursor), ServiceError> {
    Ok(R::page(db, institution, from, to, cursor, PAGE).await?)
}

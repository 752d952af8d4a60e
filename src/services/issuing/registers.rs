//! The two registers an institution keeps (first issuance, online issuance), read for a date
//! range page by page so an export of any size streams in flat memory. Opening an export is an
//! audited read of personal data.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::persistence::audit::{self, Actor};
use crate::persistence::Db;
use crate::services::ServiceError;

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
    audit::append_alone(
        db,
        officer,
        "read_register",
        "register",
        register,
        json!({"from": from, "to": to, "format": format}),
    )
    .await?;
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

//! Stored answers to requests that carried an `Idempotency-Key`, so a repeat gets the first
//! answer instead of a second effect.

use chrono::Utc;
use sea_orm::{ConnectionTrait, FromQueryResult, Statement};

use super::{is_unique_violation, PersistenceError};

#[derive(Debug, Clone, FromQueryResult)]
pub struct Stored {
    pub request_hash: String,
    pub status_code: i32,
    pub response_body: String,
}

use super::placeholder as p;

pub async fn find(db: &impl ConnectionTrait, scope: &str, key: &str) -> Result<Option<Stored>, PersistenceError> {
    let sql = format!(
        "SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE scope = {} AND key = {}",
        p(db, 1),
        p(db, 2)
    );
    Ok(Stored::find_by_statement(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [scope.into(), key.into()],
    ))
    .one(db)
    .await?)
}

/// Stores the first answer; false when another request stored one first.
pub async fn save(
    db: &impl ConnectionTrait,
    scope: &str,
    key: &str,
    request_hash: &str,
    status: u16,
    body: &str,
) -> Result<bool, PersistenceError> {
    let sql = format!(
        "INSERT INTO idempotency_keys (scope, key, request_hash, status_code, response_body, created_at) VALUES ({}, {}, {}, {}, {}, {})",
        p(db, 1), p(db, 2), p(db, 3), p(db, 4), p(db, 5), p(db, 6)
    );
    let result = db
        .execute(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [scope.into(), key.into(), request_hash.into(), i32::from(status).into(), body.into(), Utc::now().into()],
        ))
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(e) if is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

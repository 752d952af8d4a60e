//! Running totals per institution (migration 13): applications per state (`state:<state>`) and
//! review decisions against the deadline in force, per China month (`met:2026-12`,
//! `missed:2026-12`). A change appends deltas in its own transaction; `compact` folds them into
//! the totals; a read adds the two, so it is exact at any moment and costs a few dozen rows
//! whatever the history's size.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use super::{placeholders, Db, PersistenceError};
use crate::domain::application_state::ApplicationState;

pub fn state_key(state: ApplicationState) -> String {
    format!("state:{}", state.as_str())
}

/// The China month of `at`, as the totals are kept (`2026-12`).
pub fn month_key(at: DateTime<Utc>) -> String {
    crate::domain::working_days::to_china(at).format("%Y-%m").to_string()
}

/// Appends one delta per (name, change); nothing is read and no row is locked.
pub async fn add(
    db: &impl ConnectionTrait,
    institution: &str,
    changes: &[(String, i64)],
) -> Result<(), PersistenceError> {
    if changes.is_empty() {
        return Ok(());
    }
    let backend = db.get_database_backend();
    let mut sql = String::from("INSERT INTO institution_counter_deltas (institution_code, name, delta) VALUES ");
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(changes.len() * 3);
    for (i, (name, delta)) in changes.iter().enumerate() {
        let p = |k: usize| super::placeholder(db, i * 3 + k);
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!("({}, {}, {})", p(1), p(2), p(3)));
        values.extend([institution.into(), name.as_str().into(), (*delta).into()]);
    }
    db.execute(Statement::from_sql_and_values(backend, sql, values)).await?;
    Ok(())
}

#[derive(Debug, FromQueryResult)]
struct Total {
    name: String,
    n: i64,
}

/// Every total of the institution → name → value (names absent are zero).
pub async fn read(db: &impl ConnectionTrait, institution: &str) -> Result<BTreeMap<String, i64>, PersistenceError> {
    let p: [String; 2] = placeholders(db);
    // One statement: one snapshot, so a compaction running meanwhile is seen whole or not at all.
    let sql = format!(
        "SELECT name, CAST(SUM(n) AS BIGINT) AS n FROM ( \
           SELECT name, n FROM institution_counters WHERE institution_code = {} \
           UNION ALL SELECT name, delta AS n FROM institution_counter_deltas WHERE institution_code = {} \
         ) t GROUP BY name",
        p[0], p[1]
    );
    let rows = Total::find_by_statement(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [institution.into(), institution.into()],
    ))
    .all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.name, r.n)).collect())
}

/// Folds the deltas into the totals → how many deltas were folded. Safe beside writers and
/// beside another instance's compaction.
pub async fn compact(db: &Db) -> Result<u64, PersistenceError> {
    const FOLD: &str = "INSERT INTO institution_counters (institution_code, name, n) \
        SELECT institution_code, name, SUM(delta) FROM {deltas} GROUP BY institution_code, name \
        ON CONFLICT (institution_code, name) DO UPDATE SET n = institution_counters.n + excluded.n";
    match db.get_database_backend() {
        DbBackend::Postgres => {
            // Deleting and adding in one statement: a delta committed while it runs is either
            // both deleted and added, or neither.
            let sql = format!(
                "WITH folded AS (DELETE FROM institution_counter_deltas RETURNING institution_code, name, delta), \
                 counted AS (SELECT COUNT(*) AS n FROM folded), \
                 added AS ({}) SELECT n FROM counted",
                FOLD.replace("{deltas}", "folded")
            );
            let row = db.query_one(Statement::from_string(DbBackend::Postgres, sql)).await?;
            Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
        }
        _ => {
            // SQLite: the write lock, taken first, keeps every writer out until commit.
            let txn = super::begin(db).await?;
            let last: Option<i64> = txn
                .query_one(Statement::from_string(
                    DbBackend::Sqlite,
                    "SELECT MAX(seq) AS last FROM institution_counter_deltas",
                ))
                .await?
                .and_then(|r| r.try_get::<Option<i64>>("", "last").ok().flatten());
            let Some(last) = last else { return Ok(0) };
            txn.execute_unprepared(&FOLD.replace(
                "{deltas}",
                &format!("(SELECT * FROM institution_counter_deltas WHERE seq <= {last}) WHERE true"),
            ))
            .await?;
            let folded = txn
                .execute_unprepared(&format!("DELETE FROM institution_counter_deltas WHERE seq <= {last}"))
                .await?
                .rows_affected();
            txn.commit().await?;
            Ok(folded)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_month_is_chinas() {
        // 16:30 UTC on 30 November is 00:30 on 1 December in China.
        assert_eq!(month_key(Utc.with_ymd_and_hms(2026, 11, 30, 16, 30, 0).unwrap()), "2026-12");
        assert_eq!(month_key(Utc.with_ymd_and_hms(2026, 11, 30, 15, 59, 0).unwrap()), "2026-11");
    }
}

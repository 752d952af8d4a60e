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

/// One running total of an institution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Total {
    /// Applications now in this state.
    State(ApplicationState),
    /// Review decisions taken in this China month (`2026-12`) by their deadline (`met`) or after.
    Decision { met: bool, month: String },
}

impl Total {
    /// A review decision taken at `at` against the deadline `due` in force then.
    pub fn decision(at: DateTime<Utc>, due: DateTime<Utc>) -> Total {
        // Met unless the case was already overdue when decided: the queue's rule, applied then.
        Total::Decision { met: !ApplicationState::Submitted.is_overdue(Some(due), at), month: month_key(at) }
    }

    /// The stored name: `state:submitted`, `met:2026-12`, `missed:2026-12`.
    fn key(&self) -> String {
        match self {
            Total::State(state) => format!("state:{}", state.as_str()),
            Total::Decision { met, month } => format!("{}:{month}", if *met { "met" } else { "missed" }),
        }
    }

    fn parse(key: &str) -> Option<Total> {
        match key.split_once(':')? {
            ("state", state) => ApplicationState::parse(state).map(Total::State),
            ("met", month) => Some(Total::Decision { met: true, month: month.to_string() }),
            ("missed", month) => Some(Total::Decision { met: false, month: month.to_string() }),
            _ => None,
        }
    }
}

/// The China month of `at`, as the totals are kept (`2026-12`).
pub fn month_key(at: DateTime<Utc>) -> String {
    crate::domain::working_days::to_china(at).format("%Y-%m").to_string()
}

/// An institution's totals as read at one moment.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Totals {
    /// Applications per state; states without any left out.
    pub per_state: Vec<(String, i64)>,
    /// China month → (decisions by their deadline, after it).
    decisions: BTreeMap<String, (i64, i64)>,
}

impl Totals {
    /// Review decisions (met, missed) from the China month of `since` on; all with None.
    pub fn decisions_since(&self, since: Option<DateTime<Utc>>) -> (i64, i64) {
        let from = since.map(month_key);
        self.decisions
            .iter()
            .filter(|(month, _)| from.as_deref().is_none_or(|from| month.as_str() >= from))
            .fold((0, 0), |(met, missed), (_, (m, x))| (met + m, missed + x))
    }
}

/// Appends one delta per (total, change); nothing is read and no row is locked.
pub async fn add(
    db: &impl ConnectionTrait,
    institution: &str,
    changes: &[(Total, i64)],
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
        values.extend([institution.into(), name.key().into(), (*delta).into()]);
    }
    db.execute(Statement::from_sql_and_values(backend, sql, values)).await?;
    Ok(())
}

#[derive(Debug, FromQueryResult)]
struct TotalRow {
    name: String,
    n: i64,
}

/// Every total of the institution (names absent are zero).
pub async fn read(db: &impl ConnectionTrait, institution: &str) -> Result<Totals, PersistenceError> {
    let p: [String; 2] = placeholders(db);
    // One statement: one snapshot, so a compaction running meanwhile is seen whole or not at all.
    let sql = format!(
        "SELECT name, CAST(SUM(n) AS BIGINT) AS n FROM ( \
           SELECT name, n FROM institution_counters WHERE institution_code = {} \
           UNION ALL SELECT name, delta AS n FROM institution_counter_deltas WHERE institution_code = {} \
         ) t GROUP BY name",
        p[0], p[1]
    );
    let rows = TotalRow::find_by_statement(Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [institution.into(), institution.into()],
    ))
    .all(db)
    .await?;
    let mut totals = Totals::default();
    for row in rows {
        match Total::parse(&row.name) {
            Some(Total::State(state)) if row.n != 0 => totals.per_state.push((state.as_str().to_string(), row.n)),
            Some(Total::State(_)) => {}
            Some(Total::Decision { met, month }) => {
                let entry = totals.decisions.entry(month).or_default();
                if met {
                    entry.0 += row.n;
                } else {
                    entry.1 += row.n;
                }
            }
            None => return Err(PersistenceError::Corrupt(format!("unknown running total {:?}", row.name))),
        }
    }
    Ok(totals)
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

    #[test]
    fn names_read_back_as_written() {
        let due = Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap();
        for total in [
            Total::State(ApplicationState::Submitted),
            Total::decision(due, due),
            Total::decision(due + chrono::Duration::seconds(1), due),
        ] {
            assert_eq!(Total::parse(&total.key()), Some(total));
        }
        assert_eq!(Total::decision(due, due).key(), "met:2026-12");
        assert_eq!(Total::parse("state:no_such_state"), None);
    }

    #[test]
    fn decisions_count_from_the_month_asked() {
        let mut totals = Totals::default();
        totals.decisions.insert("2026-11".into(), (3, 1));
        totals.decisions.insert("2026-12".into(), (2, 4));
        let december = Utc.with_ymd_and_hms(2026, 12, 10, 0, 0, 0).unwrap();
        assert_eq!(totals.decisions_since(Some(december)), (2, 4));
        assert_eq!(totals.decisions_since(None), (5, 5));
    }
}

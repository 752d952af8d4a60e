//! Running totals per institution: applications per state and review decisions against their
//! deadline per China month. At a province's scale (millions of applications) counting them
//! on every dashboard or stats request reads the whole history; a total kept beside each change
//! reads a few dozen rows instead.
//!
//! Writers only append to `institution_counter_deltas` (no row is contended, so no transaction
//! waits on another); a worker folds the deltas into `institution_counters`; a read adds both.
//! The migration fills the totals from the data already there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000013_institution_counters"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let n = Alias::new;
        manager
            .create_table(
                Table::create()
                    .table(n("institution_counters"))
                    .col(ColumnDef::new(n("institution_code")).string().not_null())
                    .col(ColumnDef::new(n("name")).string().not_null())
                    .col(ColumnDef::new(n("n")).big_integer().not_null())
                    .primary_key(Index::create().col(n("institution_code")).col(n("name")))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(n("institution_counter_deltas"))
                    .col(ColumnDef::new(n("seq")).integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(n("institution_code")).string().not_null())
                    .col(ColumnDef::new(n("name")).string().not_null())
                    .col(ColumnDef::new(n("delta")).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX ix_institution_counter_deltas_institution ON institution_counter_deltas (institution_code)",
        )
        .await?;
        for sql in recount(manager.get_database_backend()) {
            db.execute_unprepared(&sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["institution_counter_deltas", "institution_counters"] {
            manager.drop_table(Table::drop().table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}

/// The statements that set every total from the data (after a bulk load, say): the totals are
/// emptied, then counted again. The timeline keeps no past deadlines, so a decision taken
/// before a resubmission is counted here against the application's latest deadline; from the
/// migration on, each decision is counted against the deadline in force when it was taken.
pub fn recount(backend: DbBackend) -> [String; 4] {
    // The China month of a decision, as `persistence::counters::month_key` writes it.
    let month = match backend {
        DbBackend::Postgres => "to_char(e.at AT TIME ZONE 'UTC' + interval '8 hours', 'YYYY-MM')",
        _ => "strftime('%Y-%m', e.at, '+8 hours')",
    };
    [
        "DELETE FROM institution_counter_deltas".to_string(),
        "DELETE FROM institution_counters".to_string(),
        "INSERT INTO institution_counters (institution_code, name, n) \
         SELECT institution_code, 'state:' || state, COUNT(*) FROM applications GROUP BY institution_code, state"
            .to_string(),
        format!(
            "INSERT INTO institution_counters (institution_code, name, n) \
             SELECT a.institution_code, \
                    CASE WHEN e.at <= a.review_due_at THEN 'met:' ELSE 'missed:' END || {month}, COUNT(*) \
             FROM application_events e JOIN applications a ON a.id = e.application_id \
             WHERE e.from_state = 'submitted' AND e.to_state IN ('returned', 'issued') AND a.review_due_at IS NOT NULL \
             GROUP BY 1, 2"
        ),
    ]
}

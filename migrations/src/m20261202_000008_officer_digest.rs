//! The officers' morning digest: an officer who opts in binds their WeChat (a one-time code sent
//! to the official account) and gets one message a working morning listing their institution's
//! cases due that day. `digest_openid` is where it goes; `digest_code_hash` and its expiry hold
//! the binding code while it is waiting (its SHA-256 only).
//!
//! Also the console's dashboard indexes: review decisions by time (deadlines met this month) and
//! applications by start day (the chart), so neither reads the whole table.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000008_officer_digest"
    }
}

const COLUMNS: [&str; 3] = ["digest_openid", "digest_code_hash", "digest_code_expires_at"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for name in COLUMNS {
            let mut column = ColumnDef::new(Alias::new(name));
            if name.ends_with("_at") {
                column.timestamp_with_time_zone();
            } else {
                column.string();
            }
            column.null();
            manager
                .alter_table(Table::alter().table(Alias::new("officers")).add_column(&mut column).to_owned())
                .await?;
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX ix_application_events_decisions ON application_events (from_state, to_state, at)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX ix_applications_institution_created ON applications (institution_code, created_at)",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX ix_application_events_decisions").await?;
        db.execute_unprepared("DROP INDEX ix_applications_institution_created").await?;
        for name in COLUMNS {
            manager
                .alter_table(Table::alter().table(Alias::new("officers")).drop_column(Alias::new(name)).to_owned())
                .await?;
        }
        Ok(())
    }
}

//! Retention: an application whose case ended unfinished (withdrawn, ineligible) has its personal
//! data and images erased after `retention.unfinished_days`; `erased_at` says when, so it is done
//! once and the views can say so.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000006_retention"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut column = ColumnDef::new(Alias::new("erased_at")).timestamp_with_time_zone().null().to_owned();
        manager
            .alter_table(Table::alter().table(Alias::new("applications")).add_column(&mut column).to_owned())
            .await?;
        // Expiry sweeps: old answers to idempotent requests, old raw courier bodies.
        let db = manager.get_connection();
        db.execute_unprepared("CREATE INDEX ix_idempotency_keys_created ON idempotency_keys (created_at)").await?;
        db.execute_unprepared("CREATE INDEX ix_courier_events_received ON courier_events (received_at)").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX ix_idempotency_keys_created").await?;
        db.execute_unprepared("DROP INDEX ix_courier_events_received").await?;
        manager
            .alter_table(
                Table::alter().table(Alias::new("applications")).drop_column(Alias::new("erased_at")).to_owned(),
            )
            .await
    }
}

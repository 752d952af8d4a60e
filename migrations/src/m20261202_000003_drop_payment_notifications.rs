//! `payment_notifications` was never written: a repeated payment notification is recognised by
//! the order's own state (`created → paid` once). The table goes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000003_drop_payment_notifications"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Alias::new("payment_notifications")).if_exists().to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("payment_notifications"))
                    .if_not_exists()
                    .col(string(Alias::new("notify_id")).primary_key().to_owned())
                    .col(string(Alias::new("out_trade_no")))
                    .col(timestamp_with_time_zone(Alias::new("received_at")))
                    .to_owned(),
            )
            .await
    }
}

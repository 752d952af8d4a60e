//! Payments owe the platform a call when a case ends: closing an order the platform could not
//! be told about at once, or refunding money that arrived for a case that cannot take it. The
//! order row itself is the queue (`platform_due_at` set = a call is owed), written in the same
//! transaction as the state that makes it owed; `out_refund_no` makes the refund idempotent at
//! the platform, and `refund_id` is the platform's number for it.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000005_payment_platform_calls"
    }
}

fn payments() -> Alias {
    Alias::new("payments")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            ColumnDef::new(Alias::new("out_refund_no")).string().null().to_owned(),
            ColumnDef::new(Alias::new("refund_id")).string().null().to_owned(),
            ColumnDef::new(Alias::new("refunded_at")).timestamp_with_time_zone().null().to_owned(),
            ColumnDef::new(Alias::new("platform_due_at")).timestamp_with_time_zone().null().to_owned(),
            ColumnDef::new(Alias::new("platform_attempts")).integer().not_null().default(0).to_owned(),
            ColumnDef::new(Alias::new("platform_error")).string().null().to_owned(),
        ];
        for mut column in columns {
            manager.alter_table(Table::alter().table(payments()).add_column(&mut column).to_owned()).await?;
        }
        let db = manager.get_connection();
        db.execute_unprepared("CREATE UNIQUE INDEX ux_payments_out_refund_no ON payments (out_refund_no)").await?;
        db.execute_unprepared("CREATE INDEX ix_payments_platform_due ON payments (platform_due_at)").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX ux_payments_out_refund_no").await?;
        db.execute_unprepared("DROP INDEX ix_payments_platform_due").await?;
        for column in
            ["out_refund_no", "refund_id", "refunded_at", "platform_due_at", "platform_attempts", "platform_error"]
        {
            manager.alter_table(Table::alter().table(payments()).drop_column(Alias::new(column)).to_owned()).await?;
        }
        Ok(())
    }
}

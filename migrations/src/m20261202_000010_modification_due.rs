//! A modification request is answered within 2 working days, like a review: its deadline.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000010_modification_due"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut due = ColumnDef::new(Alias::new("due_at")).timestamp_with_time_zone().null().to_owned();
        manager
            .alter_table(Table::alter().table(Alias::new("modification_requests")).add_column(&mut due).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Alias::new("modification_requests")).drop_column(Alias::new("due_at")).to_owned(),
            )
            .await
    }
}

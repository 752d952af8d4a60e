//! The special seal: officers who keep it (`can_seal`, the notice's 印章管理人员), and on each
//! certificate who stamped it and when.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000009_seal"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        let mut can_seal = ColumnDef::new(Alias::new("can_seal")).boolean().not_null().default(false).to_owned();
        manager.alter_table(Table::alter().table(Alias::new("officers")).add_column(&mut can_seal).to_owned()).await?;
        let mut by = ColumnDef::new(Alias::new("sealed_by")).string().null().to_owned();
        manager.alter_table(Table::alter().table(Alias::new("certificates")).add_column(&mut by).to_owned()).await?;
        let mut at = ColumnDef::new(Alias::new("sealed_at")).timestamp_with_time_zone().null().to_owned();
        manager.alter_table(Table::alter().table(Alias::new("certificates")).add_column(&mut at).to_owned()).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in [("certificates", "sealed_at"), ("certificates", "sealed_by"), ("officers", "can_seal")]
        {
            manager
                .alter_table(Table::alter().table(Alias::new(table)).drop_column(Alias::new(column)).to_owned())
                .await?;
        }
        Ok(())
    }
}

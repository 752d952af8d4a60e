//! The parents' separate consents (face recognition, the privacy notice), each to one version of
//! its text, with when. Kept, never changed: a new text is a new row.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000011_consents"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let n = Alias::new;
        manager
            .create_table(
                Table::create()
                    .table(n("consents"))
                    .col(ColumnDef::new(n("id")).string().not_null().primary_key())
                    .col(ColumnDef::new(n("user_id")).string().not_null())
                    .col(ColumnDef::new(n("kind")).string().not_null())
                    .col(ColumnDef::new(n("version")).string().not_null())
                    .col(ColumnDef::new(n("consented_at")).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_consents_user_id")
                            .from(n("consents"), n("user_id"))
                            .to(n("users"), n("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_consents_user_kind_version")
                    .table(n("consents"))
                    .col(n("user_id"))
                    .col(n("kind"))
                    .col(n("version"))
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Alias::new("consents")).to_owned()).await
    }
}

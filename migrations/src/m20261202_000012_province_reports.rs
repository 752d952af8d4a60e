//! Reports owed to the provincial birth-certificate system (delivery records, issued
//! certificates, voids): an outbox of their own, written in the transaction of the change they
//! report, each sent until the province has it.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000012_province_reports"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let n = Alias::new;
        manager
            .create_table(
                Table::create()
                    .table(n("province_reports"))
                    .col(ColumnDef::new(n("seq")).integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(n("report_id")).string().not_null())
                    .col(ColumnDef::new(n("kind")).string().not_null())
                    .col(ColumnDef::new(n("subject")).string().not_null())
                    .col(ColumnDef::new(n("application_id")).string().null())
                    .col(ColumnDef::new(n("institution_code")).string().not_null())
                    .col(ColumnDef::new(n("state")).string().not_null())
                    .col(ColumnDef::new(n("attempts")).integer().not_null().default(0))
                    .col(ColumnDef::new(n("next_attempt_at")).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(n("locked_until")).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(n("receipt")).string().null())
                    .col(ColumnDef::new(n("last_error")).string().null())
                    .col(ColumnDef::new(n("created_at")).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(n("reported_at")).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            ("ux_province_reports_report_id", &["report_id"][..], true),
            ("ix_province_reports_due", &["state", "next_attempt_at"][..], false),
            ("ix_province_reports_application", &["application_id"][..], false),
            ("ix_province_reports_subject", &["subject"][..], false),
        ] {
            let mut index = Index::create();
            index.name(name).table(n("province_reports"));
            for col in cols {
                index.col(n(col));
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Alias::new("province_reports")).to_owned()).await
    }
}

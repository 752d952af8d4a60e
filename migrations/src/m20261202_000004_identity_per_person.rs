//! An identity result belongs to a person, not to an application: each verification names the
//! parent row it verified (a changed parent is a new row, so it starts unverified), the
//! delivery and the person's ID-number blind index (face failures count per person and
//! delivery, across applications). Existing rows are filled in from their application.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000004_identity_per_person"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["parent_id", "delivery_id", "person_bidx"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("identity_verifications"))
                        .add_column(ColumnDef::new(Alias::new(column)).string().null())
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        for sql in [
            "UPDATE identity_verifications SET parent_id = (SELECT p.id FROM parents p \
               WHERE p.application_id = identity_verifications.application_id AND p.role = identity_verifications.parent_role)",
            "UPDATE identity_verifications SET person_bidx = (SELECT p.id_number_bidx FROM parents p \
               WHERE p.application_id = identity_verifications.application_id AND p.role = identity_verifications.parent_role)",
            "UPDATE identity_verifications SET delivery_id = (SELECT a.delivery_id FROM applications a \
               WHERE a.id = identity_verifications.application_id)",
            "CREATE INDEX ix_identity_verifications_person ON identity_verifications (delivery_id, person_bidx)",
            "CREATE INDEX ix_identity_verifications_parent ON identity_verifications (parent_id)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX ix_identity_verifications_person").await?;
        db.execute_unprepared("DROP INDEX ix_identity_verifications_parent").await?;
        for column in ["parent_id", "delivery_id", "person_bidx"] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Alias::new("identity_verifications"))
                        .drop_column(Alias::new(column))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

//! The head of the audit chain: one row holding the newest entry's hash. Appending updates it
//! first, so concurrent appenders queue on that row instead of forking the chain.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000002_audit_head"
    }
}

/// The chain starts from 64 zeros.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("audit_head"))
                    .if_not_exists()
                    .col(integer(Alias::new("id")).primary_key().to_owned())
                    .col(string(Alias::new("hash")))
                    .col(big_integer(Alias::new("entries")))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(&format!("INSERT INTO audit_head (id, hash, entries) VALUES (1, '{GENESIS}', 0)"))
            .await?;
        // Lookups of the issuing side: a certificate's shipment, an application's audit trail.
        for sql in [
            "CREATE INDEX ix_shipments_application ON shipments (application_id)",
            "CREATE INDEX ix_audit_log_subject ON audit_log (subject_kind, subject_id)",
            "CREATE INDEX ix_applications_review_due ON applications (state, review_due_at)",
        ] {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for sql in [
            "DROP INDEX ix_shipments_application",
            "DROP INDEX ix_audit_log_subject",
            "DROP INDEX ix_applications_review_due",
        ] {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        manager.drop_table(Table::drop().table(Alias::new("audit_head")).to_owned()).await
    }
}

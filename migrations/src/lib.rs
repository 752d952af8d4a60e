//! Schema migrations, run by `birthcert migrate` and by `serve` when `database.auto_migrate`
//! is true. Every migration runs unchanged on SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_initial;
mod m20261126_000002_audit_head;
mod m20261202_000003_drop_payment_notifications;
mod m20261202_000004_identity_per_person;
mod m20261202_000005_payment_platform_calls;
mod m20261202_000006_retention;
mod m20261202_000007_search;
mod m20261202_000008_officer_digest;
mod m20261202_000009_seal;
mod m20261202_000010_modification_due;
mod m20261202_000011_consents;
mod m20261202_000012_province_reports;
mod m20261203_000013_institution_counters;
mod m20261203_000014_applications_delivery;
mod m20261203_000015_search_covering;
mod m20261203_000016_search_names;
mod m20261204_000017_queue_order;

pub use m20261126_000002_audit_head::GENESIS as AUDIT_GENESIS;
pub use m20261203_000013_institution_counters::recount as recount_institution_totals;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_initial::Migration),
            Box::new(m20261126_000002_audit_head::Migration),
            Box::new(m20261202_000003_drop_payment_notifications::Migration),
            Box::new(m20261202_000004_identity_per_person::Migration),
            Box::new(m20261202_000005_payment_platform_calls::Migration),
            Box::new(m20261202_000006_retention::Migration),
            Box::new(m20261202_000007_search::Migration),
            Box::new(m20261202_000008_officer_digest::Migration),
            Box::new(m20261202_000009_seal::Migration),
            Box::new(m20261202_000010_modification_due::Migration),
            Box::new(m20261202_000011_consents::Migration),
            Box::new(m20261202_000012_province_reports::Migration),
            Box::new(m20261203_000013_institution_counters::Migration),
            Box::new(m20261203_000014_applications_delivery::Migration),
            Box::new(m20261203_000015_search_covering::Migration),
            Box::new(m20261203_000016_search_names::Migration),
            Box::new(m20261204_000017_queue_order::Migration),
        ]
    }
}

/// Replaces index `old` by `new` on `on` (`table (columns)`): the new one is created first, so
/// the table is never without one, then the old one dropped. Under a new name: a name dropped
/// and created again in one migration can meet a pooled SQLite connection that still has the
/// old schema ("already exists").
pub(crate) async fn replace_index(manager: &SchemaManager<'_>, old: &str, new: &str, on: &str) -> Result<(), DbErr> {
    let db = manager.get_connection();
    db.execute_unprepared(&format!("CREATE INDEX {new} ON {on}")).await?;
    db.execute_unprepared(&format!("DROP INDEX {old}")).await?;
    Ok(())
}

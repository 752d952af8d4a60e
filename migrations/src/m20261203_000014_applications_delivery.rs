//! Found on five million applications (`examples/province_scale`): the search joins delivery
//! records to applications by `delivery_id`, and the only index on that column was the partial
//! one for live applications, which a plain join cannot use; PostgreSQL read every application
//! (1.2–2 s a search). With this index each match is one lookup.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000014_applications_delivery"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("CREATE INDEX ix_applications_delivery ON applications (delivery_id)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP INDEX ix_applications_delivery").await?;
        Ok(())
    }
}

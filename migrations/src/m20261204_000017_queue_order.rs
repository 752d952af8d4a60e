//! The review queue is ordered by deadline, then by arrival (`review_due_at, created_at`), and
//! its index ended at the deadline. PostgreSQL sorts each deadline's few rows as it goes
//! (an incremental sort); SQLite cannot stop early: it read and sorted every case in the queue
//! for each page (4.5 ms for 1,500 submitted cases, every row with its frozen form). With the
//! arrival time in the index both walk it in order and stop after the page.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000017_queue_order"
    }
}

const ORDERED: &str = "ix_applications_queue_order";
const BY_DEADLINE: &str = "ix_applications_queue";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let on = "applications (institution_code, state, review_due_at, created_at)";
        crate::replace_index(manager, BY_DEADLINE, ORDERED, on).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::replace_index(manager, ORDERED, BY_DEADLINE, "applications (institution_code, state, review_due_at)")
            .await
    }
}

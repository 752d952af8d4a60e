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

const ORDERED: (&str, &str) =
    ("ix_applications_queue_order", "applications (institution_code, state, review_due_at, created_at)");
const BY_DEADLINE: (&str, &str) = ("ix_applications_queue", "applications (institution_code, state, review_due_at)");

/// The new index first, then the old one dropped (the queue is never without one); a new name,
/// as migration 15 did: a name dropped and created again in one migration can meet a pooled
/// SQLite connection that still has the old schema ("already exists").
async fn replace(manager: &SchemaManager<'_>, old: (&str, &str), new: (&str, &str)) -> Result<(), DbErr> {
    let db = manager.get_connection();
    db.execute_unprepared(&format!("CREATE INDEX {} ON {}", new.0, new.1)).await?;
    db.execute_unprepared(&format!("DROP INDEX {}", old.0)).await?;
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace(manager, BY_DEADLINE, ORDERED).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        replace(manager, ORDERED, BY_DEADLINE).await
    }
}

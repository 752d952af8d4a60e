//! The officer's search looks cases up by a parent's name, a mother's name on the delivery
//! record and an ID number's blind index: each an equality on an index.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261202_000007_search"
    }
}

const INDEXES: [(&str, &str); 3] = [
    ("ix_parents_name", "parents (name)"),
    ("ix_parents_id_number_bidx", "parents (id_number_bidx)"),
    ("ix_delivery_records_mother_name", "delivery_records (mother_name)"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, on) in INDEXES {
            manager.get_connection().execute_unprepared(&format!("CREATE INDEX {name} ON {on}")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager.get_connection().execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        Ok(())
    }
}

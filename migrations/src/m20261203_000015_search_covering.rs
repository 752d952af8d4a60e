//! Found on five million applications (`examples/province_scale`): a name shared by thousands
//! of cases (one mother in a thousand is 王静) took 170–390 ms to search, because each match was
//! read from the table only to learn which application it belongs to. The name indexes now carry
//! that answer (a parent's application, a delivery record's id), so the matches are read from the
//! index alone, and the search picks its fifty newest cases before it reads any whole row.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000015_search_covering"
    }
}

/// (the covering index, what it covers; the plain index it replaces, what that covered). The
/// new one is built before the old one goes, so the search is never without an index.
const INDEXES: [(&str, &str, &str, &str); 2] = [
    ("ix_parents_name_application", "parents (name, application_id)", "ix_parents_name", "parents (name)"),
    (
        "ix_delivery_records_mother_name_id",
        "delivery_records (mother_name, id)",
        "ix_delivery_records_mother_name",
        "delivery_records (mother_name)",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (covering, on, plain, _) in INDEXES {
            crate::replace_index(manager, plain, covering, on).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (covering, _, plain, on) in INDEXES {
            crate::replace_index(manager, covering, plain, on).await?;
        }
        Ok(())
    }
}

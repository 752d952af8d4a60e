//! Found on five million applications (`examples/province_scale`): a name shared by thousands of
//! cases in one institution (王静, 5,000) still took 66 ms warm and 177 ms cold to search, because
//! every match had to be looked up in `applications` for its institution and date before the
//! newest fifty could be picked: about two page reads per match.
//!
//! `search_names` keeps each name a case can be found by — the mother and the father as the
//! family entered them, the mother as the hospital recorded her — beside the case's institution
//! and creation time, ordered by exactly what the search asks: (institution, name, newest
//! first). The newest fifty are then the first entries of one index range, whatever the name's
//! frequency. The rows are written in the transaction that writes the names (an application's
//! creation, the parents' form, a delivery record's correction, an erasure), and filled here from
//! the data already there. The name indexes the search used before are dropped: nothing else
//! reads them, and every insert paid for them.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261203_000016_search_names"
    }
}

/// The indexes of migration 15, dropped here (and built again by `down`).
const OLD_INDEXES: [(&str, &str); 2] = [
    ("ix_parents_name_application", "parents (name, application_id)"),
    ("ix_delivery_records_mother_name_id", "delivery_records (mother_name, id)"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let n = Alias::new;
        manager
            .create_table(
                Table::create()
                    .table(n("search_names"))
                    .col(ColumnDef::new(n("application_id")).string().not_null())
                    // `mother` or `father` (the parents' form), `record` (the delivery record).
                    .col(ColumnDef::new(n("source")).string().not_null())
                    .col(ColumnDef::new(n("institution_code")).string().not_null())
                    .col(ColumnDef::new(n("name")).string().not_null())
                    .col(ColumnDef::new(n("created_at")).timestamp_with_time_zone().not_null())
                    .primary_key(Index::create().col(n("application_id")).col(n("source")))
                    .foreign_key(
                        ForeignKey::create()
                            .from(n("search_names"), n("application_id"))
                            .to(n("applications"), n("id")),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX ix_search_names_lookup ON search_names (institution_code, name, created_at, application_id)",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO search_names (application_id, source, institution_code, name, created_at) \
             SELECT p.application_id, p.role, a.institution_code, p.name, a.created_at \
             FROM parents p JOIN applications a ON a.id = p.application_id",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO search_names (application_id, source, institution_code, name, created_at) \
             SELECT a.id, 'record', a.institution_code, d.mother_name, a.created_at \
             FROM applications a JOIN delivery_records d ON d.id = a.delivery_id",
        )
        .await?;
        for (name, _) in OLD_INDEXES {
            db.execute_unprepared(&format!("DROP INDEX {name}")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for (name, on) in OLD_INDEXES {
            db.execute_unprepared(&format!("CREATE INDEX {name} ON {on}")).await?;
        }
        manager.drop_table(Table::drop().table(Alias::new("search_names")).to_owned()).await?;
        Ok(())
    }
}

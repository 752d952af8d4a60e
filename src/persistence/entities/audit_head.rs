//! The `audit_head` table's sea-orm entity (see the migrations for its indexes).

use sea_orm::entity::prelude::*;

/// One row: the hash of the newest audit entry. Appenders update it first, which serialises
/// them (row lock on PostgreSQL, the write lock on SQLite) so the chain never forks.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_head")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub hash: String,
    pub entries: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

//! The `officers` table's sea-orm entity (see the migrations for its indexes).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "officers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub institution_code: String,
    pub username: String,
    /// argon2id PHC string.
    pub password_hash: String,
    pub is_admin: bool,
    pub created_at: DateTimeUtc,
    pub disabled_at: Option<DateTimeUtc>,
    /// Where the morning digest goes (the officer's official-account openid), once bound.
    pub digest_openid: Option<String>,
    /// SHA-256 (hex) of a binding code waiting to be sent to the official account.
    pub digest_code_hash: Option<String>,
    pub digest_code_expires_at: Option<DateTimeUtc>,
    /// Keeps the special seal (the notice's 印章管理人员): may record a certificate's stamping.
    pub can_seal: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

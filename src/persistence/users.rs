//! Users and their WeChat identities: the mini-program openid (how they sign in), the
//! official-account openid (where template messages go) and the unionid that ties them.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::entities::{identity_link, subscription_consent, user};
use super::{is_unique_violation, new_id, PersistenceError};

pub const MINI_PROGRAM: &str = "mini_program_openid";
pub const OFFICIAL_ACCOUNT: &str = "official_account_openid";

async fn user_by_link(
    db: &impl ConnectionTrait,
    kind: &str,
    external_id: &str,
) -> Result<Option<String>, PersistenceError> {
    Ok(identity_link::Entity::find()
        .filter(identity_link::Column::Kind.eq(kind))
        .filter(identity_link::Column::ExternalId.eq(external_id))
        .one(db)
        .await?
        .map(|l| l.user_id))
}

/// The user signing in with this mini-program openid, created on first sign-in. A user who
/// followed the official account earlier (and so exists by unionid) is found, not duplicated.
pub async fn sign_in(
    db: &sea_orm::DatabaseConnection,
    mini_openid: &str,
    unionid: Option<&str>,
) -> Result<String, PersistenceError> {
    for _ in 0..2 {
        if let Some(id) = user_by_link(db, MINI_PROGRAM, mini_openid).await? {
            touch_login(db, &id, unionid).await?;
            return Ok(id);
        }
        let txn = super::begin(db).await?;
        let existing = match unionid {
            Some(u) => user::Entity::find().filter(user::Column::Unionid.eq(u)).one(&txn).await?.map(|m| m.id),
            None => None,
        };
        let user_id = match existing {
            Some(id) => id,
            None => {
                let id = new_id();
                user::Entity::insert(user::ActiveModel {
                    id: Set(id.clone()),
                    unionid: Set(unionid.map(str::to_string)),
                    created_at: Set(Utc::now()),
                    last_login_at: Set(Some(Utc::now())),
                })
                .exec(&txn)
                .await?;
                id
            }
        };
        let link = insert_link(&txn, &user_id, MINI_PROGRAM, mini_openid).await;
        match link {
            Ok(()) => {
                txn.commit().await?;
                return Ok(user_id);
            }
            // Two first sign-ins raced; the other one won. Look again.
            Err(PersistenceError::Db(e)) if is_unique_violation(&e) => {
                txn.rollback().await?;
                continue;
            }
            Err(e) => return Err(e),
        }
    }
    user_by_link(db, MINI_PROGRAM, mini_openid).await?.ok_or(PersistenceError::NotFound("user"))
}

async fn touch_login(db: &impl ConnectionTrait, user_id: &str, unionid: Option<&str>) -> Result<(), PersistenceError> {
    let mut model =
        user::ActiveModel { id: Set(user_id.to_string()), last_login_at: Set(Some(Utc::now())), ..Default::default() };
    if let Some(u) = unionid {
        model.unionid = Set(Some(u.to_string()));
    }
    user::Entity::update(model).exec(db).await?;
    Ok(())
}

async fn insert_link(
    db: &impl ConnectionTrait,
    user_id: &str,
    kind: &str,
    external_id: &str,
) -> Result<(), PersistenceError> {
    identity_link::Entity::insert(identity_link::ActiveModel {
        id: Set(new_id()),
        user_id: Set(user_id.to_string()),
        kind: Set(kind.to_string()),
        external_id: Set(external_id.to_string()),
        created_at: Set(Utc::now()),
    })
    .exec(db)
    .await?;
    Ok(())
}

/// Links a follower's official-account openid to the user with that unionid (creating the user
/// when they have not signed in to the mini-program yet). Idempotent.
pub async fn link_official_account(
    db: &sea_orm::DatabaseConnection,
    unionid: &str,
    official_openid: &str,
) -> Result<String, PersistenceError> {
    let txn = super::begin(db).await?;
    let user_id = match user::Entity::find().filter(user::Column::Unionid.eq(unionid)).one(&txn).await? {
        Some(u) => u.id,
        None => {
            let id = new_id();
            user::Entity::insert(user::ActiveModel {
                id: Set(id.clone()),
                unionid: Set(Some(unionid.to_string())),
                created_at: Set(Utc::now()),
                last_login_at: Set(None),
            })
            .exec(&txn)
            .await?;
            id
        }
    };
    match user_by_link(&txn, OFFICIAL_ACCOUNT, official_openid).await? {
        Some(existing) if existing == user_id => {}
        Some(_) => {
            identity_link::Entity::update_many()
                .col_expr(identity_link::Column::UserId, sea_orm::sea_query::Expr::value(user_id.clone()))
                .filter(identity_link::Column::Kind.eq(OFFICIAL_ACCOUNT))
                .filter(identity_link::Column::ExternalId.eq(official_openid))
                .exec(&txn)
                .await?;
        }
        None => insert_link(&txn, &user_id, OFFICIAL_ACCOUNT, official_openid).await?,
    }
    txn.commit().await?;
    Ok(user_id)
}

/// The user an official-account openid stands for, made (with only that link) when it is new:
/// an officer's own WeChat, bound for the morning digest, need not have used the mini-program.
pub async fn official_follower(db: &impl ConnectionTrait, official_openid: &str) -> Result<String, PersistenceError> {
    if let Some(user_id) = user_by_link(db, OFFICIAL_ACCOUNT, official_openid).await? {
        return Ok(user_id);
    }
    let id = new_id();
    user::Entity::insert(user::ActiveModel {
        id: Set(id.clone()),
        unionid: Set(None),
        created_at: Set(Utc::now()),
        last_login_at: Set(None),
    })
    .exec(db)
    .await?;
    insert_link(db, &id, OFFICIAL_ACCOUNT, official_openid).await?;
    Ok(id)
}

/// Removes the official-account link only; the user and every legal record stay.
pub async fn unlink_official_account(
    db: &impl ConnectionTrait,
    official_openid: &str,
) -> Result<bool, PersistenceError> {
    let result = identity_link::Entity::delete_many()
        .filter(identity_link::Column::Kind.eq(OFFICIAL_ACCOUNT))
        .filter(identity_link::Column::ExternalId.eq(official_openid))
        .exec(db)
        .await?;
    Ok(result.rows_affected > 0)
}

pub async fn user_by_official_openid(
    db: &impl ConnectionTrait,
    official_openid: &str,
) -> Result<Option<String>, PersistenceError> {
    user_by_link(db, OFFICIAL_ACCOUNT, official_openid).await
}

/// The user's external id of `kind`, if linked.
pub async fn external_id(
    db: &impl ConnectionTrait,
    user_id: &str,
    kind: &str,
) -> Result<Option<String>, PersistenceError> {
    Ok(identity_link::Entity::find()
        .filter(identity_link::Column::UserId.eq(user_id))
        .filter(identity_link::Column::Kind.eq(kind))
        .one(db)
        .await?
        .map(|l| l.external_id))
}

/// Records the user's latest choice for a subscribe-message template (accept / reject / ban).
pub async fn record_consent(
    db: &impl ConnectionTrait,
    user_id: &str,
    template_id: &str,
    status: &str,
) -> Result<(), PersistenceError> {
    use sea_orm::sea_query::OnConflict;
    subscription_consent::Entity::insert(subscription_consent::ActiveModel {
        id: Set(new_id()),
        user_id: Set(user_id.to_string()),
        template_id: Set(template_id.to_string()),
        status: Set(status.to_string()),
        updated_at: Set(Utc::now()),
    })
    .on_conflict(
        OnConflict::columns([subscription_consent::Column::UserId, subscription_consent::Column::TemplateId])
            .update_columns([subscription_consent::Column::Status, subscription_consent::Column::UpdatedAt])
            .to_owned(),
    )
    .exec(db)
    .await?;
    Ok(())
}

pub async fn consent_status(
    db: &impl ConnectionTrait,
    user_id: &str,
    template_id: &str,
) -> Result<Option<String>, PersistenceError> {
    Ok(subscription_consent::Entity::find()
        .filter(subscription_consent::Column::UserId.eq(user_id))
        .filter(subscription_consent::Column::TemplateId.eq(template_id))
        .one(db)
        .await?
        .map(|c| c.status))
}

#[derive(Debug, Clone, sea_orm::FromQueryResult)]
pub struct ApplicationSummary {
    pub id: String,
    pub state: String,
    pub review_due_at: Option<chrono::DateTime<Utc>>,
}

/// The user's most recent applications, newest first.
pub async fn recent_applications(
    db: &impl ConnectionTrait,
    user_id: &str,
    limit: u64,
) -> Result<Vec<ApplicationSummary>, PersistenceError> {
    use sea_orm::{FromQueryResult, Statement};
    let backend = db.get_database_backend();
    let [p1, p2] = super::placeholders(db);
    let sql = format!(
        "SELECT id, state, review_due_at FROM applications WHERE user_id = {p1} ORDER BY created_at DESC LIMIT {p2}"
    );
    Ok(ApplicationSummary::find_by_statement(Statement::from_sql_and_values(
        backend,
        sql,
        [user_id.into(), i64::try_from(limit).unwrap_or(10).into()],
    ))
    .all(db)
    .await?)
}

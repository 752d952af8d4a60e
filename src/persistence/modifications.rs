//! Families' requests to correct the hospital's record, and the officers' decisions.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::corrupt;
use super::entities::{application, modification_request};
use super::{new_id, PersistenceError};
use crate::domain::modification::ModificationState;

#[derive(Debug, Clone)]
pub struct ModificationRequest {
    pub id: String,
    pub application_id: String,
    pub items: serde_json::Value,
    pub state: ModificationState,
    pub decision_note: Option<String>,
    pub created_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
}

fn modification_from(m: modification_request::Model) -> Result<ModificationRequest, PersistenceError> {
    Ok(ModificationRequest {
        state: ModificationState::parse(&m.state).ok_or_else(|| corrupt("modification request", &m.id, &m.state))?,
        items: serde_json::from_str(&m.items)
            .map_err(|e| PersistenceError::Corrupt(format!("modification request {} items: {e}", m.id)))?,
        id: m.id,
        application_id: m.application_id,
        decision_note: m.decision_note,
        created_at: m.created_at,
        decided_at: m.decided_at,
        due_at: m.due_at,
    })
}

/// Requests about the institution's applications.
fn of_institution(institution: &str) -> sea_orm::sea_query::SimpleExpr {
    use sea_orm::sea_query::Query;
    modification_request::Column::ApplicationId.in_subquery(
        Query::select()
            .column(application::Column::Id)
            .from(application::Entity)
            .and_where(application::Column::InstitutionCode.eq(institution))
            .to_owned(),
    )
}

pub async fn modification_requests(
    db: &impl ConnectionTrait,
    institution: &str,
    state: Option<ModificationState>,
) -> Result<Vec<ModificationRequest>, PersistenceError> {
    let mut q = modification_request::Entity::find().filter(of_institution(institution));
    if let Some(state) = state {
        q = q.filter(modification_request::Column::State.eq(state.as_str()));
    }
    q.order_by_asc(modification_request::Column::CreatedAt)
        .limit(500)
        .all(db)
        .await?
        .into_iter()
        .map(modification_from)
        .collect()
}

pub async fn modification_request(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<ModificationRequest>, PersistenceError> {
    modification_request::Entity::find_by_id(id.to_string()).one(db).await?.map(modification_from).transpose()
}

/// Records the decision once; false when it was already decided.
pub async fn decide_modification(
    db: &impl ConnectionTrait,
    id: &str,
    approved: bool,
    note: &str,
    officer_id: &str,
) -> Result<bool, PersistenceError> {
    let r = modification_request::Entity::update_many()
        .col_expr(modification_request::Column::State, Expr::value(ModificationState::decided(approved).as_str()))
        .col_expr(modification_request::Column::DecisionNote, Expr::value(note))
        .col_expr(modification_request::Column::DecidedBy, Expr::value(officer_id))
        .col_expr(modification_request::Column::DecidedAt, Expr::value(Utc::now()))
        .filter(modification_request::Column::Id.eq(id))
        .filter(modification_request::Column::State.eq(ModificationState::Pending.as_str()))
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn add_modification_request(
    db: &impl ConnectionTrait,
    application_id: &str,
    items: &serde_json::Value,
    due_at: DateTime<Utc>,
) -> Result<String, PersistenceError> {
    let id = new_id();
    modification_request::Entity::insert(modification_request::ActiveModel {
        id: Set(id.clone()),
        application_id: Set(application_id.to_string()),
        items: Set(items.to_string()),
        state: Set(ModificationState::Pending.as_str().into()),
        decision_note: Set(None),
        decided_by: Set(None),
        created_at: Set(Utc::now()),
        decided_at: Set(None),
        due_at: Set(Some(due_at)),
    })
    .exec_without_returning(db)
    .await?;
    Ok(id)
}

/// The institution's pending requests past their deadline.
pub async fn count_overdue(
    db: &impl ConnectionTrait,
    institution: &str,
    now: DateTime<Utc>,
) -> Result<u64, PersistenceError> {
    use sea_orm::PaginatorTrait;
    Ok(modification_request::Entity::find()
        .filter(modification_request::Column::State.eq(ModificationState::Pending.as_str()))
        .filter(modification_request::Column::DueAt.lt(now))
        .filter(of_institution(institution))
        .count(db)
        .await?)
}

/// The pending requests' deadlines of these applications: (application id, due at).
pub async fn pending_due(
    db: &impl ConnectionTrait,
    application_ids: &[String],
) -> Result<Vec<(String, DateTime<Utc>)>, PersistenceError> {
    if application_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(modification_request::Entity::find()
        .filter(modification_request::Column::ApplicationId.is_in(application_ids.iter().cloned()))
        .filter(modification_request::Column::State.eq(ModificationState::Pending.as_str()))
        .all(db)
        .await?
        .into_iter()
        .filter_map(|m| Some((m.application_id, m.due_at?)))
        .collect())
}

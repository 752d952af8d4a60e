//! Face verifications and hand-held ID photos, per parent of an application.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};

use super::entities::{identity_verification, parent};
use super::{new_id, PersistenceError};

#[derive(Debug, Clone)]
pub struct Verification {
    pub id: String,
    pub parent_role: String,
    pub method: String,
    pub verify_id: Option<String>,
    pub outcome: String,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A hand-held photo counts for the identity step while it waits for the officer, who accepts
/// it by approving the case or refuses it by returning the case with the photo to redo.
pub const HANDHELD_AWAITING_REVIEW: &str = "awaiting_review";
pub const HANDHELD_ACCEPTED: &str = "accepted";
pub const HANDHELD_REFUSED: &str = "refused";
/// Outcomes that make a parent verified.
const VERIFIED: [&str; 3] = ["passed", HANDHELD_AWAITING_REVIEW, HANDHELD_ACCEPTED];

/// Who is being verified: the parent row, its application's delivery, the person.
#[derive(Debug, Clone)]
pub struct Person<'a> {
    pub application_id: &'a str,
    pub role: &'a str,
    pub parent_id: &'a str,
    pub delivery_id: &'a str,
    pub id_number_bidx: &'a str,
}

pub async fn start_face(
    db: &impl ConnectionTrait,
    id: &str,
    person: &Person<'_>,
    verify_id: &str,
) -> Result<(), PersistenceError> {
    identity_verification::Entity::insert(identity_verification::ActiveModel {
        id: Set(id.to_string()),
        application_id: Set(person.application_id.to_string()),
        parent_role: Set(person.role.to_string()),
        parent_id: Set(Some(person.parent_id.to_string())),
        delivery_id: Set(Some(person.delivery_id.to_string())),
        person_bidx: Set(Some(person.id_number_bidx.to_string())),
        method: Set("face".into()),
        verify_id: Set(Some(verify_id.to_string())),
        outcome: Set("pending".into()),
        verify_ret: Set(None),
        document_sha256: Set(None),
        created_at: Set(Utc::now()),
        finished_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The pending face session with this verify id for this parent of this application.
pub async fn pending_face(
    db: &impl ConnectionTrait,
    application_id: &str,
    role: &str,
    verify_id: &str,
) -> Result<Option<Verification>, PersistenceError> {
    Ok(identity_verification::Entity::find()
        .filter(identity_verification::Column::ApplicationId.eq(application_id))
        .filter(identity_verification::Column::ParentRole.eq(role))
        .filter(identity_verification::Column::VerifyId.eq(verify_id))
        .filter(identity_verification::Column::Outcome.eq("pending"))
        .one(db)
        .await?
        .map(from))
}

fn from(m: identity_verification::Model) -> Verification {
    Verification {
        id: m.id,
        parent_role: m.parent_role,
        method: m.method,
        verify_id: m.verify_id,
        outcome: m.outcome,
        created_at: m.created_at,
        finished_at: m.finished_at,
    }
}

/// Records the outcome; false when the row was no longer pending (a concurrent result won).
pub async fn finish(
    db: &impl ConnectionTrait,
    id: &str,
    passed: bool,
    verify_ret: Option<i64>,
) -> Result<bool, PersistenceError> {
    let r = identity_verification::Entity::update_many()
        .col_expr(identity_verification::Column::Outcome, Expr::value(if passed { "passed" } else { "failed" }))
        .col_expr(identity_verification::Column::VerifyRet, Expr::value(verify_ret.and_then(|v| i32::try_from(v).ok())))
        .col_expr(identity_verification::Column::FinishedAt, Expr::value(Utc::now()))
        .filter(identity_verification::Column::Id.eq(id))
        .filter(identity_verification::Column::Outcome.eq("pending"))
        .exec(db)
        .await?;
    Ok(r.rows_affected == 1)
}

pub async fn record_handheld_photo(
    db: &impl ConnectionTrait,
    person: &Person<'_>,
    sha256: &str,
) -> Result<(), PersistenceError> {
    identity_verification::Entity::insert(identity_verification::ActiveModel {
        id: Set(new_id()),
        application_id: Set(person.application_id.to_string()),
        parent_role: Set(person.role.to_string()),
        parent_id: Set(Some(person.parent_id.to_string())),
        delivery_id: Set(Some(person.delivery_id.to_string())),
        person_bidx: Set(Some(person.id_number_bidx.to_string())),
        method: Set("handheld_photo".into()),
        verify_id: Set(None),
        outcome: Set(HANDHELD_AWAITING_REVIEW.into()),
        verify_ret: Set(None),
        document_sha256: Set(Some(sha256.to_string())),
        created_at: Set(Utc::now()),
        finished_at: Set(Some(Utc::now())),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Failed face verifications of this person for this delivery, over every application for it.
pub async fn failed_faces(
    db: &impl ConnectionTrait,
    delivery_id: &str,
    id_number_bidx: &str,
) -> Result<u64, PersistenceError> {
    Ok(identity_verification::Entity::find()
        .filter(identity_verification::Column::DeliveryId.eq(delivery_id))
        .filter(identity_verification::Column::PersonBidx.eq(id_number_bidx))
        .filter(identity_verification::Column::Method.eq("face"))
        .filter(identity_verification::Column::Outcome.eq("failed"))
        .count(db)
        .await?)
}

/// The application's current parent row in this role: what a verification must name to count.
fn current_parent(application_id: &str, role: &str) -> sea_orm::sea_query::SelectStatement {
    current_parents(application_id).and_where(parent::Column::Role.eq(role)).to_owned()
}

/// The application's current parent rows, both roles.
fn current_parents(application_id: &str) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(parent::Column::Id)
        .from(parent::Entity)
        .and_where(parent::Column::ApplicationId.eq(application_id))
        .to_owned()
}

/// Whether the application's current parent in this role has passed (by face, or for the
/// father by a hand-held ID photo). A pass belongs to the parent row it verified, so a parent
/// entered anew (other name, ID type or number) is unverified.
pub async fn passed(db: &impl ConnectionTrait, application_id: &str, role: &str) -> Result<bool, PersistenceError> {
    Ok(identity_verification::Entity::find()
        .filter(identity_verification::Column::ApplicationId.eq(application_id))
        .filter(identity_verification::Column::ParentRole.eq(role))
        .filter(identity_verification::Column::Outcome.is_in(VERIFIED))
        .filter(identity_verification::Column::ParentId.in_subquery(current_parent(application_id, role)))
        .count(db)
        .await?
        > 0)
}

/// How each current parent of the application was verified, if they were: the newest result
/// per parent (method, outcome, when), in one statement for both parents.
pub async fn results_of_current_parents(
    db: &impl ConnectionTrait,
    application_id: &str,
) -> Result<Vec<Verification>, PersistenceError> {
    let newest_first = identity_verification::Entity::find()
        .filter(identity_verification::Column::ApplicationId.eq(application_id))
        .filter(identity_verification::Column::Outcome.is_in(VERIFIED.into_iter().chain([HANDHELD_REFUSED])))
        .filter(identity_verification::Column::ParentId.in_subquery(current_parents(application_id)))
        .order_by_desc(identity_verification::Column::CreatedAt)
        .all(db)
        .await?;
    let mut results: Vec<Verification> = Vec::new();
    for v in newest_first.into_iter().map(from) {
        if !results.iter().any(|r| r.parent_role == v.parent_role) {
            results.push(v);
        }
    }
    Ok(results)
}

/// The officer's verdict on the hand-held photo waiting for review → whether there was one.
pub async fn review_handheld(
    db: &impl ConnectionTrait,
    application_id: &str,
    accepted: bool,
) -> Result<bool, PersistenceError> {
    let r = identity_verification::Entity::update_many()
        .col_expr(
            identity_verification::Column::Outcome,
            Expr::value(if accepted { HANDHELD_ACCEPTED } else { HANDHELD_REFUSED }),
        )
        .col_expr(identity_verification::Column::FinishedAt, Expr::value(Utc::now()))
        .filter(identity_verification::Column::ApplicationId.eq(application_id))
        .filter(identity_verification::Column::Method.eq("handheld_photo"))
        .filter(identity_verification::Column::Outcome.eq(HANDHELD_AWAITING_REVIEW))
        .exec(db)
        .await?;
    Ok(r.rows_affected > 0)
}

/// The newest hand-held photo of the application: (image SHA-256, when it was uploaded).
pub async fn handheld_photo(
    db: &impl ConnectionTrait,
    application_id: &str,
) -> Result<Option<(String, DateTime<Utc>)>, PersistenceError> {
    Ok(identity_verification::Entity::find()
        .filter(identity_verification::Column::ApplicationId.eq(application_id))
        .filter(identity_verification::Column::Method.eq("handheld_photo"))
        .order_by_desc(identity_verification::Column::CreatedAt)
        .one(db)
        .await?
        .and_then(|m| m.document_sha256.map(|sha| (sha, m.created_at))))
}

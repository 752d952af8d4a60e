//! Who the parents are: face verification 2.0 for each parent through the provider, or the
//! father's hand-held ID photo once the mother passed. The third failed face of a parent ends
//! online eligibility.

use super::own_application;
use crate::blobs::StoredBlob;
use crate::clients::face::{FaceOutcome, FaceVerifier};
use crate::crypto::{Field, PersonalDataCipher};
use crate::domain::application::Command;
use crate::domain::application_state::ApplicationState;
use crate::domain::eligibility::Reason;
use crate::kv::KvStore;
use crate::persistence::applications::Application;
use crate::persistence::audit::Actor;
use crate::persistence::identity::Person;
use crate::persistence::parents::ParentRecord;
use crate::persistence::{identity, parents, users, Db};
use crate::services::lifecycle::{self, Facts};
use crate::services::{open_number, ServiceError};

pub use crate::domain::eligibility::MAX_FACE_FAILURES;
/// Face sessions a user may start per hour (each costs a platform call and the family's time).
pub const FACE_SESSIONS_PER_HOUR: i64 = 20;

fn parse_role(role: &str) -> Result<&'static str, ServiceError> {
    match role {
        "mother" => Ok("mother"),
        "father" => Ok("father"),
        _ => Err(ServiceError::NotFound("parent")),
    }
}

fn upstream(e: crate::clients::wechat::WechatError) -> ServiceError {
    ServiceError::Upstream { service: "WeChat face verification", source: e.into() }
}

/// A declared parent: name and ID number opened for the provider, the parent row and the
/// person's blind index (what a verification is bound to).
struct Declared {
    name: String,
    id_number: String,
    parent_id: String,
    id_number_bidx: String,
}

impl Declared {
    fn person<'a>(&'a self, app: &'a Application, role: &'a str) -> Person<'a> {
        Person {
            application_id: &app.id,
            role,
            parent_id: &self.parent_id,
            delivery_id: &app.delivery_id,
            id_number_bidx: &self.id_number_bidx,
        }
    }
}

/// The application's current parent in this role and the id of their row, or 409 when the
/// parents are not entered yet.
async fn parent_in_role(db: &Db, app: &Application, role: &str) -> Result<(ParentRecord, String), ServiceError> {
    let (id, parent) = parents::in_role(db, &app.id, role)
        .await?
        .ok_or_else(|| ServiceError::wrong_state(app.state, "identity before the parents are entered"))?;
    Ok((parent, id))
}

#[tracing::instrument(skip_all)]
async fn declared(
    db: &Db,
    cipher: &PersonalDataCipher,
    app: &Application,
    role: &str,
) -> Result<Declared, ServiceError> {
    let (parent, parent_id) = parent_in_role(db, app, role).await?;
    let id_number =
        open_number(cipher, Field::IdNumber, &parent.id_number.sealed, &format!("parent id of {}", app.id))?;
    Ok(Declared { name: parent.name, id_number, parent_id, id_number_bidx: parent.id_number.bidx })
}

pub struct FaceSessionView {
    pub verify_id: String,
    pub expires_in: u64,
}

#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all, fields(application_id = %application_id))]
pub async fn start_face_session(
    db: &Db,
    kv: &dyn KvStore,
    cipher: &PersonalDataCipher,
    face: &dyn FaceVerifier,
    user_id: &str,
    application_id: &str,
    role: &str,
) -> Result<FaceSessionView, ServiceError> {
    let role = parse_role(role)?;
    let app = own_application(db, user_id, application_id).await?;
    if app.state != ApplicationState::ParentsEntered {
        return Err(ServiceError::wrong_state(app.state, "face verification"));
    }
    super::consent::require_for_face(db, user_id).await?;
    if identity::passed(db, &app.id, role).await? {
        return Err(ServiceError::Conflict {
            code: "already_verified",
            message: format!("the {role} is already verified"),
        });
    }
    let parent = declared(db, cipher, &app, role).await?;
    // Per person and delivery: a new application for the same birth brings no fresh attempts.
    if identity::failed_faces(db, &app.delivery_id, &parent.id_number_bidx).await? >= MAX_FACE_FAILURES {
        return Err(ServiceError::Unprocessable {
            code: "face_attempts_exhausted",
            message: Reason::FaceAttemptsExhausted.message().into(),
        });
    }
    let count = kv.increment(&format!("ratelimit:face:{user_id}"), std::time::Duration::from_secs(3600)).await?;
    if count > FACE_SESSIONS_PER_HOUR {
        return Err(ServiceError::RateLimited);
    }
    let openid = users::external_id(db, user_id, users::MINI_PROGRAM)
        .await?
        .ok_or(ServiceError::NotFound("mini-program identity"))?;
    let row_id = crate::persistence::new_id();
    let out_seq_no = row_id.replace('-', "");
    let session = face.start(&out_seq_no, &parent.name, &parent.id_number, &openid).await.map_err(upstream)?;
    identity::start_face(db, &row_id, &parent.person(&app, role), &session.verify_id).await?;
    Ok(FaceSessionView { verify_id: session.verify_id, expires_in: session.expires_in })
}

/// Queries the provider's verdict. A pass may complete the identity step; the third failure
/// of a parent ends online eligibility.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip_all, fields(application_id = %application_id))]
pub async fn face_result(
    db: &Db,
    cipher: &PersonalDataCipher,
    face: &dyn FaceVerifier,
    user_id: &str,
    application_id: &str,
    role: &str,
    verify_id: &str,
) -> Result<bool, ServiceError> {
    let role = parse_role(role)?;
    let app = own_application(db, user_id, application_id).await?;
    let session =
        identity::pending_face(db, &app.id, role, verify_id).await?.ok_or(ServiceError::NotFound("face session"))?;
    let parent = declared(db, cipher, &app, role).await?;
    let openid = users::external_id(db, user_id, users::MINI_PROGRAM)
        .await?
        .ok_or(ServiceError::NotFound("mini-program identity"))?;
    let out_seq_no = session.id.replace('-', "");
    let outcome =
        face.result(verify_id, &out_seq_no, &parent.name, &parent.id_number, &openid).await.map_err(upstream)?;
    let (passed, code) = match outcome {
        FaceOutcome::Passed => (true, 10000),
        FaceOutcome::Failed { code } => (false, code),
    };
    let txn = crate::persistence::begin(db).await?;
    if !identity::finish(&txn, &session.id, passed, Some(code)).await? {
        return Err(ServiceError::Conflict {
            code: "already_answered",
            message: "this face session already has a result".into(),
        });
    }
    if !passed {
        let failures = identity::failed_faces(&txn, &app.delivery_id, &parent.id_number_bidx).await?;
        if failures >= MAX_FACE_FAILURES {
            let reasons = vec![Reason::FaceAttemptsExhausted.code()];
            lifecycle::apply(
                &txn,
                &Actor::applicant(&app.user_id),
                &app,
                Command::ExhaustFaceAttempts,
                Facts {
                    detail: Some(serde_json::json!({ "reasons": reasons })),
                    eligibility_reasons: reasons,
                    ..Facts::default()
                },
            )
            .await?;
            crate::persistence::commit(txn).await?;
            return Err(ServiceError::Unprocessable {
                code: "face_attempts_exhausted",
                message: Reason::FaceAttemptsExhausted.message().into(),
            });
        }
        crate::persistence::commit(txn).await?;
        return Err(ServiceError::Unprocessable {
            code: "face_verification_failed",
            message: format!(
                "人脸识别未通过，还可尝试{}次；请在光线充足处正对镜头重试。",
                MAX_FACE_FAILURES - failures
            ),
        });
    }
    super::catch_up(&txn, app).await?;
    crate::persistence::commit(txn).await?;
    Ok(true)
}

#[tracing::instrument(skip_all)]
/// The father's hand-held ID photo, the alternative to his face verification once the mother
/// passed hers. It completes the identity step while it waits for the officer, who accepts it by
/// approving the case or refuses it by returning the case with the photo to redo.
#[tracing::instrument(skip_all, fields(application_id = %application_id))]
pub async fn handheld_photo(
    db: &Db,
    user_id: &str,
    application_id: &str,
    blob: &StoredBlob,
) -> Result<(), ServiceError> {
    let app = own_application(db, user_id, application_id).await?;
    super::documents::handheld_allowed(db, &app).await?;
    let (father, parent_id) = parent_in_role(db, &app, "father").await?;
    let person = Person {
        application_id: &app.id,
        role: "father",
        parent_id: &parent_id,
        delivery_id: &app.delivery_id,
        id_number_bidx: &father.id_number.bidx,
    };
    let txn = crate::persistence::begin(db).await?;
    identity::record_handheld_photo(&txn, &person, &blob.sha256).await?;
    // After a return the photo is evidence for the resubmission; before, it completes identity.
    if app.state == ApplicationState::ParentsEntered {
        super::catch_up(&txn, app).await?;
    }
    crate::persistence::commit(txn).await?;
    Ok(())
}

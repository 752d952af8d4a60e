//! The family's separate consents before face verification (`domain::consent`): the current
//! texts, and giving consent to one of them (audited, kept with its version and time).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::consent::{needed_for_face, ConsentKind};
use crate::persistence::audit::{self, Actor};
use crate::persistence::{consents, Db};
use crate::services::{FieldError, ServiceError};

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentTextView {
    pub kind: &'static str,
    pub version: &'static str,
    pub text: &'static str,
}

/// The texts in force, as the mini-program shows them before the face step.
pub fn current() -> Vec<ConsentTextView> {
    ConsentKind::ALL
        .iter()
        .map(|k| {
            let t = k.current();
            ConsentTextView { kind: k.as_str(), version: t.version, text: t.text }
        })
        .collect()
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentGiven {
    pub kind: &'static str,
    pub version: &'static str,
    pub consented_at: DateTime<Utc>,
}

/// The user consents to `version` of the `kind` text: it must be the one in force (422
/// `outdated_version` for another, so nobody consents to a text they were not shown).
#[tracing::instrument(skip_all)]
pub async fn give(db: &Db, user_id: &str, kind: &str, version: &str) -> Result<ConsentGiven, ServiceError> {
    let kind = ConsentKind::parse(kind)
        .ok_or_else(|| ServiceError::Validation { fields: vec![FieldError::new("kind", "unknown")] })?;
    let current = kind.current();
    if version != current.version {
        return Err(ServiceError::Unprocessable {
            code: "outdated_version",
            message: format!("the {} text in force is version {}", kind.as_str(), current.version),
        });
    }
    let txn = crate::persistence::begin(db).await?;
    let at = consents::record(&*txn, user_id, kind.as_str(), current.version, Utc::now()).await?;
    let detail = serde_json::json!({"kind": kind.as_str(), "version": current.version});
    audit::append(&txn, &Actor::applicant(user_id), "consent.given", "user", user_id, detail).await?;
    crate::persistence::commit(txn).await?;
    Ok(ConsentGiven { kind: kind.as_str(), version: current.version, consented_at: at })
}

/// Face verification starts only with both consents of the current versions (409
/// `consent_required` naming what is missing).
pub async fn require_for_face(db: &Db, user_id: &str) -> Result<(), ServiceError> {
    let mut missing = Vec::new();
    for text in needed_for_face() {
        if consents::given_at(db, user_id, text.kind.as_str(), text.version).await?.is_none() {
            missing.push(format!("{} {}", text.kind.as_str(), text.version));
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Conflict {
            code: "consent_required",
            message: format!("face verification needs the parent's consent first: {}", missing.join(", ")),
        })
    }
}

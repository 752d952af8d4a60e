//! The services' error: what went wrong in terms a caller can act on, with a stable `code`.
//! No HTTP here: `routes::error` maps each variant to a status; the cause chain of `Internal`
//! and `Upstream` goes to the log, never to the client.

use serde::Serialize;

use crate::domain::application_state::ApplicationState;
use crate::persistence::PersistenceError;

/// One invalid input field, with a stable code the client can branch on.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldError {
    pub field: String,
    pub code: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: impl Into<String>) -> FieldError {
        FieldError { field: field.into(), code: code.into() }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("validation failed")]
    Validation { fields: Vec<FieldError> },
    #[error("{message}")]
    Unauthorized { code: &'static str, message: String },
    #[error("{0}")]
    Forbidden(String),
    /// 403 with a code the caller can act on.
    #[error("{message}")]
    Denied { code: &'static str, message: String },
    /// Another caller's id, or nothing there: the same answer, so ids cannot be probed.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The step does not fit the application's current state.
    #[error("{message}")]
    WrongState { state: &'static str, message: String },
    #[error("request body is too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    /// An eligibility rule fails where it is checked again (confirmation): 422 `not_eligible`
    /// with each failed rule's code and message.
    #[error("the application no longer meets the rules of the online path")]
    Ineligible { reasons: Vec<(&'static str, &'static str)> },
    #[error("too many requests")]
    RateLimited,
    /// Too many failed sign-ins: 429 `too_many_attempts` with `Retry-After`.
    #[error("too many failed sign-ins; try again later")]
    TooManyAttempts { retry_after_secs: u64 },
    #[error("{service} unavailable")]
    Upstream { service: &'static str, source: anyhow::Error },
    #[error("service unavailable")]
    Unavailable { code: &'static str, message: String },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ServiceError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ServiceError {
        ServiceError::BadRequest { code, message: message.into() }
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> ServiceError {
        ServiceError::Internal(e.into())
    }

    pub fn validation(fields: Vec<FieldError>) -> ServiceError {
        ServiceError::Validation { fields }
    }

    /// One invalid field.
    pub fn invalid(field: &str, code: &str) -> ServiceError {
        ServiceError::Validation { fields: vec![FieldError::new(field, code)] }
    }

    /// The stable, snake_case code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::BadRequest { code, .. } => code,
            ServiceError::Validation { .. } => "validation_failed",
            ServiceError::Unauthorized { code, .. } => code,
            ServiceError::Forbidden(_) => "forbidden",
            ServiceError::Denied { code, .. } => code,
            ServiceError::NotFound(_) => "not_found",
            ServiceError::Conflict { code, .. } => code,
            ServiceError::WrongState { .. } => "wrong_state",
            ServiceError::PayloadTooLarge => "payload_too_large",
            ServiceError::UnsupportedMediaType(_) => "unsupported_media_type",
            ServiceError::Unprocessable { code, .. } => code,
            ServiceError::Ineligible { .. } => "not_eligible",
            ServiceError::RateLimited => "rate_limited",
            ServiceError::TooManyAttempts { .. } => "too_many_attempts",
            ServiceError::Upstream { .. } => "upstream_unavailable",
            ServiceError::Unavailable { code, .. } => code,
            ServiceError::Internal(_) => "internal_error",
        }
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> ServiceError {
        ServiceError::Unauthorized { code, message: message.into() }
    }

    /// 409 `wrong_state`, naming the application's current state.
    pub fn wrong_state(state: ApplicationState, action: &str) -> ServiceError {
        ServiceError::WrongState {
            state: state.as_str(),
            message: format!("{action} is not possible while the application is {state}: {}", state.describe()),
        }
    }

    /// Someone else moved the application between our read and our write.
    pub fn changed_meanwhile() -> ServiceError {
        ServiceError::Conflict { code: "wrong_state", message: "the application changed meanwhile; reload it".into() }
    }
}

impl From<PersistenceError> for ServiceError {
    fn from(e: PersistenceError) -> ServiceError {
        if e.is_write_conflict() {
            tracing::info!(error = %e, "concurrent write refused");
            return ServiceError::Conflict {
                code: "concurrent_change",
                message: "another request changed this at the same moment; reload and try again".into(),
            };
        }
        ServiceError::Internal(e.into())
    }
}

impl From<crate::kv::KvError> for ServiceError {
    fn from(e: crate::kv::KvError) -> ServiceError {
        tracing::warn!(error = %e, "key-value store failed");
        ServiceError::Unavailable {
            code: "store_unavailable",
            message: "a required service is unavailable; try again shortly".into(),
        }
    }
}

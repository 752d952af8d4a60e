//! The API error: an HTTP status, a stable machine-readable `code`, a human message and the
//! request id. Services answer `ServiceError`; this is where each of its variants gets its
//! status. The cause chain goes to the log, never to the client.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::telemetry::current_request_id;

pub use crate::services::FieldError;
use crate::services::ServiceError;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, snake_case; clients branch on this.
    pub code: String,
    pub message: String,
    pub request_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// With `wrong_state`: the application's current state, so the client can show where it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    #[error("validation failed")]
    Validation { fields: Vec<FieldError> },
    #[error("authentication required")]
    Unauthorized { code: &'static str, message: String },
    #[error("{0}")]
    Forbidden(String),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The step does not fit the application's current state (409 `wrong_state`).
    #[error("{message}")]
    WrongState { state: &'static str, message: String },
    #[error("request body is too large")]
    PayloadTooLarge,
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    #[error("{message}")]
    Unprocessable { code: &'static str, message: String },
    #[error("too many requests")]
    RateLimited,
    #[error("{service} unavailable")]
    Upstream { service: &'static str, source: anyhow::Error },
    #[error("service unavailable")]
    Unavailable { code: &'static str, message: String },
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::BadRequest { code, message: message.into() }
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::Unauthorized { code, message: message.into() }
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> ApiError {
        ApiError::Internal(e.into())
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::Validation { .. } => "validation_failed",
            ApiError::Unauthorized { code, .. } => code,
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict { code, .. } => code,
            ApiError::WrongState { .. } => "wrong_state",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Unprocessable { code, .. } => code,
            ApiError::RateLimited => "rate_limited",
            ApiError::Upstream { .. } => "upstream_unavailable",
            ApiError::Unavailable { code, .. } => code,
            ApiError::Internal(_) => "internal_error",
        }
    }

    fn public_message(&self) -> String {
        match self {
            ApiError::Unauthorized { message, .. } => message.clone(),
            ApiError::UnsupportedMediaType(m) => m.clone(),
            ApiError::Unavailable { message, .. } => message.clone(),
            // Never echo internals to the client.
            ApiError::Internal(_) => "something went wrong on our side; the request id identifies it".into(),
            other => other.to_string(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } | ApiError::WrongState { .. } => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Upstream { .. } => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            ApiError::Internal(e) => tracing::error!(error.cause_chain = ?e, "request failed"),
            ApiError::Upstream { service, source } => {
                tracing::warn!(%service, error.cause_chain = ?source, "upstream failed")
            }
            _ => tracing::debug!(code = self.code(), "request refused"),
        }
        let fields = match self {
            ApiError::Validation { fields } => fields.clone(),
            _ => Vec::new(),
        };
        let mut response = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        response.json(ErrorBody {
            code: self.code().to_string(),
            message: self.public_message(),
            request_id: current_request_id().unwrap_or_default(),
            fields,
            state: match self {
                ApiError::WrongState { state, .. } => Some((*state).to_string()),
                _ => None,
            },
        })
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> ApiError {
        match e {
            ServiceError::BadRequest { code, message } => ApiError::BadRequest { code, message },
            ServiceError::Validation { fields } => ApiError::Validation { fields },
            ServiceError::Unauthorized { code, message } => ApiError::Unauthorized { code, message },
            ServiceError::Forbidden(m) => ApiError::Forbidden(m),
            ServiceError::NotFound(what) => ApiError::NotFound(what),
            ServiceError::Conflict { code, message } => ApiError::Conflict { code, message },
            ServiceError::WrongState { state, message } => ApiError::WrongState { state, message },
            ServiceError::PayloadTooLarge => ApiError::PayloadTooLarge,
            ServiceError::UnsupportedMediaType(m) => ApiError::UnsupportedMediaType(m),
            ServiceError::Unprocessable { code, message } => ApiError::Unprocessable { code, message },
            ServiceError::RateLimited => ApiError::RateLimited,
            ServiceError::Upstream { service, source } => ApiError::Upstream { service, source },
            ServiceError::Unavailable { code, message } => ApiError::Unavailable { code, message },
            ServiceError::Internal(e) => ApiError::Internal(e),
        }
    }
}

impl From<crate::persistence::PersistenceError> for ApiError {
    fn from(e: crate::persistence::PersistenceError) -> ApiError {
        ApiError::Internal(e.into())
    }
}

impl From<crate::kv::KvError> for ApiError {
    fn from(e: crate::kv::KvError) -> ApiError {
        ApiError::Unavailable {
            code: "store_unavailable",
            message: "a required service is unavailable; try again shortly".into(),
        }
        .with_log(e)
    }
}

impl ApiError {
    fn with_log(self, cause: impl std::fmt::Display) -> ApiError {
        tracing::warn!(error = %cause, "dependency failed");
        self
    }
}

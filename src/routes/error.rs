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
pub struct ReasonBody {
    pub code: &'static str,
    pub message: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable, snake_case; clients branch on this.
    pub code: String,
    pub message: String,
    pub request_id: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// With `not_eligible`: each failed rule, as `PUT parents` reports them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<ReasonBody>,
    /// With `wrong_state`: the application's current state, so the client can show where it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// Handlers answer the services' error as it is: one enum for the whole request path. What
/// is HTTP about it — the status, the body, the headers — is here.
pub type ApiError = ServiceError;

/// What the client may read of an error: never the internals.
pub(crate) fn public_message(e: &ServiceError) -> String {
    match e {
        ServiceError::Unauthorized { message, .. } => message.clone(),
        ServiceError::UnsupportedMediaType(m) => m.clone(),
        ServiceError::Unavailable { message, .. } => message.clone(),
        ServiceError::Internal(_) => "something went wrong on our side; the request id identifies it".into(),
        other => other.to_string(),
    }
}

impl ResponseError for ServiceError {
    fn status_code(&self) -> StatusCode {
        match self {
            ServiceError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ServiceError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ServiceError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ServiceError::Forbidden(_) | ServiceError::Denied { .. } => StatusCode::FORBIDDEN,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Conflict { .. } | ServiceError::WrongState { .. } => StatusCode::CONFLICT,
            ServiceError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ServiceError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ServiceError::Unprocessable { .. } | ServiceError::Ineligible { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ServiceError::RateLimited | ServiceError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServiceError::Upstream { .. } => StatusCode::BAD_GATEWAY,
            ServiceError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        match self {
            ServiceError::Internal(e) => tracing::error!(error.cause_chain = ?e, "request failed"),
            ServiceError::Upstream { service, source } => {
                tracing::warn!(%service, error.cause_chain = ?source, "upstream failed")
            }
            _ => tracing::debug!(code = self.code(), "request refused"),
        }
        let fields = match self {
            ServiceError::Validation { fields } => fields.clone(),
            _ => Vec::new(),
        };
        let mut response = HttpResponse::build(status);
        if status == StatusCode::UNAUTHORIZED {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        if let ServiceError::TooManyAttempts { retry_after_secs } = self {
            response.insert_header(("Retry-After", retry_after_secs.to_string()));
        }
        response.json(ErrorBody {
            code: self.code().to_string(),
            message: public_message(self),
            request_id: current_request_id().unwrap_or_default(),
            fields,
            reasons: match self {
                ServiceError::Ineligible { reasons } => {
                    reasons.iter().map(|&(code, message)| ReasonBody { code, message }).collect()
                }
                _ => Vec::new(),
            },
            state: match self {
                ServiceError::WrongState { state, .. } => Some((*state).to_string()),
                _ => None,
            },
        })
    }
}

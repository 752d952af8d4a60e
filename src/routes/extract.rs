//! Authenticated callers as actix extractors: a handler that takes `Officer` cannot be reached
//! without a valid officer (or admin) token.

use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::auth::{AuthError, Claims, Role};
use crate::routes::error::ApiError;
use crate::state::AppState;

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("application state missing")))
}

fn claims(req: &HttpRequest) -> Result<Claims, ApiError> {
    let state = state(req)?;
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthorized("missing_token", "an Authorization: Bearer token is required"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
        ApiError::unauthorized("invalid_token", "the Authorization header must be 'Bearer <token>'")
    })?;
    state.jwt.verify(token).map_err(|e| match e {
        AuthError::Expired => ApiError::unauthorized("token_expired", "the token has expired; sign in again"),
        _ => ApiError::unauthorized("invalid_token", "the token is not valid"),
    })
}

fn wrong_role() -> ApiError {
    ApiError::Forbidden("this endpoint is not available to your role".into())
}

macro_rules! extractor {
    ($(#[$doc:meta])* $name:ident, |$c:ident| $accept:expr, $build:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Claims);

        impl $name {
            pub fn id(&self) -> &str {
                &self.0.sub
            }
        }

        impl FromRequest for $name {
            type Error = ApiError;
            type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

            fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
                let checked = claims(req).and_then(|$c| if $accept { Ok($c) } else { Err(wrong_role()) });
                let state = state(req);
                Box::pin(async move {
                    let $c = checked?;
                    // Officers and hospital keys can be taken back: their token must still
                    // belong to an active account (one primary-key read; none for a family).
                    if !crate::services::sign_in::still_allowed(&state?.db, &$c).await? {
                        return Err(ApiError::unauthorized(
                            "access_revoked",
                            "this account was disabled or its key revoked; ask an administrator",
                        ));
                    }
                    Ok($build)
                })
            }
        }
    };
}

extractor!(
    /// A parent signed in through the mini-program.
    Applicant, |c| c.role == Role::Applicant, Applicant(c)
);
extractor!(
    /// A midwifery institution's system, scoped to that institution; `id()` is its key's id.
    Hospital, |c| c.role == Role::Hospital && c.inst.is_some(), Hospital(c)
);
extractor!(
    /// An issuing officer (admins are officers too), scoped to their institution.
    Officer, |c| matches!(c.role, Role::Officer | Role::Admin) && c.inst.is_some(), Officer(c)
);
extractor!(
    /// An officer with the admin role (stock changes).
    Admin, |c| c.role == Role::Admin && c.inst.is_some(), Admin(c)
);

impl Officer {
    pub fn institution(&self) -> &str {
        self.0.inst.as_deref().unwrap_or_default()
    }
}

impl Hospital {
    pub fn institution(&self) -> &str {
        self.0.inst.as_deref().unwrap_or_default()
    }
}

impl Admin {
    pub fn institution(&self) -> &str {
        self.0.inst.as_deref().unwrap_or_default()
    }
}

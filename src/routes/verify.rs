//! `GET /v/{token}`: the public authenticity check behind a printed certificate's QR code. A
//! phone gets a page; `Accept: application/json` gets the same answer as JSON.

use actix_web::{get, web, HttpRequest, HttpResponse};
use askama::Template;

use crate::routes::error::ApiError;
use crate::services::issuing::authenticity::{self, AuthenticityView};
use crate::services::ServiceError;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "verify.html")]
struct VerifyPage<'a> {
    view: &'a AuthenticityView,
}

/// Whether the certificate behind the token is valid or void (404 for a forged or unknown
/// token; 429 past 30 checks a minute from one address).
#[utoipa::path(tag = "public", operation_id = "verify_certificate", params(("token" = String, Path, description = "the token printed on the certificate")),
    responses((status = 200, body = AuthenticityView), (status = 404), (status = 429)))]
#[get("/v/{token}")]
pub async fn verify(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let client = super::sessions::client_address(&req.connection_info());
    let view = authenticity::check(&state.db, &state.cipher, state.kv.as_ref(), &client, &token).await?;
    let wants_json = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if wants_json {
        return Ok(HttpResponse::Ok().json(view));
    }
    let body = VerifyPage { view: &view }.render().map_err(ServiceError::internal)?;
    Ok(HttpResponse::Ok().content_type("text/html; charset=utf-8").body(body))
}

//! The officers' web console, in Chinese, server-rendered (askama), over the same services the
//! API uses. Plain HTML forms, no JavaScript needed. Sessions: `services::console`; every form
//! that changes something carries the session's CSRF token and is refused (403) without it.
//! Signed out, every page sends the browser to `/console/login`.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::persistence::audit::Actor;
use crate::routes::error::ApiError;
use crate::services::console::{self, ConsoleSession};
use crate::services::issuing::review::{self, QueueQuery};
use crate::services::{sign_in, ServiceError};
use crate::state::AppState;

const COOKIE: &str = "bc_console";

fn html(status: actix_web::http::StatusCode, page: &impl Template) -> Result<HttpResponse, ApiError> {
    let body = page.render().map_err(ServiceError::internal)?;
    Ok(HttpResponse::build(status).content_type("text/html; charset=utf-8").body(body))
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, to)).finish()
}

/// The signed-in officer, or None (the caller sends the browser to the sign-in page).
async fn session(req: &HttpRequest, state: &AppState) -> Result<Option<ConsoleSession>, ApiError> {
    let Some(cookie) = req.cookie(COOKIE) else { return Ok(None) };
    console::find(&state.db, state.kv.as_ref(), &state.jwt, cookie.value()).await
}

#[get("/console")]
pub async fn home() -> HttpResponse {
    see_other("/console/queue")
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage<'a> {
    error: Option<&'a str>,
    username: &'a str,
}

#[get("/console/login")]
pub async fn login_page() -> Result<HttpResponse, ApiError> {
    html(actix_web::http::StatusCode::OK, &LoginPage { error: None, username: "" })
}

#[derive(Deserialize)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
}

/// The API's officer sign-in (same limits, same audit); a session cookie instead of a token.
#[post("/console/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, ApiError> {
    let form = form.into_inner();
    let client = super::sessions::client_address(&req.connection_info());
    let attempt = sign_in::OfficerAttempt { username: &form.username, password: form.password.into(), client: &client };
    match sign_in::officer(&state.db, state.kv.as_ref(), &state.jwt, &state.settings.security, attempt).await {
        Ok(session) => {
            let value = console::open(state.kv.as_ref(), &session).await?;
            let cookie = Cookie::build(COOKIE, value)
                .path("/console")
                .http_only(true)
                .same_site(SameSite::Strict)
                .max_age(actix_web::cookie::time::Duration::seconds(i64::try_from(session.expires_in).unwrap_or(7200)))
                .finish();
            Ok(HttpResponse::SeeOther().cookie(cookie).insert_header((header::LOCATION, "/console/queue")).finish())
        }
        Err(e @ (ServiceError::Unauthorized { .. } | ServiceError::TooManyAttempts { .. })) => {
            let (status, message) = match e {
                ServiceError::TooManyAttempts { .. } => {
                    (actix_web::http::StatusCode::TOO_MANY_REQUESTS, "尝试次数过多，请稍后再试。")
                }
                _ => (actix_web::http::StatusCode::UNAUTHORIZED, "用户名或密码错误。"),
            };
            html(status, &LoginPage { error: Some(message), username: form.username.trim() })
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf_token: Option<String>,
}

#[post("/console/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<CsrfForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(session) = session(&req, &state).await? else { return Ok(see_other("/console/login")) };
    if !session.accepts(form.csrf_token.as_deref()) {
        return Err(ServiceError::Forbidden("the form is missing its CSRF token; reload the page".into()));
    }
    if let Some(cookie) = req.cookie(COOKIE) {
        console::close(state.kv.as_ref(), cookie.value()).await?;
    }
    let mut gone = Cookie::build(COOKIE, "").path("/console").finish();
    gone.make_removal();
    Ok(HttpResponse::SeeOther().cookie(gone).insert_header((header::LOCATION, "/console/login")).finish())
}

/// The states an officer filters the queue by, with their Chinese names.
const STATES: [(&str, &str); 7] = [
    ("submitted", "待审核"),
    ("modification_requested", "申请修改"),
    ("returned", "已退回"),
    ("issued", "已签发"),
    ("shipped", "已寄出"),
    ("lost_in_transit", "邮寄丢失"),
    ("delivered", "已签收"),
];

fn state_label(state: &str) -> &str {
    STATES.iter().find(|(s, _)| *s == state).map_or(state, |(_, label)| label)
}

struct QueueRow {
    id: String,
    mother_name: String,
    birth: String,
    newborn_name: String,
    due: String,
    overdue: bool,
    due_today: bool,
    state_label: String,
}

#[derive(Template)]
#[template(path = "console/queue.html")]
struct QueuePageView<'a> {
    institution: &'a str,
    csrf_token: &'a str,
    heading: &'a str,
    states: &'a [(&'a str, &'a str)],
    state: &'a str,
    rows: Vec<QueueRow>,
    total: u64,
    due_today: usize,
    overdue: usize,
    page: u64,
    has_next: bool,
}

#[derive(Deserialize)]
pub struct QueuePageQuery {
    pub state: Option<String>,
    pub page: Option<u64>,
}

/// The queue: earliest deadline first, overdue and due-today marked, filtered by state, paged.
#[get("/console/queue")]
pub async fn queue(
    state: web::Data<AppState>,
    req: HttpRequest,
    q: web::Query<QueuePageQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(session) = session(&req, &state).await? else { return Ok(see_other("/console/login")) };
    let institution = session.claims.inst.clone().unwrap_or_default();
    let filter = q.state.clone().unwrap_or_else(|| "submitted".into());
    let query = QueueQuery { state: Some(filter.clone()), overdue: None, page: q.page, per_page: Some(20) };
    let reader = Actor::officer(&session.claims.sub);
    let page = review::queue(&state.db, &reader, &institution, &query).await?;
    let today = crate::domain::working_days::to_china(chrono::Utc::now()).date_naive();
    let china = |t: chrono::DateTime<chrono::FixedOffset>| t.format("%Y-%m-%d %H:%M").to_string();
    let rows: Vec<QueueRow> = page
        .items
        .into_iter()
        .map(|item| QueueRow {
            due_today: !item.overdue && item.review_due_at.is_some_and(|d| d.date_naive() == today),
            due: item.review_due_at.map(china).unwrap_or_default(),
            overdue: item.overdue,
            birth: item.birth_at.map(china).unwrap_or_default(),
            newborn_name: item.newborn_name.unwrap_or_default(),
            state_label: state_label(&item.state).to_string(),
            mother_name: item.mother_name,
            id: item.id,
        })
        .collect();
    let view = QueuePageView {
        institution: &institution,
        csrf_token: &session.csrf_token,
        heading: state_label(&filter),
        states: &STATES,
        state: &filter,
        due_today: rows.iter().filter(|r| r.due_today).count(),
        overdue: rows.iter().filter(|r| r.overdue).count(),
        has_next: page.page * page.per_page < page.total,
        total: page.total,
        page: page.page,
        rows,
    };
    html(actix_web::http::StatusCode::OK, &view)
}

/// The console's pages (not part of the API's OpenAPI document).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(home).service(login_page).service(login).service(logout).service(queue);
}

//! The officers' web console, in Chinese, server-rendered (askama), over the same services the
//! API uses. Plain HTML forms, no JavaScript needed. Sessions: `services::console`; every form
//! that changes something carries the session's CSRF token and is refused (403) without it.
//! Signed out, every page sends the browser to `/console/login`.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

use crate::domain::application::Command;
use crate::domain::application_state::ApplicationState;
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

/// The session of a posted form, which must carry the session's CSRF token (403 without it);
/// None when signed out.
async fn form_session(
    req: &HttpRequest,
    state: &AppState,
    csrf_token: Option<&str>,
) -> Result<Option<ConsoleSession>, ApiError> {
    let Some(session) = session(req, state).await? else { return Ok(None) };
    if !session.accepts(csrf_token) {
        return Err(ServiceError::Forbidden("the form is missing its CSRF token; reload the page".into()));
    }
    Ok(Some(session))
}

/// `/console` and `/console/`: the queue (or, signed out, the sign-in page).
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
    if form_session(&req, &state, form.csrf_token.as_deref()).await?.is_none() {
        return Ok(see_other("/console/login"));
    }
    if let Some(cookie) = req.cookie(COOKIE) {
        console::close(state.kv.as_ref(), cookie.value()).await?;
    }
    let mut gone = Cookie::build(COOKIE, "").path("/console").finish();
    gone.make_removal();
    Ok(HttpResponse::SeeOther().cookie(gone).insert_header((header::LOCATION, "/console/login")).finish())
}

/// The states an officer filters the queue by.
const FILTERS: [ApplicationState; 7] = [
    ApplicationState::Submitted,
    ApplicationState::ModificationRequested,
    ApplicationState::Returned,
    ApplicationState::Issued,
    ApplicationState::Shipped,
    ApplicationState::LostInTransit,
    ApplicationState::Delivered,
];

/// A state's Chinese name (the text itself if it is not a state).
fn state_label(state: &str) -> &str {
    match ApplicationState::parse(state) {
        Some(known) => known.label(),
        None => state,
    }
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
    states: Vec<(&'static str, &'static str)>,
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
    let china = |t: chrono::DateTime<chrono::FixedOffset>| t.format("%Y-%m-%d %H:%M").to_string();
    let rows: Vec<QueueRow> = page
        .items
        .into_iter()
        .map(|item| QueueRow {
            due_today: item.due_today,
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
        states: FILTERS.iter().map(|s| (s.as_str(), s.label())).collect(),
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

struct ParentRow {
    role: &'static str,
    name: String,
    id_type: String,
    id_masked: String,
    identity: String,
}

#[derive(Template)]
#[template(path = "console/case.html")]
struct CasePage<'a> {
    institution: &'a str,
    csrf_token: &'a str,
    notice: Option<String>,
    id: String,
    state_label: String,
    due: String,
    overdue: bool,
    newborn_name: String,
    parents: Vec<ParentRow>,
    certificate: String,
    timeline: Vec<String>,
    can_approve: bool,
}

/// Text at a JSON path of the case, or "" (a field a case does not have yet).
fn text(v: &serde_json::Value, path: &[&str]) -> String {
    path.iter().fold(v, |v, key| &v[*key]).as_str().unwrap_or_default().to_string()
}

/// The case page: state, deadline, the parents (ID numbers masked), the certificate, the
/// timeline, and the actions its state allows. An audited read, like the API's.
async fn case_page(
    state: &AppState,
    session: &ConsoleSession,
    id: &str,
    notice: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let institution = session.claims.inst.clone().unwrap_or_default();
    let reader = Actor::officer(&session.claims.sub);
    let case = review::detail(&state.db, &state.cipher, &reader, &institution, id).await?;
    let parents = case["parents"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|p| ParentRow {
                    role: if p["role"] == "mother" { "母亲" } else { "父亲" },
                    name: text(p, &["name"]),
                    id_type: text(p, &["id_type"]),
                    id_masked: crate::domain::masking::mask_id_number(&text(p, &["id_number"])),
                    identity: match (
                        text(p, &["identity", "method"]).as_str(),
                        text(p, &["identity", "status"]).as_str(),
                    ) {
                        ("", _) => "未核验".to_string(),
                        (method, status) => format!("{method}：{status}"),
                    },
                })
                .collect()
        })
        .unwrap_or_default();
    let timeline = case["timeline"]
        .as_array()
        .map(|events| {
            events
                .iter()
                .map(|e| format!("{} {}", text(e, &["at"]).get(..16).unwrap_or(""), text(e, &["kind"])))
                .collect()
        })
        .unwrap_or_default();
    let state_now = text(&case, &["state"]);
    let page = CasePage {
        institution: &institution,
        csrf_token: &session.csrf_token,
        notice,
        id: text(&case, &["id"]),
        state_label: state_label(&state_now).to_string(),
        due: text(&case, &["review_due_at"]).get(..16).unwrap_or("").replace('T', " "),
        overdue: case["overdue"].as_bool().unwrap_or(false),
        newborn_name: text(&case, &["newborn_name"]),
        parents,
        certificate: case["certificates"]
            .as_array()
            .and_then(|list| list.last())
            .map(|c| text(c, &["number"]))
            .unwrap_or_default(),
        timeline,
        // The state machine says whether an approval is possible from here.
        can_approve: ApplicationState::parse(&state_now)
            .is_some_and(|s| crate::domain::application::transition(s, Command::Approve).is_ok()),
    };
    html(actix_web::http::StatusCode::OK, &page)
}

#[get("/console/applications/{id}")]
pub async fn case_view(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Some(session) = session(&req, &state).await? else { return Ok(see_other("/console/login")) };
    case_page(&state, &session, &id, None).await
}

#[derive(Deserialize)]
pub struct ApprovalForm {
    pub csrf_token: Option<String>,
    pub certificate_number: Option<String>,
}

/// Approval from the case page: the API's approval; a refusal is shown on the page in the
/// API's words.
#[post("/console/applications/{id}/approval")]
pub async fn approve(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<String>,
    form: web::Form<ApprovalForm>,
) -> Result<HttpResponse, ApiError> {
    let Some(session) = form_session(&req, &state, form.csrf_token.as_deref()).await? else {
        return Ok(see_other("/console/login"));
    };
    let institution = session.claims.inst.clone().unwrap_or_default();
    let given = form.certificate_number.as_deref().map(str::trim).filter(|n| !n.is_empty());
    let officer = Actor::officer(&session.claims.sub);
    match crate::services::issuing::certificates::approve(&state.db, &officer, &institution, &id, given).await {
        Ok(_) => Ok(see_other(&format!("/console/applications/{id}"))),
        Err(e @ (ServiceError::NotFound(_) | ServiceError::Internal(_))) => Err(e),
        Err(refused) => case_page(&state, &session, &id, Some(format!("未能审核通过：{refused}"))).await,
    }
}

/// The console's pages (not part of the API's OpenAPI document).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console", web::get().to(home))
        .route("/console/", web::get().to(home))
        .service(login_page)
        .service(login)
        .service(logout)
        .service(queue)
        .service(case_view)
        .service(approve);
}

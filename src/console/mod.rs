//! The officers', admins' and hospitals' web console, in Chinese, server-rendered (askama), over
//! the same services the API uses. Plain HTML forms, no JavaScript needed (a `confirm()` on the
//! actions that cannot be undone is the only script). Sessions: `services::console`; every form
//! that changes something carries the session's CSRF token and is refused (403) without it.
//! Signed out, every page sends the browser to `/console/login`. Form field names are the API's.
//!
//! - `cases`: the officer's queue, search, case page and the case's actions;
//! - `certificates`: printing, the seal, loss, void and recovery of a case's certificates;
//! - `modifications`: the families' correction requests and their decisions;
//! - `admin`: dashboard, blank stock, officers, hospital keys, registers;
//! - `hospital`: delivery records entered by hand.

mod admin;
pub mod cases;
mod certificates;
pub mod chart;
mod hospital;
mod modifications;
mod settings;

use std::fmt;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{get, post, web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use askama::Template;
use futures_util::future::LocalBoxFuture;
use serde::Deserialize;

use crate::auth::Role;
use crate::services::console::{self, ConsoleSession};
use crate::services::{sign_in, ServiceError};
use crate::state::AppState;

const COOKIE: &str = "bc_console";

/// What a console page answers when it cannot show itself.
#[derive(Debug)]
pub enum ConsoleError {
    /// No session (or it ended): to the sign-in page.
    SignedOut,
    /// Shown as an error page with the status of the API's error.
    Service(ServiceError),
}

impl From<ServiceError> for ConsoleError {
    fn from(e: ServiceError) -> Self {
        ConsoleError::Service(e)
    }
}

impl fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsoleError::SignedOut => f.write_str("signed out"),
            ConsoleError::Service(e) => e.fmt(f),
        }
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    heading: &'a str,
    message: String,
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignedOut => StatusCode::SEE_OTHER,
            ConsoleError::Service(e) => e.status_code(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        let e = match self {
            ConsoleError::SignedOut => return see_other("/console/login"),
            ConsoleError::Service(e) => e,
        };
        // The API's error response logs the cause chain (and never shows it); its body is dropped.
        drop(e.error_response());
        let (heading, message) = match e {
            ServiceError::NotFound(_) => ("找不到", "没有这个页面或记录，或者它不属于您的机构。".to_string()),
            ServiceError::Forbidden(_) | ServiceError::Denied { .. } => ("无权操作", refusal(e)),
            ServiceError::Internal(_) => {
                ("出错了", "系统内部错误，请稍后再试；如果一再出现，请联系管理员。".to_string())
            }
            _ => ("未能完成", refusal(e)),
        };
        let body = ErrorPage { heading, message }.render().unwrap_or_else(|_| heading.to_string());
        HttpResponse::build(self.status_code()).content_type("text/html; charset=utf-8").body(body)
    }
}

/// A refusal in the API's words: its message, its stable code and the fields it names.
pub fn refusal(e: &ServiceError) -> String {
    let fields = match e {
        ServiceError::Validation { fields } => {
            fields.iter().map(|f| format!("{}: {}", f.field, f.code)).collect::<Vec<_>>().join("; ")
        }
        _ => String::new(),
    };
    let message = crate::routes::error::public_message(e);
    if fields.is_empty() {
        format!("{message}（{}）", e.code())
    } else {
        format!("{message}（{}：{fields}）", e.code())
    }
}

type Page = Result<HttpResponse, ConsoleError>;

fn html(status: StatusCode, page: &impl Template) -> Page {
    let body = page.render().map_err(ServiceError::internal)?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

fn ok(page: &impl Template) -> Page {
    html(StatusCode::OK, page)
}

fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, to)).finish()
}

/// What every page's header needs: where the user works, their role's menu, the sign-out form.
pub struct Nav {
    pub institution: String,
    pub csrf_token: String,
    pub role: Role,
}

impl Nav {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
    pub fn is_hospital(&self) -> bool {
        self.role == Role::Hospital
    }
}

/// A signed-in console user whose role may open the page (`R`): officers (admins are officers
/// too), admins only, or hospitals.
pub struct Signed<R> {
    pub session: ConsoleSession,
    role: std::marker::PhantomData<R>,
}

pub trait PageRole {
    fn admits(role: Role) -> bool;
}
pub struct Staff;
pub struct AdminOnly;
pub struct HospitalOnly;
impl PageRole for Staff {
    fn admits(role: Role) -> bool {
        matches!(role, Role::Officer | Role::Admin)
    }
}
impl PageRole for AdminOnly {
    fn admits(role: Role) -> bool {
        role == Role::Admin
    }
}
impl PageRole for HospitalOnly {
    fn admits(role: Role) -> bool {
        role == Role::Hospital
    }
}

impl<R> Signed<R> {
    pub fn nav(&self) -> Nav {
        Nav {
            institution: self.session.institution().to_string(),
            csrf_token: self.session.csrf_token.clone(),
            role: self.session.claims.role,
        }
    }
    pub fn institution(&self) -> &str {
        self.session.institution()
    }
    /// A posted form must carry the session's CSRF token (403, nothing done, without it).
    pub fn check(&self, form: &Fields) -> Result<(), ConsoleError> {
        if self.session.accepts(form.one("csrf_token")) {
            Ok(())
        } else {
            Err(ServiceError::Forbidden("the form is missing its CSRF token; reload the page".into()).into())
        }
    }
}

impl<R: PageRole + 'static> FromRequest for Signed<R> {
    type Error = ConsoleError;
    type Future = LocalBoxFuture<'static, Result<Self, ConsoleError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let cookie = req.cookie(COOKIE);
        Box::pin(async move {
            let (Some(state), Some(cookie)) = (state, cookie) else { return Err(ConsoleError::SignedOut) };
            let session = console::find(&state.db, state.kv.as_ref(), &state.jwt, cookie.value())
                .await?
                .ok_or(ConsoleError::SignedOut)?;
            if !R::admits(session.claims.role) {
                return Err(ServiceError::Forbidden("this page is not for your role".into()).into());
            }
            Ok(Signed { session, role: std::marker::PhantomData })
        })
    }
}

/// A posted form (`application/x-www-form-urlencoded`), with repeated fields (checkboxes) kept.
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(body: &[u8]) -> Fields {
        Fields(url::form_urlencoded::parse(body).into_owned().collect())
    }
    /// The first value of a field, if given.
    pub fn one(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// The first value, trimmed, or "" when missing.
    pub fn text(&self, name: &str) -> &str {
        self.one(name).map(str::trim).unwrap_or_default()
    }
    /// Every value of a repeated field, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
}

/// `/console` and `/console/`: the signed-in user's first page (signed out: the sign-in page).
pub async fn home(state: web::Data<AppState>, req: HttpRequest) -> Result<HttpResponse, ConsoleError> {
    let Some(cookie) = req.cookie(COOKIE) else { return Ok(see_other("/console/login")) };
    let session = console::find(&state.db, state.kv.as_ref(), &state.jwt, cookie.value()).await?;
    Ok(see_other(match session.map(|s| s.claims.role) {
        None => "/console/login",
        Some(Role::Hospital) => "/console/hospital/deliveries",
        Some(_) => "/console/queue",
    }))
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage<'a> {
    error: Option<&'a str>,
    username: &'a str,
    institution_code: &'a str,
}

#[get("/console/login")]
pub async fn login_page() -> Page {
    ok(&LoginPage { error: None, username: "", institution_code: "" })
}

#[derive(Deserialize)]
pub struct LoginForm {
    pub username: String,
    pub password: String,
}

/// Sets the session cookie and sends the browser to the role's first page.
async fn signed_in(state: &AppState, session: sign_in::Session, to: &str) -> Page {
    let value = console::open(state.kv.as_ref(), &session).await?;
    let cookie = Cookie::build(COOKIE, value)
        .path("/console")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(actix_web::cookie::time::Duration::seconds(i64::try_from(session.expires_in).unwrap_or(7200)))
        .finish();
    Ok(HttpResponse::SeeOther().cookie(cookie).insert_header((header::LOCATION, to)).finish())
}

/// A refused sign-in, on the sign-in page: wrong credentials (401) or too many tries (429).
fn sign_in_refused(e: ServiceError, username: &str, institution_code: &str) -> Page {
    let (status, message) = match e {
        ServiceError::TooManyAttempts { .. } => (StatusCode::TOO_MANY_REQUESTS, "尝试次数过多，请稍后再试。"),
        ServiceError::Unauthorized { .. } => (StatusCode::UNAUTHORIZED, "用户名或密码错误。"),
        other => return Err(other.into()),
    };
    html(status, &LoginPage { error: Some(message), username, institution_code })
}

/// The API's officer sign-in (same limits, same audit); a session cookie instead of a token.
#[post("/console/login")]
pub async fn login(state: web::Data<AppState>, req: HttpRequest, form: web::Form<LoginForm>) -> Page {
    let form = form.into_inner();
    let client = crate::routes::sessions::client_address(&req.connection_info());
    let attempt = sign_in::OfficerAttempt { username: &form.username, password: form.password.into(), client: &client };
    match sign_in::officer(&state.db, state.kv.as_ref(), &state.jwt, &state.settings.security, attempt).await {
        Ok(session) => signed_in(&state, session, "/console/queue").await,
        Err(e) => sign_in_refused(e, form.username.trim(), ""),
    }
}

#[derive(Deserialize)]
pub struct HospitalLoginForm {
    pub institution_code: String,
    pub api_key: String,
}

/// A hospital without its own system signs in with its institution code and API key (the API's
/// hospital sign-in: same limits, same audit).
#[post("/console/hospital-login")]
pub async fn hospital_login(state: web::Data<AppState>, req: HttpRequest, form: web::Form<HospitalLoginForm>) -> Page {
    let client = crate::routes::sessions::client_address(&req.connection_info());
    let limits = &state.settings.security;
    match sign_in::hospital(
        &state.db,
        state.kv.as_ref(),
        &state.jwt,
        limits,
        &client,
        &form.institution_code,
        &form.api_key,
    )
    .await
    {
        Ok(session) => signed_in(&state, session, "/console/hospital/deliveries").await,
        Err(e) => sign_in_refused(e, "", form.institution_code.trim()),
    }
}

#[post("/console/logout")]
pub async fn logout(state: web::Data<AppState>, req: HttpRequest, who: Signed<AnyRole>, body: web::Bytes) -> Page {
    who.check(&Fields::parse(&body))?;
    if let Some(cookie) = req.cookie(COOKIE) {
        console::close(state.kv.as_ref(), cookie.value()).await?;
    }
    let mut gone = Cookie::build(COOKIE, "").path("/console").finish();
    gone.make_removal();
    Ok(HttpResponse::SeeOther().cookie(gone).insert_header((header::LOCATION, "/console/login")).finish())
}

/// Any signed-in console user (signing out).
pub struct AnyRole;
impl PageRole for AnyRole {
    fn admits(_: Role) -> bool {
        true
    }
}

/// A console path that does not exist: the console's 404 page, not the API's JSON.
pub async fn not_found() -> HttpResponse {
    ConsoleError::Service(ServiceError::NotFound("page")).error_response()
}

/// A time as officers read it: China time, to the minute.
pub fn china(t: chrono::DateTime<chrono::FixedOffset>) -> String {
    t.with_timezone(&crate::domain::working_days::china_offset()).format("%Y-%m-%d %H:%M").to_string()
}

/// Money in yuan, as the notice writes it.
pub fn yuan(fen: i64) -> String {
    format!("{}.{:02} 元", fen / 100, fen % 100)
}

/// The console's pages (not part of the API's OpenAPI document).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/console", web::get().to(home))
        .route("/console/", web::get().to(home))
        .service(login_page)
        .service(login)
        .service(hospital_login)
        .service(logout);
    cases::configure(cfg);
    certificates::configure(cfg);
    modifications::configure(cfg);
    admin::configure(cfg);
    hospital::configure(cfg);
    settings::configure(cfg);
    cfg.route("/console/{rest:.*}", web::route().to(not_found));
}

//! The admin's pages: the dashboard (counts per state, this month's deadlines, a chart of
//! applications per day), blank stock (receive a range, waste a number, what is left), the
//! institution's officers (create, disable, enable, reset a password), hospital keys (created and
//! shown once, revoked) and the two registers (a date range, CSV download). An admin reaches only
//! their own institution.

use actix_web::http::StatusCode;
use actix_web::{get, post, web};
use askama::Template;
use chrono::{NaiveDate, Utc};
use serde::Deserialize;

use super::{china, html, ok, refusal, see_other, AdminOnly, Fields, Nav, Page, Signed};
use crate::domain::application_state::ApplicationState;
use crate::domain::working_days::to_china;
use crate::routes::hospital::{china_days, DateRange};
use crate::routes::officer::{register_response, RegisterParams};
use crate::services::issuing::registers::{self, FirstIssuanceEntry, OnlineIssuanceEntry, RegisterCursor};
use crate::services::issuing::{stats, stock};
use crate::services::staff::{self, By};
use crate::services::ServiceError;
use crate::state::AppState;

type Admin = Signed<AdminOnly>;

impl Admin {
    fn by(&self) -> By<'_> {
        By::Admin { id: &self.session.claims.sub, institution: self.institution() }
    }
}

/// Days the dashboard's chart covers.
const CHART_DAYS: u32 = 30;

#[derive(Template)]
#[template(path = "console/dashboard.html")]
struct DashboardPage {
    nav: Nav,
    per_state: Vec<(String, i64)>,
    month_met: i64,
    month_missed: i64,
    overdue_now: i64,
    modifications_overdue: u64,
    blank_stock: u64,
    chart: String,
}

#[get("/console/admin")]
async fn dashboard(state: web::Data<AppState>, who: Admin) -> Page {
    let d = stats::dashboard(&state.db, who.institution(), Utc::now(), CHART_DAYS).await?;
    ok(&DashboardPage {
        nav: who.nav(),
        per_state: d
            .per_state
            .into_iter()
            .map(|(s, n)| (ApplicationState::parse(&s).map_or(s.clone(), |known| known.label().to_string()), n))
            .collect(),
        month_met: d.month_met,
        month_missed: d.month_missed,
        overdue_now: d.overdue_now,
        modifications_overdue: d.modifications_overdue,
        blank_stock: d.blank_stock,
        chart: super::chart::per_day_svg(&d.per_day),
    })
}

#[derive(Template)]
#[template(path = "console/stock.html")]
struct StockPage {
    nav: Nav,
    notice: Option<String>,
    error: Option<String>,
    left: u64,
    next: String,
}

async fn stock_page(state: &AppState, who: &Admin, notice: Option<String>, refused: Option<ServiceError>) -> Page {
    let (left, next) = stock::left(&state.db, who.institution()).await?;
    let status = refused.as_ref().map_or(StatusCode::OK, actix_web::ResponseError::status_code);
    let error = refused.map(|e| format!("未能完成：{}", refusal(&e)));
    html(status, &StockPage { nav: who.nav(), notice, error, left, next: next.unwrap_or_default() })
}

#[derive(Deserialize)]
pub struct Done {
    pub done: Option<String>,
}

#[get("/console/admin/stock")]
async fn stock_view(state: web::Data<AppState>, who: Admin, q: web::Query<Done>) -> Page {
    let notice = match q.done.as_deref() {
        Some("received") => Some("已入库。".to_string()),
        Some("wasted") => Some("已登记作废。".to_string()),
        _ => None,
    };
    stock_page(&state, &who, notice, None).await
}

/// Receive a range of blank certificates (`first`, `last`, as the API takes them).
#[post("/console/admin/stock")]
async fn receive(state: web::Data<AppState>, who: Admin, body: web::Bytes) -> Page {
    let form = Fields::parse(&body);
    who.check(&form)?;
    let actor = who.session.actor();
    match stock::receive_stock(&state.db, &actor, who.institution(), form.text("first"), form.text("last")).await {
        Ok(_) => Ok(see_other("/console/admin/stock?done=received")),
        Err(e @ ServiceError::Internal(_)) => Err(e.into()),
        Err(refused) => stock_page(&state, &who, None, Some(refused)).await,
    }
}

/// Waste one blank (`number`, `reason`).
#[post("/console/admin/stock/waste")]
async fn waste(state: web::Data<AppState>, who: Admin, body: web::Bytes) -> Page {
    let form = Fields::parse(&body);
    who.check(&form)?;
    let actor = who.session.actor();
    match stock::waste(&state.db, &actor, who.institution(), form.text("number"), form.text("reason")).await {
        Ok(()) => Ok(see_other("/console/admin/stock?done=wasted")),
        Err(e @ ServiceError::Internal(_)) => Err(e.into()),
        Err(refused) => stock_page(&state, &who, None, Some(refused)).await,
    }
}

pub struct OfficerRow {
    pub username: String,
    pub admin: bool,
    pub can_seal: bool,
    pub active: bool,
}

#[derive(Template)]
#[template(path = "console/officers.html")]
struct OfficersPage {
    nav: Nav,
    notice: Option<String>,
    error: Option<String>,
    rows: Vec<OfficerRow>,
}

async fn officers_page(state: &AppState, who: &Admin, notice: Option<String>, refused: Option<ServiceError>) -> Page {
    let rows = staff::officers(&state.db, who.institution())
        .await
        .map_err(ServiceError::from)?
        .into_iter()
        .map(|o| OfficerRow { username: o.username, admin: o.is_admin, can_seal: o.can_seal, active: o.active })
        .collect();
    let status = refused.as_ref().map_or(StatusCode::OK, actix_web::ResponseError::status_code);
    let error = refused.map(|e| format!("未能完成：{}", refusal(&e)));
    html(status, &OfficersPage { nav: who.nav(), notice, error, rows })
}

#[get("/console/admin/officers")]
async fn officers(state: web::Data<AppState>, who: Admin, q: web::Query<Done>) -> Page {
    let notice = q.done.as_deref().map(|d| match d {
        "created" => "已添加。",
        "disabled" => "已停用，该账号的登录立即失效。",
        "enabled" => "已启用。",
        _ => "已重置密码。",
    });
    officers_page(&state, &who, notice.map(str::to_string), None).await
}

/// An account change, then back to the list (or the list with the refusal).
async fn account_change(state: &AppState, who: &Admin, outcome: Result<(), staff::AccountError>, done: &str) -> Page {
    match outcome.map_err(ServiceError::from) {
        Ok(()) => Ok(see_other(&format!("/console/admin/officers?done={done}"))),
        Err(e @ (ServiceError::NotFound(_) | ServiceError::Internal(_))) => Err(e.into()),
        Err(refused) => officers_page(state, who, None, Some(refused)).await,
    }
}

/// A new officer of the admin's institution (`username`, `password`, `admin`).
#[post("/console/admin/officers")]
async fn add_officer(state: web::Data<AppState>, who: Admin, body: web::Bytes) -> Page {
    let form = Fields::parse(&body);
    who.check(&form)?;
    let (admin, can_seal) = (form.one("admin").is_some(), form.one("can_seal").is_some());
    let username = form.text("username");
    let mut outcome =
        staff::add_officer(&state.db, who.by(), who.institution(), username, form.text("password"), admin)
            .await
            .map(|_| ());
    if outcome.is_ok() && can_seal {
        outcome = staff::set_seal_keeper(&state.db, who.by(), username, true).await;
    }
    account_change(&state, &who, outcome, "created").await
}

#[post("/console/admin/officers/{username}/{change}")]
async fn change_officer(
    state: web::Data<AppState>,
    who: Admin,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Page {
    let form = Fields::parse(&body);
    who.check(&form)?;
    let (username, change) = path.into_inner();
    let outcome = match change.as_str() {
        "disable" => staff::set_officer_enabled(&state.db, who.by(), &username, false).await,
        "enable" => staff::set_officer_enabled(&state.db, who.by(), &username, true).await,
        "password" => staff::reset_officer_password(&state.db, who.by(), &username, form.text("password")).await,
        _ => return Err(ServiceError::NotFound("page").into()),
    };
    let done = match change.as_str() {
        "disable" => "disabled",
        "enable" => "enabled",
        _ => "password",
    };
    account_change(&state, &who, outcome, done).await
}

pub struct KeyRow {
    pub id: String,
    pub created_at: String,
    pub revoked_at: String,
}

#[derive(Template)]
#[template(path = "console/keys.html")]
struct KeysPage {
    nav: Nav,
    /// A key just created: shown this once, never again.
    new_key: Option<String>,
    notice: Option<String>,
    rows: Vec<KeyRow>,
}

async fn keys_page(state: &AppState, who: &Admin, new_key: Option<String>, notice: Option<String>) -> Page {
    let rows = staff::hospital_keys(&state.db, who.institution())
        .await
        .map_err(ServiceError::from)?
        .into_iter()
        .map(|k| KeyRow {
            id: k.id,
            created_at: china(to_china(k.created_at)),
            revoked_at: k.revoked_at.map(|t| china(to_china(t))).unwrap_or_default(),
        })
        .collect();
    ok(&KeysPage { nav: who.nav(), new_key, notice, rows })
}

#[get("/console/admin/hospital-keys")]
async fn keys(state: web::Data<AppState>, who: Admin, q: web::Query<Done>) -> Page {
    let notice = q.done.as_deref().map(|_| "已吊销，使用它的登录立即失效。".to_string());
    keys_page(&state, &who, None, notice).await
}

/// A new key for the institution's hospital system, shown once on the page that answers.
#[post("/console/admin/hospital-keys")]
async fn add_key(state: web::Data<AppState>, who: Admin, body: web::Bytes) -> Page {
    who.check(&Fields::parse(&body))?;
    let key = staff::add_hospital_key(&state.db, who.by(), who.institution()).await.map_err(ServiceError::from)?;
    let mut page = keys_page(&state, &who, Some(key), None).await?;
    *page.status_mut() = StatusCode::CREATED;
    Ok(page)
}

#[post("/console/admin/hospital-keys/{id}/revoke")]
async fn revoke_key(state: web::Data<AppState>, who: Admin, id: web::Path<String>, body: web::Bytes) -> Page {
    who.check(&Fields::parse(&body))?;
    staff::revoke_hospital_key(&state.db, who.by(), &id).await.map_err(ServiceError::from)?;
    Ok(see_other("/console/admin/hospital-keys?done=revoked"))
}

#[derive(Template)]
#[template(path = "console/registers.html")]
struct RegistersPage {
    nav: Nav,
    from: String,
    to: String,
    first: Vec<FirstIssuanceEntry>,
    online: Vec<OnlineIssuanceEntry>,
    more: bool,
}

#[derive(Deserialize)]
pub struct Range {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

/// Both registers for a date range (the first page of each on screen, an audited read), with
/// their CSV downloads.
#[get("/console/admin/registers")]
async fn registers_view(state: web::Data<AppState>, who: Admin, q: web::Query<Range>) -> Page {
    let (from, to) = china_days(&DateRange { from: q.from, to: q.to })?;
    let actor = who.session.actor();
    registers::open_export(&state.db, &actor, "first_issuance", from, to, "html").await?;
    let (first, _) =
        registers::page::<FirstIssuanceEntry>(&state.db, who.institution(), from, to, &RegisterCursor::default())
            .await?;
    registers::open_export(&state.db, &actor, "online_issuance", from, to, "html").await?;
    let (online, _) =
        registers::page::<OnlineIssuanceEntry>(&state.db, who.institution(), from, to, &RegisterCursor::default())
            .await?;
    let day = |t: chrono::DateTime<Utc>| to_china(t).format("%Y-%m-%d").to_string();
    ok(&RegistersPage {
        nav: who.nav(),
        more: first.len() as u64 >= registers::PAGE || online.len() as u64 >= registers::PAGE,
        from: day(from),
        to: day(to - chrono::Duration::days(1)),
        first,
        online,
    })
}

/// A register as CSV, streamed (the API's export, under the admin's name in the audit log).
#[get("/console/admin/registers/{name}.csv")]
async fn register_csv(state: web::Data<AppState>, who: Admin, name: web::Path<String>, q: web::Query<Range>) -> Page {
    let params = RegisterParams { from: q.from, to: q.to, format: Some("csv".into()) };
    let institution = who.institution().to_string();
    let actor = who.session.actor();
    let mut response = match name.as_str() {
        "first-issuance" => {
            register_response::<FirstIssuanceEntry>(state, &actor, &institution, params, "first_issuance").await?
        }
        "online-issuance" => {
            register_response::<OnlineIssuanceEntry>(state, &actor, &institution, params, "online_issuance").await?
        }
        _ => return Err(ServiceError::NotFound("register").into()),
    };
    let file = format!("attachment; filename=\"{}-{}.csv\"", name.as_str(), Utc::now().format("%Y%m%d"));
    response.headers_mut().insert(
        actix_web::http::header::CONTENT_DISPOSITION,
        actix_web::http::header::HeaderValue::from_str(&file).map_err(ServiceError::internal)?,
    );
    Ok(response)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(dashboard)
        .service(stock_view)
        .service(receive)
        .service(waste)
        .service(officers)
        .service(add_officer)
        .service(change_officer)
        .service(keys)
        .service(add_key)
        .service(revoke_key)
        .service(registers_view)
        .service(register_csv);
}

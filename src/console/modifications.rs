//! The families' requests to correct the delivery record, and the officer's decisions on them.

use actix_web::http::StatusCode;
use actix_web::{get, post, web};
use askama::Template;

use super::cases::{text, when, zh, Officer};
use super::{refusal, see_other, Fields, Nav, Page};
use crate::services::issuing::review;
use crate::services::ServiceError;
use crate::state::AppState;

pub struct ModificationRow {
    pub id: String,
    pub application_id: String,
    pub items: String,
    pub state: String,
    pub created_at: String,
    pub note: String,
    pub pending: bool,
    pub due: String,
    pub overdue: bool,
}

#[derive(Template)]
#[template(path = "console/modifications.html")]
struct ModificationsPage {
    nav: Nav,
    error: Option<String>,
    rows: Vec<ModificationRow>,
}

async fn modifications_page(state: &AppState, who: &Officer, error: Option<String>) -> Page {
    let list = review::modification_requests(&state.db, &who.session.actor(), who.institution(), None).await?;
    let rows = list
        .iter()
        .map(|m| ModificationRow {
            id: text(m, &["id"]),
            application_id: text(m, &["application_id"]),
            items: m["items"].to_string(),
            state: zh(&text(m, &["state"])).to_string(),
            created_at: when(m, &["created_at"]),
            note: text(m, &["decision_note"]),
            pending: m["state"] == "pending",
            due: when(m, &["due_at"]),
            overdue: m["overdue"].as_bool().unwrap_or(false),
        })
        .collect();
    let status = if error.is_some() { StatusCode::CONFLICT } else { StatusCode::OK };
    super::html(status, &ModificationsPage { nav: who.nav(), error, rows })
}

/// The families' requests to correct the delivery record, pending first.
#[get("/console/modification-requests")]
async fn modifications(state: web::Data<AppState>, who: Officer) -> Page {
    modifications_page(&state, &who, None).await
}

/// A decision (`approved` = true / false, `note`), as the API takes it.
#[post("/console/modification-requests/{id}/decision")]
async fn decide(state: web::Data<AppState>, who: Officer, id: web::Path<String>, body: web::Bytes) -> Page {
    let form = Fields::parse(&body);
    who.check(&form)?;
    let approved = form.text("approved") == "true";
    let actor = who.session.actor();
    match review::decide_modification(
        &state.db,
        &state.cipher,
        &actor,
        who.institution(),
        &id,
        approved,
        form.text("note"),
    )
    .await
    {
        Ok(app) => Ok(see_other(&format!("/console/applications/{}?done=decided", app.id))),
        Err(e @ (ServiceError::NotFound(_) | ServiceError::Internal(_))) => Err(e.into()),
        Err(refused) => modifications_page(&state, &who, Some(format!("未能完成：{}", refusal(&refused)))).await,
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(modifications).service(decide);
}

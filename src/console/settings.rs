//! The officer's own settings: the morning digest (`services::digest`). Opting in shows a one-time
//! code to send to the official account from the officer's own WeChat.

use actix_web::{get, post, web};
use askama::Template;
use chrono::Utc;

use super::{ok, see_other, Fields, Nav, Page, Signed, Staff};
use crate::services::{digest, ServiceError};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "console/settings.html")]
struct SettingsPage {
    nav: Nav,
    on: bool,
    /// A code just made, to send as "绑定 <code>".
    code: Option<String>,
    minutes: i64,
    hour: u32,
}

async fn page(state: &AppState, who: &Signed<Staff>, code: Option<String>) -> Page {
    let on = digest::is_on(&state.db, &who.session.claims.sub).await.map_err(ServiceError::from)?;
    ok(&SettingsPage {
        nav: who.nav(),
        on,
        code,
        minutes: digest::CODE_MINUTES,
        hour: state.settings.workers.digest_hour,
    })
}

#[get("/console/settings")]
async fn settings(state: web::Data<AppState>, who: Signed<Staff>) -> Page {
    page(&state, &who, None).await
}

/// Opt in: a binding code, shown once.
#[post("/console/settings/digest")]
async fn digest_on(state: web::Data<AppState>, who: Signed<Staff>, body: web::Bytes) -> Page {
    who.check(&Fields::parse(&body))?;
    let code =
        digest::start_binding(&state.db, &who.session.claims.sub, Utc::now()).await.map_err(ServiceError::from)?;
    page(&state, &who, Some(code)).await
}

#[post("/console/settings/digest/off")]
async fn digest_off(state: web::Data<AppState>, who: Signed<Staff>, body: web::Bytes) -> Page {
    who.check(&Fields::parse(&body))?;
    digest::stop(&state.db, &who.session.claims.sub).await.map_err(ServiceError::from)?;
    Ok(see_other("/console/settings"))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(settings).service(digest_on).service(digest_off);
}

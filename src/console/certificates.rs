//! The officer's certificate actions on the case page: print with the stub, record the seal,
//! report a loss, void and reissue, record a recovery. Each is the API's service call; a refusal
//! is shown on the case page in the API's words (`cases::after`).

use actix_web::{get, post, web};

use super::cases::{after, Officer};
use super::{ConsoleError, Fields, Page};
use crate::services::issuing::certificates;
use crate::services::ServiceError;
use crate::state::AppState;

/// The case a certificate form came from (only where to go back to: the service checks the
/// number belongs to the officer's institution).
fn back_to(form: &Fields) -> Result<String, ConsoleError> {
    let id = form.text("application_id");
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return Err(ServiceError::NotFound("application").into());
    }
    Ok(id.to_string())
}

#[post("/console/certificates/{number}/loss")]
async fn loss(state: web::Data<AppState>, who: Officer, number: web::Path<String>, body: web::Bytes) -> Page {
    let form = Fields::parse(&body);
    who.check(&form)?;
    let id = back_to(&form)?;
    let actor = who.session.actor();
    let outcome =
        certificates::report_loss(&state.db, &actor, who.institution(), &number, form.text("loss_certificate_no"))
            .await;
    after(&state, &who, &id, outcome.map(|()| "lost")).await
}

#[post("/console/certificates/{number}/void")]
async fn void(state: web::Data<AppState>, who: Officer, number: web::Path<String>, body: web::Bytes) -> Page {
    let form = Fields::parse(&body);
    who.check(&form)?;
    let id = back_to(&form)?;
    let actor = who.session.actor();
    let outcome =
        certificates::void_and_reissue(&state.db, &actor, who.institution(), &number, form.text("reason")).await;
    after(&state, &who, &id, outcome.map(|_| "voided")).await
}

/// The certificate with its stub, for printing (the API's PDF; an audited read).
#[get("/console/certificates/{number}/print.pdf")]
async fn certificate_pdf(state: web::Data<AppState>, who: Officer, number: web::Path<String>) -> Page {
    Ok(crate::routes::officer::certificate_response(&state, &who.session.actor(), who.institution(), &number).await?)
}

/// The seal keeper records stamping the seal.
#[post("/console/certificates/{number}/seal")]
async fn seal(state: web::Data<AppState>, who: Officer, number: web::Path<String>, body: web::Bytes) -> Page {
    let form = Fields::parse(&body);
    who.check(&form)?;
    let id = back_to(&form)?;
    let actor = who.session.actor();
    let outcome = certificates::seal(&state.db, &actor, &who.session.claims.sub, who.institution(), &number).await;
    after(&state, &who, &id, outcome.map(|_| "sealed")).await
}

#[post("/console/certificates/{number}/recovery")]
async fn recovery(state: web::Data<AppState>, who: Officer, number: web::Path<String>, body: web::Bytes) -> Page {
    let form = Fields::parse(&body);
    who.check(&form)?;
    let id = back_to(&form)?;
    let outcome = certificates::recover(&state.db, &who.session.actor(), who.institution(), &number).await;
    after(&state, &who, &id, outcome.map(|()| "recovered")).await
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(loss).service(void).service(recovery).service(certificate_pdf).service(seal);
}

//! The issuing officer's endpoints, always inside the officer's own institution; stock changes
//! need the admin role. Reads of personal data are audited by the service calls.

use actix_web::{get, post, web, HttpResponse};
use futures_util::stream;
use serde::{Deserialize, Serialize};

use crate::persistence::audit::Actor;
use crate::routes::error::ApiError;
use crate::routes::extract::{Admin, Officer};
use crate::routes::hospital::{china_days, DateRange};
use crate::services::issuing::registers::{Register, RegisterCursor};
use crate::services::issuing::review::{self, QueuePage, QueueQuery, ReturnReason};
use crate::services::issuing::shipping::{self, ShipmentView};
use crate::services::issuing::stats::{self as institution_stats, Stats};
use crate::services::issuing::{certificates, printing, registers, stock};
use crate::state::AppState;

pub(crate) fn actor(o: &Officer) -> Actor {
    Actor::officer(o.id())
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct QueueParams {
    /// Default `submitted` (the review queue).
    pub state: Option<String>,
    pub overdue: Option<bool>,
    pub page: Option<u64>,
    /// 1–200, default 20; `page` 1–1,000,000 (400 `invalid_page` outside).
    pub per_page: Option<u64>,
}

#[utoipa::path(tag = "officer", params(QueueParams), security(("bearer" = [])), responses((status = 200, body = QueuePage)))]
#[get("/api/v1/officer/applications")]
pub async fn queue(
    state: web::Data<AppState>,
    who: Officer,
    q: web::Query<QueueParams>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let page = review::queue(
        &state.db,
        &actor(&who),
        who.institution(),
        &QueueQuery { state: q.state, overdue: q.overdue, page: q.page, per_page: q.per_page },
    )
    .await?;
    Ok(HttpResponse::Ok().json(page))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct SearchParams {
    /// A parent's name, an ID number, a certificate number, a tracking number or a case
    /// reference (at most 64 characters; 400 `invalid_search` otherwise).
    pub q: String,
}

#[utoipa::path(tag = "officer", params(SearchParams), security(("bearer" = [])),
    responses((status = 200, body = review::SearchResult), (status = 400, body = crate::routes::error::ErrorBody)))]
#[get("/api/v1/officer/search")]
pub async fn search(
    state: web::Data<AppState>,
    who: Officer,
    q: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let found = review::search(&state.db, &state.cipher, &actor(&who), who.institution(), &q.q).await?;
    Ok(HttpResponse::Ok().json(found))
}

#[utoipa::path(tag = "officer", security(("bearer" = [])),
    responses((status = 200, description = "everything about the application, unmasked; the read is audited"), (status = 404)))]
#[get("/api/v1/officer/applications/{id}")]
pub async fn detail(state: web::Data<AppState>, who: Officer, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let view = review::detail(&state.db, &state.cipher, &actor(&who), who.institution(), &id).await?;
    Ok(HttpResponse::Ok().json(view))
}

#[utoipa::path(tag = "officer", security(("bearer" = [])),
    responses((status = 200, description = "the image (JPEG or PNG); the read is audited"), (status = 404)))]
#[get("/api/v1/officer/applications/{id}/documents/{kind}")]
pub async fn document(
    state: web::Data<AppState>,
    who: Officer,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = path.into_inner();
    let (bytes, content_type) =
        review::document(&state.db, &state.blobs, &actor(&who), who.institution(), &id, &kind).await?;
    Ok(HttpResponse::Ok().content_type(content_type).insert_header(("Cache-Control", "no-store")).body(bytes))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReturnBody {
    pub reasons: Vec<ReturnReason>,
    /// Document kinds the family must upload again.
    #[serde(default)]
    pub redo_documents: Vec<String>,
}

#[utoipa::path(tag = "officer", request_body = ReturnBody, security(("bearer" = [])),
    responses((status = 200, body = MovedAnswer), (status = 404), (status = 409), (status = 422)))]
#[post("/api/v1/officer/applications/{id}/return")]
pub async fn return_application(
    state: web::Data<AppState>,
    who: Officer,
    id: web::Path<String>,
    body: web::Json<ReturnBody>,
) -> Result<HttpResponse, ApiError> {
    let app = review::return_application(
        &state.db,
        &actor(&who),
        who.institution(),
        &id,
        &body.reasons,
        &body.redo_documents,
    )
    .await?;
    Ok(HttpResponse::Ok().json(MovedAnswer { id: app.id, state: app.state.as_str() }))
}

/// The case's archive: registration form, ID images, each certificate with its stub, the
/// signature, the audit extract and `manifest.json` with each file's SHA-256 (an audited read).
#[utoipa::path(tag = "officer", security(("bearer" = [])),
    responses((status = 200, description = "application/zip"), (status = 404), (status = 503)))]
#[get("/api/v1/officer/applications/{id}/archive.zip")]
pub async fn archive(
    state: web::Data<AppState>,
    who: Officer,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    archive_response(&state, &actor(&who), who.institution(), &id).await
}

/// The archive as a download (the API's and the console's).
pub(crate) async fn archive_response(
    state: &AppState,
    reader: &Actor,
    institution: &str,
    id: &str,
) -> Result<HttpResponse, ApiError> {
    use crate::services::issuing::archive;
    let public = state.settings.public_url();
    let (db, cipher, blobs, font) = (&state.db, &state.cipher, &state.blobs, &state.print_font);
    let files = archive::case_files(db, cipher, &public, blobs, font, reader, institution, id).await?;
    let zip = archive::zip(id, chrono::Utc::now(), &files)?;
    let name = format!(
        "attachment; filename=\"archive-{}.zip\"",
        id.chars().filter(char::is_ascii_alphanumeric).collect::<String>()
    );
    Ok(HttpResponse::Ok()
        .content_type("application/zip")
        .insert_header(("Content-Disposition", name))
        .insert_header(("Cache-Control", "no-store"))
        .body(zip))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReferralBody {
    /// Why the case cannot be handled online (the family reads it).
    pub reason: String,
}

/// The case goes to the counter: `referred`, a paid fee refunded, the family told where to go.
#[utoipa::path(tag = "officer", request_body = ReferralBody, security(("bearer" = [])),
    responses((status = 200, body = MovedAnswer), (status = 404), (status = 409), (status = 422)))]
#[post("/api/v1/officer/applications/{id}/referral")]
pub async fn refer(
    state: web::Data<AppState>,
    who: Officer,
    id: web::Path<String>,
    body: web::Json<ReferralBody>,
) -> Result<HttpResponse, ApiError> {
    let app = review::refer(&state.db, &actor(&who), who.institution(), &id, &body.reason).await?;
    Ok(HttpResponse::Ok().json(MovedAnswer { id: app.id, state: app.state.as_str() }))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
pub struct ApprovalBody {
    /// A blank number of the institution's stock; omitted = the next free one.
    pub certificate_number: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Approved {
    pub certificate_number: String,
}

#[utoipa::path(tag = "officer", request_body = ApprovalBody, security(("bearer" = [])),
    responses((status = 200, body = Approved), (status = 404), (status = 409, description = "wrong_state, number_used, no_blank_stock"), (status = 422, description = "not_in_stock")))]
#[post("/api/v1/officer/applications/{id}/approval")]
pub async fn approve(
    state: web::Data<AppState>,
    who: Officer,
    id: web::Path<String>,
    body: Option<web::Json<ApprovalBody>>,
) -> Result<HttpResponse, ApiError> {
    let given = body.and_then(|b| b.into_inner().certificate_number);
    let number = certificates::approve(&state.db, &actor(&who), who.institution(), &id, given.as_deref()).await?;
    Ok(HttpResponse::Ok().json(Approved { certificate_number: number }))
}

#[utoipa::path(tag = "officer", security(("bearer" = [])),
    responses((status = 200, body = ShipmentView), (status = 404), (status = 409), (status = 502)))]
#[post("/api/v1/officer/applications/{id}/shipment")]
pub async fn ship(state: web::Data<AppState>, who: Officer, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let post = shipping::Post {
        courier: state.courier.as_ref(),
        sender: &state.settings.courier.sender,
        regions: &state.regions,
    };
    let shipment = shipping::ship(&state.db, &state.cipher, post, &actor(&who), who.institution(), &id).await?;
    Ok(HttpResponse::Ok().json(shipment))
}

#[utoipa::path(tag = "officer", security(("bearer" = [])),
    responses((status = 200, description = "application/pdf; the read is audited"), (status = 404), (status = 409)))]
#[get("/api/v1/officer/applications/{id}/registration-form.pdf")]
pub async fn registration_form_pdf(
    state: web::Data<AppState>,
    who: Officer,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    registration_form_response(&state, &actor(&who), who.institution(), &id).await
}

/// A PDF to show in the browser, not to keep in its cache.
fn pdf_response(pdf: Vec<u8>, file_name: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/pdf")
        .insert_header(("Content-Disposition", format!("inline; filename=\"{file_name}\"")))
        .insert_header(("Cache-Control", "no-store"))
        .body(pdf)
}

/// The printable registration form (the API's and the console's; an audited read).
pub(crate) async fn registration_form_response(
    state: &AppState,
    reader: &Actor,
    institution: &str,
    id: &str,
) -> Result<HttpResponse, ApiError> {
    let (db, cipher, blobs, font) = (&state.db, &state.cipher, &state.blobs, &state.print_font);
    let pdf = printing::for_application(db, cipher, blobs, font, reader, institution, id).await?;
    Ok(pdf_response(pdf, "registration-form.pdf"))
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct ModificationParams {
    /// `pending`, `approved` or `rejected`; default all.
    pub state: Option<String>,
}

#[utoipa::path(tag = "officer", params(ModificationParams), security(("bearer" = [])), responses((status = 200, description = "[{id, application_id, items, state, ...}]; the read is audited")))]
#[get("/api/v1/officer/modification-requests")]
pub async fn modification_requests(
    state: web::Data<AppState>,
    who: Officer,
    q: web::Query<ModificationParams>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok()
        .json(review::modification_requests(&state.db, &actor(&who), who.institution(), q.state.as_deref()).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DecisionBody {
    pub approved: bool,
    pub note: String,
}

#[utoipa::path(tag = "officer", request_body = DecisionBody, security(("bearer" = [])),
    responses((status = 200, body = MovedAnswer), (status = 404), (status = 409), (status = 422)))]
#[post("/api/v1/officer/modification-requests/{id}/decision")]
pub async fn decide_modification(
    state: web::Data<AppState>,
    who: Officer,
    id: web::Path<String>,
    body: web::Json<DecisionBody>,
) -> Result<HttpResponse, ApiError> {
    let app = review::decide_modification(
        &state.db,
        &state.cipher,
        &actor(&who),
        who.institution(),
        &id,
        body.approved,
        &body.note,
    )
    .await?;
    Ok(HttpResponse::Ok().json(MovedAnswer { id: app.id, state: app.state.as_str() }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct LossBody {
    pub loss_certificate_no: String,
}

#[utoipa::path(tag = "officer", request_body = LossBody, security(("bearer" = [])),
    responses((status = 204), (status = 404), (status = 409), (status = 422)))]
#[post("/api/v1/officer/certificates/{number}/loss")]
pub async fn loss(
    state: web::Data<AppState>,
    who: Officer,
    number: web::Path<String>,
    body: web::Json<LossBody>,
) -> Result<HttpResponse, ApiError> {
    certificates::report_loss(&state.db, &actor(&who), who.institution(), &number, &body.loss_certificate_no).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReasonBody {
    pub reason: String,
}

#[utoipa::path(tag = "officer", request_body = ReasonBody, security(("bearer" = [])),
    responses((status = 200, body = Approved, description = "the new certificate number"), (status = 404), (status = 409), (status = 422)))]
#[post("/api/v1/officer/certificates/{number}/void")]
pub async fn void(
    state: web::Data<AppState>,
    who: Officer,
    number: web::Path<String>,
    body: web::Json<ReasonBody>,
) -> Result<HttpResponse, ApiError> {
    let new_number =
        certificates::void_and_reissue(&state.db, &actor(&who), who.institution(), &number, &body.reason).await?;
    Ok(HttpResponse::Ok().json(Approved { certificate_number: new_number }))
}

#[utoipa::path(tag = "officer", security(("bearer" = [])), responses((status = 204), (status = 404), (status = 409)))]
#[post("/api/v1/officer/certificates/{number}/recovery")]
pub async fn recovery(
    state: web::Data<AppState>,
    who: Officer,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    certificates::recover(&state.db, &actor(&who), who.institution(), &number).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The certificate with its stub (存根), for printing: the mother's e-signature in the stub's
/// witness box. Only an issued certificate prints.
#[utoipa::path(tag = "officer", security(("bearer" = [])),
    responses((status = 200, description = "application/pdf; the read is audited"), (status = 404), (status = 409), (status = 503)))]
#[get("/api/v1/officer/certificates/{number}/print.pdf")]
pub async fn certificate_pdf(
    state: web::Data<AppState>,
    who: Officer,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    certificate_response(&state, &actor(&who), who.institution(), &number).await
}

/// The certificate with its stub (the API's and the console's; an audited read).
pub(crate) async fn certificate_response(
    state: &AppState,
    reader: &Actor,
    institution: &str,
    number: &str,
) -> Result<HttpResponse, ApiError> {
    let public = state.settings.public_url();
    let (db, cipher, blobs, font) = (&state.db, &state.cipher, &state.blobs, &state.print_font);
    let pdf = printing::certificate_for(db, cipher, &public, blobs, font, reader, institution, number).await?;
    Ok(pdf_response(pdf, "certificate.pdf"))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Sealed {
    pub certificate_number: String,
    pub sealed_at: chrono::DateTime<chrono::Utc>,
}

/// The seal keeper records stamping the special seal (once; 403 `not_seal_keeper` for others).
#[utoipa::path(tag = "officer", security(("bearer" = [])),
    responses((status = 200, body = Sealed), (status = 403), (status = 404), (status = 409)))]
#[post("/api/v1/officer/certificates/{number}/seal")]
pub async fn seal(
    state: web::Data<AppState>,
    who: Officer,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sealed_at = certificates::seal(&state.db, &actor(&who), &who.0.sub, who.institution(), &number).await?;
    Ok(HttpResponse::Ok().json(Sealed { certificate_number: number.into_inner(), sealed_at }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct StockRange {
    pub first: String,
    pub last: String,
}

#[utoipa::path(tag = "officer", request_body = StockRange, security(("bearer" = [])),
    responses((status = 201, body = ReceivedAnswer), (status = 403), (status = 409), (status = 422)))]
#[post("/api/v1/officer/certificate-stock")]
pub async fn receive_stock(
    state: web::Data<AppState>,
    who: Admin,
    body: web::Json<StockRange>,
) -> Result<HttpResponse, ApiError> {
    let n =
        stock::receive_stock(&state.db, &Actor::officer(who.id()), who.institution(), &body.first, &body.last).await?;
    Ok(HttpResponse::Created().json(ReceivedAnswer { received: n }))
}

#[utoipa::path(tag = "officer", request_body = ReasonBody, security(("bearer" = [])),
    responses((status = 204), (status = 403), (status = 404), (status = 409)))]
#[post("/api/v1/officer/certificate-stock/{number}/waste")]
pub async fn waste(
    state: web::Data<AppState>,
    who: Admin,
    number: web::Path<String>,
    body: web::Json<ReasonBody>,
) -> Result<HttpResponse, ApiError> {
    stock::waste(&state.db, &Actor::officer(who.id()), who.institution(), &number, &body.reason).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[utoipa::path(tag = "officer", security(("bearer" = [])), responses((status = 200, body = Stats)))]
#[get("/api/v1/officer/stats")]
pub async fn stats(state: web::Data<AppState>, who: Officer) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(institution_stats::stats(&state.db, who.institution()).await?))
}

// ---- registers, streamed -------------------------------------------------------------------

#[derive(Deserialize, utoipa::IntoParams)]
pub struct RegisterParams {
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// One CSV field: quoted when needed; a leading formula character is neutralised so a
/// spreadsheet does not run it.
fn csv_field(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@']) { format!("'{v}") } else { v.to_string() };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// A time in a CSV cell: China time with its offset, to the second, as officers read it.
fn china_time(t: chrono::DateTime<chrono::Utc>) -> String {
    crate::domain::working_days::to_china(t).to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// A register as a stream of pages, each rendered as JSON array items or CSV lines.
pub(crate) trait RegisterRow: Serialize + Send + 'static {
    const HEADER: &'static [&'static str];
    fn csv(&self) -> Vec<String>;
}

impl RegisterRow for registers::FirstIssuanceEntry {
    const HEADER: &'static [&'static str] = &[
        "certificate_number",
        "application_id",
        "institution_code",
        "newborn_name",
        "baby_sex",
        "birth_at",
        "mother_name",
        "father_name",
        "issued_by",
        "issued_at",
    ];
    fn csv(&self) -> Vec<String> {
        vec![
            self.certificate_number.clone(),
            self.application_id.clone(),
            self.institution_code.clone(),
            self.newborn_name.clone(),
            self.baby_sex.clone(),
            china_time(self.birth_at),
            self.mother_name.clone(),
            self.father_name.clone(),
            self.issued_by.clone(),
            china_time(self.issued_at),
        ]
    }
}

impl RegisterRow for registers::OnlineIssuanceEntry {
    const HEADER: &'static [&'static str] = &[
        "certificate_number",
        "application_id",
        "institution_code",
        "claimant_relation",
        "out_trade_no",
        "submitted_at",
        "issued_at",
        "issued_by",
    ];
    fn csv(&self) -> Vec<String> {
        vec![
            self.certificate_number.clone(),
            self.application_id.clone(),
            self.institution_code.clone(),
            self.claimant_relation.clone(),
            self.out_trade_no.clone().unwrap_or_default(),
            china_time(self.submitted_at),
            china_time(self.issued_at),
            self.issued_by.clone(),
        ]
    }
}

struct Streaming {
    state: web::Data<AppState>,
    institution: String,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
    cursor: RegisterCursor,
    csv: bool,
    started: bool,
    done: bool,
}

fn render<R: RegisterRow>(rows: &[R], csv: bool, first_page: bool) -> String {
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        if csv {
            out.push_str(&row.csv().iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
            out.push_str("\r\n");
        } else {
            if !(first_page && i == 0) {
                out.push(',');
            }
            out.push_str(&serde_json::to_string(row).unwrap_or_default());
        }
    }
    out
}

/// A register, streamed as JSON or CSV (the API's registers and the console's downloads).
pub(crate) async fn register_response<R: RegisterRow + Register>(
    state: web::Data<AppState>,
    reader: &Actor,
    institution: &str,
    q: RegisterParams,
    name: &'static str,
) -> Result<HttpResponse, ApiError> {
    let csv = match q.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(ApiError::bad_request("unknown_format", format!("format {other:?}: use json or csv")))
        }
    };
    let (from, to) = china_days(&DateRange { from: q.from, to: q.to })?;
    registers::open_export(&state.db, reader, name, from, to, if csv { "csv" } else { "json" }).await?;
    let s = Streaming {
        state,
        institution: institution.to_string(),
        from,
        to,
        cursor: RegisterCursor::default(),
        csv,
        started: false,
        done: false,
    };
    let body = stream::unfold(s, |mut s| async move {
        if s.done {
            return None;
        }
        let mut chunk = String::new();
        let first_page = !s.started;
        if first_page {
            s.started = true;
            chunk.push_str(if s.csv { "\u{feff}" } else { "[" });
            if s.csv {
                chunk.push_str(&R::HEADER.join(","));
                chunk.push_str("\r\n");
            }
        }
        match registers::page::<R>(&s.state.db, &s.institution, s.from, s.to, &s.cursor).await {
            Ok((rows, cursor)) => {
                chunk.push_str(&render(&rows, s.csv, first_page));
                s.cursor = cursor;
                if (rows.len() as u64) < registers::PAGE {
                    s.done = true;
                    if !s.csv {
                        chunk.push(']');
                    }
                }
                Some((Ok::<_, ApiError>(web::Bytes::from(chunk)), s))
            }
            Err(e) => {
                // Headers are gone already: end the body early; the log has the cause.
                tracing::error!(error = %e, "register export failed midway");
                s.done = true;
                Some((Err(ApiError::from(e)), s))
            }
        }
    });
    let content_type = if csv { "text/csv; charset=utf-8" } else { "application/json" };
    Ok(HttpResponse::Ok().content_type(content_type).insert_header(("Cache-Control", "no-store")).streaming(body))
}

#[utoipa::path(tag = "officer", params(RegisterParams), security(("bearer" = [])),
    responses((status = 200, description = "JSON array or CSV, streamed; the read is audited")))]
#[get("/api/v1/officer/registers/first-issuance")]
pub async fn first_issuance_register(
    state: web::Data<AppState>,
    who: Officer,
    q: web::Query<RegisterParams>,
) -> Result<HttpResponse, ApiError> {
    let institution = who.institution().to_string();
    register_response::<registers::FirstIssuanceEntry>(
        state,
        &actor(&who),
        &institution,
        q.into_inner(),
        "first_issuance",
    )
    .await
}

#[utoipa::path(tag = "officer", params(RegisterParams), security(("bearer" = [])),
    responses((status = 200, description = "JSON array or CSV, streamed; the read is audited")))]
#[get("/api/v1/officer/registers/online-issuance")]
pub async fn online_issuance_register(
    state: web::Data<AppState>,
    who: Officer,
    q: web::Query<RegisterParams>,
) -> Result<HttpResponse, ApiError> {
    let institution = who.institution().to_string();
    register_response::<registers::OnlineIssuanceEntry>(
        state,
        &actor(&who),
        &institution,
        q.into_inner(),
        "online_issuance",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("张小满"), "张小满");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
    }
}

/// Where a case stands after the officer's move.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct MovedAnswer {
    pub id: String,
    pub state: &'static str,
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ReceivedAnswer {
    /// How many blank numbers the range added.
    pub received: usize,
}

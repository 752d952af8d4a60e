//! The officer's pages: the queue, the search box, the case page and every case action of the
//! API (approve, return, decide a modification, print the form, book the courier, report a loss,
//! void and reissue, recover). Each action is the API's service call; a refusal is shown on the
//! case page in the API's words.

use actix_web::http::header;
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;
use serde_json::Value;

use super::{china, ok, refusal, see_other, yuan, Fields, Nav, Page, Signed, Staff};
use crate::domain::application::{transition, Command, DOCUMENT_KINDS, HANDHELD_PHOTO};
use crate::domain::application_state::ApplicationState;
use crate::domain::masking::{mask_id_number, mask_phone};
use crate::services::issuing::review::{self, QueueItem, QueueQuery, ReturnReason};
use crate::services::issuing::{certificates, shipping};
use crate::services::ServiceError;
use crate::state::AppState;

pub(super) type Officer = Signed<Staff>;

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

/// The usual reasons for sending a case back, in the words the family reads; `other` takes the
/// officer's own text.
const RETURN_REASONS: [(&str, &str); 4] = [
    ("id_image_unclear", "身份证照片不清晰，请重新拍摄上传。"),
    ("id_image_mismatch", "身份证照片与填写的身份信息不一致，请核对后重新上传。"),
    ("handheld_photo_rejected", "手持身份证照片不符合要求，请按示例重新拍摄。"),
    ("form_data_wrong", "登记信息有误，请核对后重新确认。"),
];

/// A document kind's Chinese name.
fn document_label(kind: &str) -> &str {
    match kind {
        "mother_id_front" => "母亲身份证人像面",
        "mother_id_back" => "母亲身份证国徽面",
        "father_id_front" => "父亲身份证人像面",
        "father_id_back" => "父亲身份证国徽面",
        "father_handheld_photo" => "父亲手持身份证照片",
        "signature" => "母亲电子签名",
        "loss_certificate" => "快递遗失证明",
        other => other,
    }
}

/// The Chinese an officer reads for a stored code (sex, health, document type, relation, how an
/// identity was verified, certificate, payment and parcel states); an unknown code shows as it is.
pub fn zh(code: &str) -> &str {
    match code {
        "male" => "男",
        "female" => "女",
        "unknown" => "不明",
        "good" => "良好",
        "fair" => "一般",
        "poor" => "差",
        "resident_id" => "居民身份证",
        "hk_macao_permit" => "港澳居民来往内地通行证",
        "taiwan_permit" => "台湾居民来往大陆通行证",
        "passport" => "护照",
        "foreign_permanent_residence_id" => "外国人永久居留身份证",
        "father" => "父亲",
        "mother" => "母亲",
        "face" => "人脸识别",
        "handheld_photo" => "手持身份证照片",
        "passed" => "通过",
        "failed" => "未通过",
        "pending" => "待处理",
        "awaiting_review" => "待人工审核",
        "accepted" => "已认可",
        "issued" => "已签发",
        "delivered" => "已签收",
        "lost" => "遗失",
        "damaged" => "破损",
        "destroyed" => "损毁",
        "voided" => "已作废",
        "recovered" => "已收回",
        "booked" => "已下单",
        "picked_up" => "已揽收",
        "in_transit" => "运输中",
        "approved" => "已同意",
        "rejected" => "未同意",
        "created" => "待支付",
        "paid" => "已支付",
        "closed" => "已关闭",
        "refund_pending" => "退款中",
        "refunded" => "已退款",
        other => other,
    }
}

/// A state's Chinese name (the text itself if it is not a state).
fn state_label(state: &str) -> &str {
    match ApplicationState::parse(state) {
        Some(known) => known.label(),
        None => state,
    }
}

pub struct CaseRow {
    pub id: String,
    pub mother_name: String,
    pub birth: String,
    pub newborn_name: String,
    pub due: String,
    pub overdue: bool,
    pub due_today: bool,
    pub state_label: String,
}

impl From<QueueItem> for CaseRow {
    fn from(item: QueueItem) -> Self {
        CaseRow {
            due_today: item.due_today,
            due: item.review_due_at.map(china).unwrap_or_default(),
            overdue: item.overdue,
            birth: item.birth_at.map(china).unwrap_or_default(),
            newborn_name: item.newborn_name.unwrap_or_default(),
            state_label: state_label(&item.state).to_string(),
            mother_name: item.mother_name,
            id: item.id,
        }
    }
}

#[derive(Template)]
#[template(path = "console/queue.html")]
struct QueuePageView<'a> {
    nav: Nav,
    heading: &'a str,
    states: Vec<(&'static str, &'static str)>,
    state: &'a str,
    rows: Vec<CaseRow>,
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
async fn queue(state: web::Data<AppState>, who: Officer, q: web::Query<QueuePageQuery>) -> Page {
    let filter = q.state.clone().unwrap_or_else(|| "submitted".into());
    let query = QueueQuery { state: Some(filter.clone()), overdue: None, page: q.page, per_page: Some(20) };
    let page = review::queue(&state.db, &who.session.actor(), who.institution(), &query).await?;
    let rows: Vec<CaseRow> = page.items.into_iter().map(CaseRow::from).collect();
    ok(&QueuePageView {
        nav: who.nav(),
        heading: state_label(&filter),
        states: FILTERS.iter().map(|s| (s.as_str(), s.label())).collect(),
        state: &filter,
        due_today: rows.iter().filter(|r| r.due_today).count(),
        overdue: rows.iter().filter(|r| r.overdue).count(),
        has_next: page.page * page.per_page < page.total,
        total: page.total,
        page: page.page,
        rows,
    })
}

#[derive(Template)]
#[template(path = "console/search.html")]
struct SearchPage {
    nav: Nav,
    q: String,
    error: Option<String>,
    rows: Vec<CaseRow>,
}

#[derive(Deserialize)]
pub struct SearchQuery {
    pub q: Option<String>,
}

/// The one search box (the API's search: names, ID numbers through the blind index, certificate
/// and tracking numbers, case references); an unreadable term is explained on the page.
#[get("/console/search")]
async fn search(state: web::Data<AppState>, who: Officer, q: web::Query<SearchQuery>) -> Page {
    let term = q.q.clone().unwrap_or_default();
    let (rows, error) = if term.trim().is_empty() {
        (Vec::new(), None)
    } else {
        match review::search(&state.db, &state.cipher, &who.session.actor(), who.institution(), &term).await {
            Ok(found) => (found.items.into_iter().map(CaseRow::from).collect(), None),
            Err(e @ ServiceError::BadRequest { .. }) => (Vec::new(), Some(refusal(&e))),
            Err(e) => return Err(e.into()),
        }
    };
    ok(&SearchPage { nav: who.nav(), q: term, error, rows })
}

pub struct ParentView {
    pub role: &'static str,
    pub name: String,
    pub id_type: String,
    pub id_number: String,
    pub nationality: String,
    pub ethnicity: String,
    pub phone: String,
    pub address: String,
    pub identity: String,
}

pub struct CertificateView {
    pub number: String,
    pub state: String,
    pub issued_at: String,
    pub note: String,
    /// The certificate the case holds now (the loss and void forms act on it).
    pub current: bool,
    /// Voided and not back yet: the recovery form acts on it.
    pub voided: bool,
    /// Issued and not yet posted: it prints (with its stub) and takes the seal.
    pub printable: bool,
    /// When the seal was stamped ("" before).
    pub sealed_at: String,
}

#[derive(Template)]
#[template(path = "console/case.html")]
struct CasePage {
    nav: Nav,
    notice: Option<String>,
    error: Option<String>,
    id: String,
    state_label: String,
    due: String,
    overdue: bool,
    newborn_name: String,
    claimant: String,
    return_reasons: Vec<String>,
    delivery: Vec<(&'static str, String)>,
    parents: Vec<ParentView>,
    unmasked: bool,
    images: Vec<(String, String)>,
    form_digest: String,
    signed_at: String,
    payment: String,
    address: String,
    shipment: String,
    certificates: Vec<CertificateView>,
    province: Vec<ProvinceRow>,
    timeline: Vec<(String, String, String)>,
    can_approve: bool,
    can_return: bool,
    can_ship: bool,
    can_refer: bool,
    can_print: bool,
    return_reasons_offered: Vec<(&'static str, &'static str)>,
    redo_kinds: Vec<(&'static str, &'static str)>,
}

/// One report to the provincial system, as the officer reads it.
pub struct ProvinceRow {
    what: String,
    status: &'static str,
    reported_at: String,
    note: String,
}

fn province_rows(case: &Value) -> Vec<ProvinceRow> {
    let reports = case["province_report"]["reports"].as_array().into_iter().flatten();
    reports
        .map(|r| ProvinceRow {
            what: match text(r, &["kind"]).as_str() {
                "delivery" => "分娩记录".to_string(),
                "issuance" => format!("签发 {}", text(r, &["subject"])),
                "void" => format!("作废 {}", text(r, &["subject"])),
                other => other.to_string(),
            },
            status: match text(r, &["status"]).as_str() {
                "reported" => "已上报",
                "rejected" => "被省平台退回，请联系管理员",
                _ => "待上报",
            },
            reported_at: when(r, &["reported_at"]),
            note: text(r, &["last_error"]),
        })
        .collect()
}

/// Text at a JSON path of the case, or "" (a field a case does not have yet).
pub(super) fn text(v: &Value, path: &[&str]) -> String {
    let at = path.iter().fold(v, |v, key| &v[*key]);
    match at {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => if *b { "是" } else { "否" }.to_string(),
        _ => String::new(),
    }
}

/// An RFC 3339 time of the case JSON, as officers read it.
pub(super) fn when(v: &Value, path: &[&str]) -> String {
    chrono::DateTime::parse_from_rfc3339(&text(v, path)).map(china).unwrap_or_default()
}

/// Does the state machine allow this command from the case's state?
fn allows(state: Option<ApplicationState>, command: Command) -> bool {
    state.is_some_and(|s| transition(s, command).is_ok())
}

/// How the case page opens: what was just done, or why it was refused, and whether the officer
/// asked to see the numbers in full.
#[derive(Default)]
pub struct Shown {
    pub notice: Option<String>,
    pub error: Option<String>,
    pub unmasked: bool,
}

/// The case page: everything the officer decides on, ID numbers and phones masked until "show",
/// and the actions the case's state allows. An audited read, like the API's.
async fn case_page(state: &AppState, who: &Officer, id: &str, shown: Shown) -> Page {
    let case = review::detail(&state.db, &state.cipher, &who.session.actor(), who.institution(), id).await?;
    let id = text(&case, &["id"]);
    let unmasked = shown.unmasked;
    let id_number = |n: String| if unmasked { n } else { mask_id_number(&n) };
    let phone = |p: String| if unmasked || p.is_empty() { p } else { mask_phone(&p) };
    let d = &case["delivery"];
    let delivery = vec![
        ("母亲姓名", text(d, &["mother_name"])),
        ("母亲证件", format!("{} {}", zh(&text(d, &["mother_id_type"])), id_number(text(d, &["mother_id_number"])))),
        ("新生儿性别", zh(&text(d, &["baby_sex"])).to_string()),
        ("出生时间", when(d, &["birth_at"])),
        ("出生地点", text(d, &["birth_place"])),
        ("出生孕周", text(d, &["gestational_weeks"])),
        ("出生体重（克）", text(d, &["weight_g"])),
        ("出生身长（厘米）", text(d, &["length_cm"])),
        ("健康状况", zh(&text(d, &["health_status"])).to_string()),
        ("接生人员", text(d, &["midwife_name"])),
        ("补录（出生 24 小时后录入）", text(d, &["late"])),
    ];
    let parents = case["parents"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| ParentView {
            role: if p["role"] == "mother" { "母亲" } else { "父亲" },
            name: text(p, &["name"]),
            id_type: zh(&text(p, &["id_type"])).to_string(),
            id_number: id_number(text(p, &["id_number"])),
            nationality: text(p, &["nationality"]),
            ethnicity: text(p, &["ethnicity"]),
            phone: phone(text(p, &["phone"])),
            address: text(p, &["address"]),
            identity: match text(p, &["identity", "method"]).as_str() {
                "" => "未核验".to_string(),
                method => format!(
                    "{}：{}（{}）",
                    zh(method),
                    zh(&text(p, &["identity", "status"])),
                    when(p, &["identity", "verified_at"])
                ),
            },
        })
        .collect::<Vec<_>>();
    let mut images: Vec<(String, String)> = case["documents"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|doc| text(doc, &["kind"]))
        .map(|kind| (document_label(&kind).to_string(), kind))
        .collect();
    if case["parents"].as_array().into_iter().flatten().any(|p| p["identity"]["method"] == HANDHELD_PHOTO) {
        images.push((document_label(HANDHELD_PHOTO).to_string(), HANDHELD_PHOTO.to_string()));
    }
    if !case["signature"].is_null() {
        images.push((document_label("signature").to_string(), "signature".to_string()));
    }
    let certificates: Vec<Value> = case["certificates"].as_array().cloned().unwrap_or_default();
    let last = certificates.len().saturating_sub(1);
    let state_now = ApplicationState::parse(&text(&case, &["state"]));
    let page = CasePage {
        nav: who.nav(),
        notice: shown.notice,
        error: shown.error,
        state_label: state_label(&text(&case, &["state"])).to_string(),
        due: when(&case, &["review_due_at"]),
        overdue: case["overdue"].as_bool().unwrap_or(false),
        newborn_name: text(&case, &["newborn_name"]),
        claimant: zh(&text(&case, &["claimant_relation"])).to_string(),
        return_reasons: case["return_reasons"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| text(r, &["message"]))
            .collect(),
        delivery,
        parents,
        unmasked,
        images,
        form_digest: text(&case, &["form_digest"]),
        signed_at: when(&case, &["signature", "signed_at"]),
        payment: match case["payment"]["amount_fen"].as_i64() {
            Some(fen) => format!(
                "{}，{}，商户订单号 {}",
                yuan(fen),
                zh(&text(&case, &["payment", "status"])),
                text(&case, &["payment", "out_trade_no"])
            ),
            None => String::new(),
        },
        address: match &case["delivery_address"] {
            Value::Null => String::new(),
            a => format!(
                "{}，{}，{}（{}）",
                text(a, &["recipient"]),
                phone(text(a, &["phone"])),
                text(a, &["address"]),
                text(a, &["region_code"])
            ),
        },
        shipment: match &case["shipment"] {
            Value::Null => String::new(),
            s => format!("{} {}，{}", text(s, &["carrier"]), text(s, &["tracking_number"]), zh(&text(s, &["status"]))),
        },
        certificates: certificates
            .iter()
            .enumerate()
            .map(|(i, c)| CertificateView {
                number: text(c, &["number"]),
                state: zh(&text(c, &["state"])).to_string(),
                issued_at: when(c, &["issued_at"]),
                note: [text(c, &["void_reason"]), text(c, &["loss_certificate_no"])].join(" ").trim().to_string(),
                current: i == last,
                voided: text(c, &["state"]) == "voided",
                printable: text(c, &["state"]) == "issued",
                sealed_at: when(c, &["sealed_at"]),
            })
            .collect(),
        province: province_rows(&case),
        timeline: case["timeline"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let detail = if e["detail"].is_null() { String::new() } else { e["detail"].to_string() };
                (when(e, &["at"]), text(e, &["kind"]), detail)
            })
            .collect(),
        // The state machine says which actions are possible from here.
        can_approve: allows(state_now, Command::Approve),
        can_return: allows(state_now, Command::Return),
        can_ship: allows(state_now, Command::Ship),
        can_refer: allows(state_now, Command::Refer),
        can_print: !case["form"].is_null(),
        return_reasons_offered: RETURN_REASONS.to_vec(),
        redo_kinds: DOCUMENT_KINDS.iter().chain([&HANDHELD_PHOTO]).map(|k| (*k, document_label(k))).collect(),
        id,
    };
    ok(&page)
}

/// What a `done=` query names, as the notice on the case page.
fn done_notice(done: &str) -> Option<String> {
    Some(
        match done {
            "approved" => "已审核通过，证书编号见下方。",
            "returned" => "已退回，家长将收到微信通知。",
            "shipped" => "已预约快递。",
            "decided" => "已处理变更申请。",
            "lost" => "已登记遗失，请重新审核签发。",
            "voided" => "已作废并换发新证书。",
            "recovered" => "已登记原证书收回。",
            "sealed" => "已记录盖章。",
            "referred" => "已转窗口办理；已付邮寄费将原路退回，家长将收到微信通知。",
            _ => return None,
        }
        .to_string(),
    )
}

#[derive(Deserialize)]
pub struct CaseQuery {
    pub done: Option<String>,
}

#[get("/console/applications/{id}")]
async fn case_view(state: web::Data<AppState>, who: Officer, id: web::Path<String>, q: web::Query<CaseQuery>) -> Page {
    let notice = q.done.as_deref().and_then(done_notice);
    case_page(&state, &who, &id, Shown { notice, ..Shown::default() }).await
}

/// After an action: back to the case with what was done, or the case page with the refusal in
/// the API's words (a case of another institution stays a 404).
pub(super) async fn after(state: &AppState, who: &Officer, id: &str, outcome: Result<&str, ServiceError>) -> Page {
    match outcome {
        Ok(done) => Ok(see_other(&format!("/console/applications/{id}?done={done}"))),
        Err(e @ (ServiceError::NotFound(_) | ServiceError::Internal(_))) => Err(e.into()),
        Err(refused) => {
            let error = Some(format!("未能完成：{}", refusal(&refused)));
            let status = actix_web::ResponseError::status_code(&refused);
            let mut page = case_page(state, who, id, Shown { error, ..Shown::default() }).await?;
            *page.status_mut() = status;
            Ok(page)
        }
    }
}

#[post("/console/applications/{id}/approval")]
async fn approve(state: web::Data<AppState>, who: Officer, id: web::Path<String>, body: web::Bytes) -> Page {
    let form = Fields::parse(&body);
    who.check(&form)?;
    let given = Some(form.text("certificate_number")).filter(|n| !n.is_empty());
    let outcome = certificates::approve(&state.db, &who.session.actor(), who.institution(), &id, given).await;
    after(&state, &who, &id, outcome.map(|_| "approved")).await
}

/// Return with reasons: the usual ones ticked (`reasons`), the officer's own text (`message`),
/// and the documents to redo (`redo_documents`).
#[post("/console/applications/{id}/return")]
async fn return_application(state: web::Data<AppState>, who: Officer, id: web::Path<String>, body: web::Bytes) -> Page {
    let form = Fields::parse(&body);
    who.check(&form)?;
    let mut reasons: Vec<ReturnReason> = form
        .all("reasons")
        .into_iter()
        .filter_map(|code| RETURN_REASONS.iter().find(|(c, _)| *c == code))
        .map(|(code, message)| ReturnReason { code: code.to_string(), message: message.to_string() })
        .collect();
    let own = form.text("message");
    if !own.is_empty() {
        reasons.push(ReturnReason { code: "other".into(), message: own.to_string() });
    }
    let redo: Vec<String> = form.all("redo_documents").into_iter().map(str::to_string).collect();
    let outcome =
        review::return_application(&state.db, &who.session.actor(), who.institution(), &id, &reasons, &redo).await;
    after(&state, &who, &id, outcome.map(|_| "returned")).await
}

/// Refer the case to the counter (`reason`), as the API's referral.
#[post("/console/applications/{id}/referral")]
async fn refer(state: web::Data<AppState>, who: Officer, id: web::Path<String>, body: web::Bytes) -> Page {
    let form = Fields::parse(&body);
    who.check(&form)?;
    let outcome = review::refer(&state.db, &who.session.actor(), who.institution(), &id, form.text("reason")).await;
    after(&state, &who, &id, outcome.map(|_| "referred")).await
}

/// Book the courier (the API's shipment).
#[post("/console/applications/{id}/shipment")]
async fn ship(state: web::Data<AppState>, who: Officer, id: web::Path<String>, body: web::Bytes) -> Page {
    who.check(&Fields::parse(&body))?;
    let post = shipping::Post {
        courier: state.courier.as_ref(),
        sender: &state.settings.courier.sender,
        regions: &state.regions,
    };
    let outcome = shipping::ship(&state.db, &state.cipher, post, &who.session.actor(), who.institution(), &id).await;
    after(&state, &who, &id, outcome.map(|_| "shipped")).await
}

/// "Show": the page again with ID numbers and phones in full, recorded in the audit log.
#[post("/console/applications/{id}/unmask")]
async fn unmask(state: web::Data<AppState>, who: Officer, id: web::Path<String>, body: web::Bytes) -> Page {
    who.check(&Fields::parse(&body))?;
    review::unmask(&state.db, &who.session.actor(), who.institution(), &id).await?;
    case_page(&state, &who, &id, Shown { unmasked: true, ..Shown::default() }).await
}

/// The printable registration form (the API's PDF; an audited read).
#[get("/console/applications/{id}/registration-form.pdf")]
async fn registration_form(state: web::Data<AppState>, who: Officer, id: web::Path<String>) -> Page {
    Ok(crate::routes::officer::registration_form_response(&state, &who.session.actor(), who.institution(), &id).await?)
}

/// The case's archive as a ZIP (the API's; an audited read).
#[get("/console/applications/{id}/archive.zip")]
async fn archive(state: web::Data<AppState>, who: Officer, id: web::Path<String>) -> Page {
    Ok(crate::routes::officer::archive_response(&state, &who.session.actor(), who.institution(), &id).await?)
}

/// One image of the case, shown in the page (an audited read, like the API's).
#[get("/console/applications/{id}/documents/{kind}")]
async fn document(state: web::Data<AppState>, who: Officer, path: web::Path<(String, String)>) -> Page {
    let (id, kind) = path.into_inner();
    let (bytes, content_type) =
        review::document(&state.db, &state.blobs, &who.session.actor(), who.institution(), &id, &kind).await?;
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(bytes))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(queue)
        .service(search)
        .service(case_view)
        .service(approve)
        .service(return_application)
        .service(refer)
        .service(ship)
        .service(unmask)
        .service(registration_form)
        .service(document)
        .service(archive);
}

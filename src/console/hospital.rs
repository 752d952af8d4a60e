//! The hospital's pages, for a hospital without its own system integration: enter a delivery
//! record (every field checked, each problem shown beside its field), list the records and
//! correct one. The same services as `POST/PUT /api/v1/hospital/deliveries`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{get, post, web};
use askama::Template;
use chrono::{NaiveDate, NaiveDateTime, Utc};
use serde::Deserialize;

use super::{china, html, ok, see_other, Fields, HospitalOnly, Nav, Page, Signed};
use crate::domain::delivery::DeliveryInput;
use crate::domain::working_days::{china_offset, to_china};
use crate::services::issuing::hospital;
use crate::services::ServiceError;
use crate::state::AppState;

type Hospital = Signed<HospitalOnly>;

/// The API's field names, in the order the form asks them, with their Chinese labels.
const FIELDS: [(&str, &str); 11] = [
    ("mother_name", "母亲姓名"),
    ("mother_id_type", "母亲证件类型"),
    ("mother_id_number", "母亲证件号码"),
    ("baby_sex", "新生儿性别"),
    ("birth_at", "出生时间"),
    ("birth_place", "出生地点"),
    ("gestational_weeks", "出生孕周"),
    ("weight_g", "出生体重（克）"),
    ("length_cm", "出生身长（厘米）"),
    ("health_status", "健康状况"),
    ("midwife_name", "接生人员"),
];

/// What a field error code means to the person at the form.
fn explain(code: &str) -> String {
    match code {
        "required" => "必填。".into(),
        "too_long" => "太长了。".into(),
        "invalid_characters" => "含有不允许的字符。".into(),
        "unknown" => "请从列表中选择。".into(),
        "in_future" => "不能晚于现在。".into(),
        "out_of_range" => "超出合理范围，请核对。".into(),
        "not_a_number" => "请填写整数。".into(),
        "not_a_time" => "请填写日期和时间。".into(),
        other => format!("不正确，请核对（{other}）。"),
    }
}

pub struct FormField {
    pub name: &'static str,
    pub label: &'static str,
    pub value: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "console/delivery_form.html")]
struct DeliveryFormPage {
    nav: Nav,
    /// None: a new record; Some(id): a correction.
    editing: Option<String>,
    fields: Vec<FormField>,
    error: Option<String>,
}

impl DeliveryFormPage {
    fn new(nav: Nav, editing: Option<String>, values: &BTreeMap<&str, String>, errors: &[(String, String)]) -> Self {
        let fields = FIELDS
            .iter()
            .map(|(name, label)| FormField {
                name,
                label,
                value: values.get(name).cloned().unwrap_or_default(),
                error: errors.iter().find(|(f, _)| f == name).map(|(_, code)| explain(code)),
            })
            .collect();
        DeliveryFormPage { nav, editing, fields, error: None }
    }
}

/// The form as a delivery record, or the fields that could not even be read (numbers, the time).
fn read_form(form: &Fields) -> Result<DeliveryInput, Vec<(String, String)>> {
    let mut errors = Vec::new();
    let mut number = |name: &str| match form.text(name).parse::<i32>() {
        Ok(n) => n,
        Err(_) => {
            errors
                .push((name.to_string(), if form.text(name).is_empty() { "required" } else { "not_a_number" }.into()));
            0
        }
    };
    let (gestational_weeks, weight_g, length_cm) =
        (number("gestational_weeks"), number("weight_g"), number("length_cm"));
    // `datetime-local` sends China time without an offset.
    let birth_at = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(form.text("birth_at"), f).ok())
        .and_then(|t| t.and_local_timezone(china_offset()).single());
    if birth_at.is_none() {
        errors
            .push(("birth_at".into(), if form.text("birth_at").is_empty() { "required" } else { "not_a_time" }.into()));
    }
    match birth_at {
        Some(at) if errors.is_empty() => Ok(DeliveryInput {
            mother_name: form.text("mother_name").to_string(),
            mother_id_type: form.text("mother_id_type").to_string(),
            mother_id_number: form.text("mother_id_number").to_string(),
            baby_sex: form.text("baby_sex").to_string(),
            birth_at: at.with_timezone(&Utc),
            birth_place: form.text("birth_place").to_string(),
            gestational_weeks,
            weight_g,
            length_cm,
            health_status: form.text("health_status").to_string(),
            midwife_name: form.text("midwife_name").to_string(),
        }),
        _ => Err(errors),
    }
}

fn values_of(form: &Fields) -> BTreeMap<&'static str, String> {
    FIELDS.iter().map(|(name, _)| (*name, form.text(name).to_string())).collect()
}

/// Enters or corrects a record; a refusal shows the form again with each problem by its field.
async fn save(state: &AppState, who: &Hospital, editing: Option<String>, form: &Fields) -> Page {
    who.check(form)?;
    let outcome: Result<(), Vec<(String, String)>> = match read_form(form) {
        Err(unread) => Err(unread),
        Ok(input) => {
            let saved = match &editing {
                None => {
                    hospital::create_delivery(&state.db, &state.cipher, who.institution(), &input).await.map(|_| ())
                }
                Some(id) => hospital::correct_delivery(&state.db, &state.cipher, who.institution(), id, &input).await,
            };
            match saved {
                Ok(()) => return Ok(see_other("/console/hospital/deliveries?saved=1")),
                Err(ServiceError::Validation { fields }) => {
                    Err(fields.into_iter().map(|f| (f.field, f.code)).collect())
                }
                Err(e @ (ServiceError::Conflict { .. } | ServiceError::WrongState { .. })) => {
                    let mut page = DeliveryFormPage::new(who.nav(), editing, &values_of(form), &[]);
                    page.error = Some(super::refusal(&e));
                    return html(StatusCode::CONFLICT, &page);
                }
                Err(e) => return Err(e.into()),
            }
        }
    };
    let errors = outcome.err().unwrap_or_default();
    let mut page = DeliveryFormPage::new(who.nav(), editing, &values_of(form), &errors);
    page.error = Some("有字段需要修改，见下方红字。".into());
    html(StatusCode::UNPROCESSABLE_ENTITY, &page)
}

#[get("/console/hospital/deliveries/new")]
async fn new_delivery(who: Hospital) -> Page {
    let defaults =
        BTreeMap::from([("mother_id_type", "resident_id".to_string()), ("health_status", "good".to_string())]);
    ok(&DeliveryFormPage::new(who.nav(), None, &defaults, &[]))
}

#[post("/console/hospital/deliveries")]
async fn create(state: web::Data<AppState>, who: Hospital, body: web::Bytes) -> Page {
    save(&state, &who, None, &Fields::parse(&body)).await
}

/// A record of the hospital's, in its form for correcting (the hospital's own entry, in full).
#[get("/console/hospital/deliveries/{id}")]
async fn edit(state: web::Data<AppState>, who: Hospital, id: web::Path<String>) -> Page {
    let input = hospital::delivery_as_entered(&state.db, &state.cipher, who.institution(), &id).await?;
    let values = BTreeMap::from([
        ("mother_name", input.mother_name),
        ("mother_id_type", input.mother_id_type),
        ("mother_id_number", input.mother_id_number),
        ("baby_sex", input.baby_sex),
        ("birth_at", to_china(input.birth_at).format("%Y-%m-%dT%H:%M").to_string()),
        ("birth_place", input.birth_place),
        ("gestational_weeks", input.gestational_weeks.to_string()),
        ("weight_g", input.weight_g.to_string()),
        ("length_cm", input.length_cm.to_string()),
        ("health_status", input.health_status),
        ("midwife_name", input.midwife_name),
    ]);
    ok(&DeliveryFormPage::new(who.nav(), Some(id.into_inner()), &values, &[]))
}

#[post("/console/hospital/deliveries/{id}")]
async fn correct(state: web::Data<AppState>, who: Hospital, id: web::Path<String>, body: web::Bytes) -> Page {
    save(&state, &who, Some(id.into_inner()), &Fields::parse(&body)).await
}

pub struct DeliveryRow {
    pub id: String,
    pub mother_name: String,
    pub mother_id: String,
    pub baby_sex: String,
    pub birth_at: String,
    pub late: bool,
}

#[derive(Template)]
#[template(path = "console/deliveries.html")]
struct DeliveriesPage {
    nav: Nav,
    saved: bool,
    from: String,
    to: String,
    rows: Vec<DeliveryRow>,
}

#[derive(Deserialize)]
pub struct DeliveriesQuery {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub saved: Option<u8>,
}

/// The hospital's records by birth date (default: the last 30 days).
#[get("/console/hospital/deliveries")]
async fn list(state: web::Data<AppState>, who: Hospital, q: web::Query<DeliveriesQuery>) -> Page {
    let (from, to) =
        crate::routes::hospital::china_days(&crate::routes::hospital::DateRange { from: q.from, to: q.to })?;
    let items = hospital::deliveries(&state.db, who.institution(), from, to).await?;
    let rows = items
        .into_iter()
        .map(|d| DeliveryRow {
            id: d.id,
            mother_name: d.mother_name,
            mother_id: d.mother_id_number_masked,
            baby_sex: super::cases::zh(&d.baby_sex).to_string(),
            birth_at: china(d.birth_at),
            late: d.late,
        })
        .collect();
    let day = |t: chrono::DateTime<Utc>| to_china(t).format("%Y-%m-%d").to_string();
    ok(&DeliveriesPage {
        nav: who.nav(),
        saved: q.saved.is_some(),
        from: day(from),
        to: day(to - chrono::Duration::days(1)),
        rows,
    })
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(new_delivery).service(create).service(list).service(edit).service(correct);
}

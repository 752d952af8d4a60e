//! The family's side as a test drives it: sign-in with a bound health card, a delivery record,
//! each step of the journey, and the fixtures that stop at a given step.

use birthcert::crypto::Field;
use birthcert::domain::resident_id::check_char;
use birthcert::persistence::deliveries::{self, DeliveryRecord};
use birthcert::services::store_number;
use reqwest::Method;
use serde_json::{json, Value};

use super::TestApp;

/// A resident ID number: the 17 digits given and their check character.
pub fn id(body: &str) -> String {
    format!("{body}{}", check_char(body.as_bytes()))
}

pub const MOTHER: &str = "李梅";
pub const FATHER_NAME: &str = "张伟";

pub fn mother_id() -> String {
    id("37012419950310002")
}

pub fn father_id() -> String {
    id("37012419930521001")
}

/// Both parents as the mini-program sends them.
pub fn parents(mother_id: &str, father_type: &str, father_number: &str) -> Value {
    json!({
        "mother": {"name": MOTHER, "id_type": "resident_id", "id_number": mother_id, "nationality": "中国", "ethnicity": "汉族", "phone": "13812345678", "address": "平阴县榆山街道"},
        "father": {"name": FATHER_NAME, "id_type": father_type, "id_number": father_number, "nationality": "中国", "ethnicity": "汉族", "phone": "13987654321"}
    })
}

/// A body that starts like a PNG (the service judges images by their first bytes).
pub fn png() -> Vec<u8> {
    png_with(36)
}

/// A real PNG, `extra` pixels wider than the smallest one (distinct content, distinct blob).
pub fn png_with(extra: usize) -> Vec<u8> {
    let width = 16 + u32::try_from(extra).expect("small");
    let mut out = std::io::Cursor::new(Vec::new());
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, 12, |x, y| {
        image::Rgb([(x * 7 % 251) as u8, (y * 11 % 241) as u8, 90])
    }));
    img.write_to(&mut out, image::ImageOutputFormat::Png).expect("png");
    out.into_inner()
}

/// The mother's signature as the mini-program's canvas exports it: a 480 × 180 PNG, ink strokes on
/// a transparent background.
pub fn signature() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let img = image::DynamicImage::ImageRgba8(image::RgbaImage::from_fn(480, 180, |x, y| {
        let on_stroke = (y as i64 - 90 - ((x as i64 / 12) % 20 - 10)).abs() < 4;
        if on_stroke {
            image::Rgba([20, 20, 60, 255])
        } else {
            image::Rgba([0, 0, 0, 0])
        }
    }));
    img.write_to(&mut out, image::ImageOutputFormat::Png).expect("png");
    out.into_inner()
}

/// A real JPEG photo of `width` × `height` pixels (what a phone camera sends).
pub fn photo(width: u32, height: u32) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x + y) % 239) as u8])
    }));
    img.write_to(&mut out, image::ImageOutputFormat::Jpeg(80)).expect("jpeg");
    out.into_inner()
}

/// A real, small JPEG (an ID card scan need not be large).
pub fn jpeg() -> Vec<u8> {
    photo(40, 25)
}

impl TestApp {
    /// A JSON request with the bearer token → (status, body or null).
    pub async fn send(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.client.request(method, self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("sent");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// A multipart upload in the field `file` → (status, body or null).
    pub async fn upload(&self, token: &str, path: &str, bytes: Vec<u8>, file_name: &str) -> (u16, Value) {
        self.upload_by(Method::PUT, token, path, bytes, file_name).await
    }

    /// The same upload by `method` (`POST` is how `wx.uploadFile` sends it).
    pub async fn upload_by(
        &self,
        method: Method,
        token: &str,
        path: &str,
        bytes: Vec<u8>,
        file_name: &str,
    ) -> (u16, Value) {
        let form = reqwest::multipart::Form::new()
            .part("file", reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_string()));
        let req = self.client.request(method, self.url(path)).bearer_auth(token).multipart(form);
        let res = req.send().await.expect("sent");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// The application as the family sees it.
    pub async fn view(&self, token: &str, app_id: &str) -> Value {
        self.send(Method::GET, &format!("/api/v1/applications/{app_id}"), token, None).await.1
    }

    pub async fn state_of(&self, token: &str, app_id: &str) -> String {
        self.view(token, app_id).await["state"].as_str().unwrap_or_default().to_string()
    }

    /// The hospital's record of a birth three days ago at Pingyin People's Hospital → its id.
    pub async fn seed_delivery(&self, mother_name: &str, mother_id: &str) -> String {
        deliveries::insert_delivery(
            &self.state.db,
            &DeliveryRecord {
                institution_code: "PY-RMYY".into(),
                mother_name: mother_name.into(),
                mother_id_type: "resident_id".into(),
                mother_id_number: store_number(&self.state.cipher, Field::IdNumber, mother_id),
                baby_sex: "female".into(),
                birth_at: chrono::Utc::now() - chrono::Duration::days(3),
                birth_place: "平阴县人民医院".into(),
                gestational_weeks: 39,
                weight_g: 3300,
                length_cm: 50,
                health_status: "good".into(),
                midwife_name: "王芳".into(),
                late: false,
            },
        )
        .await
        .expect("delivery")
    }

    /// A signed-in parent with the mother's card bound: (token, card id).
    /// The parent follows the official account (linked as the subscribe event links them), so
    /// every step's WeChat message reaches them.
    pub async fn parent_with_card(&self, name: &str, id_number: &str) -> (String, String) {
        let (token, _, _) = self.signed_in_follower(false).await;
        let code = self
            .mock_post("/_mock/health-cards", &json!({"name": name, "id_number": id_number, "phone": "13812345678"}))
            .await;
        let (status, card) = self
            .send(Method::POST, "/api/v1/health-cards", &token, Some(json!({"health_code": code["health_code"]})))
            .await;
        assert_eq!(status, 201, "{card}");
        (token, card["id"].as_str().expect("id").to_string())
    }

    /// A new application by the father for a fresh delivery record: (token, application id).
    pub async fn new_application(&self) -> (String, String) {
        let delivery = self.seed_delivery(MOTHER, &mother_id()).await;
        let (token, card_id) = self.parent_with_card(MOTHER, &mother_id()).await;
        let (status, created) = self
            .send(
                Method::POST,
                "/api/v1/applications",
                &token,
                Some(json!({"delivery_id": delivery, "health_card_id": card_id, "claimant_relation": "father"})),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        (token, created["id"].as_str().expect("id").to_string())
    }

    /// An application whose parents are entered and eligible: (token, application id).
    pub async fn application_with_parents(&self) -> (String, String) {
        let (token, app_id) = self.new_application().await;
        let (status, body) = self
            .send(
                Method::PUT,
                &format!("/api/v1/applications/{app_id}/parents"),
                &token,
                Some(parents(&mother_id(), "resident_id", &father_id())),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["application"]["state"], "parents_entered");
        (token, app_id)
    }

    /// The family consents to the texts in force, as the mini-program asks before the face step.
    pub async fn consent(&self, token: &str) {
        let texts: Value = self.get("/api/v1/consents/current").await.json().await.expect("json");
        for text in texts.as_array().expect("texts") {
            let body = json!({"kind": text["kind"], "version": text["version"]});
            let (status, given) = self.send(Method::POST, "/api/v1/consents", token, Some(body)).await;
            assert_eq!(status, 201, "{given}");
        }
    }

    /// One face verification of a parent (session, then result) → the result's (status, body),
    /// or the session's when it was refused.
    pub async fn face(&self, token: &str, app_id: &str, role: &str) -> (u16, Value) {
        self.consent(token).await;
        let base = format!("/api/v1/applications/{app_id}/identity/{role}");
        let (status, session) = self.send(Method::POST, &format!("{base}/face-sessions"), token, None).await;
        if status != 201 {
            return (status, session);
        }
        assert!(session["expires_in"].as_u64().expect("ttl") > 0);
        self.send(Method::POST, &format!("{base}/face-result"), token, Some(json!({"verify_id": session["verify_id"]})))
            .await
    }

    /// Both parents verified and all four images uploaded: (token, id).
    pub async fn documents_uploaded(&self) -> (String, String) {
        let (token, app_id) = self.application_with_parents().await;
        for role in ["mother", "father"] {
            assert_eq!(self.face(&token, &app_id, role).await.0, 200);
        }
        for kind in ["mother_id_front", "mother_id_back", "father_id_front", "father_id_back"] {
            let path = format!("/api/v1/applications/{app_id}/documents/{kind}");
            assert_eq!(self.upload(&token, &path, png(), "x.png").await.0, 201);
        }
        (token, app_id)
    }

    /// Every step up to the address: (token, application id).
    pub async fn ready_to_pay(&self) -> (String, String) {
        let (token, app_id) = self.documents_uploaded().await;
        let base = format!("/api/v1/applications/{app_id}");
        let (status, body) = self
            .send(Method::POST, &format!("{base}/confirmation"), &token, Some(json!({"newborn_name": "张小满"})))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(self.upload(&token, &format!("{base}/signature"), signature(), "s.png").await.0, 200);
        let (status, body) = self.send(Method::PUT, &format!("{base}/delivery-address"), &token,
            Some(json!({"recipient": "张伟", "phone": "13987654321", "region_code": "370124", "address": "平阴县榆山街道青龙路1号"}))).await;
        assert_eq!((status, body["courier_fee_fen"].clone()), (200, json!(1800)));
        (token, app_id)
    }

    /// Paid and waiting for review: (applicant token, application id).
    pub async fn submitted(&self) -> (String, String) {
        let (token, app_id) = self.ready_to_pay().await;
        let (status, order) =
            self.send(Method::POST, &format!("/api/v1/applications/{app_id}/payment"), &token, None).await;
        assert_eq!(status, 201, "{order}");
        self.mock_post(&format!("/_mock/pay/{}", order["out_trade_no"].as_str().expect("order")), &json!({})).await;
        assert_eq!(self.state_of(&token, &app_id).await, "submitted");
        (token, app_id)
    }
}

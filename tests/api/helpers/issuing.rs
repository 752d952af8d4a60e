//! The issuing side as a test drives it: tokens for each role, blank stock, approval,
//! shipment, courier events and the messages queued for a case.

use birthcert::auth::Role;
use birthcert::persistence::outbox;
use birthcert::services::staff;
use reqwest::Method;
use serde_json::{json, Value};

use super::TestApp;

impl TestApp {
    /// A token of the institution's officer that `spawn_app` created.
    pub fn officer_token(&self, institution: &str) -> String {
        self.state.jwt.issue(&self.account("officer", institution), Role::Officer, Some(institution)).expect("token")
    }

    pub fn admin_token(&self, institution: &str) -> String {
        self.state.jwt.issue(&self.account("admin", institution), Role::Admin, Some(institution)).expect("token")
    }

    /// A token of the institution's hospital key that `spawn_app` created.
    pub fn hospital_token(&self, institution: &str) -> String {
        self.state.jwt.issue(&self.account("hospital", institution), Role::Hospital, Some(institution)).expect("token")
    }

    fn account(&self, role: &str, institution: &str) -> String {
        self.accounts
            .get(&format!("{role}:{institution}"))
            .cloned()
            .expect("spawn_app creates accounts for PY-RMYY and PY-ZYY")
    }

    /// One more officer at the institution (no password: only tokens), and a token of theirs.
    pub async fn another_officer(&self, institution: &str, username: &str) -> String {
        let officer = birthcert::persistence::staff::create_officer(&self.state.db, institution, username, "!", false)
            .await
            .expect("officer");
        self.state.jwt.issue(&officer.id, Role::Officer, Some(institution)).expect("token")
    }

    /// An officer (or admin) who signs in with a password, made as the operator's command makes
    /// one (argon2, audited).
    pub async fn officer_with_password(
        &self,
        institution: &str,
        username: &str,
        password: &str,
        admin: bool,
    ) -> Result<birthcert::persistence::staff::Officer, staff::AccountError> {
        staff::add_officer(&self.state.db, staff::By::Operator, institution, username, password, admin).await
    }

    /// A new API key of the institution's hospital system, as the operator's command makes one.
    pub async fn new_hospital_key(&self, institution: &str) -> Result<String, staff::AccountError> {
        staff::add_hospital_key(&self.state.db, staff::By::Operator, institution).await
    }

    /// Blank numbers `first`..=`last` received at Pingyin People's Hospital.
    pub async fn stock(&self, first: &str, last: &str) {
        let (status, body) = self
            .send(
                Method::POST,
                "/api/v1/officer/certificate-stock",
                &self.admin_token("PY-RMYY"),
                Some(json!({"first": first, "last": last})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }

    /// The officer's approval, with a chosen number or the next blank.
    pub async fn approve(&self, app_id: &str, number: Option<&str>) -> (u16, Value) {
        let body = number.map_or(json!({}), |n| json!({"certificate_number": n}));
        let path = format!("/api/v1/officer/applications/{app_id}/approval");
        self.send(Method::POST, &path, &self.officer_token("PY-RMYY"), Some(body)).await
    }

    /// Books the courier → the tracking number.
    pub async fn ship(&self, app_id: &str) -> String {
        let path = format!("/api/v1/officer/applications/{app_id}/shipment");
        let (status, body) = self.send(Method::POST, &path, &self.officer_token("PY-RMYY"), None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["carrier"], "EMS");
        body["tracking_number"].as_str().expect("tracking").to_string()
    }

    /// Has the mock courier post a signed event for the parcel.
    pub async fn courier(&self, tracking: &str, body: Value) -> Value {
        self.mock_post(&format!("/_mock/courier/{tracking}/events"), &body).await
    }

    /// The messages queued for the application, in order.
    pub async fn events_of(&self, app_id: &str) -> Vec<String> {
        outbox::list(&self.state.db)
            .await
            .expect("outbox")
            .into_iter()
            .filter(|r| r.application_id.as_deref() == Some(app_id))
            .map(|r| r.event)
            .collect()
    }
}

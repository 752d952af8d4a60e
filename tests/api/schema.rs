//! The schema's "once" rules hold on both backends.

use sea_orm::{ConnectionTrait, DatabaseConnection};

use crate::helpers::spawn_app;

const TABLES: &[&str] = &[
    "institutions",
    "users",
    "identity_links",
    "officers",
    "hospital_api_keys",
    "health_cards",
    "delivery_records",
    "applications",
    "application_events",
    "parents",
    "search_names",
    "identity_verifications",
    "documents",
    "modification_requests",
    "signatures",
    "payments",
    "certificate_stock",
    "certificates",
    "shipments",
    "courier_events",
    "first_issuance_register",
    "online_issuance_register",
    "subscription_consents",
    "notification_outbox",
    "audit_log",
    "idempotency_keys",
];

const T: &str = "'2026-11-26T10:00:00+08:00'";

async fn exec(db: &DatabaseConnection, sql: &str) -> Result<(), sea_orm::DbErr> {
    db.execute_unprepared(sql).await.map(|_| ())
}

fn sealed(v: &str) -> String {
    format!("'{v}-enc', 'k1', '{v}-bidx', '{v}-masked'")
}

async fn seed_delivery(db: &DatabaseConnection) {
    exec(db, &format!("INSERT INTO users (id, unionid, created_at) VALUES ('u1', 'union-1', {T})"))
        .await
        .expect("user");
    exec(db, &format!(
        "INSERT INTO health_cards (id, user_id, name, id_number_enc, id_number_key_id, id_number_bidx, id_number_masked, created_at) \
         VALUES ('hc1', 'u1', '李梅', {}, {T})", sealed("id")
    )).await.expect("card");
    exec(db, &format!(
        "INSERT INTO delivery_records (id, institution_code, mother_name, mother_id_type, mother_id_number_enc, mother_id_number_key_id, \
         mother_id_number_bidx, mother_id_number_masked, baby_sex, birth_at, birth_place, gestational_weeks, weight_g, length_cm, \
         health_status, midwife_name, late, created_at, updated_at) \
         VALUES ('d1', 'PY-RMYY', '李梅', 'resident_id', {}, 'female', {T}, '平阴县人民医院', 39, 3300, 50, 'good', '王芳', FALSE, {T}, {T})",
        sealed("mid")
    )).await.expect("delivery");
}

async fn insert_application(db: &DatabaseConnection, id: &str, state: &str) -> Result<(), sea_orm::DbErr> {
    exec(db, &format!(
        "INSERT INTO applications (id, user_id, delivery_id, health_card_id, institution_code, claimant_relation, state, overdue, version, created_at, updated_at) \
         VALUES ('{id}', 'u1', 'd1', 'hc1', 'PY-RMYY', 'mother', '{state}', FALSE, 0, {T}, {T})"
    )).await
}

#[tokio::test]
async fn every_table_exists_and_migrating_again_changes_nothing() {
    let app = spawn_app().await;
    for table in TABLES {
        exec(&app.state.db, &format!("SELECT COUNT(*) FROM {table}")).await.unwrap_or_else(|e| panic!("{table}: {e}"));
    }
    // Never written: a repeated payment notification is told by the order's own state.
    assert!(exec(&app.state.db, "SELECT COUNT(*) FROM payment_notifications").await.is_err(), "dropped");
    birthcert::persistence::migrate(&app.state.db).await.expect("second run is a no-op");
}

#[tokio::test]
async fn one_live_application_per_delivery() {
    let app = spawn_app().await;
    let db = &app.state.db;
    seed_delivery(db).await;
    insert_application(db, "a1", "draft").await.expect("first");
    assert!(insert_application(db, "a2", "draft").await.is_err(), "a second live application must be refused");
    exec(db, "UPDATE applications SET state = 'withdrawn' WHERE id = 'a1'").await.expect("withdraw");
    insert_application(db, "a3", "draft").await.expect("allowed once the first is withdrawn");
    insert_application(db, "a4", "ineligible").await.expect("ineligible ones are not live");
}

#[tokio::test]
async fn each_blank_number_is_used_once_and_each_order_paid_once() {
    let app = spawn_app().await;
    let db = &app.state.db;
    seed_delivery(db).await;
    insert_application(db, "a1", "submitted").await.expect("app");
    exec(db, &format!("INSERT INTO certificate_stock (number, institution_code, state, received_by, received_at) VALUES ('R370000001', 'PY-RMYY', 'blank', 'admin', {T})"))
        .await
        .expect("stock");
    assert!(
        exec(db, &format!("INSERT INTO certificate_stock (number, institution_code, state, received_by, received_at) VALUES ('R370000001', 'PY-ZYY', 'blank', 'admin', {T})"))
            .await
            .is_err(),
        "a number is received once"
    );
    let cert = |id: &str| {
        format!(
        "INSERT INTO certificates (id, number, application_id, institution_code, state, issued_by, issued_at) VALUES ('{id}', 'R370000001', 'a1', 'PY-RMYY', 'issued', 'o1', {T})"
    )
    };
    exec(db, &cert("c1")).await.expect("first use");
    assert!(exec(db, &cert("c2")).await.is_err(), "a number is used once");
    assert!(
        exec(db, &format!("INSERT INTO certificates (id, number, application_id, institution_code, state, issued_by, issued_at) VALUES ('c3', 'R999999999', 'a1', 'PY-RMYY', 'issued', 'o1', {T})"))
            .await
            .is_err(),
        "a number outside the stock is refused"
    );

    let pay = |id: &str| {
        format!(
        "INSERT INTO payments (id, application_id, out_trade_no, amount_fen, state, created_at) VALUES ('{id}', 'a1', 'BC123', 1800, 'created', {T})"
    )
    };
    exec(db, &pay("p1")).await.expect("order");
    assert!(exec(db, &pay("p2")).await.is_err(), "one payment per order");
}

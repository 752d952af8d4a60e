//! The whole schema of DESIGN §2–§6.
//!
//! Conventions: ids are opaque text (UUIDs) except the two append-only logs (audit log,
//! outbox), whose order matters and which use an integer sequence. Times are stored with their
//! zone. JSON is stored as text so both backends treat it the same. ID and phone numbers are
//! never stored in clear: `*_enc` (AES-256-GCM, base64), `*_key_id` (which key sealed it),
//! `*_bidx` (HMAC blind index for lookups) and `*_masked` (what may be shown).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000001_initial"
    }
}

fn n(name: &str) -> Alias {
    Alias::new(name)
}

fn id() -> ColumnDef {
    string(n("id")).primary_key().to_owned()
}

fn created_at() -> ColumnDef {
    timestamp_with_time_zone(n("created_at"))
}

/// The four columns that hold one sealed personal number.
fn sealed(prefix: &str, nullable: bool) -> Vec<ColumnDef> {
    let cols =
        [format!("{prefix}_enc"), format!("{prefix}_key_id"), format!("{prefix}_bidx"), format!("{prefix}_masked")];
    cols.iter().map(|c| if nullable { string_null(n(c)) } else { string(n(c)) }).collect()
}

fn fk(table: &str, column: &str, to_table: &str, to_column: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(n(table), n(column))
        .to(n(to_table), n(to_column))
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

struct T {
    stmt: TableCreateStatement,
    name: &'static str,
}

fn table(name: &'static str) -> T {
    T { stmt: Table::create().table(n(name)).if_not_exists().to_owned(), name }
}

impl T {
    fn col(mut self, c: ColumnDef) -> T {
        self.stmt.col(c);
        self
    }
    fn cols(mut self, cs: Vec<ColumnDef>) -> T {
        for c in cs {
            self.stmt.col(c);
        }
        self
    }
    fn fk(mut self, column: &str, to_table: &str, to_column: &str) -> T {
        self.stmt.foreign_key(&mut fk(self.name, column, to_table, to_column));
        self
    }
}

/// Tables in creation order (referenced tables first); dropped in reverse.
fn tables() -> Vec<T> {
    vec![
        table("institutions")
            .col(string(n("code")).primary_key().to_owned())
            .col(string(n("name")))
            .col(string(n("name_en")))
            .col(string(n("office")))
            .col(string(n("phone")))
            .col(string(n("province_code")))
            .col(string(n("region_code")))
            .col(boolean(n("midwifery_qualified")))
            .col(boolean(n("issuer")))
            .col(text(n("office_hours")))
            .col(timestamp_with_time_zone(n("updated_at"))),
        table("users")
            .col(id())
            .col(string_null(n("unionid")))
            .col(created_at())
            .col(timestamp_with_time_zone_null(n("last_login_at"))),
        // mini-program openid, official-account openid, unionid: each external id belongs to one
        // user; unsubscribe deletes the official-account row and nothing else.
        table("identity_links")
            .col(id())
            .col(string(n("user_id")))
            .col(string(n("kind")))
            .col(string(n("external_id")))
            .col(created_at())
            .fk("user_id", "users", "id"),
        table("officers")
            .col(id())
            .col(string(n("institution_code")))
            .col(string(n("username")))
            .col(string(n("password_hash")))
            .col(boolean(n("is_admin")))
            .col(created_at())
            .col(timestamp_with_time_zone_null(n("disabled_at")))
            .fk("institution_code", "institutions", "code"),
        table("hospital_api_keys")
            .col(id())
            .col(string(n("institution_code")))
            .col(string(n("key_hash")))
            .col(created_at())
            .col(timestamp_with_time_zone_null(n("revoked_at")))
            .fk("institution_code", "institutions", "code"),
        table("health_cards")
            .col(id())
            .col(string(n("user_id")))
            .col(string(n("name")))
            .cols(sealed("id_number", false))
            .cols(sealed("phone", true))
            .col(created_at())
            .fk("user_id", "users", "id"),
        table("delivery_records")
            .col(id())
            .col(string(n("institution_code")))
            .col(string(n("mother_name")))
            .col(string(n("mother_id_type")))
            .cols(sealed("mother_id_number", false))
            .col(string(n("baby_sex")))
            .col(timestamp_with_time_zone(n("birth_at")))
            .col(string(n("birth_place")))
            .col(integer(n("gestational_weeks")))
            .col(integer(n("weight_g")))
            .col(integer(n("length_cm")))
            .col(string(n("health_status")))
            .col(string(n("midwife_name")))
            .col(boolean(n("late")))
            .col(created_at())
            .col(timestamp_with_time_zone(n("updated_at")))
            .fk("institution_code", "institutions", "code"),
        table("applications")
            .col(id())
            .col(string(n("user_id")))
            .col(string(n("delivery_id")))
            .col(string(n("health_card_id")))
            .col(string(n("institution_code")))
            .col(string(n("claimant_relation")))
            .col(string(n("state")))
            .col(text_null(n("eligibility_reasons")))
            .col(string_null(n("newborn_name")))
            .col(text_null(n("form_snapshot")))
            .col(string_null(n("form_digest")))
            .col(timestamp_with_time_zone_null(n("confirmed_at")))
            .col(timestamp_with_time_zone_null(n("submitted_at")))
            .col(timestamp_with_time_zone_null(n("review_due_at")))
            .col(boolean(n("overdue")).default(false).to_owned())
            .col(text_null(n("return_reasons")))
            .col(text_null(n("redo_documents")))
            .col(string_null(n("recipient_name")))
            .cols(sealed("recipient_phone", true))
            .col(string_null(n("delivery_region_code")))
            .col(string_null(n("delivery_address")))
            .col(integer_null(n("courier_fee_fen")))
            .col(integer(n("version")).default(0).to_owned())
            .col(created_at())
            .col(timestamp_with_time_zone(n("updated_at")))
            .fk("user_id", "users", "id")
            .fk("delivery_id", "delivery_records", "id")
            .fk("health_card_id", "health_cards", "id")
            .fk("institution_code", "institutions", "code"),
        table("application_events")
            .col(pk_auto(n("seq")))
            .col(string(n("application_id")))
            .col(string(n("kind")))
            .col(string_null(n("from_state")))
            .col(string_null(n("to_state")))
            .col(text_null(n("detail")))
            .col(timestamp_with_time_zone(n("at")))
            .fk("application_id", "applications", "id"),
        table("parents")
            .col(id())
            .col(string(n("application_id")))
            .col(string(n("role")))
            .col(string(n("name")))
            .col(string(n("id_type")))
            .cols(sealed("id_number", false))
            .col(string(n("nationality")))
            .col(string(n("ethnicity")))
            .cols(sealed("phone", true))
            .col(string_null(n("address")))
            .col(timestamp_with_time_zone(n("updated_at")))
            .fk("application_id", "applications", "id"),
        // Only the provider's result is kept: never a face image.
        table("identity_verifications")
            .col(id())
            .col(string(n("application_id")))
            .col(string(n("parent_role")))
            .col(string(n("method")))
            .col(string_null(n("verify_id")))
            .col(string(n("outcome")))
            .col(integer_null(n("verify_ret")))
            .col(string_null(n("document_sha256")))
            .col(created_at())
            .col(timestamp_with_time_zone_null(n("finished_at")))
            .fk("application_id", "applications", "id"),
        table("documents")
            .col(id())
            .col(string(n("application_id")))
            .col(string(n("kind")))
            .col(string(n("sha256")))
            .col(big_integer(n("size")))
            .col(string(n("content_type")))
            .col(created_at())
            .col(timestamp_with_time_zone_null(n("superseded_at")))
            .fk("application_id", "applications", "id"),
        table("modification_requests")
            .col(id())
            .col(string(n("application_id")))
            .col(text(n("items")))
            .col(string(n("state")))
            .col(string_null(n("decision_note")))
            .col(string_null(n("decided_by")))
            .col(created_at())
            .col(timestamp_with_time_zone_null(n("decided_at")))
            .fk("application_id", "applications", "id"),
        table("signatures")
            .col(id())
            .col(string(n("application_id")))
            .col(string(n("form_digest")))
            .col(string(n("image_sha256")))
            .col(timestamp_with_time_zone(n("signed_at")))
            .fk("application_id", "applications", "id"),
        table("payments")
            .col(id())
            .col(string(n("application_id")))
            .col(string(n("out_trade_no")))
            .col(integer(n("amount_fen")))
            .col(string(n("state")))
            .col(string_null(n("prepay_id")))
            .col(string_null(n("transaction_id")))
            .col(created_at())
            .col(timestamp_with_time_zone_null(n("paid_at")))
            .fk("application_id", "applications", "id"),
        // Each blank number is received once and consumed once: issued, or written off as waste.
        table("certificate_stock")
            .col(string(n("number")).primary_key().to_owned())
            .col(string(n("institution_code")))
            .col(string(n("state")))
            .col(string(n("received_by")))
            .col(timestamp_with_time_zone(n("received_at")))
            .col(timestamp_with_time_zone_null(n("consumed_at")))
            .col(string_null(n("waste_reason")))
            .fk("institution_code", "institutions", "code"),
        table("certificates")
            .col(id())
            .col(string(n("number")))
            .col(string(n("application_id")))
            .col(string(n("institution_code")))
            .col(string(n("state")))
            .col(string_null(n("replaces_certificate_id")))
            .col(string_null(n("loss_certificate_no")))
            .col(string_null(n("void_reason")))
            .col(string(n("issued_by")))
            .col(timestamp_with_time_zone(n("issued_at")))
            .col(timestamp_with_time_zone_null(n("recovered_at")))
            .fk("number", "certificate_stock", "number")
            .fk("application_id", "applications", "id"),
        table("shipments")
            .col(id())
            .col(string(n("application_id")))
            .col(string(n("certificate_id")))
            .col(string(n("carrier")))
            .col(string(n("tracking_number")))
            .col(string(n("status")))
            .col(string_null(n("signed_by")))
            .col(created_at())
            .col(timestamp_with_time_zone_null(n("delivered_at")))
            .fk("application_id", "applications", "id")
            .fk("certificate_id", "certificates", "id"),
        table("courier_events")
            .col(id())
            .col(string(n("tracking_number")))
            .col(string(n("event")))
            .col(big_integer(n("event_at")))
            .col(text(n("body")))
            .col(timestamp_with_time_zone(n("received_at"))),
        table("payment_notifications")
            .col(string(n("notify_id")).primary_key().to_owned())
            .col(string(n("out_trade_no")))
            .col(timestamp_with_time_zone(n("received_at"))),
        table("first_issuance_register")
            .col(id())
            .col(string(n("certificate_number")))
            .col(string(n("application_id")))
            .col(string(n("institution_code")))
            .col(string(n("newborn_name")))
            .col(string(n("baby_sex")))
            .col(timestamp_with_time_zone(n("birth_at")))
            .col(string(n("mother_name")))
            .col(string(n("father_name")))
            .col(string(n("issued_by")))
            .col(timestamp_with_time_zone(n("issued_at")))
            .fk("application_id", "applications", "id"),
        table("online_issuance_register")
            .col(id())
            .col(string(n("certificate_number")))
            .col(string(n("application_id")))
            .col(string(n("institution_code")))
            .col(string(n("claimant_relation")))
            .col(string_null(n("out_trade_no")))
            .col(timestamp_with_time_zone(n("submitted_at")))
            .col(timestamp_with_time_zone(n("issued_at")))
            .col(string(n("issued_by")))
            .fk("application_id", "applications", "id"),
        table("subscription_consents")
            .col(id())
            .col(string(n("user_id")))
            .col(string(n("template_id")))
            .col(string(n("status")))
            .col(timestamp_with_time_zone(n("updated_at")))
            .fk("user_id", "users", "id"),
        table("notification_outbox")
            .col(pk_auto(n("seq")))
            .col(string(n("dedupe_key")))
            .col(string(n("user_id")))
            .col(string_null(n("application_id")))
            .col(string(n("event")))
            .col(text(n("payload")))
            .col(string(n("state")))
            .col(string_null(n("channel")))
            .col(integer(n("attempts")).default(0).to_owned())
            .col(timestamp_with_time_zone(n("next_attempt_at")))
            .col(timestamp_with_time_zone_null(n("locked_until")))
            .col(integer_null(n("last_errcode")))
            .col(string_null(n("last_error")))
            .col(string_null(n("msgid")))
            .col(created_at())
            .col(timestamp_with_time_zone(n("updated_at")))
            .fk("user_id", "users", "id"),
        // Append-only; each row's hash covers its content and the previous row's hash.
        table("audit_log")
            .col(pk_auto(n("seq")))
            .col(timestamp_with_time_zone(n("at")))
            .col(string(n("actor_kind")))
            .col(string(n("actor_id")))
            .col(string(n("action")))
            .col(string(n("subject_kind")))
            .col(string(n("subject_id")))
            .col(text(n("detail")))
            .col(string(n("prev_hash")))
            .col(string(n("hash"))),
        table("idempotency_keys")
            .col(string(n("scope")))
            .col(string(n("key")))
            .col(string(n("request_hash")))
            .col(integer(n("status_code")))
            .col(text(n("response_body")))
            .col(created_at()),
    ]
}

/// Uniqueness the domain demands ("once"), plus the lookups the queries need. Plain SQL:
/// partial indexes are spelled the same on SQLite and PostgreSQL.
const INDEXES: &[&str] = &[
    "CREATE UNIQUE INDEX ux_identity_links_kind_external ON identity_links (kind, external_id)",
    "CREATE INDEX ix_identity_links_user ON identity_links (user_id)",
    "CREATE UNIQUE INDEX ux_users_unionid ON users (unionid)",
    "CREATE UNIQUE INDEX ux_officers_username ON officers (username)",
    "CREATE UNIQUE INDEX ux_hospital_api_keys_hash ON hospital_api_keys (key_hash)",
    "CREATE UNIQUE INDEX ux_health_cards_user_id_number ON health_cards (user_id, id_number_bidx)",
    "CREATE INDEX ix_delivery_records_mother ON delivery_records (mother_id_number_bidx)",
    "CREATE INDEX ix_delivery_records_institution_birth ON delivery_records (institution_code, birth_at)",
    // One live application per delivery record.
    "CREATE UNIQUE INDEX ux_applications_live_delivery ON applications (delivery_id) WHERE state NOT IN ('withdrawn', 'ineligible')",
    "CREATE INDEX ix_applications_user ON applications (user_id)",
    "CREATE INDEX ix_applications_queue ON applications (institution_code, state, review_due_at)",
    "CREATE INDEX ix_application_events_application ON application_events (application_id, seq)",
    "CREATE UNIQUE INDEX ux_parents_application_role ON parents (application_id, role)",
    "CREATE UNIQUE INDEX ux_identity_verifications_verify_id ON identity_verifications (verify_id)",
    "CREATE INDEX ix_identity_verifications_application ON identity_verifications (application_id, parent_role)",
    // One current document of each kind; replaced ones stay, superseded.
    "CREATE UNIQUE INDEX ux_documents_current ON documents (application_id, kind) WHERE superseded_at IS NULL",
    "CREATE INDEX ix_modification_requests_application ON modification_requests (application_id, state)",
    "CREATE UNIQUE INDEX ux_signatures_application ON signatures (application_id)",
    // One payment per order, and a platform transaction recorded once.
    "CREATE UNIQUE INDEX ux_payments_out_trade_no ON payments (out_trade_no)",
    "CREATE UNIQUE INDEX ux_payments_transaction ON payments (transaction_id)",
    "CREATE INDEX ix_payments_application ON payments (application_id)",
    "CREATE INDEX ix_certificate_stock_free ON certificate_stock (institution_code, state, number)",
    // A blank number is used by one certificate only.
    "CREATE UNIQUE INDEX ux_certificates_number ON certificates (number)",
    "CREATE INDEX ix_certificates_application ON certificates (application_id)",
    "CREATE UNIQUE INDEX ux_shipments_tracking ON shipments (tracking_number)",
    "CREATE UNIQUE INDEX ux_courier_events_once ON courier_events (tracking_number, event, event_at)",
    "CREATE UNIQUE INDEX ux_first_issuance_register_number ON first_issuance_register (certificate_number)",
    "CREATE INDEX ix_first_issuance_register_issued ON first_issuance_register (institution_code, issued_at)",
    "CREATE UNIQUE INDEX ux_online_issuance_register_number ON online_issuance_register (certificate_number)",
    "CREATE INDEX ix_online_issuance_register_issued ON online_issuance_register (institution_code, issued_at)",
    "CREATE UNIQUE INDEX ux_subscription_consents_user_template ON subscription_consents (user_id, template_id)",
    "CREATE UNIQUE INDEX ux_notification_outbox_dedupe ON notification_outbox (dedupe_key)",
    "CREATE INDEX ix_notification_outbox_due ON notification_outbox (state, next_attempt_at)",
    "CREATE INDEX ix_notification_outbox_msgid ON notification_outbox (msgid)",
    "CREATE UNIQUE INDEX ux_idempotency_keys ON idempotency_keys (scope, key)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in tables() {
            manager.create_table(t.stmt).await?;
        }
        let db = manager.get_connection();
        for sql in INDEXES {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in tables().into_iter().rev() {
            manager.drop_table(Table::drop().table(n(t.name)).if_exists().to_owned()).await?;
        }
        Ok(())
    }
}

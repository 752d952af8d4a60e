//! A province's worth of data, and how the officer's side holds up under it.
//!
//!   BIRTHCERT__DATABASE__URL=postgres://postgres@127.0.0.1:5432/province \
//!   cargo run --release --example province_scale -- generate 5000000
//!   BIRTHCERT__DATABASE__URL=... cargo run --release --example province_scale -- measure [SECONDS]
//!
//! (`measure` also runs on a SQLite file that holds cases, e.g. one `journey_load` filled: the
//! embedded default's officers under the same loop, without the PostgreSQL plans.)
//!
//! `generate N` fills an empty database with N applications spread over ten years (Shandong has
//! about half a million births a year, so 5,000,000 is ten years of the whole province), with
//! everything a real case leaves behind: the user and their WeChat link, the health card, the
//! hospital's delivery record, both parents, the payment, the certificate and its blank number,
//! the shipment, both registers, two sent messages, the timeline, two audit entries (a real hash
//! chain) and the two provincial reports. The last three days' cases are in flight (every state
//! from `parents_entered` to `issued`, with their documents, face checks and signature); older
//! ones are shipped or delivered, one in two hundred withdrawn.
//!
//! All of them belong to one issuing institution, PY-RMYY: the worst case for every query that
//! is scoped to an institution (one office would then serve the province), and the case the
//! goals are written for (a month's register ≈ 45,000 rows).
//!
//! Names come from 100 common surnames and 60 given-name characters (360,000 names, about 14
//! cases each); one mother in a thousand is 王静, a name officers will search and find thousands
//! of times. Personal numbers are sealed with the configured data key from a pool of 64 real values, so
//! the case page opens them as it would any other; each row's blind index is its own.
//! Loading drops the secondary indexes and turns off foreign-key triggers for the session, then
//! builds the indexes again and analyses: how a bulk load is done, and the same indexes the
//! migrations made.
//!
//! `measure` starts the service in this process on that database and reports, per call, p50 and
//! p99: four officers at once paging the review queue and opening cases; the search; the month's
//! first-issuance register streamed as CSV (with this process's peak memory before and after);
//! each console page. Then it prints the plans (`EXPLAIN ANALYZE`) of the hot queries.

// A report printed to the terminal is this program's purpose.
#![allow(clippy::print_stdout)]

// The service's allocator (src/main.rs): the service runs in this process.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use birthcert::config::{Environment, Settings};
use birthcert::crypto::{Field, PersonalDataCipher};
use birthcert::domain::audit::{chain_hash, AuditContent};
use birthcert::domain::registration_form::{FormParent, RegistrationForm};
use birthcert::domain::resident_id::check_char;
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryTrait, Statement};

const INSTITUTION: &str = "PY-RMYY";
const TEMPLATES: usize = 64;
const CHUNK: i64 = 250_000;
const PASSWORD: &str = "province-scale-pass-1";

type Error = Box<dyn std::error::Error + Send + Sync>;

/// 100 common surnames and 60 given-name characters: 360,000 names.
const SURNAMES: &str = "(ARRAY['王','李','张','刘','陈','杨','黄','赵','吴','周','徐','孙','马','朱','胡','郭','何','高','林','罗','郑','梁','谢','宋','唐','许','韩','冯','邓','曹','彭','曾','肖','田','董','袁','潘','于','蒋','蔡','余','杜','叶','程','苏','魏','吕','丁','任','沈','姚','卢','姜','崔','钟','谭','陆','汪','范','金','石','廖','贾','夏','韦','付','方','白','邹','孟','熊','秦','邱','江','尹','薛','闫','段','雷','侯','龙','史','陶','黎','贺','顾','毛','郝','龚','邵','万','钱','严','覃','武','戴','莫','孔','向','汤'])";
const GIVEN: &str = "(ARRAY['伟','芳','娜','秀','英','敏','静','丽','强','磊','军','洋','勇','艳','杰','娟','涛','明','超','兰','霞','平','刚','桂','华','文','辉','玉','萍','红','建','国','志','宏','鹏','飞','斌','莉','婷','雪','琳','晶','慧','颖','倩','欣','悦','宇','浩','然','子','涵','梓','轩','一','诺','思','雨','佳','怡'])";

/// A name drawn from the application's id (so the same case gets the same name wherever its id
/// is known): 360,000 names, each about 14 times in five million cases.
fn name_sql(application_id: &str, salt: &str) -> String {
    let h = format!("('x' || substr(md5({application_id} || '{salt}'), 1, 7))::bit(28)::int");
    format!("{SURNAMES}[1 + {h} % 100] || {GIVEN}[1 + {h} / 100 % 60] || {GIVEN}[1 + {h} / 6000 % 60]")
}

/// The mother's name; one mother in a thousand is 王静.
fn mother_name_sql(application_id: &str) -> String {
    format!(
        "CASE WHEN ('x' || substr(md5({application_id} || 'w'), 1, 7))::bit(28)::int % 1000 = 0 THEN '王静' \
         ELSE {} END",
        name_sql(application_id, "m")
    )
}

fn father_name_sql(application_id: &str) -> String {
    name_sql(application_id, "f")
}

fn resident_id(body: &str) -> String {
    format!("{body}{}", check_char(body.as_bytes()))
}

/// The generator bulk-loads PostgreSQL; `measure` also runs on a SQLite file that has cases (the
/// embedded default's officers, e.g. after `journey_load`), without the PostgreSQL plans.
fn settings(postgres_only: bool) -> Result<Settings, Error> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    let settings = Settings::load_from(&dir, Environment::Test)?;
    if postgres_only && !secrecy::ExposeSecret::expose_secret(&settings.database.url).starts_with("postgres") {
        return Err("set BIRTHCERT__DATABASE__URL to a PostgreSQL database".into());
    }
    Ok(settings)
}

async fn exec(db: &DatabaseConnection, sql: &str) -> Result<u64, Error> {
    Ok(db.execute_unprepared(sql).await?.rows_affected())
}

async fn timed(db: &DatabaseConnection, what: &str, sql: &str) -> Result<(), Error> {
    let started = Instant::now();
    let rows = exec(db, sql).await?;
    println!("  {what:<40} {rows:>10} rows {:>8.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// One sealed set of personal values per template: the same people, sealed as the service
/// seals them, so every generated case opens.
fn templates(cipher: &PersonalDataCipher) -> Vec<String> {
    let surnames = ["张", "王", "李", "赵", "刘", "陈", "杨", "黄"];
    (0..TEMPLATES)
        .map(|k| {
            let mother_id = resident_id(&format!("37012419{:02}0310{:03}", 80 + k % 20, k * 7 % 1000));
            let father_id = resident_id(&format!("37012419{:02}0521{:03}", 78 + k % 20, k * 11 % 1000));
            let mother = format!("{}梅", surnames[k % 8]);
            let father = format!("{}伟", surnames[(k / 8) % 8]);
            let form = RegistrationForm {
                newborn_name: Some(format!("{}小满", surnames[(k / 8) % 8])),
                baby_sex: if k % 2 == 0 { "male" } else { "female" }.into(),
                birth_at: "2026年11月28日08时15分".into(),
                birth_place: "山东省济南市平阴县".into(),
                gestational_weeks: 39,
                length_cm: 50,
                weight_g: 3300,
                health_status: "良好".into(),
                mother: FormParent {
                    name: mother.clone(),
                    age: Some(30),
                    nationality: "中国".into(),
                    ethnicity: "汉族".into(),
                    id_type: "resident_id".into(),
                    id_number: mother_id.clone(),
                },
                father: FormParent {
                    name: father.clone(),
                    age: Some(32),
                    nationality: "中国".into(),
                    ethnicity: "汉族".into(),
                    id_type: "resident_id".into(),
                    id_number: father_id.clone(),
                },
                midwife_name: "王芳".into(),
                midwifery_institution: "平阴县人民医院".into(),
                issuing_institution: "平阴县人民医院".into(),
            };
            let m = cipher.seal(Field::IdNumber, &mother_id);
            let f = cipher.seal(Field::IdNumber, &father_id);
            let phone = cipher.seal(Field::Phone, "13987654321");
            let row = [
                k.to_string(),
                q(&mother),
                q(&father),
                q(&m.key_id),
                q(&m.ciphertext),
                q(&birthcert::domain::masking::mask_id_number(&mother_id)),
                q(&f.ciphertext),
                q(&birthcert::domain::masking::mask_id_number(&father_id)),
                q(&phone.ciphertext),
                q(&cipher.seal_form(&form.canonical_json())),
                q(&form.digest()),
            ];
            format!("({})", row.join(","))
        })
        .collect()
}

/// A SQL string literal (the values are ours: names, base64, hex).
fn q(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

async fn generate(n: i64) -> Result<(), Error> {
    let settings = settings(true)?;
    // Migrates and loads the reference data (institutions), as the service does on start.
    let app = birthcert::startup::Application::build(settings).await?;
    let db = app.state.db.clone();
    let cipher = app.state.cipher.clone();
    drop(app);
    let existing: i64 = db
        .query_one(Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) AS n FROM applications"))
        .await?
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0);
    if existing > 0 {
        return Err(format!("the database already holds {existing} applications; use an empty one").into());
    }
    let started = Instant::now();
    exec(&db, "SET synchronous_commit = off").await?;
    exec(&db, "SET session_replication_role = replica").await?;
    exec(&db, "SET maintenance_work_mem = '1GB'").await?;
    exec(&db, "SET work_mem = '256MB'").await?;

    // The secondary indexes, kept to be built again after the load.
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' \
             AND indexname NOT IN (SELECT conname FROM pg_constraint) ORDER BY indexname",
        ))
        .await?;
    let mut indexes = Vec::new();
    for r in rows {
        let name: String = r.try_get("", "indexname")?;
        let def: String = r.try_get("", "indexdef")?;
        exec(&db, &format!("DROP INDEX {name}")).await?;
        indexes.push(def);
    }
    println!("dropped {} secondary indexes for the load", indexes.len());

    exec(&db, "DROP TABLE IF EXISTS gen_templates, gen_cases").await?;
    exec(
        &db,
        "CREATE UNLOGGED TABLE gen_templates (k int PRIMARY KEY, mother text, father text, key_id text, \
         mother_enc text, mother_masked text, father_enc text, father_masked text, phone_enc text, \
         form text, digest text)",
    )
    .await?;
    exec(&db, &format!("INSERT INTO gen_templates VALUES {}", templates(&cipher).join(","))).await?;
    // Each case's derived values once; every table below is filled from it. Application ids are
    // time-ordered like the service's UUIDv7 ids, for the same index locality.
    let span_secs = 10 * 365 * 86_400 / n.max(1);
    exec(
        &db,
        &format!(
            "CREATE UNLOGGED TABLE gen_cases AS \
             WITH g AS (SELECT i, now() - ({n} - i) * interval '{span_secs} seconds' AS created_at \
                        FROM generate_series(1::bigint, {n}) AS i), \
             c AS (SELECT i, i % {TEMPLATES} AS k, created_at, \
               (lpad(to_hex((extract(epoch FROM created_at) * 1000)::bigint), 12, '0') || '7' || \
                substr(md5('app' || i), 1, 3) || '8' || substr(md5('app' || i), 4, 15))::uuid::text AS app_id \
               FROM g) \
             SELECT c.*, md5('user' || i)::uuid::text AS user_id, \
               md5('delivery' || i)::uuid::text AS delivery_id, md5('card' || i)::uuid::text AS card_id, \
               md5('cert' || i)::uuid::text AS cert_id, 'R' || lpad(i::text, 9, '0') AS number, \
               created_at - interval '2 days' AS birth_at, \
               {mother} AS mother_name, {father} AS father_name, \
               CASE WHEN created_at > now() - interval '3 days' THEN \
                      (ARRAY['submitted','submitted','submitted','submitted','returned','awaiting_payment', \
                             'parents_entered','signed','issued','documents_uploaded'])[i % 10 + 1] \
                    WHEN created_at > now() - interval '10 days' THEN 'shipped' \
                    WHEN i % 200 = 0 THEN 'withdrawn' ELSE 'delivered' END AS state \
             FROM c",
            mother = mother_name_sql("c.app_id"),
            father = father_name_sql("c.app_id"),
        ),
    )
    .await?;
    // Every statement below takes a range of cases.
    exec(&db, "CREATE INDEX ON gen_cases (i)").await?;
    println!("  cases laid out in {:.1} s", started.elapsed().as_secs_f64());

    // The per-table statements, each run a chunk of cases at a time.
    let paid = "c.state IN ('submitted','returned','issued','shipped','delivered')";
    let certified = "c.state IN ('issued','shipped','delivered')";
    let in_flight = "c.created_at > now() - interval '3 days'";
    let tables: Vec<(&str, String)> = vec![
        ("users", "INSERT INTO users (id, unionid, created_at, last_login_at) \
             SELECT c.user_id, NULL, c.created_at, c.created_at FROM gen_cases c WHERE RANGE".into()),
        ("identity_links", "INSERT INTO identity_links (id, user_id, kind, external_id, created_at) \
             SELECT md5('link' || c.i)::uuid::text, c.user_id, 'mini_program_openid', 'o' || md5('openid' || c.i), c.created_at \
             FROM gen_cases c WHERE RANGE".into()),
        ("health_cards", "INSERT INTO health_cards (id, user_id, name, id_number_enc, id_number_key_id, id_number_bidx, \
               id_number_masked, created_at) \
             SELECT c.card_id, c.user_id, c.mother_name, t.mother_enc, t.key_id, md5('m' || c.i) || md5('m2' || c.i), \
               t.mother_masked, c.created_at FROM gen_cases c JOIN gen_templates t USING (k) WHERE RANGE".into()),
        ("delivery_records", "INSERT INTO delivery_records (id, institution_code, mother_name, mother_id_type, \
               mother_id_number_enc, mother_id_number_key_id, mother_id_number_bidx, mother_id_number_masked, baby_sex, \
               birth_at, birth_place, gestational_weeks, weight_g, length_cm, health_status, midwife_name, late, \
               created_at, updated_at) \
             SELECT c.delivery_id, 'PY-RMYY', c.mother_name, 'resident_id', t.mother_enc, t.key_id, \
               md5('m' || c.i) || md5('m2' || c.i), t.mother_masked, CASE WHEN c.i % 2 = 0 THEN 'male' ELSE 'female' END, \
               c.birth_at, '平阴县人民医院', 39, 3000 + c.i % 900, 50, 'good', '王芳', false, c.birth_at, c.birth_at \
             FROM gen_cases c JOIN gen_templates t USING (k) WHERE RANGE".into()),
        ("applications", format!("INSERT INTO applications (id, user_id, delivery_id, health_card_id, institution_code, \
               claimant_relation, state, newborn_name, form_snapshot, form_digest, confirmed_at, submitted_at, \
               review_due_at, overdue, recipient_name, recipient_phone_enc, recipient_phone_key_id, recipient_phone_bidx, \
               recipient_phone_masked, delivery_region_code, delivery_address, courier_fee_fen, version, created_at, \
               updated_at) \
             SELECT c.app_id, c.user_id, c.delivery_id, c.card_id, 'PY-RMYY', 'mother', c.state, \
               CASE WHEN c.state NOT IN ('parents_entered','documents_uploaded') THEN c.father_name || '小满' END, \
               CASE WHEN c.state NOT IN ('parents_entered','documents_uploaded') THEN t.form END, \
               CASE WHEN c.state NOT IN ('parents_entered','documents_uploaded') THEN t.digest END, \
               CASE WHEN c.state NOT IN ('parents_entered','documents_uploaded') THEN c.created_at + interval '40 minutes' END, \
               CASE WHEN {paid} THEN c.created_at + interval '1 hour' END, \
               CASE WHEN {paid} THEN c.created_at + interval '49 hours' END, false, \
               c.father_name, t.phone_enc, t.key_id, md5('p' || c.i) || md5('p2' || c.i), '139****4321', '370124', \
               '平阴县榆山街道青龙路' || (c.i % 500) || '号', 1200, 8, c.created_at, c.created_at + interval '3 days' \
             FROM gen_cases c JOIN gen_templates t USING (k) WHERE RANGE")),
        ("parents", "INSERT INTO parents (id, application_id, role, name, id_type, id_number_enc, id_number_key_id, \
               id_number_bidx, id_number_masked, nationality, ethnicity, updated_at) \
             SELECT md5(r.role || c.i)::uuid::text, c.app_id, r.role, CASE r.role WHEN 'mother' THEN c.mother_name ELSE c.father_name END, \
               'resident_id', CASE r.role WHEN 'mother' THEN t.mother_enc ELSE t.father_enc END, t.key_id, \
               CASE r.role WHEN 'mother' THEN md5('m' || c.i) || md5('m2' || c.i) ELSE md5('f' || c.i) || md5('f2' || c.i) END, \
               CASE r.role WHEN 'mother' THEN t.mother_masked ELSE t.father_masked END, '中国', '汉族', c.created_at \
             FROM gen_cases c JOIN gen_templates t USING (k) CROSS JOIN (VALUES ('mother'), ('father')) AS r(role) \
             WHERE RANGE".into()),
        ("search_names", "INSERT INTO search_names (application_id, source, institution_code, name, created_at) \
             SELECT c.app_id, r.source, 'PY-RMYY', CASE r.source WHEN 'father' THEN c.father_name ELSE c.mother_name END, \
               c.created_at \
             FROM gen_cases c CROSS JOIN (VALUES ('mother'), ('father'), ('record')) AS r(source) WHERE RANGE".into()),
        ("payments", format!("INSERT INTO payments (id, application_id, out_trade_no, amount_fen, state, prepay_id, \
               transaction_id, created_at, paid_at, platform_attempts) \
             SELECT md5('pay' || c.i)::uuid::text, c.app_id, 'BC' || lpad(c.i::text, 12, '0'), 1200, 'paid', \
               'wx' || md5('prepay' || c.i), '4200' || lpad(c.i::text, 16, '0'), c.created_at + interval '55 minutes', \
               c.created_at + interval '1 hour', 0 FROM gen_cases c WHERE {paid} AND RANGE")),
        ("certificate_stock", format!("INSERT INTO certificate_stock (number, institution_code, state, received_by, \
               received_at, consumed_at) \
             SELECT c.number, 'PY-RMYY', 'issued', 'admin', c.created_at - interval '30 days', c.created_at + interval '1 day' \
             FROM gen_cases c WHERE {certified} AND RANGE")),
        ("certificates", format!("INSERT INTO certificates (id, number, application_id, institution_code, state, \
               issued_by, issued_at, sealed_by, sealed_at) \
             SELECT c.cert_id, c.number, c.app_id, 'PY-RMYY', 'issued', 'officer', c.created_at + interval '1 day', \
               'officer', c.created_at + interval '1 day' FROM gen_cases c WHERE {certified} AND RANGE")),
        ("shipments", "INSERT INTO shipments (id, application_id, certificate_id, carrier, tracking_number, status, \
               signed_by, created_at, delivered_at) \
             SELECT md5('ship' || c.i)::uuid::text, c.app_id, c.cert_id, 'ems', 'EMS' || lpad(c.i::text, 10, '0'), \
               CASE c.state WHEN 'delivered' THEN 'delivered' ELSE 'in_transit' END, \
               CASE c.state WHEN 'delivered' THEN '本人' END, c.created_at + interval '26 hours', \
               CASE c.state WHEN 'delivered' THEN c.created_at + interval '3 days' END \
             FROM gen_cases c WHERE c.state IN ('shipped','delivered') AND RANGE".into()),
        ("first_issuance_register", format!("INSERT INTO first_issuance_register (id, certificate_number, application_id, \
               institution_code, newborn_name, baby_sex, birth_at, mother_name, father_name, issued_by, issued_at) \
             SELECT md5('first' || c.i)::uuid::text, c.number, c.app_id, 'PY-RMYY', c.father_name || '小满', \
               CASE WHEN c.i % 2 = 0 THEN 'male' ELSE 'female' END, c.birth_at, c.mother_name, c.father_name, 'officer', \
               c.created_at + interval '1 day' FROM gen_cases c JOIN gen_templates t USING (k) WHERE {certified} AND RANGE")),
        ("online_issuance_register", format!("INSERT INTO online_issuance_register (id, certificate_number, \
               application_id, institution_code, claimant_relation, out_trade_no, submitted_at, issued_at, issued_by) \
             SELECT md5('online' || c.i)::uuid::text, c.number, c.app_id, 'PY-RMYY', 'mother', \
               'BC' || lpad(c.i::text, 12, '0'), c.created_at + interval '1 hour', c.created_at + interval '1 day', 'officer' \
             FROM gen_cases c WHERE {certified} AND RANGE")),
        ("notification_outbox", format!("INSERT INTO notification_outbox (dedupe_key, user_id, application_id, event, \
               payload, state, channel, attempts, next_attempt_at, msgid, created_at, updated_at) \
             SELECT c.app_id || ':' || e.event, c.user_id, c.app_id, e.event, '{{}}', 'sent', 'subscribe', 1, \
               c.created_at + e.after, 'm' || c.i || e.event, c.created_at + e.after, c.created_at + e.after \
             FROM gen_cases c CROSS JOIN (VALUES ('submitted', interval '1 hour'), ('issued', interval '1 day')) AS e(event, after) \
             WHERE {paid} AND RANGE")),
        ("application_events", format!("INSERT INTO application_events (application_id, kind, from_state, to_state, at) \
             SELECT c.app_id, 'state_changed', e.from_state, e.to_state, c.created_at + e.after \
             FROM gen_cases c CROSS JOIN (VALUES ('awaiting_payment', 'submitted', interval '1 hour'), \
                                                 ('submitted', 'issued', interval '1 day')) AS e(from_state, to_state, after) \
             WHERE ({certified} OR e.to_state = 'submitted') AND {paid} AND RANGE")),
        ("province_reports", format!("INSERT INTO province_reports (report_id, kind, subject, application_id, \
               institution_code, state, attempts, next_attempt_at, receipt, created_at, reported_at) \
             SELECT e.kind || ':' || CASE e.kind WHEN 'issuance' THEN c.number ELSE c.delivery_id END, e.kind, \
               CASE e.kind WHEN 'issuance' THEN c.cert_id ELSE c.delivery_id END, c.app_id, 'PY-RMYY', 'reported', 1, \
               c.created_at, 'SD' || md5(e.kind || c.i), c.created_at, c.created_at + interval '1 day' \
             FROM gen_cases c CROSS JOIN (VALUES ('delivery'), ('issuance')) AS e(kind) \
             WHERE ({certified} OR e.kind = 'delivery') AND RANGE")),
        // What the review needs of a case in flight: its documents, face checks and signature.
        ("documents", format!("INSERT INTO documents (id, application_id, kind, sha256, size, content_type, created_at) \
             SELECT md5(d.kind || c.i)::uuid::text, c.app_id, d.kind, encode(sha256(convert_to(d.kind || c.i, 'UTF8')), 'hex'), \
               48213, 'image/jpeg', c.created_at + interval '20 minutes' \
             FROM gen_cases c CROSS JOIN (VALUES ('mother_id_front'), ('mother_id_back'), ('father_id_front'), \
                                                 ('father_id_back')) AS d(kind) \
             WHERE {in_flight} AND c.state <> 'parents_entered' AND RANGE")),
        ("identity_verifications", format!("INSERT INTO identity_verifications (id, application_id, parent_role, method, \
               verify_id, outcome, verify_ret, created_at, finished_at) \
             SELECT md5('face' || r.role || c.i)::uuid::text, c.app_id, r.role, 'face', 'v' || md5(r.role || c.i), 'passed', 0, \
               c.created_at + interval '10 minutes', c.created_at + interval '11 minutes' \
             FROM gen_cases c CROSS JOIN (VALUES ('mother'), ('father')) AS r(role) \
             WHERE {in_flight} AND c.state <> 'parents_entered' AND RANGE")),
        ("signatures", format!("INSERT INTO signatures (id, application_id, form_digest, image_sha256, signed_at) \
             SELECT md5('sig' || c.i)::uuid::text, c.app_id, t.digest, encode(sha256(convert_to('sig' || c.i, 'UTF8')), 'hex'), \
               c.created_at + interval '45 minutes' FROM gen_cases c JOIN gen_templates t USING (k) \
             WHERE {in_flight} AND c.state NOT IN ('parents_entered','documents_uploaded') AND RANGE")),
    ];
    for (table, sql) in &tables {
        let t = Instant::now();
        let mut rows = 0;
        let mut lo = 1;
        while lo <= n {
            let hi = (lo + CHUNK - 1).min(n);
            rows += exec(&db, &sql.replace("RANGE", &format!("c.i BETWEEN {lo} AND {hi}"))).await?;
            lo = hi + 1;
        }
        println!("  {table:<40} {rows:>10} rows {:>8.1} s", t.elapsed().as_secs_f64());
    }
    // Blank stock still on the shelf.
    timed(
        &db,
        "certificate_stock (blank)",
        "INSERT INTO certificate_stock (number, institution_code, state, received_by, received_at) \
         SELECT 'S' || lpad(i::text, 9, '0'), 'PY-RMYY', 'blank', 'admin', now() - interval '5 days' \
         FROM generate_series(1, 5000) AS i",
    )
    .await?;
    audit_chain(&db, n).await?;
    for def in &indexes {
        let t = Instant::now();
        exec(&db, def).await?;
        println!("  {:<60} {:>6.1} s", def.split(" ON ").next().unwrap_or(def), t.elapsed().as_secs_f64());
    }
    exec(&db, "DROP TABLE gen_templates, gen_cases").await?;
    exec(&db, "SET session_replication_role = origin").await?;
    // The running totals, counted from what was loaded.
    for sql in migrations::recount_institution_totals(db.get_database_backend()) {
        exec(&db, &sql).await?;
    }
    // What autovacuum would have done to rows this old: statistics, and the visibility map that
    // lets an index answer without reading the table.
    timed(&db, "VACUUM (ANALYZE)", "VACUUM (ANALYZE)").await?;
    // Sequences stay ahead of the rows inserted with their defaults.
    println!("generated {n} applications in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Two entries per case (its submission and its issue), chained exactly as `audit::append`
/// chains them, so `birthcert audit verify` holds on the generated log too.
async fn audit_chain(db: &DatabaseConnection, n: i64) -> Result<(), Error> {
    let started = Instant::now();
    let (_, mut prev) = birthcert::persistence::audit::head(db).await?;
    let mut entries: i64 = 0;
    let mut lo = 1;
    while lo <= n {
        let hi = (lo + 2000 - 1).min(n);
        let cases = db
            .query_all(Statement::from_string(
                db.get_database_backend(),
                format!(
                    "SELECT app_id, created_at FROM gen_cases WHERE i BETWEEN {lo} AND {hi} \
                     AND state IN ('submitted','returned','issued','shipped','delivered') ORDER BY i"
                ),
            ))
            .await?;
        let mut values = Vec::with_capacity(cases.len() * 2);
        for case in cases {
            let app_id: String = case.try_get("", "app_id")?;
            let created: chrono::DateTime<chrono::Utc> = case.try_get("", "created_at")?;
            for (hours, from, to) in [(1, "awaiting_payment", "submitted"), (24, "submitted", "issued")] {
                let at = chrono::SubsecRound::trunc_subsecs(created + chrono::Duration::hours(hours), 6);
                let at_text = birthcert::persistence::audit::stamp(at);
                let detail = serde_json::json!({"from": from, "to": to, "detail": null}).to_string();
                let hash = chain_hash(
                    &prev,
                    &AuditContent {
                        at: &at_text,
                        actor_kind: "system",
                        actor_id: "generator",
                        action: "state_changed",
                        subject_kind: "application",
                        subject_id: &app_id,
                        detail: &detail,
                    },
                );
                values.push(format!(
                    "('{at_text}','system','generator','state_changed','application','{app_id}',{},'{prev}','{hash}')",
                    q(&detail)
                ));
                prev = hash;
                entries += 1;
            }
        }
        if !values.is_empty() {
            exec(
                db,
                &format!(
                    "INSERT INTO audit_log (at, actor_kind, actor_id, action, subject_kind, subject_id, detail, \
                     prev_hash, hash) VALUES {}",
                    values.join(",")
                ),
            )
            .await?;
        }
        lo = hi + 1;
    }
    exec(db, &format!("UPDATE audit_head SET hash = '{prev}', entries = entries + {entries} WHERE id = 1")).await?;
    println!("  {:<40} {entries:>10} rows {:>8.1} s", "audit_log (chained)", started.elapsed().as_secs_f64());
    Ok(())
}

type Timings = Arc<Mutex<BTreeMap<String, Vec<Duration>>>>;

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

fn report(timings: &Timings) {
    println!("{:<52} {:>6} {:>8} {:>8} {:>8}", "call", "calls", "p50 ms", "p99 ms", "max ms");
    let timings = timings.lock().map(|t| t.clone()).unwrap_or_default();
    for (name, mut v) in timings {
        v.sort();
        println!(
            "{name:<52} {:>6} {:>8.1} {:>8.1} {:>8.1}",
            v.len(),
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            percentile(&v, 1.0)
        );
    }
}

async fn get(timings: &Timings, name: &str, req: reqwest::RequestBuilder) -> Result<u64, Error> {
    let started = Instant::now();
    let res = req.send().await?;
    let status = res.status();
    // The whole body: a streamed register counts until its last byte.
    let mut bytes = 0u64;
    let mut res = res;
    while let Some(chunk) = res.chunk().await? {
        bytes += chunk.len() as u64;
    }
    let took = started.elapsed();
    if !status.is_success() {
        return Err(format!("{name}: HTTP {status}").into());
    }
    timings.lock().map_err(|_| "lock")?.entry(name.to_string()).or_default().push(took);
    Ok(bytes)
}

/// Peak resident memory of this process (service and client), from /proc.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

async fn measure(seconds: u64) -> Result<(), Error> {
    let mut settings = settings(false)?;
    settings.server.workers = 2;
    let mock = mock_wechat::MockServer::start("127.0.0.1", 0, mock_wechat::MockSettings::default()).await?;
    settings.use_platform_at(&mock.base_url());
    let app = birthcert::startup::Application::build(settings).await?;
    let base = format!("http://127.0.0.1:{}", app.port());
    let state = app.state.clone();
    tokio::spawn(app.run_until_stopped());
    let db = state.db.clone();
    let mut tokens = Vec::new();
    let http = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    for k in 0..4 {
        let username = format!("scale{k}");
        // Already there from an earlier run: then only sign in.
        let _ = birthcert::services::staff::add_officer(
            &db,
            birthcert::services::staff::By::Operator,
            INSTITUTION,
            &username,
            PASSWORD,
            k == 0,
        )
        .await;
        let res: serde_json::Value = http
            .post(format!("{base}/api/v1/officer/session"))
            .json(&serde_json::json!({"username": username, "password": PASSWORD}))
            .send()
            .await?
            .json()
            .await?;
        tokens.push(res["token"].as_str().ok_or(format!("no token: {res}"))?.to_string());
    }
    let timings: Timings = Arc::default();
    // Warm the caches as a working day would.
    for _ in 0..3 {
        let _ = get(
            &Arc::default(),
            "warm",
            http.get(format!("{base}/api/v1/officer/applications")).bearer_auth(&tokens[0]),
        )
        .await;
    }

    // Four officers at once: a page of the queue (first pages mostly, sometimes deeper, sometimes
    // the overdue filter or another state), then a case from it.
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for (k, token) in tokens.iter().enumerate() {
        let (http, timings, base, token) = (http.clone(), timings.clone(), base.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut round = k;
            while Instant::now() < until {
                round += 1;
                let query = match round % 6 {
                    0 => "state=returned".to_string(),
                    1 => "overdue=true".to_string(),
                    2 => format!("page={}", 1 + round % 20),
                    _ => String::new(),
                };
                let started = Instant::now();
                let res =
                    http.get(format!("{base}/api/v1/officer/applications?{query}")).bearer_auth(&token).send().await?;
                let page: serde_json::Value = res.json().await?;
                timings
                    .lock()
                    .map_err(|_| "lock")?
                    .entry("GET /officer/applications (queue)".into())
                    .or_default()
                    .push(started.elapsed());
                let Some(id) = page["items"]
                    .as_array()
                    .and_then(|items| items.get(round % items.len().max(1)))
                    .and_then(|a| a["id"].as_str())
                else {
                    continue;
                };
                get(
                    &timings,
                    "GET /officer/applications/{id} (case)",
                    http.get(format!("{base}/api/v1/officer/applications/{id}")).bearer_auth(&token),
                )
                .await?;
            }
            Ok::<_, Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let officer = &tokens[0];
    // A name as most are (a dozen cases), the common 王静 (thousands), a certificate number, a
    // tracking number, an ID number.
    let typical: String = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT name FROM parents WHERE role = 'father' LIMIT 1",
        ))
        .await?
        .map(|r| r.try_get("", "name"))
        .transpose()?
        .unwrap_or_default();
    for (what, q) in [
        ("typical name", typical.as_str()),
        ("common name", "王静"),
        ("certificate number", "R000123456"),
        ("tracking number", "EMS0000123456"),
        ("ID number", "370124198003100005"),
    ] {
        for _ in 0..20 {
            get(
                &timings,
                &format!("GET /officer/search ({what})"),
                http.get(format!("{base}/api/v1/officer/search")).query(&[("q", q)]).bearer_auth(officer),
            )
            .await?;
        }
    }
    // A month's register, the month before this one.
    let now = chrono::Utc::now();
    let from = (now - chrono::Duration::days(45)).format("%Y-%m-%d").to_string();
    let to = (now - chrono::Duration::days(15)).format("%Y-%m-%d").to_string();
    for (name, path) in [("first-issuance", "first-issuance"), ("online-issuance", "online-issuance")] {
        let before = peak_rss_kib();
        let t = Instant::now();
        let bytes = get(
            &timings,
            &format!("GET /officer/registers/{name} (30 days, CSV)"),
            http.get(format!("{base}/api/v1/officer/registers/{path}?from={from}&to={to}&format=csv"))
                .bearer_auth(officer),
        )
        .await?;
        println!(
            "register {name} {from}..{to}: {bytes} bytes in {:.0} ms; peak memory {before} KiB before, {} KiB after",
            t.elapsed().as_secs_f64() * 1000.0,
            peak_rss_kib()
        );
    }
    console_pages(&http, &base, &timings, officer).await?;
    report(&timings);
    if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        plans(&db).await?;
    }
    Ok(())
}

async fn console_pages(http: &reqwest::Client, base: &str, timings: &Timings, officer: &str) -> Result<(), Error> {
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let res = browser
        .post(format!("{base}/console/login"))
        .form(&[("username", "scale0"), ("password", PASSWORD)])
        .send()
        .await?;
    let cookie = res
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_string))
        .collect::<Vec<_>>()
        .join("; ");
    if !res.status().is_redirection() || cookie.is_empty() {
        return Err(format!("console sign-in: {}", res.status()).into());
    }
    let queue: serde_json::Value =
        http.get(format!("{base}/api/v1/officer/applications")).bearer_auth(officer).send().await?.json().await?;
    let mut pages = vec![
        "/console/queue".to_string(),
        "/console/queue?overdue=true".to_string(),
        "/console/search?q=王静".to_string(),
        "/console/admin".to_string(),
        "/console/admin/stock".to_string(),
        "/console/admin/officers".to_string(),
        "/console/admin/registers".to_string(),
        "/console/modification-requests".to_string(),
    ];
    pages.extend(queue["items"][0]["id"].as_str().map(|id| format!("/console/applications/{id}")));
    for page in pages {
        for _ in 0..20 {
            get(timings, &format!("console {page}"), browser.get(format!("{base}{page}")).header("Cookie", &cookie))
                .await?;
        }
    }
    Ok(())
}

/// The plans of the hot queries, as PostgreSQL runs them on this data.
async fn plans(db: &DatabaseConnection) -> Result<(), Error> {
    let case: Option<String> = db
        .query_one(Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM applications WHERE state = 'submitted' ORDER BY review_due_at LIMIT 1",
        ))
        .await?
        .map(|r| r.try_get("", "id"))
        .transpose()?;
    let case = case.unwrap_or_default();
    let queries = [
        ("the review queue (first page)", "SELECT * FROM applications WHERE institution_code = 'PY-RMYY' AND state IN ('submitted') ORDER BY review_due_at, created_at LIMIT 20".to_string()),
        ("the review queue (count)", "SELECT COUNT(*) FROM applications WHERE institution_code = 'PY-RMYY' AND state IN ('submitted')".to_string()),
        ("the case's parents", format!("SELECT * FROM parents WHERE application_id = '{case}'")),
        ("the case's timeline", format!("SELECT * FROM application_events WHERE application_id = '{case}' ORDER BY seq")),
        ("the case's identity results (both parents)", format!("SELECT * FROM identity_verifications WHERE application_id = '{case}' AND parent_id IN (SELECT id FROM parents WHERE application_id = '{case}') ORDER BY created_at DESC")),
        ("a month's first-issuance register", "SELECT * FROM first_issuance_register WHERE institution_code = 'PY-RMYY' AND issued_at >= now() - interval '45 days' AND issued_at < now() - interval '15 days' ORDER BY issued_at".to_string()),
        ("outbox: due messages", "SELECT seq FROM notification_outbox WHERE state = 'pending' AND next_attempt_at <= now() ORDER BY seq LIMIT 64".to_string()),
    ];
    let backend = db.get_database_backend();
    let mut statements: Vec<(&str, Statement)> =
        queries.into_iter().map(|(what, sql)| (what, Statement::from_string(backend, sql))).collect();
    // The search as the service builds it (the dashboard reads running totals: nothing to plan).
    use birthcert::persistence::search::{query, SearchKeys};
    let common = SearchKeys { name: Some("王静"), ..SearchKeys::default() };
    if let Some(search) = query(INSTITUTION, &common, 50) {
        statements.push(("the search for a common name (persistence::search)", search.build(backend)));
    }
    for (what, statement) in statements {
        println!("\n-- {what}\nEXPLAIN (ANALYZE, BUFFERS) {statement}");
        let explain = Statement { sql: format!("EXPLAIN (ANALYZE, BUFFERS) {}", statement.sql), ..statement };
        for r in db.query_all(explain).await? {
            let line: String = r.try_get_by_index(0)?;
            println!("  {line}");
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("generate") => generate(args.next().and_then(|a| a.parse().ok()).unwrap_or(5_000_000)).await,
        Some("measure") => measure(args.next().and_then(|a| a.parse().ok()).unwrap_or(30)).await,
        _ => Err("usage: province_scale generate [N] | measure [SECONDS]".into()),
    }
}

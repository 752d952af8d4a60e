//! `spawn_app()`: the service on port 0 with a fresh database (a temporary SQLite file, or a
//! new PostgreSQL database when TEST_DATABASE_URL is set, dropped afterwards), the in-process
//! store (or Redis under a random key prefix when TEST_REDIS_URL is set) and mock_wechat on
//! port 0. The journey's and the issuing side's steps are methods of `TestApp` (`journey.rs`,
//! `issuing.rs`), so a new test is a few lines.

mod browser;
mod issuing;
mod journey;

pub use journey::{father_id, id, jpeg, mother_id, parents, photo, png, png_with, signature, FATHER_NAME, MOTHER};

use std::path::PathBuf;
use std::sync::LazyLock;

use actix_web::web;
use birthcert::config::{Environment, Settings};
use birthcert::startup::{AppState, Application};
use sea_orm::{ConnectionTrait, Database};
use secrecy::SecretString;

/// Every line the service logs during the run, at the production level (info) or, with
/// `TEST_LOG`, at debug and also on stderr: tests look in it for what must never be logged.
pub static LOG: LazyLock<std::sync::Mutex<String>> = LazyLock::new(Default::default);

/// Writes log lines into [`LOG`] (and to stderr with `TEST_LOG`).
struct Capture;

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push_str(&String::from_utf8_lossy(buf));
        if std::env::var_os("TEST_LOG").is_some() {
            std::io::stderr().write_all(buf)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

static TRACING: LazyLock<()> = LazyLock::new(|| {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = if std::env::var_os("TEST_LOG").is_some() { "debug,sqlx=warn,sea_orm=warn" } else { "info" };
    let _ = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new(filter))
        .with(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(|| Capture))
        .try_init();
});

/// The log so far.
pub fn logged() -> String {
    LOG.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
}

pub fn config_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
}

pub struct TestApp {
    pub address: String,
    /// Further instances over the same database and store (`serve_also_from`): requests then
    /// go to each instance in turn, as a load balancer would send them.
    also: std::sync::Mutex<Vec<String>>,
    turn: std::sync::atomic::AtomicUsize,
    pub client: reqwest::Client,
    pub state: web::Data<AppState>,
    pub mock: mock_wechat::MockServer,
    handle: actix_web::dev::ServerHandle,
    pub database: TestDatabase,
    /// Ids of the accounts made for each institution: "officer:PY-RMYY", "admin:…", "hospital:…".
    pub accounts: std::collections::HashMap<String, String>,
}

/// An officer, an admin and a hospital key at each institution the tests use; officers get no
/// password (tests issue their tokens), so creating them costs no argon2.
async fn accounts(db: &birthcert::persistence::Db) -> std::collections::HashMap<String, String> {
    use birthcert::persistence::staff;
    let mut ids = std::collections::HashMap::new();
    for institution in ["PY-RMYY", "PY-ZYY"] {
        let lower = institution.to_lowercase();
        let officer = staff::create_officer(db, institution, &format!("officer.{lower}"), "!", false).await;
        ids.insert(format!("officer:{institution}"), officer.expect("officer").id);
        let admin = staff::create_officer(db, institution, &format!("admin.{lower}"), "!", true).await;
        ids.insert(format!("admin:{institution}"), admin.expect("admin").id);
        let key = staff::create_hospital_key(db, institution, &format!("unusable-{lower}")).await;
        ids.insert(format!("hospital:{institution}"), key.expect("key"));
    }
    ids
}

/// Adjusts the settings of one test's app before it starts.
pub type Configure = Box<dyn FnOnce(&mut Settings)>;

/// Options a test may change before the app starts.
pub struct TestOptions {
    pub redis_url: Option<String>,
    pub mock: mock_wechat::MockSettings,
    pub configure: Option<Configure>,
}

impl Default for TestOptions {
    fn default() -> Self {
        TestOptions {
            redis_url: std::env::var("TEST_REDIS_URL").ok(),
            mock: mock_wechat::MockSettings::default(),
            configure: None,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestOptions::default()).await
}

pub async fn spawn_app_with(options: TestOptions) -> TestApp {
    LazyLock::force(&TRACING);
    let mock = mock_wechat::MockServer::start("127.0.0.1", 0, options.mock).await.expect("mock starts");
    let database = TestDatabase::create().await;
    let mut settings = Settings::load_from(&config_dir(), Environment::Test).expect("test settings");
    settings.database.url = SecretString::from(database.url.clone());
    settings.redis.url = options.redis_url.map(SecretString::from);
    settings.redis.key_prefix = format!("birthcert-test:{}:", uuid::Uuid::new_v4().simple());
    settings.use_platform_at(&mock.base_url());
    settings.blobs.dir = database.dir.path().join("blobs");
    settings.audit.anchor_file = database.dir.path().join("audit-anchors.log");
    settings.wechat.request_timeout_secs = 2;
    if let Some(configure) = options.configure {
        configure(&mut settings);
    }

    let app = Application::build(settings).await.expect("app builds");
    let port = app.port();
    let state = app.state.clone();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    mock.set_service_url(&format!("http://127.0.0.1:{port}"));
    let accounts = accounts(&state.db).await;
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        also: std::sync::Mutex::new(Vec::new()),
        turn: std::sync::atomic::AtomicUsize::new(0),

        client: reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client"),
        state,
        mock,
        handle,
        database,
        accounts,
    }
}

/// What a command of the `birthcert` binary printed, and whether it succeeded.
pub struct CommandOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl TestApp {
    /// Runs `birthcert <args>` against this app's database and images, as an operator would on
    /// the server; `password` answers a password prompt.
    pub fn command(&self, args: &[&str], password: Option<&str>) -> CommandOutput {
        match password {
            Some(password) => self.command_with(args, &[("BIRTHCERT_PASSWORD", password)]),
            None => self.command_with(args, &[]),
        }
    }

    /// `command` with more environment (settings as `BIRTHCERT__...`).
    pub fn command_with(&self, args: &[&str], env: &[(&str, &str)]) -> CommandOutput {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_birthcert"));
        cmd.args(args)
            .env("BIRTHCERT_CONFIG_DIR", config_dir())
            .env("BIRTHCERT_ENV", "test")
            .env("BIRTHCERT__DATABASE__URL", &self.database.url)
            .env("BIRTHCERT__BLOBS__DIR", self.database.dir.path().join("blobs"))
            .env("BIRTHCERT__AUDIT__ANCHOR_FILE", self.database.dir.path().join("audit-anchors.log"))
            .env("RUST_LOG", "error")
            .stdin(std::process::Stdio::null());
        cmd.envs(env.iter().copied());
        let out = cmd.output().expect("the birthcert binary runs");
        CommandOutput {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        }
    }

    /// Sets `column` of the rows `filter` picks to `value`, as time or an older deployment
    /// would have left them (the placeholder spelled for this backend).
    pub async fn set_column(&self, table: &str, column: &str, value: impl Into<sea_orm::Value>, filter: &str) {
        let db = &self.state.db;
        let p = if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres { "$1" } else { "?" };
        let sql = format!("UPDATE {table} SET {column} = {p} WHERE {filter}");
        db.execute(sea_orm::Statement::from_sql_and_values(db.get_database_backend(), sql, [value.into()]))
            .await
            .expect("updated");
    }

    pub fn url(&self, path: &str) -> String {
        let also = self.also.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if also.is_empty() {
            return format!("{}{}", self.address, path);
        }
        let n = self.turn.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % (also.len() + 1);
        let base = if n == 0 { &self.address } else { &also[n - 1] };
        format!("{base}{path}")
    }

    /// Starts another instance of the service over this one's database, key-value store, images
    /// and mock platform, with `configure` applied to its settings, and sends requests to both
    /// in turn from now on. Returns its state (for its workers) and a handle that stops it.
    pub async fn serve_also_from(
        &self,
        configure: impl FnOnce(&mut Settings),
    ) -> (web::Data<AppState>, actix_web::dev::ServerHandle) {
        let mut settings = (*self.state.settings).clone();
        configure(&mut settings);
        let app = Application::build(settings).await.expect("the second instance builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        let (state, handle) = (app.state.clone(), app.handle());
        tokio::spawn(app.run_until_stopped());
        self.also.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(address);
        (state, handle)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("request sent")
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client.post(self.url(path)).json(body).send().await.expect("request sent")
    }

    /// Calls the mock platform's control API.
    pub async fn mock_post(&self, path: &str, body: &serde_json::Value) -> serde_json::Value {
        let res = self
            .client
            .post(format!("{}{path}", self.mock.base_url()))
            .json(body)
            .send()
            .await
            .expect("mock reachable");
        assert!(res.status().is_success(), "mock {path}: {}", res.status());
        res.json().await.expect("mock answers JSON")
    }

    pub async fn mock_get(&self, path: &str) -> serde_json::Value {
        self.client
            .get(format!("{}{path}", self.mock.base_url()))
            .send()
            .await
            .expect("mock reachable")
            .json()
            .await
            .expect("json")
    }

    /// A WeChat user known to the mock, with a fresh login code.
    pub async fn wechat_user(&self, follows: bool) -> serde_json::Value {
        self.mock_post("/_mock/users", &serde_json::json!({"follows_official_account": follows})).await
    }

    /// Signs in through the mini-program flow; returns (token, user id).
    pub async fn login(&self, code: &str) -> (String, String) {
        let res = self.post_json("/api/v1/auth/login", &serde_json::json!({"code": code})).await;
        assert_eq!(res.status(), 200, "login");
        let body: serde_json::Value = res.json().await.expect("json");
        let token = body["token"].as_str().expect("token").to_string();
        let user_id = self.state.jwt.verify(&token).expect("valid").sub;
        (token, user_id)
    }

    /// Runs the outbox worker until nothing is due.
    pub async fn drain_outbox(&self) -> usize {
        let worker = self.state.outbox_worker();
        until_idle(|| worker.run_once()).await
    }

    /// Runs the provincial reporting worker until nothing is due.
    pub async fn drain_province(&self) -> usize {
        let worker = self.state.province_worker();
        until_idle(|| worker.run_once()).await
    }

    /// Runs the payment-calls worker (closing and refunding at WeChat Pay) until nothing is due.
    pub async fn drain_payment_calls(&self) -> usize {
        let worker = self.state.payment_calls_worker();
        until_idle(|| worker.run_once()).await
    }

    /// A signed-in user who follows the official account, linked through the unionid as the
    /// subscribe event would: (user id, the mock's user).
    pub async fn follower(&self, blocks_templates: bool) -> (String, serde_json::Value) {
        let (_, user_id, user) = self.signed_in_follower(blocks_templates).await;
        (user_id, user)
    }

    /// A follower as [`Self::follower`], with their token: (token, user id, the mock's user).
    pub async fn signed_in_follower(&self, blocks_templates: bool) -> (String, String, serde_json::Value) {
        let user = self
            .mock_post(
                "/_mock/users",
                &serde_json::json!({"follows_official_account": true, "blocks_templates": blocks_templates}),
            )
            .await;
        let (token, user_id) = self.login(user["code"].as_str().expect("code")).await;
        birthcert::persistence::users::link_official_account(
            &self.state.db,
            user["unionid"].as_str().expect("u"),
            user["official_openid"].as_str().expect("o"),
        )
        .await
        .expect("link");
        (token, user_id, user)
    }

    /// Sends a callback the way WeChat would, through the mock.
    pub async fn wechat_callback(&self, xml: &str, encrypt: bool) -> serde_json::Value {
        self.mock_post("/_mock/callbacks", &serde_json::json!({"xml": xml, "encrypt": encrypt})).await
    }
}

/// Runs a worker's pass until it finds nothing to do → how many items it handled.
async fn until_idle<F, Fut>(mut pass: F) -> usize
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<usize, birthcert::persistence::PersistenceError>>,
{
    let mut total = 0;
    loop {
        match pass().await.expect("worker pass") {
            0 => return total,
            n => total += n,
        }
    }
}

/// Polls `check` until it is true or 20 s pass. What it waits for (a platform's callback, a
/// write after an answer) is usually there within milliseconds; the bound is for a machine busy
/// with other work, where one write can wait seconds for the disk.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..400 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// A database that exists for one test.
pub struct TestDatabase {
    pub url: String,
    pub dir: tempfile::TempDir,
    postgres: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        let dir = tempfile::tempdir().expect("temp dir");
        match std::env::var("TEST_DATABASE_URL") {
            Ok(admin_url) => {
                let name = format!("birthcert_test_{}", uuid::Uuid::new_v4().simple());
                let admin = Database::connect(&admin_url).await.expect("TEST_DATABASE_URL reachable");
                admin.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.expect("create test database");
                admin.close().await.ok();
                let mut url = url::Url::parse(&admin_url).expect("TEST_DATABASE_URL is a URL");
                url.set_path(&format!("/{name}"));
                TestDatabase { url: url.to_string(), dir, postgres: Some((admin_url, name)) }
            }
            Err(_) => {
                let path = dir.path().join("birthcert.db");
                TestDatabase { url: format!("sqlite://{}?mode=rwc", path.display()), dir, postgres: None }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some((admin_url, name)) = self.postgres.take() {
            // Drop runs outside async: use a small runtime on a helper thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                rt.block_on(async {
                    if let Ok(admin) = Database::connect(&admin_url).await {
                        let _ =
                            admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
                        let _ = admin.close().await;
                    }
                });
            })
            .join();
        }
    }
}

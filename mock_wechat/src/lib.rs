//! A faithful stand-in for the WeChat platform (and the other outside systems of DESIGN §4),
//! written independently of the service so that the service accepting it is a real
//! cross-check. Runs in-process (tests, embedded defaults) or alone (`cargo run -p mock_wechat`).
//!
//! Platform side: `/cgi-bin/stable_token`, `/cgi-bin/token`, `/sns/jscode2session`,
//! `/cgi-bin/user/info`, `/cgi-bin/message/template/send`, `/cgi-bin/message/subscribe/send`,
//! `/cityservice/face/identify/getverifyid` and `queryverifyinfo`.
//! Control side (under `/_mock`): see API.md, plus `GET /_mock/stats` (token fetch counts).
//!
//! One module per system it plays — `platform`, `face`, `health_card`, `pay`, `courier` — each
//! with its own state and routes (its control routes included); `control` holds what spans them
//! (health, injected faults, counters).

mod control;
mod courier;
mod face;
mod health_card;
mod pay;
mod platform;
mod province;
mod sms;
mod wxcrypto;

use std::net::TcpListener;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse, HttpServer};
use serde_json::json;

pub use wxcrypto::{decrypt as mock_decrypt, encrypt as mock_encrypt, sha1_sorted as mock_sign};

/// Credentials the mock shares with the service; defaults equal `config/default.toml`.
#[derive(Debug, Clone)]
pub struct MockSettings {
    pub app_id: String,
    pub app_secret: String,
    pub token: String,
    pub encoding_aes_key: String,
    pub original_id: String,
    pub mini_program_app_id: String,
    pub mini_program_app_secret: String,
    /// Where callbacks (official account, pay, courier) are sent.
    pub service_url: Option<String>,
    /// How long a `/cgi-bin/token` token stays valid after a newer one was issued.
    pub token_grace: Duration,
    /// Lifetime of access tokens.
    pub token_ttl: Duration,
    /// Template messages accepted per day before 45009.
    pub template_daily_quota: u64,
    /// WeChat's callback timeout.
    pub callback_timeout: Duration,
    pub health_card_app_id: String,
    pub health_card_app_secret: String,
    pub mch_id: String,
    /// APIv3 key (32 bytes) that encrypts notification resources.
    pub api_v3_key: String,
    /// `Wechatpay-Serial` of notifications in public-key mode.
    pub platform_public_key_id: String,
    /// Serial of the platform certificate, for certificate-mode notifications.
    pub platform_certificate_serial: String,
    /// The courier's app key and HMAC secret (bookings in, events out).
    pub courier_app_key: String,
    pub courier_secret: String,
    /// The SMS gateway's app key and HMAC secret.
    pub sms_app_key: String,
    pub sms_secret: String,
    /// The provincial birth-certificate system's app key and HMAC secret.
    pub province_app_key: String,
    pub province_secret: String,
}

impl Default for MockSettings {
    fn default() -> Self {
        MockSettings {
            app_id: "wx0000000000000001".into(),
            app_secret: "dev-official-account-secret".into(),
            token: "birthcert-dev-token".into(),
            encoding_aes_key: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".into(),
            original_id: "gh_birthcert0001".into(),
            mini_program_app_id: "wx0000000000000002".into(),
            mini_program_app_secret: "dev-mini-program-secret".into(),
            service_url: None,
            token_grace: Duration::from_secs(300),
            token_ttl: Duration::from_secs(7200),
            template_daily_quota: 100_000,
            callback_timeout: Duration::from_secs(5),
            health_card_app_id: "hc0000000000000001".into(),
            health_card_app_secret: "dev-health-card-secret".into(),
            mch_id: "1900000001".into(),
            api_v3_key: "dev-apiv3-key-0123456789abcdefgh".into(),
            platform_public_key_id: "PUB_KEY_ID_0000000000000001".into(),
            platform_certificate_serial: "5157F09EFDC096DE15EBE81A47057A7232F1B8E1".into(),
            courier_app_key: "birthcert-pingyin".into(),
            courier_secret: "dev-courier-secret".into(),
            sms_app_key: "birthcert-pingyin".into(),
            sms_secret: "dev-sms-secret".into(),
            province_app_key: "birthcert-pingyin".into(),
            province_secret: "dev-province-secret".into(),
        }
    }
}

impl MockSettings {
    /// Defaults overridden by `MOCK_WECHAT__APP_ID`, `MOCK_WECHAT__TOKEN`, ...
    pub fn from_env() -> MockSettings {
        let mut s = MockSettings::default();
        let var = |name: &str| std::env::var(format!("MOCK_WECHAT__{name}")).ok();
        for (name, field) in [
            ("APP_ID", &mut s.app_id),
            ("APP_SECRET", &mut s.app_secret),
            ("TOKEN", &mut s.token),
            ("ENCODING_AES_KEY", &mut s.encoding_aes_key),
            ("ORIGINAL_ID", &mut s.original_id),
            ("MINI_PROGRAM_APP_ID", &mut s.mini_program_app_id),
            ("MINI_PROGRAM_APP_SECRET", &mut s.mini_program_app_secret),
            ("COURIER_APP_KEY", &mut s.courier_app_key),
            ("COURIER_SECRET", &mut s.courier_secret),
            ("SMS_APP_KEY", &mut s.sms_app_key),
            ("SMS_SECRET", &mut s.sms_secret),
            ("PROVINCE_APP_KEY", &mut s.province_app_key),
            ("PROVINCE_SECRET", &mut s.province_secret),
        ] {
            if let Some(v) = var(name) {
                *field = v;
            }
        }
        s.service_url = var("SERVICE_URL");
        s
    }

    pub fn with_service_url(mut self, url: String) -> MockSettings {
        if self.service_url.is_none() {
            self.service_url = Some(url);
        }
        self
    }
}

/// The mock's state: each system's behind a lock of its own, so one system's traffic does not
/// wait on another's.
pub(crate) struct MockState {
    settings: MockSettings,
    http: reqwest::Client,
    /// Where callbacks, payment notifications and courier events go.
    service_url: Mutex<Option<String>>,
    platform: Mutex<platform::Platform>,
    face: Mutex<face::Face>,
    health_cards: Mutex<health_card::HealthCards>,
    pay: Mutex<pay::Pay>,
    courier: Mutex<courier::Courier>,
    sms: Mutex<sms::Sms>,
    province: Mutex<province::Province>,
    faults: Mutex<control::Faults>,
}

/// A poisoned lock still holds usable test state: take it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl MockState {
    fn platform(&self) -> MutexGuard<'_, platform::Platform> {
        lock(&self.platform)
    }
    fn face(&self) -> MutexGuard<'_, face::Face> {
        lock(&self.face)
    }
    fn health_cards(&self) -> MutexGuard<'_, health_card::HealthCards> {
        lock(&self.health_cards)
    }
    fn pay(&self) -> MutexGuard<'_, pay::Pay> {
        lock(&self.pay)
    }
    fn courier(&self) -> MutexGuard<'_, courier::Courier> {
        lock(&self.courier)
    }
    fn sms(&self) -> MutexGuard<'_, sms::Sms> {
        lock(&self.sms)
    }
    fn province(&self) -> MutexGuard<'_, province::Province> {
        lock(&self.province)
    }
    fn faults(&self) -> MutexGuard<'_, control::Faults> {
        lock(&self.faults)
    }
    fn service_url(&self) -> Option<String> {
        lock(&self.service_url).clone()
    }
}

type State = web::Data<MockState>;

fn err(errcode: i64, errmsg: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({"errcode": errcode, "errmsg": errmsg}))
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

fn random_id(prefix: &str) -> String {
    use rand::Rng;
    let n: u128 = rand::thread_rng().gen();
    format!("{prefix}{n:032x}")
}

/// A running mock; stops when dropped.
pub struct MockServer {
    port: u16,
    handle: ServerHandle,
    state: web::Data<MockState>,
}

impl MockServer {
    /// Binds `host:port` (port 0 = any free port) and serves in the background.
    pub async fn start(host: &str, port: u16, settings: MockSettings) -> std::io::Result<MockServer> {
        let listener = TcpListener::bind((host, port))?;
        let port = listener.local_addr()?.port();
        let http = reqwest::Client::builder().build().map_err(std::io::Error::other)?;
        let state = web::Data::new(MockState {
            service_url: Mutex::new(settings.service_url.clone()),
            settings,
            http,
            platform: Mutex::default(),
            face: Mutex::default(),
            health_cards: Mutex::default(),
            pay: Mutex::default(),
            courier: Mutex::default(),
            sms: Mutex::default(),
            province: Mutex::default(),
            faults: Mutex::default(),
        });
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                // WeChat reads a JSON body whatever its Content-Type (wechatpy sends none).
                .app_data(web::JsonConfig::default().content_type_required(false).limit(1 << 20))
                .configure(control::routes)
                .configure(platform::routes)
                .configure(face::routes)
                .configure(health_card::routes)
                .configure(pay::routes)
                .configure(courier::routes)
                .configure(sms::routes)
                .configure(province::routes)
        })
        .workers(2)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(MockServer { port, handle, state })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops serving (the platform becomes unreachable), waiting until it has.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }

    /// Where callbacks go; set once the service's port is known.
    pub fn set_service_url(&self, url: &str) {
        *lock(&self.state.service_url) = Some(url.to_string());
    }

    pub fn settings(&self) -> &MockSettings {
        &self.state.settings
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        // Sends the stop command now; completion is not awaited.
        drop(self.handle.stop(false));
    }
}

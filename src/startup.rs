//! Wiring: connect, migrate, load reference data, start the in-process mock when asked, build
//! the HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{web, App, HttpResponse, HttpServer};
use secrecy::ExposeSecret;
use utoipa::OpenApi;

use crate::auth::JwtKeys;
use crate::blobs::BlobStore;
use crate::clients::face::{FaceVerifier, WechatFaceVerifier};
use crate::clients::health_card::{HealthCardPlatform, HttpHealthCardPlatform};
use crate::clients::pay::PayClient;
use crate::clients::wechat::WechatClient;
use crate::config::{OutsideSystem, Settings};
use crate::domain::Calendar;
use crate::kv::{KvStore, MemoryKv, RedisKv};
use crate::persistence::{self, Db};
use crate::routes::error::ApiError;
use crate::services::issuing::printing::PrintFont;
use crate::services::official_account::OfficialAccount;
pub use crate::state::AppState;
use crate::wechat::crypto::{AesKey, KeyRing};
use crate::wechat::pay::{MerchantSigner, PlatformKeys};
use crate::{reference_data, routes, telemetry};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("database: {0}")]
    Database(#[from] persistence::PersistenceError),
    #[error("key-value store: {0}")]
    Kv(#[from] crate::kv::KvError),
    #[error(transparent)]
    ReferenceData(#[from] reference_data::ReferenceDataError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error("mock platform: {0}")]
    Mock(std::io::Error),
    #[error("demo accounts: {0}")]
    Seed(String),
    #[error("metrics: {0}")]
    Metrics(String),
    #[error("invalid setting {key}: {reason}")]
    Setting { key: &'static str, reason: String },
}

/// Turns transparent huge pages off for this whole process (`server.disable_transparent_huge_pages`),
/// as Redis does by default (`disable-thp`). mimalloc asks for huge pages for its segments (so
/// it gets them where the system setting is `madvise` too), and under a stream of callbacks the
/// in-process store grows by a few hundred bytes per message: each fresh 2 MiB page was zeroed
/// inside whichever request first touched it. Measured with new plaintext messages (wrk -c64):
/// p99 6.0 ms with huge pages, 2.7 without, the same throughput. Elsewhere than Linux, or on a
/// kernel without the call, it is a log line.
pub fn disable_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    match rustix::thread::disable_transparent_huge_pages(true) {
        Ok(()) => tracing::debug!("transparent huge pages off for this process"),
        Err(e) => tracing::warn!(error = %e, "could not turn transparent huge pages off"),
    }
    #[cfg(not(target_os = "linux"))]
    tracing::debug!("transparent huge pages are a Linux setting; nothing to turn off");
}

pub struct Application {
    port: u16,
    server: Server,
    pub state: web::Data<AppState>,
    _mock: Option<mock_wechat::MockServer>,
    stop_workers: tokio::sync::watch::Sender<bool>,
    /// The background workers, by name; `run_until_stopped` watches them beside the server.
    workers: Vec<(&'static str, tokio::task::JoinHandle<()>)>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Application, StartupError> {
        let db = persistence::connect(&settings).await?;
        Self::build_with_db(settings, db).await
    }

    pub async fn build_with_db(settings: Settings, db: Db) -> Result<Application, StartupError> {
        if settings.database.auto_migrate {
            persistence::migrate(&db).await?;
        }
        let institutions = reference_data::load_institutions(&settings.calendar.institutions_file)?;
        persistence::institutions::upsert_all(&db, &institutions).await?;
        let calendar = reference_data::load_calendar(&settings.calendar.holidays_file)?;
        let regions = Arc::new(reference_data::load_regions(&settings.calendar.regions_file)?);
        warn_about_calendar_gaps(&calendar);
        if settings.seed.demo_accounts {
            crate::services::staff::seed_demo_accounts(
                &db,
                &settings.seed.demo_institution,
                settings.seed.demo_password.expose_secret(),
            )
            .await
            .map_err(|e| StartupError::Seed(e.to_string()))?;
        }

        let kv: Arc<dyn KvStore> = match &settings.redis.url {
            Some(url) => Arc::new(RedisKv::new(url.expose_secret(), &settings.redis.key_prefix)?),
            None => Arc::new(MemoryKv::new()),
        };

        let mock = if settings.mock.enabled {
            let mock_settings = mock_wechat::MockSettings::from_env()
                .with_service_url(format!("http://{}:{}", settings.server.host, settings.server.port));
            let mock = mock_wechat::MockServer::start(&settings.mock.host, settings.mock.port, mock_settings)
                .await
                .map_err(StartupError::Mock)?;
            tracing::info!(port = mock.port(), "mock WeChat platform started in-process");
            Some(mock)
        } else {
            None
        };

        let cipher = settings.cipher()?;
        let wechat_keys = key_ring(&settings)?;
        let wechat = Arc::new(
            WechatClient::new(&settings, kv.clone())
                .map_err(|e| StartupError::Setting { key: "wechat", reason: e.to_string() })?,
        );
        let calendar = Arc::new(calendar);
        let official_account = Arc::new(OfficialAccount {
            db: db.clone(),
            wechat: wechat.clone(),
            calendar: calendar.clone(),
            echo_unknown_text: settings.wechat.echo_unknown_text,
            mini_program: crate::services::official_account::MiniProgramPage::from_settings(&settings),
        });
        let outbound_timeout = std::time::Duration::from_secs(settings.wechat.request_timeout_secs);
        let health_cards: Arc<dyn HealthCardPlatform> = Arc::new(HttpHealthCardPlatform {
            http: crate::clients::http_client(outbound_timeout)
                .map_err(|e| StartupError::Setting { key: "health_card", reason: e.to_string() })?,
            base_url: settings.base_url(OutsideSystem::HealthCard),
            app_id: settings.health_card.app_id.clone(),
            app_secret: settings.health_card.app_secret.clone(),
            hospital_id: settings.health_card.hospital_id.clone(),
            kv: kv.clone(),
        });
        let courier: Arc<dyn crate::clients::courier::Courier> = Arc::new(crate::clients::courier::HttpCourier {
            // Bounded like the platform's calls: a courier that hangs must not hold an officer.
            http: crate::clients::http_client(outbound_timeout)
                .map_err(|e| StartupError::Setting { key: "courier", reason: e.to_string() })?,
            base_url: settings.base_url(OutsideSystem::Courier),
            app_key: settings.courier.app_key.clone(),
            secret: settings.courier.secret.clone(),
        });
        let sms: Arc<dyn crate::clients::sms::SmsGateway> = Arc::new(crate::clients::sms::HttpSmsGateway {
            http: crate::clients::http_client(outbound_timeout)
                .map_err(|e| StartupError::Setting { key: "sms", reason: e.to_string() })?,
            base_url: settings.base_url(OutsideSystem::Sms),
            app_key: settings.sms.app_key.clone(),
            secret: settings.sms.secret.clone(),
        });
        let province: Arc<dyn crate::clients::province::ProvinceGateway> =
            Arc::new(crate::clients::province::HttpProvinceGateway {
                http: crate::clients::http_client(outbound_timeout)
                    .map_err(|e| StartupError::Setting { key: "province", reason: e.to_string() })?,
                base_url: settings.base_url(OutsideSystem::Province),
                app_key: settings.province.app_key.clone(),
                secret: settings.province.secret.clone(),
            });
        let addr = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&addr).map_err(|source| StartupError::Bind { addr: addr.clone(), source })?;
        let port = listener.local_addr().map_err(|source| StartupError::Bind { addr, source })?.port();
        let (pay, pay_keys, pay_api_v3_key) = pay_setup(&settings)?;
        let pay_notify_url = settings
            .pay
            .notify_url
            .clone()
            .unwrap_or_else(|| format!("http://{}:{port}/api/v1/payments/notify", settings.server.host));
        let face: Arc<dyn FaceVerifier> = Arc::new(WechatFaceVerifier(wechat.clone()));
        let blobs = BlobStore::new(settings.blobs.dir.clone(), cipher.clone());
        let metrics = prometheus::Registry::new();
        let http_metrics = crate::telemetry::HttpMetrics::register("birthcert", &metrics)
            .map_err(|e| StartupError::Metrics(e.to_string()))?;
        let gauges = Arc::new(
            crate::workers::gauges::BusinessGauges::register(&metrics)
                .map_err(|e| StartupError::Metrics(e.to_string()))?,
        );
        let state = web::Data::new(AppState {
            pay: Arc::new(pay),
            pay_keys,
            pay_api_v3_key,
            pay_notify_url,
            face,
            blobs,
            health_cards,
            courier,
            sms,
            province,
            metrics,
            http_metrics,
            gauges,
            print_font: Arc::new(PrintFont::new(settings.pdf.font_path.clone())),
            jwt: JwtKeys::new(&settings.jwt),
            settings: Arc::new(settings),
            db,
            kv,
            calendar,
            regions,
            cipher,
            wechat,
            wechat_keys,
            official_account,
            callback_retries: Default::default(),
        });
        let (stop_workers, stop_rx) = tokio::sync::watch::channel(false);
        let mut workers = Vec::new();
        if state.settings.workers.outbox {
            workers.push(("outbox", tokio::spawn(state.outbox_worker().run(stop_rx.clone()))));
        }
        if state.settings.workers.province_reports {
            workers.push(("province reports", tokio::spawn(state.province_worker().run(stop_rx.clone()))));
        }
        if state.settings.workers.payment_calls {
            workers.push(("payment calls", tokio::spawn(state.payment_calls_worker().run(stop_rx.clone()))));
        }
        if state.settings.database_kind().ok() == Some(crate::config::DatabaseKind::Sqlite) {
            let every = std::time::Duration::from_millis(state.settings.database.sqlite_checkpoint_ms.max(10));
            workers.push((
                "sqlite checkpoint",
                tokio::spawn(crate::workers::checkpoint(state.db.clone(), every, stop_rx.clone())),
            ));
        }
        if state.settings.retention.run_every_secs > 0 {
            let every = std::time::Duration::from_secs(state.settings.retention.run_every_secs);
            let sweeping = state.clone();
            let sweep = crate::workers::every("retention", every, stop_rx.clone(), move || {
                let state = sweeping.clone();
                async move {
                    let settings = &state.settings.retention;
                    let swept =
                        crate::services::retention::run(&state.db, &state.blobs, settings, chrono::Utc::now(), false);
                    if let Err(e) = swept.await {
                        tracing::error!(error = ?e, "retention sweep failed");
                    }
                }
            });
            workers.push(("retention", tokio::spawn(sweep)));
        }
        if state.settings.audit.anchor_secs > 0 {
            let every = std::time::Duration::from_secs(state.settings.audit.anchor_secs);
            let file = crate::audit_anchor::AnchorFile::new(state.settings.audit.anchor_file.clone());
            let db = state.db.clone();
            let anchoring = crate::workers::every("audit anchor", every, stop_rx.clone(), move || {
                let (db, file) = (db.clone(), file.clone());
                async move {
                    if let Err(e) = file.anchor_now(&db).await {
                        tracing::error!(error = %e, "audit anchor not written");
                    }
                }
            });
            workers.push(("audit anchor", tokio::spawn(anchoring)));
        }
        if state.settings.workers.digest_check_secs > 0 {
            let every = std::time::Duration::from_secs(state.settings.workers.digest_check_secs);
            let digesting = state.clone();
            let digest = crate::workers::every("digest", every, stop_rx.clone(), move || {
                let state = digesting.clone();
                async move {
                    let hour = state.settings.workers.digest_hour;
                    match crate::services::digest::run(&state.db, &state.calendar, chrono::Utc::now(), hour).await {
                        Ok(0) => {}
                        Ok(offered) => tracing::info!(offered, "morning digests offered to the outbox"),
                        Err(e) => tracing::error!(error = ?e, "morning digest failed"),
                    }
                }
            });
            workers.push(("digest", tokio::spawn(digest)));
        }
        if state.settings.workers.gauges_secs > 0 {
            let every = std::time::Duration::from_secs(state.settings.workers.gauges_secs);
            let state = state.clone();
            let refresh = crate::workers::every("gauges", every, stop_rx.clone(), move || {
                let state = state.clone();
                async move {
                    if let Err(e) = state.gauges.refresh(&state.db).await {
                        tracing::warn!(error = %e, "business gauges not refreshed");
                    }
                }
            });
            workers.push(("gauges", tokio::spawn(refresh)));
        }
        if state.settings.workers.deadline_watcher {
            let every = std::time::Duration::from_secs(state.settings.workers.deadline_watch_secs.max(1));
            workers.push((
                "deadline watcher",
                tokio::spawn(crate::workers::deadlines::run(state.db.clone(), every, stop_rx)),
            ));
        }

        let server = run(listener, state.clone())?;
        Ok(Application { port, server, state, _mock: mock, stop_workers, workers })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Adds a background task to be watched like the built-in workers: if it ends before the
    /// server does, the service stops (for embedding programs and their own workers).
    pub fn supervise(&mut self, name: &'static str, task: tokio::task::JoinHandle<()>) {
        self.workers.push((name, task));
    }

    /// Stops the server from elsewhere (tests, signal handlers of embedding programs).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM, then lets in-flight requests finish (graceful shutdown) and
    /// the workers finish their current row. A worker that ends while the server runs has died
    /// (a panic, or a loop that returned): it is logged and the whole process stops, so a
    /// supervisor restarts it rather than it serving on without notifications or deadlines.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Application { server, stop_workers, workers, .. } = self;
        let handle = server.handle();
        let mut server = std::pin::pin!(server);
        let (names, mut handles): (Vec<&'static str>, Vec<_>) = workers.into_iter().unzip();
        // A join handle must not be awaited again once it has answered.
        let mut ended = None;
        let first_worker_end = async {
            if handles.is_empty() {
                return std::future::pending().await;
            }
            let (joined, index, _) = futures_util::future::select_all(handles.iter_mut()).await;
            (index, joined)
        };
        let result = tokio::select! {
            result = &mut server => result,
            (index, joined) = first_worker_end => {
                let name = names[index];
                match &joined {
                    Err(e) if e.is_panic() => tracing::error!(worker = name, "worker panicked; stopping the service"),
                    _ => tracing::error!(worker = name, "worker stopped unexpectedly; stopping the service"),
                }
                ended = Some(index);
                // The server future runs the stop command: drive both at once.
                let _ = tokio::join!(handle.stop(true), &mut server);
                Err(std::io::Error::other(format!("the {name} worker stopped")))
            }
        };
        // The HTTP server has drained; let the workers finish their current row and stop.
        let _ = stop_workers.send(true);
        for (index, (name, h)) in names.iter().zip(handles).enumerate() {
            if Some(index) != ended {
                if let Err(e) = h.await {
                    tracing::error!(worker = name, error = %e, "worker ended badly during shutdown");
                }
            }
        }
        result
    }
}

fn pay_setup(settings: &Settings) -> Result<(PayClient, PlatformKeys, [u8; 32]), StartupError> {
    let invalid = |key: &'static str, reason: String| StartupError::Setting { key, reason };
    let read = |key: &'static str, path: &std::path::Path| {
        std::fs::read_to_string(path).map_err(|e| invalid(key, format!("{}: {e}", path.display())))
    };
    let p = &settings.pay;
    let signer = MerchantSigner::from_pem(&read("pay.merchant_private_key_file", &p.merchant_private_key_file)?)
        .map_err(|e| invalid("pay.merchant_private_key_file", e.to_string()))?;
    let mut keys = PlatformKeys::default();
    if let (Some(id), Some(path)) = (&p.platform_public_key_id, &p.platform_public_key_file) {
        keys.add_public_key(id, &read("pay.platform_public_key_file", path)?)
            .map_err(|e| invalid("pay.platform_public_key_file", e.to_string()))?;
    }
    for path in &p.platform_certificate_files {
        keys.add_certificate(&read("pay.platform_certificate_files", path)?)
            .map_err(|e| invalid("pay.platform_certificate_files", e.to_string()))?;
    }
    let api_v3_key: [u8; 32] = p
        .api_v3_key
        .expose_secret()
        .as_bytes()
        .try_into()
        .map_err(|_| invalid("pay.api_v3_key", "must be 32 bytes".into()))?;
    let client = PayClient::new(
        settings.base_url(OutsideSystem::Pay),
        &p.mch_id,
        &settings.wechat.mini_program_app_id,
        &p.merchant_serial_no,
        signer,
    )
    .map_err(|e| invalid("pay", e.to_string()))?;
    Ok((client, keys, api_v3_key))
}

fn key_ring(settings: &Settings) -> Result<KeyRing, StartupError> {
    let invalid = |key: &'static str| {
        move |e: crate::wechat::crypto::CryptoError| StartupError::Setting { key, reason: e.to_string() }
    };
    let current = AesKey::from_encoding_aes_key(settings.wechat.encoding_aes_key.expose_secret())
        .map_err(invalid("wechat.encoding_aes_key"))?;
    let previous = match &settings.wechat.previous_encoding_aes_key {
        Some(k) if !k.expose_secret().is_empty() => Some(
            AesKey::from_encoding_aes_key(k.expose_secret()).map_err(invalid("wechat.previous_encoding_aes_key"))?,
        ),
        _ => None,
    };
    Ok(KeyRing { current, previous })
}

fn warn_about_calendar_gaps(calendar: &Calendar) {
    use chrono::Datelike;
    let today = crate::domain::working_days::to_china(chrono::Utc::now()).date_naive();
    // A review deadline is at most a couple of weeks away, so next year matters from December.
    let mut years = vec![today.year()];
    if today.month() >= 11 {
        years.push(today.year() + 1);
    }
    for year in years {
        if !calendar.covers(year) {
            tracing::warn!(
                year,
                "HOLIDAY CALENDAR HAS NO DATA FOR {year}: working days that year are computed as plain Monday–Friday; \
                 add the State Council schedule to config/holidays.toml"
            );
        }
    }
}

fn run(listener: TcpListener, state: web::Data<AppState>) -> Result<Server, StartupError> {
    let settings = state.settings.clone();
    let openapi = routes::ApiDoc::openapi();
    let json_limit = settings.server.json_limit_bytes;
    let payload_limit = settings.server.payload_limit_bytes;
    let workers = settings.server.workers;
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(telemetry::RequestTelemetry::new(state.http_metrics.clone()))
            .app_data(state.clone())
            .app_data(json_config(json_limit))
            .app_data(web::PayloadConfig::new(payload_limit))
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| ApiError::bad_request("invalid_query", format!("query string: {e}")).into()),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| ApiError::bad_request("invalid_path", format!("path: {e}")).into()),
            )
            .configure(routes::configure)
            .configure(crate::console::configure)
            .service(utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi.clone()))
            .route(
                "/docs",
                web::get()
                    .to(|| async { HttpResponse::PermanentRedirect().insert_header(("Location", "/docs/")).finish() }),
            )
            .default_service(web::to(|| async { Err::<HttpResponse, _>(ApiError::NotFound("route")) }))
    })
    .shutdown_timeout(settings.server.shutdown_timeout_secs);
    if workers > 0 {
        server = server.workers(workers);
    }
    let server =
        server.listen(listener).map_err(|source| StartupError::Bind { addr: "listener".into(), source })?.run();
    Ok(server)
}

fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default().limit(limit).error_handler(|err, _| {
        use actix_web::error::JsonPayloadError;
        let api = match &err {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                ApiError::PayloadTooLarge
            }
            JsonPayloadError::ContentType => ApiError::UnsupportedMediaType("send the body as application/json".into()),
            other => ApiError::bad_request("invalid_json", format!("request body: {other}")),
        };
        api.into()
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    /// Once called, the process has no huge pages (what `/proc/<pid>/status` shows as
    /// `THP_enabled: 0`); the shipped setting asks for it (`config`'s defaults test).
    #[test]
    fn turning_huge_pages_off_holds_for_the_process() {
        super::disable_transparent_huge_pages();
        assert_eq!(rustix::thread::transparent_huge_pages_are_disabled().ok(), Some(true));
        let status = std::fs::read_to_string("/proc/self/status").expect("status");
        assert!(status.lines().any(|l| l.split_whitespace().eq(["THP_enabled:", "0"])), "{status}");
    }
}

//! A faithful stand-in for the WeChat platform (and the other outside systems of DESIGN §4),
//! written independently of the service so that the service accepting it is a real
//! cross-check. Runs in-process (tests, embedded defaults) or alone (`cargo run -p mock_wechat`).

use std::net::TcpListener;

use actix_web::dev::ServerHandle;
use actix_web::{get, web, App, HttpResponse, HttpServer};

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

struct MockState {
    #[allow(dead_code)] // read by the platform endpoints as they are added
    settings: MockSettings,
}

#[get("/_mock/health")]
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

/// A running mock; stops when dropped.
pub struct MockServer {
    port: u16,
    handle: ServerHandle,
}

impl MockServer {
    /// Binds `host:port` (port 0 = any free port) and serves in the background.
    pub async fn start(host: &str, port: u16, settings: MockSettings) -> std::io::Result<MockServer> {
        let listener = TcpListener::bind((host, port))?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(MockState { settings });
        let server = HttpServer::new(move || App::new().app_data(state.clone()).service(health))
            .workers(1)
            .disable_signals()
            .shutdown_timeout(1)
            .listen(listener)?
            .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(MockServer { port, handle })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        // Sends the stop command now; completion is not awaited.
        drop(self.handle.stop(false));
    }
}

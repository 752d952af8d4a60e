//! A real browser for the console's tests: Debian's Chromium, headless, driven through
//! chromedriver (WebDriver) with fantoccini. `scripts/test` installs both when missing; a test
//! that needs them fails (never skips) without them. Each browser has its own chromedriver on a
//! free port and its own profile; at most two run at once (the machine has two cores).

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::TestApp;

static BROWSERS: Semaphore = Semaphore::const_new(2);

pub struct Browser {
    pub client: Client,
    base: String,
    driver: Child,
    _profile: tempfile::TempDir,
    _permit: SemaphorePermit<'static>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The browser goes with its driver.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port()
}

impl TestApp {
    /// A fresh headless Chromium pointed at this app.
    pub async fn browser(&self) -> Browser {
        let permit = BROWSERS.acquire().await.expect("semaphore");
        // The WebDriver client speaks plain HTTP to chromedriver, but its builder wants a TLS
        // provider chosen (already done by another test is fine).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let driver_path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{driver_path}: {e} (scripts/test installs chromium-driver)"));
        let profile = tempfile::tempdir().expect("profile dir");
        let caps = serde_json::json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                         "--window-size=1280,1000", "--lang=zh-CN",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        });
        let caps: fantoccini::wd::Capabilities = caps.as_object().expect("object").clone();
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = String::new();
        for _ in 0..100 {
            match ClientBuilder::rustls().expect("tls").capabilities(caps.clone()).connect(&url).await {
                Ok(client) => {
                    return Browser { client, base: self.address.clone(), driver, _profile: profile, _permit: permit }
                }
                Err(e) => last_error = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver on {url} did not start a browser: {last_error}");
    }
}

impl Browser {
    pub async fn goto(&self, path: &str) {
        self.client.goto(&format!("{}{path}", self.base)).await.expect("goto");
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("url");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    pub async fn find(&self, css: &str) -> Element {
        self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    /// Types into the field (clearing it first).
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear");
        field.send_keys(value).await.expect("type");
    }

    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Marks the page, so `next_page` can tell when another one has replaced it.
    async fn mark_page(&self) {
        self.client.execute("window.__before_submit = true", vec![]).await.expect("mark");
    }

    /// Waits until the page a form submission leads to has loaded.
    async fn next_page(&self, what: &str) {
        for _ in 0..200 {
            let loaded = self
                .client
                .execute("return !window.__before_submit && document.readyState === 'complete'", vec![])
                .await;
            if matches!(loaded, Ok(serde_json::Value::Bool(true))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no page came after {what}");
    }

    /// Clicks a form's submit button and waits for the page that answers.
    pub async fn submit(&self, css: &str) {
        self.mark_page().await;
        self.click(css).await;
        self.next_page(css).await;
    }

    /// Follows a link and waits for the page it leads to.
    pub async fn follow(&self, css: &str) {
        self.submit(css).await;
    }

    /// Submits a form that asks "are you sure?", says yes, and waits for the answer.
    pub async fn submit_and_confirm(&self, css: &str) {
        self.mark_page().await;
        self.click(css).await;
        self.client.accept_alert().await.unwrap_or_else(|e| panic!("confirm after {css}: {e}"));
        self.next_page(css).await;
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        self.find("body").await.text().await.expect("text")
    }

    pub async fn text_of(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    /// Fetches a URL from inside the page (with the page's cookies) → (status, content type, body).
    pub async fn fetch(&self, path: &str) -> (u16, String, String) {
        let script = "const [path, done] = arguments; \
            fetch(path).then(async r => done([r.status, r.headers.get('content-type') || '', await r.text()])) \
            .catch(e => done([0, '', String(e)]));";
        let out = self.client.execute_async(script, vec![serde_json::json!(path)]).await.expect("fetch");
        (
            u16::try_from(out[0].as_u64().unwrap_or(0)).unwrap_or(0),
            out[1].as_str().unwrap_or_default().to_string(),
            out[2].as_str().unwrap_or_default().to_string(),
        )
    }

    /// Saves a screenshot of the page as `<name>.png` in `target/console-screenshots/`, and in
    /// `$CONSOLE_SCREENSHOTS` too when set (`scripts/screenshots` points it at `docs/console`).
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("screenshot");
        let mut dirs = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots")];
        if let Some(dir) = std::env::var_os("CONSOLE_SCREENSHOTS") {
            dirs.push(dir.into());
        }
        for dir in dirs {
            std::fs::create_dir_all(&dir).expect("screenshot dir");
            std::fs::write(dir.join(format!("{name}.png")), &png).expect("screenshot");
        }
    }

    /// Signs in on the console's sign-in page.
    pub async fn sign_in(&self, username: &str, password: &str) {
        self.goto("/console/login").await;
        self.fill("input[name=username]", username).await;
        self.fill("input[name=password]", password).await;
        self.submit("#sign-in").await;
    }

    pub async fn close(self) {
        let Browser { client, .. } = &self;
        client.clone().close().await.expect("close");
    }
}

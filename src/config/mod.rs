//! Layered configuration: `config/default.toml` → `config/<BIRTHCERT_ENV>.toml` →
//! `BIRTHCERT__SECTION__KEY` environment variables. `config/` is read from the working
//! directory unless `BIRTHCERT_CONFIG_DIR` names another.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

mod validation;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration: {0}")]
    Load(#[from] config::ConfigError),
    #[error("unknown BIRTHCERT_ENV {0:?}: use default, test or production")]
    UnknownEnvironment(String),
    #[error("missing required setting {key} (set BIRTHCERT__{env_name})")]
    Missing { key: &'static str, env_name: String },
    #[error("invalid setting {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Default,
    Test,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Default => "default",
            Environment::Test => "test",
            Environment::Production => "production",
        }
    }
}

impl TryFrom<&str> for Environment {
    type Error = ConfigError;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        match value.trim().to_ascii_lowercase().as_str() {
            "" | "default" | "local" | "development" => Ok(Environment::Default),
            "test" => Ok(Environment::Test),
            "production" | "prod" => Ok(Environment::Production),
            other => Err(ConfigError::UnknownEnvironment(other.to_string())),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub redis: RedisSettings,
    pub wechat: WechatSettings,
    pub mock: MockSettings,
    pub jwt: JwtSettings,
    pub crypto: CryptoSettings,
    pub blobs: BlobSettings,
    pub calendar: CalendarSettings,
    pub seed: SeedSettings,
    pub workers: WorkerSettings,
    pub security: SecuritySettings,
    pub audit: AuditSettings,
    pub retention: RetentionSettings,
    pub health_card: HealthCardSettings,
    pub courier: CourierSettings,
    pub pay: PaySettings,
    pub sms: SmsSettings,
    pub province: ProvinceSettings,
    pub pdf: PdfSettings,
    #[serde(skip, default = "default_env")]
    pub environment: Environment,
}

fn default_env() -> Environment {
    Environment::Default
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub json_limit_bytes: usize,
    pub payload_limit_bytes: usize,
    pub shutdown_timeout_secs: u64,
    /// HTTP worker threads; 0 = one per core.
    pub workers: usize,
    /// Keep this process's heap off transparent huge pages (Linux; see
    /// [`crate::startup::disable_transparent_huge_pages`]).
    pub disable_transparent_huge_pages: bool,
    pub log_format: LogFormat,
    /// Where the public reaches this service (the authenticity check's QR code on printed
    /// certificates points here); absent = `http://host:port`.
    #[serde(default)]
    pub public_url: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// `sqlite://...` or `postgres://...`; may carry a password, so it is a secret.
    pub url: SecretString,
    pub auto_migrate: bool,
    pub max_connections: u32,
    /// Connections kept open while idle, so a burst does not wait for new ones to be set up.
    #[serde(default)]
    pub min_connections: u32,
    pub connect_timeout_secs: u64,
    /// SQLite: how often the service folds the write-ahead log back into the database, in the
    /// background (commits never do it themselves; see `persistence::checkpoint`).
    pub sqlite_checkpoint_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RedisSettings {
    /// Absent = the in-process store.
    pub url: Option<SecretString>,
    pub key_prefix: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct WechatSettings {
    pub app_id: String,
    pub app_secret: SecretString,
    pub token: SecretString,
    pub encoding_aes_key: SecretString,
    /// The previous EncodingAESKey, still accepted while WeChat rotates to the new one.
    pub previous_encoding_aes_key: Option<SecretString>,
    pub original_id: String,
    pub api_base_url: Option<String>,
    pub mini_program_app_id: String,
    pub mini_program_app_secret: SecretString,
    pub token_endpoint: TokenEndpoint,
    pub request_timeout_secs: u64,
    /// Reply to unrecognised text by echoing it. Off in service; on only for protocol
    /// conformance runs (`check_webhook.py` and the wrk peers compare against echo servers).
    pub echo_unknown_text: bool,
    /// Where the template message takes the family (mini-program page).
    pub mini_program_page: String,
    /// The web page a WeChat too old for mini-programs opens from the menu's mini-program button
    /// (WeChat requires one).
    pub menu_fallback_url: String,
    pub templates: TemplateIds,
    /// A callback stamped further than this from now is refused (403 `stale_timestamp`): a
    /// recorded, correctly signed callback cannot be replayed later. 0 switches the check off.
    pub callback_max_age_secs: u64,
    /// Refuse plaintext callbacks (403 `safe_mode_required`): for an account set to safe mode,
    /// where a plaintext post can only be forged or replayed.
    pub safe_mode_only: bool,
    /// When a callback whose reply needs no lookup and has no effect (echoed text, the
    /// how-to-apply menu) renders that reply: before claiming the message, so the claim stores
    /// it in the same command, or after, filling the claim with a second command. See
    /// [`ReplyFirst`].
    pub callback_reply_first: ReplyFirst,
}

/// `wechat.callback_reply_first`. Replying first saves the second store command of every new
/// message and costs a rendered (in safe mode, sealed) reply for every retry, which is then
/// thrown away for the first delivery's.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ReplyFirst {
    /// With Redis, where the second command is another request to the server, while fewer
    /// than half of the recent callbacks are retries (a flood of them, when the service answers
    /// too late, is met with the claim alone); never with the in-process store, where filling
    /// the claim is a map write.
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpoint {
    StableToken,
    Token,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TemplateIds {
    pub submitted: String,
    pub returned: String,
    pub modification_decided: String,
    pub issued: String,
    pub shipped: String,
    pub delivered: String,
    pub reissuing: String,
    /// A case sent to the counter.
    pub referred: String,
    /// The officers' morning digest.
    pub daily_digest: String,
}

impl TemplateIds {
    pub fn for_event(&self, event: crate::domain::notification::NotificationEvent) -> &str {
        use crate::domain::notification::NotificationEvent as E;
        match event {
            E::Submitted => &self.submitted,
            E::Returned => &self.returned,
            E::ModificationDecided => &self.modification_decided,
            E::Issued => &self.issued,
            E::Shipped => &self.shipped,
            E::Delivered => &self.delivered,
            E::Reissuing => &self.reissuing,
            E::Referred => &self.referred,
            E::DailyDigest => &self.daily_digest,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct MockSettings {
    pub enabled: bool,
    pub host: String,
    pub port: u16,
}

/// How long what is not kept permanently is kept (`services::retention`).
#[derive(Debug, Clone, Deserialize)]
pub struct RetentionSettings {
    /// Personal data and images of withdrawn and ineligible cases, after their last change.
    pub unfinished_days: u32,
    /// Stored answers to `Idempotency-Key` requests (a client retries within minutes).
    pub idempotency_hours: u32,
    /// Raw bodies of courier callbacks (the event itself stays).
    pub callback_body_days: u32,
    /// How often the service sweeps; 0 = never (the command `birthcert retention run` still does).
    pub run_every_secs: u64,
}

/// Where the audit chain is witnessed outside the database (`audit_anchor`).
#[derive(Debug, Clone, Deserialize)]
pub struct AuditSettings {
    /// Appended to; put it where a database administrator cannot write.
    pub anchor_file: PathBuf,
    /// How often the service writes the head, when it has moved; 0 = never (the command
    /// `birthcert audit anchor` still does).
    pub anchor_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct JwtSettings {
    pub secret: SecretString,
    pub issuer: String,
    pub audience: String,
    pub ttl_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CryptoSettings {
    /// Base64 of 32 bytes: AES-256-GCM key for ID and phone numbers at rest.
    pub data_key: SecretString,
    /// Stored beside each ciphertext so a later key can be introduced without re-encrypting.
    pub data_key_id: String,
    /// Base64 of 32 bytes: HMAC-SHA256 key for blind indexes.
    pub index_key: SecretString,
    /// Older data keys, still accepted for reading during a rotation (`birthcert crypto rotate`
    /// re-seals everything under `data_key`; then they can go). From the environment as JSON:
    /// `BIRTHCERT__CRYPTO__PREVIOUS_DATA_KEYS='[{"id":"dev-1","key":"..."}]'`.
    #[serde(default, deserialize_with = "list_or_json")]
    pub previous_data_keys: Vec<PreviousDataKey>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PreviousDataKey {
    pub id: String,
    /// Base64 of 32 bytes.
    pub key: SecretString,
}

/// A list as TOML writes it, or the same list as JSON text (all an environment variable can hold).
fn list_or_json<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrJson<T> {
        List(Vec<T>),
        Json(String),
    }
    match ListOrJson::<T>::deserialize(deserializer)? {
        ListOrJson::List(list) => Ok(list),
        ListOrJson::Json(text) if text.trim().is_empty() => Ok(Vec::new()),
        ListOrJson::Json(text) => serde_json::from_str(&text).map_err(serde::de::Error::custom),
    }
}

/// The electronic health card open platform.
#[derive(Debug, Clone, Deserialize)]
pub struct HealthCardSettings {
    /// Absent + mock.enabled = the in-process mock.
    pub base_url: Option<String>,
    pub app_id: String,
    pub app_secret: SecretString,
    pub hospital_id: String,
}

/// The printable registration form.
#[derive(Debug, Clone, Deserialize)]
pub struct PdfSettings {
    /// A TrueType/OpenType font (or collection) with CJK glyphs; Debian: fonts-wqy-zenhei.
    pub font_path: std::path::PathBuf,
}

/// The courier: the fee table by region, and the booking API.
#[derive(Debug, Clone, Deserialize)]
pub struct CourierSettings {
    #[serde(flatten)]
    pub fees: crate::domain::courier_fee::FeeTable,
    /// Absent + mock.enabled = the in-process mock.
    pub base_url: Option<String>,
    pub app_key: String,
    /// Signs bookings and verifies the courier's events.
    pub secret: SecretString,
    /// Printed as the sender on the waybill.
    pub sender: String,
}

/// The SMS gateway: the last way to reach a family (`workers::outbox`).
#[derive(Debug, Clone, Deserialize)]
pub struct SmsSettings {
    /// Absent + mock.enabled = the in-process mock.
    pub base_url: Option<String>,
    pub app_key: String,
    pub secret: SecretString,
    /// The sender's registered sign name, shown as 【…】 before each text.
    pub sign_name: String,
}

/// The provincial birth-certificate system (`workers::province`).
#[derive(Debug, Clone, Deserialize)]
pub struct ProvinceSettings {
    /// Absent + mock.enabled = the in-process mock.
    pub base_url: Option<String>,
    pub app_key: String,
    pub secret: SecretString,
}

/// WeChat Pay v3 (the courier fee).
#[derive(Debug, Clone, Deserialize)]
pub struct PaySettings {
    /// Absent + mock.enabled = the in-process mock.
    pub base_url: Option<String>,
    pub mch_id: String,
    pub api_v3_key: SecretString,
    pub merchant_serial_no: String,
    pub merchant_private_key_file: PathBuf,
    /// Public-key mode: the `PUB_KEY_ID_...` and its PEM.
    pub platform_public_key_id: Option<String>,
    pub platform_public_key_file: Option<PathBuf>,
    /// Certificate mode: platform certificates (PEM); their serials name them.
    #[serde(default)]
    pub platform_certificate_files: Vec<PathBuf>,
    /// Where WeChat Pay posts results; absent = this service's own address.
    pub notify_url: Option<String>,
    pub description: String,
}

/// Limits against guessing.
#[derive(Debug, Clone, Deserialize)]
pub struct SecuritySettings {
    /// Officer sign-in: failures allowed per username, and per client address, in the window;
    /// beyond that, 429 `too_many_attempts` until the window ends.
    pub login_max_failures: i64,
    pub login_window_secs: u64,
}

/// Background workers inside the service process.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkerSettings {
    /// Run the notification outbox worker (tests turn it off and drain by hand).
    pub outbox: bool,
    pub outbox_poll_ms: u64,
    /// Attempts before a notification is marked failed.
    pub outbox_max_attempts: i32,
    /// First retry delay; doubles per attempt, at most one hour.
    pub outbox_base_backoff_secs: i64,
    /// Run the worker that closes and refunds orders at WeChat Pay when a case ends (tests
    /// turn it off and drain by hand). It polls every `outbox_poll_ms` and backs off like the
    /// outbox.
    pub payment_calls: bool,
    /// Attempts before a close or refund is left for a person (logged as an error).
    pub payment_calls_max_attempts: i32,
    /// Run the provincial reporting worker (tests turn it off and drain by hand). It polls
    /// every `outbox_poll_ms`, backs off like the outbox and never gives up: a report is owed.
    pub province_reports: bool,
    /// How often the business gauges of `/metrics` are read from the database; 0 = never.
    pub gauges_secs: u64,
    /// Run the review-deadline watcher.
    pub deadline_watcher: bool,
    pub deadline_watch_secs: u64,
    /// The officers' morning digest goes out on working days from this hour, China time.
    pub digest_hour: u32,
    /// How often the digest worker looks whether today's digest is due; 0 = never.
    pub digest_check_secs: u64,
}

/// Demo accounts for the embedded profile (`demo.officer`, `demo.admin`).
#[derive(Debug, Clone, Deserialize)]
pub struct SeedSettings {
    pub demo_accounts: bool,
    pub demo_institution: String,
    pub demo_password: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BlobSettings {
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CalendarSettings {
    pub holidays_file: PathBuf,
    pub institutions_file: PathBuf,
    /// GB/T 2260 codes and names: where parcels may go.
    pub regions_file: PathBuf,
}

/// The outside systems the service calls (DESIGN §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutsideSystem {
    Wechat,
    HealthCard,
    Courier,
    Pay,
    Sms,
    Province,
}

impl Settings {
    /// Reads the layered configuration from the process environment.
    pub fn load() -> Result<Settings, ConfigError> {
        let env = Environment::try_from(std::env::var("BIRTHCERT_ENV").unwrap_or_default().as_str())?;
        let dir = std::env::var("BIRTHCERT_CONFIG_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("config"));
        Self::load_from(&dir, env)
    }

    pub fn load_from(dir: &std::path::Path, env: Environment) -> Result<Settings, ConfigError> {
        let mut builder =
            config::Config::builder().add_source(config::File::from(dir.join("default.toml")).required(true));
        if env != Environment::Default {
            builder = builder.add_source(config::File::from(dir.join(format!("{}.toml", env.as_str()))).required(true));
        }
        let raw = builder
            .add_source(config::Environment::with_prefix("BIRTHCERT").prefix_separator("__").separator("__"))
            .build()?;
        let mut settings: Settings = raw.try_deserialize()?;
        settings.environment = env;
        settings.resolve_relative_paths(dir);
        settings.validate()?;
        Ok(settings)
    }

    /// Data files named in the config are relative to the directory above `config/`
    /// (the project root), so the service finds them wherever it is started from.
    fn resolve_relative_paths(&mut self, config_dir: &std::path::Path) {
        let root = config_dir.parent().map(PathBuf::from).unwrap_or_default();
        let mut paths = vec![
            &mut self.calendar.holidays_file,
            &mut self.calendar.institutions_file,
            &mut self.calendar.regions_file,
            &mut self.pay.merchant_private_key_file,
        ];
        if let Some(p) = self.pay.platform_public_key_file.as_mut() {
            paths.push(p);
        }
        paths.extend(self.pay.platform_certificate_files.iter_mut());
        for path in paths {
            if path.is_relative() && !path.exists() {
                let candidate = root.join(&*path);
                if candidate.exists() {
                    *path = candidate;
                }
            }
        }
    }

    pub fn database_kind(&self) -> Result<DatabaseKind, ConfigError> {
        let parsed = url::Url::parse(self.database.url.expose_secret())
            .map_err(|e| ConfigError::Invalid { key: "database.url", reason: e.to_string() })?;
        match parsed.scheme() {
            "sqlite" => Ok(DatabaseKind::Sqlite),
            "postgres" | "postgresql" => Ok(DatabaseKind::Postgres),
            other => Err(ConfigError::Invalid {
                key: "database.url",
                reason: format!("unsupported scheme {other:?}: use sqlite:// or postgres://"),
            }),
        }
    }

    /// Points every outside system at one platform (a mock started elsewhere: the tests, the
    /// demo, the load programs).
    pub fn use_platform_at(&mut self, url: &str) {
        for base_url in [
            &mut self.wechat.api_base_url,
            &mut self.health_card.base_url,
            &mut self.pay.base_url,
            &mut self.courier.base_url,
            &mut self.sms.base_url,
            &mut self.province.base_url,
        ] {
            *base_url = Some(url.to_string());
        }
    }

    /// This service's address as the public reaches it.
    pub fn public_url(&self) -> String {
        match &self.server.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}:{}", self.server.host, self.server.port),
        }
    }

    /// Where an outside system lives: its configured URL (without a trailing slash), else the
    /// in-process mock, which plays every one of them.
    pub fn base_url(&self, system: OutsideSystem) -> String {
        let configured = match system {
            OutsideSystem::Wechat => &self.wechat.api_base_url,
            OutsideSystem::HealthCard => &self.health_card.base_url,
            OutsideSystem::Courier => &self.courier.base_url,
            OutsideSystem::Pay => &self.pay.base_url,
            OutsideSystem::Sms => &self.sms.base_url,
            OutsideSystem::Province => &self.province.base_url,
        };
        match configured {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("http://{}:{}", self.mock.host, self.mock.port),
        }
    }

    /// The cipher for personal data and images: the current data key, the older ones still
    /// accepted for reading, and the blind-index key.
    pub fn cipher(&self) -> Result<crate::crypto::PersonalDataCipher, ConfigError> {
        let crypto = &self.crypto;
        let key_id = |id: &str| {
            if crate::crypto::valid_key_id(id) {
                Ok(())
            } else {
                Err(ConfigError::Invalid {
                    key: "crypto.data_key_id",
                    reason: format!("{id:?}: 1–64 letters, digits, '.', '_' or '-'"),
                })
            }
        };
        key_id(&crypto.data_key_id)?;
        let mut cipher = crate::crypto::PersonalDataCipher::new(
            &crypto.data_key_id,
            &decode_key("crypto.data_key", &crypto.data_key)?,
            decode_key("crypto.index_key", &crypto.index_key)?,
        );
        for previous in &crypto.previous_data_keys {
            key_id(&previous.id)?;
            if previous.id == crypto.data_key_id {
                return Err(ConfigError::Invalid {
                    key: "crypto.previous_data_keys",
                    reason: format!("{:?} is the current key's id", previous.id),
                });
            }
            cipher = cipher.with_previous_key(&previous.id, &decode_key("crypto.previous_data_keys", &previous.key)?);
        }
        Ok(cipher)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseKind {
    Sqlite,
    Postgres,
}

fn missing(key: &'static str) -> ConfigError {
    ConfigError::Missing { key, env_name: key.replace('.', "__").to_ascii_uppercase() }
}

fn decode_key(key: &'static str, value: &SecretString) -> Result<[u8; 32], ConfigError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.expose_secret().trim())
        .map_err(|_| ConfigError::Invalid { key, reason: "must be base64".into() })?;
    bytes.try_into().map_err(|_| ConfigError::Invalid { key, reason: "must decode to exactly 32 bytes".into() })
}

#[cfg(test)]
mod tests {
    use super::validation::{shipped_defaults, DEVELOPMENT_KEY_FILES};
    use super::*;

    fn config_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")
    }

    #[test]
    fn embedded_defaults_are_valid() {
        let s = Settings::load_from(&config_dir(), Environment::Default).expect("defaults load");
        assert_eq!(s.server.port, 8080);
        assert_eq!(s.mock.port, 8081);
        assert!(s.redis.url.is_none());
        assert!(s.server.disable_transparent_huge_pages);
        assert_eq!(s.database_kind().ok(), Some(DatabaseKind::Sqlite));
        assert_eq!(s.base_url(OutsideSystem::Wechat), "http://127.0.0.1:8081");
    }

    #[test]
    fn production_without_secrets_names_the_missing_key() {
        let err = Settings::load_from(&config_dir(), Environment::Production).unwrap_err();
        let line = err.to_string();
        assert!(line.contains("database.url"), "{line}");
        assert!(line.contains("BIRTHCERT__DATABASE__URL"), "{line}");
        assert!(!line.contains('\n'));
    }

    #[test]
    fn the_refused_development_values_are_the_shipped_ones() {
        let shipped = shipped_defaults().expect("the compiled-in default.toml parses");
        let on_disk = Settings::load_from(&config_dir(), Environment::Default).expect("defaults load");
        for ((key, a), (_, b)) in shipped.shippable_secrets().into_iter().zip(on_disk.shippable_secrets()) {
            assert_eq!(a.expose_secret(), b.expose_secret(), "{key}");
            assert!(!a.expose_secret().is_empty(), "{key} has a development value");
        }
        let shipped_key = std::fs::read_to_string(config_dir().join("dev-keys/merchant.pem")).expect("dev key");
        assert!(DEVELOPMENT_KEY_FILES.contains(&shipped_key.as_str()));
    }

    #[test]
    fn environment_names() {
        assert_eq!(Environment::try_from("production").ok(), Some(Environment::Production));
        assert!(Environment::try_from("staging").is_err());
    }
}

//! What the service refuses to start with: a missing secret or address, a malformed key, and in
//! production any value shipped with the source (the development secrets of
//! `config/default.toml`, the WeChat Pay keys of `config/dev-keys/`). Each error names its key.

use secrecy::{ExposeSecret, SecretString};

use super::{missing, ConfigError, Environment, Settings};

/// The settings as `config/default.toml` ships them, compiled in: their secrets are public, so
/// production refuses each of them (whatever the deployed copy of the file says).
pub(super) fn shipped_defaults() -> Option<&'static Settings> {
    static SHIPPED: std::sync::OnceLock<Option<Settings>> = std::sync::OnceLock::new();
    SHIPPED
        .get_or_init(|| {
            let file = config::File::from_str(include_str!("../../config/default.toml"), config::FileFormat::Toml);
            config::Config::builder().add_source(file).build().ok()?.try_deserialize().ok()
        })
        .as_ref()
}

/// The WeChat Pay keys of `config/dev-keys/`, by content (a copy elsewhere is still refused).
pub(super) const DEVELOPMENT_KEY_FILES: [&str; 3] = [
    include_str!("../../config/dev-keys/merchant.pem"),
    include_str!("../../config/dev-keys/platform.pub"),
    include_str!("../../config/dev-keys/platform.crt"),
];

impl Settings {
    /// Refuses settings the service cannot run with; the error names the key in one line.
    /// The secrets that have a development value in `config/default.toml`, by key.
    pub(super) fn shippable_secrets(&self) -> [(&'static str, &SecretString); 13] {
        [
            ("jwt.secret", &self.jwt.secret),
            ("crypto.data_key", &self.crypto.data_key),
            ("crypto.index_key", &self.crypto.index_key),
            ("wechat.app_secret", &self.wechat.app_secret),
            ("wechat.token", &self.wechat.token),
            ("wechat.encoding_aes_key", &self.wechat.encoding_aes_key),
            ("wechat.mini_program_app_secret", &self.wechat.mini_program_app_secret),
            ("health_card.app_secret", &self.health_card.app_secret),
            ("pay.api_v3_key", &self.pay.api_v3_key),
            ("courier.secret", &self.courier.secret),
            ("sms.secret", &self.sms.secret),
            ("province.secret", &self.province.secret),
            ("seed.demo_password", &self.seed.demo_password),
        ]
    }

    /// Production must not run on anything shipped with the source: the development secrets of
    /// `config/default.toml` and the keys of `config/dev-keys/` (the WeChat Pay platform key's
    /// private half ships in the mock, so a notification signed with it would be believed).
    fn refuse_development_values(&self) -> Result<(), ConfigError> {
        let shipped = |key: &'static str| ConfigError::Invalid {
            key,
            reason: "is the development value shipped with the source; set your own".into(),
        };
        if let Some(defaults) = shipped_defaults() {
            for ((key, value), (_, development)) in
                self.shippable_secrets().into_iter().zip(defaults.shippable_secrets())
            {
                if value.expose_secret().trim() == development.expose_secret().trim() {
                    return Err(shipped(key));
                }
            }
        }
        let mut files: Vec<(&'static str, &std::path::Path)> =
            vec![("pay.merchant_private_key_file", &self.pay.merchant_private_key_file)];
        if let Some(path) = &self.pay.platform_public_key_file {
            files.push(("pay.platform_public_key_file", path));
        }
        for path in &self.pay.platform_certificate_files {
            files.push(("pay.platform_certificate_files", path));
        }
        for (key, path) in files {
            // An unreadable file is named by the start-up step that reads it.
            let Ok(content) = std::fs::read_to_string(path) else { continue };
            if DEVELOPMENT_KEY_FILES.iter().any(|dev| dev.trim() == content.trim()) {
                return Err(shipped(key));
            }
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        // Every secret with a development value, and the database: the AES key is checked with
        // the key shapes below, the demo password only matters where demo accounts are seeded.
        let checked_elsewhere = ["wechat.encoding_aes_key", "seed.demo_password"];
        let required = std::iter::once(("database.url", &self.database.url))
            .chain(self.shippable_secrets().into_iter().filter(|(key, _)| !checked_elsewhere.contains(key)));
        for (key, value) in required {
            if value.expose_secret().trim().is_empty() {
                return Err(missing(key));
            }
        }
        if self.environment == Environment::Production {
            self.refuse_development_values()?;
        }
        if self.pay.api_v3_key.expose_secret().len() != 32 {
            return Err(ConfigError::Invalid { key: "pay.api_v3_key", reason: "must be 32 bytes".into() });
        }
        if self.wechat.encoding_aes_key.expose_secret().trim().is_empty() {
            return Err(missing("wechat.encoding_aes_key"));
        }
        if self.environment == Environment::Production && self.seed.demo_accounts {
            return Err(ConfigError::Invalid {
                key: "seed.demo_accounts",
                reason: "demo accounts are not allowed in production".into(),
            });
        }
        if self.environment == Environment::Production && self.jwt.secret.expose_secret().len() < 32 {
            return Err(ConfigError::Invalid { key: "jwt.secret", reason: "must be at least 32 characters".into() });
        }
        self.database_kind()?;
        if let Some(url) = &self.redis.url {
            let parsed = url::Url::parse(url.expose_secret())
                .map_err(|e| ConfigError::Invalid { key: "redis.url", reason: e.to_string() })?;
            if !matches!(parsed.scheme(), "redis" | "rediss") {
                return Err(ConfigError::Invalid {
                    key: "redis.url",
                    reason: "scheme must be redis:// or rediss://".into(),
                });
            }
        }
        self.cipher()?;
        let aes_len = self.wechat.encoding_aes_key.expose_secret().len();
        if aes_len != 43 {
            return Err(ConfigError::Invalid {
                key: "wechat.encoding_aes_key",
                reason: format!("must be 43 characters, got {aes_len}"),
            });
        }
        if let Some(base) = &self.wechat.api_base_url {
            url::Url::parse(base)
                .map_err(|e| ConfigError::Invalid { key: "wechat.api_base_url", reason: e.to_string() })?;
        }
        if self.wechat.api_base_url.is_none() && !self.mock.enabled {
            return Err(missing("wechat.api_base_url"));
        }
        if self.health_card.base_url.is_none() && !self.mock.enabled {
            return Err(missing("health_card.base_url"));
        }
        if self.courier.base_url.is_none() && !self.mock.enabled {
            return Err(missing("courier.base_url"));
        }
        Ok(())
    }
}

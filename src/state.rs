//! The shared state handed to the routes and the workers: settings, the database, the key-value
//! store, the clients of outside systems and the keys. Built once by `startup`; nothing in here
//! depends on the web framework, so the arrow points from `routes` and `startup` to this file.

use std::sync::Arc;

use crate::auth::JwtKeys;
use crate::blobs::BlobStore;
use crate::clients::face::FaceVerifier;
use crate::clients::health_card::HealthCardPlatform;
use crate::clients::pay::PayClient;
use crate::clients::wechat::WechatClient;
use crate::config::Settings;
use crate::crypto::PersonalDataCipher;
use crate::domain::region::RegionTable;
use crate::domain::Calendar;
use crate::kv::KvStore;
use crate::persistence::Db;
use crate::services::issuing::printing::PrintFont;
use crate::services::official_account::OfficialAccount;
use crate::wechat::crypto::KeyRing;
use crate::wechat::pay::PlatformKeys;
use crate::workers::outbox::OutboxWorker;
use crate::workers::payments::PaymentCallsWorker;
use crate::workers::province::ProvinceReportWorker;

/// Everything a handler may need, shared by all workers.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub kv: Arc<dyn KvStore>,
    pub calendar: Arc<Calendar>,
    /// GB/T 2260: where parcels may go, and the place names on the label.
    pub regions: Arc<RegionTable>,
    pub jwt: JwtKeys,
    pub cipher: PersonalDataCipher,
    pub wechat: Arc<WechatClient>,
    /// Current and previous EncodingAESKey for safe-mode callbacks.
    pub wechat_keys: KeyRing,
    pub official_account: Arc<OfficialAccount>,
    /// The share of retries among recent callbacks (see `wechat.callback_reply_first`).
    pub callback_retries: crate::wechat::retries::RetryShare,
    pub health_cards: Arc<dyn HealthCardPlatform>,
    pub courier: Arc<dyn crate::clients::courier::Courier>,
    /// The last way to reach a family (the outbox's fallback).
    pub sms: Arc<dyn crate::clients::sms::SmsGateway>,
    pub province: Arc<dyn crate::clients::province::ProvinceGateway>,
    pub print_font: Arc<PrintFont>,
    /// What `/metrics` renders: the HTTP metrics and the business gauges.
    pub metrics: prometheus::Registry,
    /// Requests and their latency per route (registered in `metrics`).
    pub http_metrics: Arc<crate::telemetry::HttpMetrics>,
    pub gauges: Arc<crate::workers::gauges::BusinessGauges>,
    pub face: Arc<dyn FaceVerifier>,
    pub blobs: BlobStore,
    pub pay: Arc<PayClient>,
    pub pay_keys: PlatformKeys,
    pub pay_api_v3_key: [u8; 32],
    /// Where WeChat Pay posts results: `pay.notify_url`, else this server's own address.
    pub pay_notify_url: String,
}

impl AppState {
    /// The notification worker over this state (tests drain with its `run_once`).
    pub fn outbox_worker(&self) -> OutboxWorker {
        OutboxWorker::new(
            self.db.clone(),
            self.wechat.clone(),
            self.sms.clone(),
            self.cipher.clone(),
            self.settings.clone(),
        )
    }

    /// The worker that reports to the provincial system.
    pub fn province_worker(&self) -> ProvinceReportWorker {
        ProvinceReportWorker::new(self.db.clone(), self.province.clone(), self.cipher.clone(), self.settings.clone())
    }

    /// The worker that makes the platform calls payments owe (closing, refunding).
    pub fn payment_calls_worker(&self) -> PaymentCallsWorker {
        PaymentCallsWorker::new(self.db.clone(), self.pay.clone(), self.pay_notify_url.clone(), self.settings.clone())
    }
}

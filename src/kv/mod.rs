//! The key-value store for what is shared between instances and may expire: access tokens,
//! session keys, callback dedupe keys, rate-limit counters, idempotency keys. Redis in
//! production, an in-process map on the embedded defaults; both behave the same (the contract
//! tests in `tests/api/kv.rs` run against each).

mod memory;
mod redis_store;

use std::time::Duration;

pub use memory::MemoryKv;
pub use redis_store::RedisKv;

#[derive(Debug, thiserror::Error)]
pub enum KvError {
    #[error("key-value store unavailable: {0}")]
    Unavailable(String),
    #[error("key-value store returned an unexpected value: {0}")]
    Protocol(String),
}

#[async_trait::async_trait]
pub trait KvStore: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError>;
    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), KvError>;
    /// Replaces the value of a key claimed earlier (see [`KvStore::claim`]), keeping the claim's
    /// expiry; does nothing when the key is gone (it expired or was deleted: nothing is brought
    /// back). The caller does not wait: a background task for Redis (`SET XX KEEPTTL`; a failure
    /// is logged), at once in process. For what only helps later requests (the reply a retried
    /// callback gets).
    fn fill_claim(&self, key: &str, value: &str);
    /// Stores only when the key is absent; true when this call stored it.
    async fn set_if_absent(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, KvError>;
    /// Stores `value` only when the key is absent, in one round trip: None when this call
    /// stored it, else the value already there (Redis `SET NX GET`, Redis 7 or later).
    async fn claim(&self, key: &str, value: &str, ttl: Duration) -> Result<Option<String>, KvError>;
    /// Deletes only when the key still holds `expected`; true when this call deleted it.
    async fn compare_and_delete(&self, key: &str, expected: &str) -> Result<bool, KvError>;
    /// Adds one and returns the new count; the TTL starts when the key is created.
    async fn increment(&self, key: &str, ttl: Duration) -> Result<i64, KvError>;
    async fn delete(&self, key: &str) -> Result<(), KvError>;
    /// True when every command is a request to another server (Redis), false in process: what
    /// a second command costs decides whether a callback renders its reply before claiming.
    fn is_remote(&self) -> bool;
    /// Round trip used by `/readyz`.
    async fn ping(&self) -> Result<(), KvError>;
}

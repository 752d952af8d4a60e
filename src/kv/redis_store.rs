//! The Redis key-value store for several instances: a lazy connection manager and a key prefix.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use tokio::sync::OnceCell;

use super::{KvError, KvStore};

const OP_TIMEOUT: Duration = Duration::from_secs(2);

/// Redis behind a connection manager (reconnects by itself). The connection is made on first
/// use, so the service starts and answers `/readyz` with 503 while Redis is down.
pub struct RedisKv {
    client: redis::Client,
    manager: OnceCell<ConnectionManager>,
    prefix: String,
    compare_and_delete: Script,
    increment: Script,
}

impl RedisKv {
    pub fn new(url: &str, prefix: &str) -> Result<RedisKv, KvError> {
        let client = redis::Client::open(url).map_err(|e| KvError::Unavailable(e.to_string()))?;
        Ok(RedisKv {
            client,
            manager: OnceCell::new(),
            prefix: prefix.to_string(),
            compare_and_delete: Script::new(
                "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end",
            ),
            increment: Script::new(
                "local n = redis.call('INCR', KEYS[1]) if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end return n",
            ),
        })
    }

    async fn conn(&self) -> Result<ConnectionManager, KvError> {
        self.manager
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Duration::from_secs(1))
                    .set_response_timeout(OP_TIMEOUT)
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(self.client.clone(), config).await
            })
            .await
            .cloned()
            .map_err(unavailable)
    }

    fn key(&self, key: &str) -> String {
        format!("{}{}", self.prefix, key)
    }
}

fn unavailable(e: redis::RedisError) -> KvError {
    KvError::Unavailable(e.to_string())
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

async fn bounded<T>(fut: impl std::future::Future<Output = redis::RedisResult<T>>) -> Result<T, KvError> {
    match tokio::time::timeout(OP_TIMEOUT, fut).await {
        Ok(result) => result.map_err(unavailable),
        Err(_) => Err(KvError::Unavailable("timed out".into())),
    }
}

#[async_trait::async_trait]
impl KvStore for RedisKv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        let mut c = self.conn().await?;
        bounded(c.get(self.key(key))).await
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), KvError> {
        let mut c = self.conn().await?;
        bounded(c.pset_ex(self.key(key), value, ttl_ms(ttl))).await
    }

    fn fill_claim(&self, key: &str, value: &str) {
        // The connection is up: the caller has just used it (the claim).
        let Some(mut c) = self.manager.get().cloned() else {
            tracing::warn!("key-value store not connected yet; claim not filled");
            return;
        };
        let (key, value) = (self.key(key), value.to_string());
        tokio::spawn(async move {
            let mut set = redis::cmd("SET");
            set.arg(key).arg(value).arg("XX").arg("KEEPTTL");
            if let Err(e) = bounded(set.query_async::<Option<String>>(&mut c)).await {
                tracing::warn!(error = %e, "could not fill a claim in the key-value store");
            }
        });
    }

    async fn set_if_absent(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, KvError> {
        let mut c = self.conn().await?;
        let reply: Option<String> = bounded(
            redis::cmd("SET").arg(self.key(key)).arg(value).arg("NX").arg("PX").arg(ttl_ms(ttl)).query_async(&mut c),
        )
        .await?;
        Ok(reply.is_some())
    }

    async fn claim(&self, key: &str, value: &str, ttl: Duration) -> Result<Option<String>, KvError> {
        let mut c = self.conn().await?;
        // NX with GET (Redis 7): the old value when there was one (and nothing is set), else nil.
        bounded(
            redis::cmd("SET")
                .arg(self.key(key))
                .arg(value)
                .arg("NX")
                .arg("GET")
                .arg("PX")
                .arg(ttl_ms(ttl))
                .query_async(&mut c),
        )
        .await
    }

    async fn compare_and_delete(&self, key: &str, expected: &str) -> Result<bool, KvError> {
        let mut c = self.conn().await?;
        let n: i64 = bounded(self.compare_and_delete.key(self.key(key)).arg(expected).invoke_async(&mut c)).await?;
        Ok(n == 1)
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<i64, KvError> {
        let mut c = self.conn().await?;
        bounded(self.increment.key(self.key(key)).arg(ttl_ms(ttl)).invoke_async(&mut c)).await
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        let mut c = self.conn().await?;
        bounded(c.del(self.key(key))).await
    }

    fn is_remote(&self) -> bool {
        true
    }

    async fn ping(&self) -> Result<(), KvError> {
        let mut c = self.conn().await?;
        let pong: String = bounded(redis::cmd("PING").query_async(&mut c)).await?;
        if pong == "PONG" {
            Ok(())
        } else {
            Err(KvError::Protocol(pong))
        }
    }
}

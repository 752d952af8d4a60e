//! The in-process key-value store of the embedded default: one instance, expiry on read.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{KvError, KvStore};

/// In-process store for a single instance. Expired entries are dropped when touched, and each
/// write drops those whose time has passed, oldest first, from an index ordered by expiry: the
/// map cannot grow without bound and no write scans it. (A scan of the whole map every 4,096
/// writes held the lock for milliseconds once hundreds of thousands of callbacks were waiting
/// out their five minutes: p99 195 ms under a stream of new messages.)
///
/// The keys are spread over shards, each with its own lock and map: a map growing past a
/// power of two rehashes one shard's entries, not every entry with every request waiting.
pub struct MemoryKv {
    shards: Vec<Mutex<Inner>>,
}

const SHARDS: usize = 32;

impl Default for MemoryKv {
    fn default() -> Self {
        MemoryKv { shards: (0..SHARDS).map(|_| Mutex::default()).collect() }
    }
}

#[derive(Default)]
struct Inner {
    entries: HashMap<String, (String, Instant)>,
    /// (expiry, write number) → key, for every write. An entry written again later, or deleted,
    /// leaves its old index row behind; the row is dropped when its time comes and removes
    /// nothing unless the entry it names has expired too.
    expiries: BTreeMap<(Instant, u64), String>,
    writes: u64,
}

impl Inner {
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut (String, Instant)> {
        if self.entries.get(key).is_some_and(|(_, exp)| *exp <= now) {
            self.entries.remove(key);
        }
        self.entries.get_mut(key)
    }

    fn insert(&mut self, key: &str, value: String, expires: Instant, now: Instant) {
        self.writes += 1;
        while let Some(oldest) = self.expiries.first_entry() {
            if oldest.key().0 > now {
                break;
            }
            let old = oldest.remove();
            if self.entries.get(&old).is_some_and(|(_, exp)| *exp <= now) {
                self.entries.remove(&old);
            }
        }
        self.expiries.insert((expires, self.writes), key.to_string());
        self.entries.insert(key.to_string(), (value, expires));
    }
}

/// Which shard a key lives in needs no secret: the maps inside keep their own random hashing.
static SHARD_HASH: std::hash::BuildHasherDefault<std::collections::hash_map::DefaultHasher> =
    std::hash::BuildHasherDefault::new();

impl MemoryKv {
    pub fn new() -> MemoryKv {
        MemoryKv::default()
    }

    /// The shard holding `key`, locked.
    fn lock(&self, key: &str) -> std::sync::MutexGuard<'_, Inner> {
        use std::hash::BuildHasher;
        let shard = &self.shards[(SHARD_HASH.hash_one(key) as usize) % SHARDS];
        // A poisoned lock only means another thread panicked mid-operation; the map itself
        // is still consistent for these single-step operations.
        shard.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl KvStore for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        Ok(self.lock(key).live(key, Instant::now()).map(|(v, _)| v.clone()))
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), KvError> {
        let now = Instant::now();
        self.lock(key).insert(key, value.to_string(), now + ttl, now);
        Ok(())
    }

    async fn set_if_absent(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, KvError> {
        let now = Instant::now();
        let mut inner = self.lock(key);
        if inner.live(key, now).is_some() {
            return Ok(false);
        }
        inner.insert(key, value.to_string(), now + ttl, now);
        Ok(true)
    }

    async fn claim(&self, key: &str, value: &str, ttl: Duration) -> Result<Option<String>, KvError> {
        let now = Instant::now();
        let mut inner = self.lock(key);
        if let Some((v, _)) = inner.live(key, now) {
            return Ok(Some(v.clone()));
        }
        inner.insert(key, value.to_string(), now + ttl, now);
        Ok(None)
    }

    async fn compare_and_delete(&self, key: &str, expected: &str) -> Result<bool, KvError> {
        let mut inner = self.lock(key);
        match inner.live(key, Instant::now()) {
            Some((v, _)) if v == expected => {
                inner.entries.remove(key);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<i64, KvError> {
        let now = Instant::now();
        let mut inner = self.lock(key);
        if let Some((v, _)) = inner.live(key, now) {
            let n = v.parse::<i64>().map_err(|_| KvError::Protocol(format!("{key} is not a counter")))? + 1;
            *v = n.to_string();
            return Ok(n);
        }
        inner.insert(key, "1".to_string(), now + ttl, now);
        Ok(1)
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.lock(key).entries.remove(key);
        Ok(())
    }

    async fn ping(&self) -> Result<(), KvError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_drops_what_has_expired_and_keeps_what_was_renewed() {
        let start = Instant::now();
        let mut inner = Inner::default();
        inner.insert("short", "1".into(), start + Duration::from_secs(1), start);
        inner.insert("renewed", "1".into(), start + Duration::from_secs(1), start);
        inner.insert("renewed", "2".into(), start + Duration::from_secs(60), start);
        inner.insert("long", "1".into(), start + Duration::from_secs(60), start);
        assert_eq!(inner.entries.len(), 3);
        // Two seconds on: the next write drops "short" and the stale row of "renewed" only.
        let later = start + Duration::from_secs(2);
        inner.insert("new", "1".into(), later + Duration::from_secs(60), later);
        let mut keys: Vec<&str> = inner.entries.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["long", "new", "renewed"]);
        assert_eq!(inner.entries["renewed"].0, "2");
        assert_eq!(inner.expiries.len(), 3);
    }
}

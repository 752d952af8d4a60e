//! The in-process key-value store of the embedded default: one instance, expiry on read.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{KvError, KvStore};

/// In-process store for a single instance. An expired entry reads as absent, and each write
/// drops the entries whose time has passed, oldest first: the map cannot grow without bound and
/// no write scans it. (A scan of the whole map every 4,096 writes held the lock for milliseconds
/// once hundreds of thousands of callbacks were waiting out their five minutes: p99 195 ms
/// under a stream of new messages.)
///
/// The keys are spread over shards, each with its own lock and map: a map growing past a
/// power of two rehashes one shard's entries, not every entry with every request waiting.
pub struct MemoryKv {
    shards: Vec<Mutex<Inner>>,
    shard_of: foldhash::fast::RandomState,
}

const SHARDS: usize = 32;

impl Default for MemoryKv {
    fn default() -> Self {
        MemoryKv { shards: (0..SHARDS).map(|_| Mutex::default()).collect(), shard_of: Default::default() }
    }
}

struct Entry {
    value: Box<str>,
    expires: Instant,
}

/// The keys written with one time-to-live, in write order. Every TTL in use is one of a handful
/// of the service's constants, and with one TTL write order is expiry order: dropping what has
/// expired only ever looks at the front of each queue (no ordered index to keep).
struct Expiries {
    ttl: Duration,
    queue: VecDeque<(Instant, Arc<str>)>,
}

#[derive(Default)]
struct Inner {
    /// The key is shared with its row in `expiries` (one allocation per write, not two).
    /// foldhash, randomly seeded per map like std's SipHash but several times faster on short
    /// keys (hashing was 2 % of the callback's samples under new messages).
    entries: HashMap<Arc<str>, Entry, foldhash::fast::RandomState>,
    /// A row is dropped when its time comes and removes its entry only if that has expired too:
    /// an entry written again later, or deleted, leaves its old row behind harmlessly.
    expiries: Vec<Expiries>,
}

impl Inner {
    /// The entry unless it has expired. An expired one stays until a write replaces it or its
    /// row in `expiries` comes up (every entry has one), so a read costs one lookup.
    fn live(&mut self, key: &str, now: Instant) -> Option<&mut Entry> {
        self.entries.get_mut(key).filter(|e| e.expires > now)
    }

    fn insert(&mut self, key: &str, value: &str, ttl: Duration, now: Instant) {
        let entries = &mut self.entries;
        self.expiries.retain_mut(|expiries| {
            while let Some((at, _)) = expiries.queue.front() {
                // Two writers may queue a few microseconds out of order: the later one waits
                // behind the earlier for that long, which `live` covers.
                if *at > now {
                    break;
                }
                if let Some((_, old)) = expiries.queue.pop_front() {
                    if entries.get(&old).is_some_and(|e| e.expires <= now) {
                        entries.remove(&old);
                    }
                }
            }
            // A TTL nobody writes with any more (a token's lifetime as WeChat gave it) goes.
            !expiries.queue.is_empty() || expiries.ttl == ttl
        });
        let expires = now + ttl;
        let key: Arc<str> = Arc::from(key);
        match self.expiries.iter_mut().find(|e| e.ttl == ttl) {
            Some(expiries) => expiries.queue.push_back((expires, key.clone())),
            None => self.expiries.push(Expiries { ttl, queue: VecDeque::from([(expires, key.clone())]) }),
        }
        self.entries.insert(key, Entry { value: value.into(), expires });
    }
}

impl MemoryKv {
    pub fn new() -> MemoryKv {
        MemoryKv::default()
    }

    /// The shard holding `key`, locked.
    fn lock(&self, key: &str) -> std::sync::MutexGuard<'_, Inner> {
        use std::hash::BuildHasher;
        let shard = &self.shards[(self.shard_of.hash_one(key) as usize) % SHARDS];
        // A poisoned lock only means another thread panicked mid-operation; the map itself
        // is still consistent for these single-step operations.
        shard.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait::async_trait]
impl KvStore for MemoryKv {
    async fn get(&self, key: &str) -> Result<Option<String>, KvError> {
        Ok(self.lock(key).live(key, Instant::now()).map(|e| e.value.to_string()))
    }

    async fn set(&self, key: &str, value: &str, ttl: Duration) -> Result<(), KvError> {
        let now = Instant::now();
        self.lock(key).insert(key, value, ttl, now);
        Ok(())
    }

    fn fill_claim(&self, key: &str, value: &str) {
        // In place: the claim's key, expiry and row in `expiries` serve the value too.
        if let Some(e) = self.lock(key).live(key, Instant::now()) {
            e.value = value.into();
        }
    }

    async fn set_if_absent(&self, key: &str, value: &str, ttl: Duration) -> Result<bool, KvError> {
        let now = Instant::now();
        let mut inner = self.lock(key);
        if inner.live(key, now).is_some() {
            return Ok(false);
        }
        inner.insert(key, value, ttl, now);
        Ok(true)
    }

    async fn claim(&self, key: &str, value: &str, ttl: Duration) -> Result<Option<String>, KvError> {
        let now = Instant::now();
        let mut inner = self.lock(key);
        if let Some(e) = inner.live(key, now) {
            return Ok(Some(e.value.to_string()));
        }
        inner.insert(key, value, ttl, now);
        Ok(None)
    }

    async fn compare_and_delete(&self, key: &str, expected: &str) -> Result<bool, KvError> {
        let mut inner = self.lock(key);
        match inner.live(key, Instant::now()) {
            Some(e) if &*e.value == expected => {
                inner.entries.remove(key);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn increment(&self, key: &str, ttl: Duration) -> Result<i64, KvError> {
        let now = Instant::now();
        let mut inner = self.lock(key);
        if let Some(e) = inner.live(key, now) {
            let n = e.value.parse::<i64>().map_err(|_| KvError::Protocol(format!("{key} is not a counter")))? + 1;
            e.value = n.to_string().into();
            return Ok(n);
        }
        inner.insert(key, "1", ttl, now);
        Ok(1)
    }

    async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.lock(key).entries.remove(key);
        Ok(())
    }

    fn is_remote(&self) -> bool {
        false
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
        let (short, long) = (Duration::from_secs(1), Duration::from_secs(60));
        let mut inner = Inner::default();
        inner.insert("short", "1", short, start);
        inner.insert("renewed", "1", short, start);
        inner.insert("renewed", "2", long, start);
        inner.insert("long", "1", long, start);
        assert_eq!(inner.entries.len(), 3);
        // Two seconds on: the next write drops "short" and the stale row of "renewed" only.
        let later = start + Duration::from_secs(2);
        inner.insert("new", "1", long, later);
        let mut keys: Vec<&str> = inner.entries.keys().map(|k| &**k).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["long", "new", "renewed"]);
        assert_eq!(&*inner.entries["renewed"].value, "2");
        // The one-second queue is empty and gone; the minute's holds its three rows.
        assert_eq!(inner.expiries.len(), 1);
        assert_eq!(inner.expiries[0].queue.len(), 3);
    }

    #[test]
    fn rows_queued_out_of_order_by_racing_writers_still_expire() {
        let start = Instant::now();
        let ttl = Duration::from_secs(1);
        let mut inner = Inner::default();
        // The second writer read the clock first but took the lock second.
        inner.insert("late", "1", ttl, start + Duration::from_micros(5));
        inner.insert("early", "1", ttl, start);
        let after = start + Duration::from_secs(2);
        inner.insert("next", "1", Duration::from_secs(60), after);
        assert_eq!(inner.entries.keys().map(|k| &**k).collect::<Vec<_>>(), ["next"]);
    }
}

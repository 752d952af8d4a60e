//! One contract for both key-value stores: the in-process one always, Redis when
//! TEST_REDIS_URL is set (CI's second run).

use std::sync::Arc;
use std::time::Duration;

use birthcert::kv::{KvStore, MemoryKv, RedisKv};

fn stores() -> Vec<(&'static str, Arc<dyn KvStore>)> {
    let mut stores: Vec<(&'static str, Arc<dyn KvStore>)> = vec![("memory", Arc::new(MemoryKv::new()))];
    if let Ok(url) = std::env::var("TEST_REDIS_URL") {
        let prefix = format!("birthcert-test:{}:", uuid::Uuid::new_v4().simple());
        stores.push(("redis", Arc::new(RedisKv::new(&url, &prefix).expect("redis url"))));
    }
    stores
}

#[tokio::test]
async fn get_set_and_delete() {
    for (name, kv) in stores() {
        assert_eq!(kv.get("a").await.expect(name), None, "{name}");
        kv.set("a", "1", Duration::from_secs(60)).await.expect(name);
        assert_eq!(kv.get("a").await.expect(name).as_deref(), Some("1"), "{name}");
        kv.set("a", "2", Duration::from_secs(60)).await.expect(name);
        assert_eq!(kv.get("a").await.expect(name).as_deref(), Some("2"), "{name}");
        kv.delete("a").await.expect(name);
        assert_eq!(kv.get("a").await.expect(name), None, "{name}");
        kv.ping().await.expect(name);
    }
}

#[tokio::test]
async fn a_claim_is_filled_without_the_caller_waiting_and_keeps_its_expiry() {
    for (name, kv) in stores() {
        assert_eq!(kv.claim("claimed", "", Duration::from_millis(600)).await.expect(name), None, "{name}");
        kv.fill_claim("claimed", "reply");
        let mut found = None;
        for _ in 0..25 {
            found = kv.get("claimed").await.expect(name).filter(|v| !v.is_empty());
            if found.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(found.as_deref(), Some("reply"), "{name}");
        assert_eq!(kv.claim("claimed", "", Duration::from_secs(60)).await.expect(name).as_deref(), Some("reply"));
        // The claim's expiry stands: the reply goes with it, and filling a key that is gone
        // brings nothing back.
        tokio::time::sleep(Duration::from_millis(800)).await;
        assert_eq!(kv.get("claimed").await.expect(name), None, "{name}");
        kv.fill_claim("claimed", "late reply");
        kv.fill_claim("never-claimed", "reply");
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(kv.get("claimed").await.expect(name), None, "{name}");
        assert_eq!(kv.get("never-claimed").await.expect(name), None, "{name}");
    }
}

#[tokio::test]
async fn values_expire_after_their_ttl() {
    for (name, kv) in stores() {
        kv.set("short", "x", Duration::from_millis(150)).await.expect(name);
        assert!(kv.set_if_absent("short-nx", "x", Duration::from_millis(150)).await.expect(name));
        assert_eq!(kv.increment("short-n", Duration::from_millis(150)).await.expect(name), 1);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(kv.get("short").await.expect(name), None, "{name}");
        assert!(
            kv.set_if_absent("short-nx", "y", Duration::from_secs(60)).await.expect(name),
            "{name}: expired key is absent"
        );
        assert_eq!(kv.increment("short-n", Duration::from_secs(60)).await.expect(name), 1, "{name}: counter restarts");
    }
}

#[tokio::test]
async fn set_if_absent_has_exactly_one_winner_under_concurrency() {
    for (name, kv) in stores() {
        let mut tasks = Vec::new();
        for i in 0..32 {
            let kv = kv.clone();
            tasks.push(tokio::spawn(
                async move { kv.set_if_absent("lock", &i.to_string(), Duration::from_secs(60)).await },
            ));
        }
        let mut winners = 0;
        for t in tasks {
            if t.await.expect("task").expect(name) {
                winners += 1;
            }
        }
        assert_eq!(winners, 1, "{name}");
        assert!(kv.get("lock").await.expect(name).is_some());
    }
}

#[tokio::test]
async fn a_claim_has_one_winner_and_everyone_else_reads_what_is_there() {
    for (name, kv) in stores() {
        let mut tasks = Vec::new();
        for i in 0..32 {
            let kv = kv.clone();
            tasks.push(tokio::spawn(async move { kv.claim("claim", &i.to_string(), Duration::from_secs(60)).await }));
        }
        let mut winners = 0;
        for t in tasks {
            match t.await.expect("task").expect(name) {
                None => winners += 1,
                Some(seen) => assert!(seen.parse::<u32>().is_ok(), "{name}: the winner's value, {seen:?}"),
            }
        }
        assert_eq!(winners, 1, "{name}");
        // The value written later (the stored reply) is what the next claim reads.
        kv.set("claim", "reply", Duration::from_secs(60)).await.expect(name);
        assert_eq!(kv.claim("claim", "", Duration::from_secs(60)).await.expect(name).as_deref(), Some("reply"));
        kv.set("gone", "x", Duration::from_millis(100)).await.expect(name);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(kv.claim("gone", "y", Duration::from_secs(60)).await.expect(name), None, "{name}: expired");
        assert_eq!(kv.get("gone").await.expect(name).as_deref(), Some("y"));
    }
}

#[tokio::test]
async fn compare_and_delete_only_removes_the_expected_value() {
    for (name, kv) in stores() {
        kv.set("token", "old", Duration::from_secs(60)).await.expect(name);
        assert!(!kv.compare_and_delete("token", "other").await.expect(name), "{name}");
        assert_eq!(kv.get("token").await.expect(name).as_deref(), Some("old"));
        assert!(kv.compare_and_delete("token", "old").await.expect(name), "{name}");
        assert_eq!(kv.get("token").await.expect(name), None);
        assert!(!kv.compare_and_delete("token", "old").await.expect(name), "{name}: already gone");
    }
}

#[tokio::test]
async fn increment_counts_and_keeps_the_first_ttl() {
    for (name, kv) in stores() {
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let kv = kv.clone();
            tasks.push(tokio::spawn(async move { kv.increment("hits", Duration::from_millis(300)).await }));
        }
        let mut seen = Vec::new();
        for t in tasks {
            seen.push(t.await.expect("task").expect(name));
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=20).collect::<Vec<i64>>(), "{name}: each caller sees a distinct count");
        // Later increments do not extend the window.
        tokio::time::sleep(Duration::from_millis(200)).await;
        kv.increment("hits", Duration::from_millis(300)).await.expect(name);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(kv.increment("hits", Duration::from_secs(60)).await.expect(name), 1, "{name}");
    }
}

#[tokio::test]
async fn stores_with_different_prefixes_do_not_see_each_other() {
    let Ok(url) = std::env::var("TEST_REDIS_URL") else {
        // Prefixes only exist on Redis; the in-process store is per instance.
        return;
    };
    let a = RedisKv::new(&url, &format!("t:{}:", uuid::Uuid::new_v4().simple())).expect("url");
    let b = RedisKv::new(&url, &format!("t:{}:", uuid::Uuid::new_v4().simple())).expect("url");
    a.set("k", "a", Duration::from_secs(60)).await.expect("set");
    assert_eq!(b.get("k").await.expect("get"), None);
}

#[tokio::test]
async fn redis_down_is_an_error_not_a_hang() {
    let kv = RedisKv::new("redis://127.0.0.1:1", "x:").expect("url parses");
    let started = std::time::Instant::now();
    assert!(kv.get("k").await.is_err());
    assert!(kv.ping().await.is_err());
    assert!(started.elapsed() < Duration::from_secs(10));
}

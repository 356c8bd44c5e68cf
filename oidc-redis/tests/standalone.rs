//! One real redis-server: the commands, tracking invalidations (another client's SET and
//! DEL, expiry, eviction, flush), the timeout when the server hangs, recovery after a
//! restart. `#[tokio::test]` runs each test on a current-thread runtime, as the module's
//! worker thread does: fred works there.

mod common;

use std::time::{Duration, Instant};

use common::*;
use oidc_redis::{RedisStore, RedisUrl, StoreAnswer, StoreOp};

fn standalone(tag: &str, extra: &str) -> (TempDir, Server, String) {
    let dir = TempDir::new(tag);
    let port = free_port(false);
    let server = Server::start(&dir.0, port, extra);
    let url = format!("redis://:{PW}@127.0.0.1:{port}");
    (dir, server, url)
}

#[tokio::test]
async fn every_operation() {
    let (_dir, server, url) = standalone("ops", "");
    let seen = Seen::default();
    let s = store(&url, settings(2000), &seen);
    let run = |op| s.run(op);

    assert_eq!(get(&s, "oidc:a").await, Ok(StoreAnswer::Value(None)));
    // Values are opaque bytes: NUL and non-UTF-8 survive.
    let v = vec![0u8, 0xff, 0xfe, b'x', 0];
    assert_eq!(set(&s, "oidc:a", &v).await, Ok(StoreAnswer::Done));
    assert_eq!(get(&s, "oidc:a").await, Ok(StoreAnswer::Value(Some(v.clone()))));
    assert_eq!(server.cli(&["PTTL", "oidc:a"]), "-1", "ttl_ms 0: no expiry");

    let r = run(StoreOp::Set { key: "oidc:t".into(), value: b"1".to_vec(), ttl_ms: 60_000 }).await;
    assert_eq!(r, Ok(StoreAnswer::Done));
    let pttl: i64 = server.cli(&["PTTL", "oidc:t"]).parse().unwrap();
    assert!(pttl > 50_000 && pttl <= 60_000, "PX set: {pttl}");

    let nx = |key: &str| StoreOp::SetNx { key: key.into(), value: b"owner-1".to_vec(), ttl_ms: 30_000 };
    assert_eq!(run(nx("oidc:lock")).await, Ok(StoreAnswer::Flag(true)));
    assert_eq!(run(nx("oidc:lock")).await, Ok(StoreAnswer::Flag(false)));
    let pttl: i64 = server.cli(&["PTTL", "oidc:lock"]).parse().unwrap();
    assert!(pttl > 20_000, "SET NX PX: {pttl}");

    let exp = |key: &str, ttl_ms| StoreOp::Expire { key: key.into(), ttl_ms };
    assert_eq!(run(exp("oidc:a", 90_000)).await, Ok(StoreAnswer::Flag(true)));
    let pttl: i64 = server.cli(&["PTTL", "oidc:a"]).parse().unwrap();
    assert!(pttl > 80_000, "PEXPIRE: {pttl}");
    assert_eq!(run(exp("oidc:a", 0)).await, Ok(StoreAnswer::Flag(true)));
    assert_eq!(server.cli(&["PTTL", "oidc:a"]), "-1", "ttl 0: persist");
    assert_eq!(run(exp("oidc:missing", 1000)).await, Ok(StoreAnswer::Flag(false)));
    assert_eq!(run(exp("oidc:missing", 0)).await, Ok(StoreAnswer::Flag(false)));

    let del_if = |value: &[u8]| StoreOp::DelIfEq { key: "oidc:lock".into(), value: value.to_vec() };
    assert_eq!(run(del_if(b"owner-2")).await, Ok(StoreAnswer::Flag(false)));
    assert_eq!(server.cli(&["GET", "oidc:lock"]), "owner-1", "another owner's lock stays");
    assert_eq!(run(del_if(b"owner-1")).await, Ok(StoreAnswer::Flag(true)));
    assert_eq!(server.cli(&["EXISTS", "oidc:lock"]), "0");
    assert_eq!(run(del_if(b"owner-1")).await, Ok(StoreAnswer::Flag(false)));

    assert_eq!(run(StoreOp::Del { key: "oidc:a".into() }).await, Ok(StoreAnswer::Done));
    assert_eq!(get(&s, "oidc:a").await, Ok(StoreAnswer::Value(None)));
    assert_eq!(run(StoreOp::Del { key: "oidc:a".into() }).await, Ok(StoreAnswer::Done));

    // Indexed sessions: set with their index sets, then taken by one of them.
    let indexed = |k: &str, v: &[u8], idx: Vec<String>| StoreOp::SetIndexed {
        key: k.into(),
        value: v.to_vec(),
        ttl_ms: 60_000,
        index: idx,
        index_ttl_ms: 120_000,
    };
    let (sid, sub) = ("oidc:i:sid:1".to_string(), "oidc:i:sub:1".to_string());
    assert_eq!(run(indexed("oidc:s:1", b"one", vec![sid.clone(), sub.clone()])).await, Ok(StoreAnswer::Done));
    assert_eq!(run(indexed("oidc:s:2", b"two", vec![sub.clone()])).await, Ok(StoreAnswer::Done));
    let pttl: i64 = server.cli(&["PTTL", &sub]).parse().unwrap();
    assert!(pttl > 100_000, "the index outlives its sessions: {pttl}");
    assert_eq!(run(StoreOp::TakeIndexed { index: sid.clone() }).await, Ok(StoreAnswer::Entries(vec![("oidc:s:1".into(), b"one".to_vec())])));
    assert_eq!(server.cli(&["EXISTS", "oidc:s:1", &sid]), "0", "the session and its index are gone");
    assert_eq!(server.cli(&["GET", "oidc:s:2"]), "two", "another session stays");
    let Ok(StoreAnswer::Entries(mut e)) = run(StoreOp::TakeIndexed { index: sub.clone() }).await else { panic!("entries") };
    e.sort();
    assert_eq!(e, vec![("oidc:s:2".into(), b"two".to_vec())], "a member already gone is skipped");
    assert_eq!(run(StoreOp::TakeIndexed { index: sub }).await, Ok(StoreAnswer::Entries(vec![])));

    // A command error names the command and Redis's reason, not the key.
    server.cli(&["LPUSH", "oidc:list", "x"]);
    let e = get(&s, "oidc:list").await.unwrap_err();
    assert!(e.starts_with("redis GET:") && e.contains("WRONGTYPE") && !e.contains("oidc:list"), "{e}");
}

#[tokio::test]
async fn database_index_and_bad_password() {
    let (_dir, server, _) = standalone("db", "");
    let seen = Seen::default();
    let s = store(&format!("redis://:{PW}@127.0.0.1:{}/3", server.port), settings(2000), &seen);
    set(&s, "oidc:db", b"three").await.unwrap();
    assert_eq!(cli_opts(server.port, &["-n", "3"], &["GET", "oidc:db"]), "three");
    assert_eq!(server.cli(&["EXISTS", "oidc:db"]), "0", "not in db 0");
    live(&s).await;

    let bad = store(&format!("redis://:wrong-s3cr3t@127.0.0.1:{}", server.port), settings(500), &seen);
    let t0 = Instant::now();
    let e = get(&bad, "oidc:db").await.unwrap_err();
    assert!(t0.elapsed() < Duration::from_millis(900), "bounded: {:?}", t0.elapsed());
    assert!(!e.contains("s3cr3t"), "{e}");
    assert!(!bad.health().tracking_live());
    // Once a connection attempt has failed, the error says why, still without the password.
    let e = get(&bad, "oidc:db").await.unwrap_err();
    assert!(e.contains("WRONGPASS") && !e.contains("s3cr3t"), "{e}");
}

#[tokio::test]
async fn invalidations_from_other_clients_expiry_and_flush() {
    let (_dir, server, url) = standalone("inv", "");
    let seen = Seen::default();
    let a = store(&url, settings(2000), &seen);
    let b_seen = Seen::default();
    let b = store(&url, settings(2000), &b_seen);
    live(&a).await;
    live(&b).await;
    let limit = Duration::from_secs(3);

    set(&b, "oidc:k", b"v1").await.unwrap();
    invalidated(&seen, "oidc:k", limit).await;

    seen.clear();
    b.run(StoreOp::Del { key: "oidc:k".into() }).await.unwrap();
    invalidated(&seen, "oidc:k", limit).await;

    // Keys outside the prefix are not reported; NOLOOP: nor are the store's own writes.
    seen.clear();
    set(&b, "other:k", b"x").await.unwrap();
    set(&a, "oidc:own", b"x").await.unwrap();
    set(&b, "oidc:marker", b"x").await.unwrap();
    invalidated(&seen, "oidc:marker", limit).await;
    assert!(!seen.has_key("other:k") && !seen.has_key("oidc:own"), "{:?}", seen.0.lock().unwrap());

    // Expiry, reported by the server itself.
    seen.clear();
    let r = b.run(StoreOp::Set { key: "oidc:short".into(), value: b"x".to_vec(), ttl_ms: 150 }).await;
    assert_eq!(r, Ok(StoreAnswer::Done));
    invalidated(&seen, "oidc:short", limit).await; // the SET itself
    seen.clear();
    invalidated(&seen, "oidc:short", limit).await; // the expiry
    assert_eq!(server.cli(&["EXISTS", "oidc:short"]), "0");

    // FLUSHALL: "everything changed" (fred drops the server's message; the probe sees it).
    let epoch = a.health().epoch();
    let before = seen.flushes();
    server.cli(&["FLUSHALL"]);
    wait_async("on_invalidate(None) after FLUSHALL", Duration::from_secs(4), || {
        let n = seen.flushes();
        async move { (n > before).then_some(()) }
    })
    .await;
    assert!(a.health().epoch() > epoch);
    assert!(a.health().tracking_live());
}

#[tokio::test]
async fn eviction_is_reported() {
    let (_dir, server, url) = standalone("evict", "maxmemory 4mb\nmaxmemory-policy allkeys-lru\n");
    let seen = Seen::default();
    let a = store(&url, settings(2000), &seen);
    let writer = store(&url, settings(2000), &Seen::default());
    live(&a).await;
    for i in 0..50 {
        set(&writer, &format!("oidc:ev:{i}"), &[7u8; 1024]).await.unwrap();
    }
    // The writes' own invalidations come first (in order, on one connection).
    invalidated(&seen, "oidc:ev:49", Duration::from_secs(3)).await;
    seen.clear();
    // Filler outside the prefix until the server evicts some of the tracked keys.
    let mut gone = None;
    for i in 0..400 {
        set(&writer, &format!("fill:{i}"), &vec![1u8; 64 * 1024]).await.unwrap();
        if i % 10 == 9 {
            for j in 0..50 {
                let k = format!("oidc:ev:{j}");
                if get(&writer, &k).await.unwrap() == StoreAnswer::Value(None) {
                    gone = Some(k);
                    break;
                }
            }
            if gone.is_some() {
                break;
            }
        }
    }
    let gone = gone.expect("allkeys-lru evicted none of the tracked keys");
    assert!(server.cli(&["INFO", "stats"]).contains("evicted_keys:"), "eviction");
    invalidated(&seen, &gone, Duration::from_secs(3)).await;
}

#[tokio::test]
async fn bounded_while_the_server_hangs() {
    let (_dir, server, url) = standalone("stop", "");
    let seen = Seen::default();
    let timeout = Duration::from_millis(300);
    let s = store(&url, settings(300), &seen);
    live(&s).await;
    set(&s, "oidc:p", b"1").await.unwrap();
    let epoch = s.health().epoch();

    server.pause();
    for _ in 0..3 {
        let t0 = Instant::now();
        let e = get(&s, "oidc:p").await.unwrap_err();
        let took = t0.elapsed();
        assert!(took >= timeout - Duration::from_millis(20) && took < timeout + Duration::from_millis(250), "{took:?}");
        assert!(e.contains("no answer within 300 ms") || e.contains("Timeout"), "{e}");
    }
    let h = s.health();
    wait_async("tracking_live to drop while the server hangs", Duration::from_secs(4), || {
        let l = h.tracking_live();
        async move { (!l).then_some(()) }
    })
    .await;

    server.resume();
    wait_async("commands to work after SIGCONT", Duration::from_secs(10), || {
        let f = get(&s, "oidc:p");
        async move { (f.await == Ok(StoreAnswer::Value(Some(b"1".to_vec())))).then_some(()) }
    })
    .await;
    live(&s).await;
    assert!(s.health().epoch() > epoch);
}

#[tokio::test]
async fn recovers_after_a_restart_and_errs_while_down() {
    let (_dir, mut server, url) = standalone("restart", "");
    let seen = Seen::default();
    let s = store(&url, settings(400), &seen);
    let writer_seen = Seen::default();
    let writer = store(&url, settings(400), &writer_seen);
    live(&s).await;
    let epoch = s.health().epoch();
    let resets = seen.flushes();

    server.kill();
    let t0 = Instant::now();
    assert!(set(&s, "oidc:r", b"1").await.is_err());
    assert!(t0.elapsed() < Duration::from_millis(650), "{:?}", t0.elapsed());
    let h = s.health();
    wait_async("tracking_live to drop", Duration::from_secs(3), || {
        let l = h.tracking_live();
        async move { (!l).then_some(()) }
    })
    .await;

    server.restart();
    wait_async("commands to work after the restart", Duration::from_secs(10), || {
        let f = set(&s, "oidc:r", b"2");
        async move { f.await.ok() }
    })
    .await;
    live(&s).await;
    assert!(s.health().epoch() > epoch, "epoch moves on");
    assert!(seen.flushes() > resets, "on_invalidate(None) after the reconnection");

    // Tracking is on again: another client's write is reported.
    live(&writer).await;
    seen.clear();
    set(&writer, "oidc:after", b"x").await.unwrap();
    invalidated(&seen, "oidc:after", Duration::from_secs(3)).await;
}

#[tokio::test]
async fn down_from_the_start_then_up() {
    let dir = TempDir::new("late");
    let port = free_port(false);
    let seen = Seen::default();
    let s = store(&format!("redis://:{PW}@127.0.0.1:{port}"), settings(300), &seen);
    let t0 = Instant::now();
    let e = get(&s, "oidc:x").await.unwrap_err();
    assert!(t0.elapsed() < Duration::from_millis(550), "{:?}", t0.elapsed());
    assert!(e.starts_with("redis GET:"), "{e}");
    assert!(!s.health().tracking_live());

    let _server = Server::start(&dir.0, port, "");
    live(&s).await;
    assert_eq!(get(&s, "oidc:x").await, Ok(StoreAnswer::Value(None)));
}

#[test]
fn connect_outside_a_runtime_is_an_error() {
    let url = RedisUrl::parse("redis://127.0.0.1:1").unwrap();
    let r = RedisStore::connect(&url, settings(100), Box::new(|_| {}));
    assert!(r.err().unwrap().contains("inside the tokio runtime"));
}

#[test]
fn works_on_an_explicit_current_thread_runtime() {
    let (_dir, _server, url) = standalone("ct", "");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let seen = Seen::default();
        let s = store(&url, settings(1000), &seen);
        live(&s).await;
        set(&s, "oidc:ct", b"1").await.unwrap();
        assert_eq!(get(&s, "oidc:ct").await, Ok(StoreAnswer::Value(Some(b"1".to_vec()))));
    });
}

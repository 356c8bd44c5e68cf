//! Sentinel: 1 master, 1 replica, 1 sentinel. The store finds the master through the
//! sentinel, follows a failover by itself, and tracking is on at the new master.

mod common;

use std::time::{Duration, Instant};

use common::*;
use oidc_redis::StoreAnswer;

#[tokio::test]
async fn follows_a_failover() {
    let ss = SentinelSet::start(true);
    let seen = Seen::default();
    let s = store(&ss.url(), settings(1000), &seen);
    live(&s).await;
    set(&s, "oidc:before", b"1").await.unwrap();
    assert_eq!(ss.master.cli(&["GET", "oidc:before"]), "1", "writes go to the master");
    ss.master.cli(&["SET", "oidc:m1", "x"]);
    invalidated(&seen, "oidc:m1", Duration::from_secs(3)).await;
    let epoch = s.health().epoch();
    // Replication is asynchronous, and after a diskless sync Redis 7 streams writes to a
    // replica only once it has acknowledged (up to a second later): a failover before
    // that would lose the write, as Redis allows. Wait until the replica holds it.
    wait_for("the replica to hold the write", Duration::from_secs(10), || {
        (ss.replica.cli(&["GET", "oidc:before"]) == "1").then_some(())
    });

    assert_eq!(ss.sentinel.cli(&["SENTINEL", "FAILOVER", "mymaster"]), "OK");
    wait_for("the sentinel to name the replica as master", Duration::from_secs(20), || {
        (ss.master_port() == ss.replica.port).then_some(())
    });
    let switched = Instant::now();
    // Until the old master is demoted, a write may still land on it (and be lost with
    // it, as Redis's asynchronous replication allows): retry until one reaches the new
    // master.
    let mut n = 0u32;
    wait_async("a write to reach the new master", Duration::from_secs(20), || {
        n += 1;
        let v = n.to_string();
        let (s, replica) = (&s, ss.replica.port);
        async move {
            set(s, "oidc:after", v.as_bytes()).await.ok()?;
            (cli(replica, &["GET", "oidc:after"]) == v).then_some(())
        }
    })
    .await;
    // Announced on +switch-master: no waiting for the old master's demotion (up to 10 s).
    assert!(switched.elapsed() < Duration::from_secs(4), "{:?} to reach the new master", switched.elapsed());
    assert_eq!(get(&s, "oidc:before").await, Ok(StoreAnswer::Value(Some(b"1".to_vec()))));
    live(&s).await;
    assert!(s.health().epoch() > epoch, "a new epoch after the failover");

    // Invalidations now come from the new master.
    seen.clear();
    ss.replica.cli(&["SET", "oidc:m2", "y"]);
    invalidated(&seen, "oidc:m2", Duration::from_secs(3)).await;
}

/// A sentinel without a password in front of masters with one (a common layout): the
/// store authenticates as `default`, which such a sentinel accepts.
#[tokio::test]
async fn sentinel_without_a_password() {
    let ss = SentinelSet::start(false);
    assert_eq!(ss.sentinel.cli(&["PING"]), "PONG");
    let seen = Seen::default();
    let s = store(&ss.url(), settings(1000), &seen);
    live(&s).await;
    set(&s, "oidc:nopw", b"1").await.unwrap();
    assert_eq!(ss.master.cli(&["GET", "oidc:nopw"]), "1");
}

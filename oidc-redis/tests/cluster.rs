//! A 3-master Redis Cluster made by `redis-cli --cluster create`: keys spread over the
//! masters, tracking on every master (fred alone would turn it on at one), and again
//! after a master restarts.

mod common;

use std::time::Duration;

use common::*;
use oidc_redis::{StoreAnswer, StoreOp};

#[tokio::test]
async fn keys_across_slots_and_tracking_on_every_master() {
    let mut c = Cluster::start();
    let seen = Seen::default();
    let s = store(&c.url(), settings(2000), &seen);
    live(&s).await;

    let mut per_node = vec![0; 3];
    for i in 0..30 {
        let k = format!("oidc:c:{i}");
        set(&s, &k, i.to_string().as_bytes()).await.unwrap();
        let port = c.node_of(&k).port;
        per_node[c.nodes.iter().position(|n| n.port == port).unwrap()] += 1;
        assert_eq!(cli(port, &["GET", &k]), i.to_string());
    }
    assert!(per_node.iter().all(|&n| n > 0), "keys on every master: {per_node:?}");
    for i in 0..30 {
        let v = get(&s, &format!("oidc:c:{i}")).await.unwrap();
        assert_eq!(v, StoreAnswer::Value(Some(i.to_string().into_bytes())));
    }
    let lock = |v: &str| StoreOp::SetNx { key: "oidc:lock".into(), value: v.into(), ttl_ms: 10_000 };
    assert_eq!(s.run(lock("me")).await, Ok(StoreAnswer::Flag(true)));
    assert_eq!(s.run(lock("me")).await, Ok(StoreAnswer::Flag(false)));
    let unlock = StoreOp::DelIfEq { key: "oidc:lock".into(), value: b"me".to_vec() };
    assert_eq!(s.run(unlock).await, Ok(StoreAnswer::Flag(true)));

    // An index set and the sessions it names live in different slots.
    let idx = "oidc:i:sub:x".to_string();
    for i in 0..6 {
        let op = StoreOp::SetIndexed {
            key: format!("oidc:s:{i}"),
            value: vec![b'v', i as u8],
            ttl_ms: 60_000,
            index: vec![idx.clone()],
            index_ttl_ms: 60_000,
        };
        assert_eq!(s.run(op).await, Ok(StoreAnswer::Done));
    }
    let Ok(StoreAnswer::Entries(taken)) = s.run(StoreOp::TakeIndexed { index: idx.clone() }).await else { panic!("entries") };
    assert_eq!(taken.len(), 6, "every session of the index, across slots");
    for i in 0..6 {
        let k = format!("oidc:s:{i}");
        assert_eq!(cli(c.node_of(&k).port, &["EXISTS", &k]), "0");
    }

    // Another client writes a key on each master: every master reports it.
    for node in 0..3 {
        let k = key_on(&c, node, "w");
        seen.clear();
        c.nodes[node].cli(&["SET", &k, "x"]);
        invalidated(&seen, &k, Duration::from_secs(3)).await;
    }

    // A master restarts: tracking is turned on there again.
    let epoch = s.health().epoch();
    c.nodes[1].kill();
    c.nodes[1].restart();
    for n in &c.nodes {
        wait_for("cluster_state:ok after the restart", Duration::from_secs(15), || {
            n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok").then_some(())
        });
    }
    let k = key_on(&c, 1, "after");
    wait_async("a write on the restarted master", Duration::from_secs(15), || {
        let f = set(&s, &k, b"1");
        async move { f.await.ok() }
    })
    .await;
    live(&s).await;
    assert!(s.health().epoch() > epoch);
    seen.clear();
    c.nodes[1].cli(&["SET", &k, "2"]);
    invalidated(&seen, &k, Duration::from_secs(3)).await;
}

/// A key under the prefix that lives on `c.nodes[node]`.
fn key_on(c: &Cluster, node: usize, tag: &str) -> String {
    (0..)
        .map(|i| format!("oidc:{tag}:{i}"))
        .find(|k| c.node_of(k).port == c.nodes[node].port)
        .unwrap()
}

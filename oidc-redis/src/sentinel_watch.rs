//! Follows a Sentinel failover at once. fred finds the new master only when its
//! connection to the old one breaks; a master demoted alive (SENTINEL FAILOVER, a
//! partition that heals) keeps its clients until the sentinel reconfigures it, which it
//! does after its next INFO poll (up to 10 s), and writes in between are lost with it.
//! The sentinels announce the switch at once on `+switch-master`: this task listens
//! there (one connection per sentinel named in the URL) and makes the store reconnect.

use std::time::Duration;

use fred::interfaces::{ClientLike, EventInterface, PubsubInterface};
use fred::prelude::{Client, Config, Server, ServerConfig};
use fred::types::RespVersion;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use crate::config::builder;

const CHANNEL: &str = "+switch-master";

/// One task per sentinel; they end when the store drops them (aborted).
pub(crate) fn watch(
    store: &Client,
    sentinels: &[(String, u16)],
    master: &str,
    password: Option<String>,
    timeout: Duration,
) -> Result<Vec<JoinHandle<()>>, String> {
    let mut tasks = Vec::new();
    for (host, port) in sentinels {
        let config = Config {
            fail_fast: false,
            // See config::username: accepted with and without a sentinel password.
            username: password.as_ref().map(|_| "default".to_string()),
            password: password.clone(),
            server: ServerConfig::Centralized { server: Server::new(host.as_str(), *port) },
            // RESP2: a plain subscriber, as every Sentinel version speaks it.
            version: RespVersion::RESP2,
            ..Default::default()
        };
        let sub = builder(config, timeout).build().map_err(|e| format!("redis sentinel watch: {e}"))?;
        let (store, master) = (store.clone(), master.to_string());
        let mut reconnects = sub.reconnect_rx();
        let mut messages = sub.message_rx();
        tasks.push(tokio::spawn(async move {
            let connection = sub.connect();
            loop {
                tokio::select! {
                    r = reconnects.recv() => match r {
                        // (Re)subscribe on every connection, the first included.
                        Ok(_) => { let _ = tokio::time::timeout(timeout, sub.subscribe(CHANNEL)).await; }
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => break,
                    },
                    m = messages.recv() => match m {
                        // "<master name> <old ip> <old port> <new ip> <new port>"
                        Ok(msg) if &*msg.channel == CHANNEL => {
                            let text = msg.value.as_string().unwrap_or_default();
                            if text.split(' ').next() == Some(master.as_str()) {
                                let _ = store.force_reconnection().await;
                            }
                        }
                        Ok(_) | Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => break,
                    },
                }
            }
            connection.abort();
        }));
    }
    Ok(tasks)
}

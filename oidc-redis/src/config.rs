//! The fred client of a store: topology from the URL, every timeout from the provider's
//! `timeout`, reconnection with backoff forever, RESP3 (client tracking needs it).

use std::time::Duration;

use fred::prelude::{Builder, Client, Config, ReconnectPolicy, Server, ServerConfig};
use fred::types::config::{ClusterDiscoveryPolicy, UnresponsiveConfig};
use fred::types::RespVersion;

use crate::tls::tls_config;
use crate::url::{RedisUrl, Topology};
use crate::StoreSettings;

/// Reconnection backoff: 100 ms doubling up to 2 s, forever (max_attempts 0).
const RECONNECT_MIN_MS: u32 = 100;
const RECONNECT_MAX_MS: u32 = 2000;
/// Invalidations are fanned out through fred's broadcast channels: room for bursts
/// (an eviction storm); a receiver that still lags treats it as "everything changed".
const CHANNEL_CAPACITY: usize = 4096;

pub(crate) fn build_client(url: &RedisUrl, settings: &StoreSettings) -> Result<Client, String> {
    let timeout = settings.timeout;
    if timeout.is_zero() {
        return Err("redis store: the timeout must be above zero".into());
    }
    let servers: Vec<Server> = url.nodes.iter().map(|(h, p)| Server::new(h.as_str(), *p)).collect();
    let server = match &url.topology {
        Topology::Standalone => ServerConfig::Centralized { server: servers[0].clone() },
        Topology::Sentinel { master } => ServerConfig::Sentinel { hosts: servers, service_name: master.clone() },
        // UseCache: once the cluster is known, any of its nodes serves to rediscover it,
        // not only the seeds (which may be the nodes that went away).
        Topology::Cluster => ServerConfig::Clustered { hosts: servers, policy: ClusterDiscoveryPolicy::UseCache },
    };
    let tls = if url.tls { Some(tls_config(settings.trusted_pem.as_deref())?) } else { None };
    let config = Config {
        // The first connection is retried like any reconnection: a worker that starts
        // while Redis is down must recover by itself.
        fail_fast: false,
        username: username(url),
        password: url.password.clone(),
        server,
        version: RespVersion::RESP3,
        database: url.db,
        tls,
        ..Default::default()
    };
    builder(config, timeout).build().map_err(|e| format!("redis store: {e}"))
}

/// fred authenticates to sentinels with `AUTH <password>`, which a sentinel without a
/// password refuses; `AUTH default <password>` (Redis 6+) is accepted by a sentinel
/// with the same password and by one with none (its default user takes any).
fn username(url: &RedisUrl) -> Option<String> {
    match (&url.topology, &url.username, &url.password) {
        (Topology::Sentinel { .. }, None, Some(_)) => Some("default".into()),
        _ => url.username.clone(),
    }
}

/// The timeouts and reconnection policy every client of a store shares.
pub(crate) fn builder(config: Config, timeout: Duration) -> Builder {
    let mut b = Builder::from_config(config);
    b.set_policy(ReconnectPolicy::new_exponential(0, RECONNECT_MIN_MS, RECONNECT_MAX_MS, 2))
        .with_connection_config(|c| {
            c.connection_timeout = timeout;
            c.internal_command_timeout = timeout;
            // A connection that holds a command longer than the timeout (a hung or
            // partitioned server) is closed and reconnected, so that tracking is
            // restarted on a connection that works.
            c.unresponsive = UnresponsiveConfig { max_timeout: Some(timeout), interval: check_interval(timeout) };
            c.tcp.nodelay = Some(true);
        })
        .with_performance_config(|p| {
            p.default_command_timeout = timeout;
            p.broadcast_channel_capacity = CHANNEL_CAPACITY;
        });
    b
}

fn check_interval(timeout: Duration) -> Duration {
    (timeout / 4).clamp(Duration::from_millis(10), Duration::from_secs(1))
}

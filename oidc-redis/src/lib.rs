//! The Redis session store of ngx_http_auth_oidc_module, with no nginx symbols: it runs on
//! a worker's runtime thread (a current-thread tokio runtime) and is tested here against
//! real `redis-server` processes.
//!
//! INTERFACE SKELETON (to be implemented): the module crate codes against exactly these
//! signatures.

use std::sync::Arc;
use std::time::Duration;

/// A `session_store` value naming Redis, parsed at configuration time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisUrl {/* topology, nodes, tls, username, password (never Debug-printed), db, sentinel master */}

impl RedisUrl {
    /// `redis://[user:password@]host:port[/db]`, `rediss://...` (TLS),
    /// `redis-sentinel://[user:password@]h1:p1,h2:p2/MASTER[/db]`,
    /// `redis-cluster://[user:password@]seed1:p1,seed2:p2`. The error says what is wrong
    /// (for the `[emerg]`), without the password.
    pub fn parse(_s: &str) -> Result<RedisUrl, String> {
        unimplemented!()
    }
    /// The URL with the password masked, for logs.
    pub fn redacted(&self) -> String {
        unimplemented!()
    }
}

pub struct StoreSettings {
    /// Bound of every command (connect included): an answer or an error within it.
    pub timeout: Duration,
    /// PEM bundle for rediss:// (`ssl_trusted_certificate`); None: system roots.
    pub trusted_pem: Option<Vec<u8>>,
    /// Key prefix whose changes (set, del, expire, eviction) are reported by
    /// client tracking (BCAST) to `on_invalidate`.
    pub tracking_prefix: String,
}

/// A command. Keys and values are opaque (keys are hashes, values sealed): never logged.
#[derive(Debug)]
pub enum StoreOp {
    /// GET: the value, or None.
    Get { key: String },
    /// SET with PX (ttl_ms > 0, else no expiry).
    Set { key: String, value: Vec<u8>, ttl_ms: u64 },
    /// SET NX PX: true when the key was set (a lock taken, a jti first seen).
    SetNx { key: String, value: Vec<u8>, ttl_ms: u64 },
    /// PEXPIRE: true when the key exists.
    Expire { key: String, ttl_ms: u64 },
    /// DEL.
    Del { key: String },
    /// Deletes the key only if it still holds `value` (releasing a lock one owns).
    DelIfEq { key: String, value: Vec<u8> },
}

#[derive(Debug, PartialEq, Eq)]
pub enum StoreAnswer {
    Value(Option<Vec<u8>>),
    Flag(bool),
    Done,
}

/// What the nginx thread may read without a round trip: whether invalidations are
/// being received, and an epoch that changes whenever they may have been missed.
#[derive(Default)]
pub struct Health {/* atomics */}

impl Health {
    /// True while the connection is up and client tracking is on.
    pub fn tracking_live(&self) -> bool {
        unimplemented!()
    }
    /// Changes (increases) at every (re)connection or tracking restart: a cached
    /// entry validated under another epoch may have missed an invalidation.
    pub fn epoch(&self) -> u64 {
        unimplemented!()
    }
}

pub struct RedisStore {/* fred client(s) */}

impl RedisStore {
    /// Creates the client and starts connecting in the background (reconnecting with
    /// backoff forever); never blocks. Must be called inside the tokio runtime.
    /// `on_invalidate` runs on the runtime thread with the keys (under the tracking
    /// prefix) another connection changed, deleted, or that expired or were evicted;
    /// None means "everything may have changed" (flush).
    pub fn connect(
        _url: &RedisUrl,
        _settings: StoreSettings,
        _on_invalidate: Box<dyn Fn(Option<Vec<String>>) + Send + Sync>,
    ) -> Result<RedisStore, String> {
        unimplemented!()
    }
    pub fn health(&self) -> Arc<Health> {
        unimplemented!()
    }
    /// Runs one command, bounded by the timeout. Errors name the reason (no key, no value).
    pub async fn run(&self, _op: StoreOp) -> Result<StoreAnswer, String> {
        unimplemented!()
    }
}

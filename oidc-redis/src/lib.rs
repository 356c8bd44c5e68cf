//! The Redis session store of ngx_http_auth_oidc_module, with no nginx symbols: it runs on
//! a worker's runtime thread (a current-thread tokio runtime) and is tested here against
//! real `redis-server` processes (tests/).
//!
//! - `url`: the `session_store` values that name Redis;
//! - `config`, `tls`: the fred client built from them;
//! - `store`: the commands, each bounded by the timeout;
//! - `tracking`, `health`: client-side-caching invalidations and whether they flow;
//! - `sentinel_watch`: a Sentinel failover followed as soon as it is announced.

mod config;
mod health;
mod sentinel_watch;
mod store;
mod tls;
mod tracking;
mod url;

use std::time::Duration;

pub use health::Health;
pub use store::RedisStore;
pub use url::{RedisUrl, Topology};

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
    /// SET with PX, then the key added (SADD) to each index set, whose expiry is set to
    /// `index_ttl_ms` (a session and the sets naming it by `sid` and `sub`).
    SetIndexed { key: String, value: Vec<u8>, ttl_ms: u64, index: Vec<String>, index_ttl_ms: u64 },
    /// Ends what an index set names: each member taken (GET and DEL), then the set
    /// deleted. Answers the (key, value) pairs that were still there.
    TakeIndexed { index: String },
}

#[derive(Debug, PartialEq, Eq)]
pub enum StoreAnswer {
    Value(Option<Vec<u8>>),
    Flag(bool),
    Done,
    /// (key, value) pairs (`TakeIndexed`).
    Entries(Vec<(String, Vec<u8>)>),
}

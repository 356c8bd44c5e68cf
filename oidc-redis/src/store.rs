//! The store: one fred client (one multiplexed connection; in a cluster one per master),
//! its tracking task, and the commands, each bounded by the timeout.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use fred::bytes::Bytes;
use fred::interfaces::{ClientLike, KeysInterface, LuaInterface, SetsInterface};
use fred::prelude::{Client, Error as FredError, Expiration};
use fred::types::{SetOptions, Value};
use tokio::task::JoinHandle;

use crate::config::build_client;
use crate::health::Health;
use crate::tracking::{Events, OnInvalidate, Tracker};
use crate::sentinel_watch::watch;
use crate::url::{RedisUrl, Topology};
use crate::{StoreAnswer, StoreOp, StoreSettings};

/// Deletes KEYS[1] if it holds ARGV[1]; the answer is the number of keys deleted. A
/// script, because GET-then-DEL from the client could delete a lock someone else took
/// in between.
const DEL_IF_EQ: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
/// PEXPIRE with no expiry: PERSIST, answering whether the key exists (as PEXPIRE does).
const PERSIST_IF_EXISTS: &str =
    "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PERSIST', KEYS[1]) return 1 else return 0 end";

pub struct RedisStore {
    client: Client,
    health: Arc<Health>,
    timeout: Duration,
    tasks: Vec<JoinHandle<()>>,
}

impl RedisStore {
    /// Creates the client and starts connecting in the background (reconnecting with
    /// backoff forever); never blocks. Must be called inside the tokio runtime.
    /// `on_invalidate` runs on the runtime thread with the keys (under the tracking
    /// prefix) another connection changed, deleted, or that expired or were evicted;
    /// None means "everything may have changed" (flush, reconnection).
    ///
    /// For the cache that uses it: NOLOOP, so this store's own writes are not reported
    /// (update the cache on them directly); and an invalidation may be handled before
    /// the GET whose value it makes stale returns to its caller, so record invalidations
    /// that arrive while a GET of the same key is in flight (or compare `epoch()` and a
    /// per-key generation) before caching the value. A sentinel set gets one more
    /// connection per sentinel (the `+switch-master` watch); every store probes each
    /// master once a second (PEXPIRE of its own key outside the tracking prefix).
    pub fn connect(
        url: &RedisUrl,
        settings: StoreSettings,
        on_invalidate: Box<dyn Fn(Option<Vec<String>>) + Send + Sync>,
    ) -> Result<RedisStore, String> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err("redis store: connect() must run inside the tokio runtime".into());
        }
        let client = build_client(url, &settings)?;
        let health = Arc::new(Health::default());
        let events = Events::subscribe(&client);
        let connection = client.connect();
        let tracker = Tracker {
            client: client.clone(),
            prefix: settings.tracking_prefix.clone(),
            health: health.clone(),
            on_invalidate: on_invalidate as OnInvalidate,
            timeout: settings.timeout,
            probe_id: random_id(),
        };
        let tracking = tokio::spawn(tracker.run(events));
        let connection = tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut tasks = vec![tracking, connection];
        if let Topology::Sentinel { master } = &url.topology {
            match watch(&client, &url.nodes, master, url.password.clone(), settings.timeout) {
                Ok(t) => tasks.extend(t),
                Err(e) => {
                    tasks.iter().for_each(|t| t.abort());
                    return Err(e);
                }
            }
        }
        Ok(RedisStore { client, health, timeout: settings.timeout, tasks })
    }

    pub fn health(&self) -> Arc<Health> {
        self.health.clone()
    }

    /// Runs one command, bounded by the timeout. Errors name the command and the reason
    /// (no key, no value).
    pub async fn run(&self, op: StoreOp) -> Result<StoreAnswer, String> {
        let name = op.name();
        match tokio::time::timeout(self.timeout, self.exec(op)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(self.with_cause(format!("redis {name}: {}", describe(&e)))),
            Err(_) => Err(self.with_cause(format!("redis {name}: no answer within {} ms", self.timeout.as_millis()))),
        }
    }

    /// A command that failed while the connection is down (it usually just times out,
    /// queued for a reconnection) also says why the connection failed.
    fn with_cause(&self, msg: String) -> String {
        match self.health.last_error() {
            Some(cause) if !self.health.tracking_live() => format!("{msg} (connection: {cause})"),
            _ => msg,
        }
    }

    async fn exec(&self, op: StoreOp) -> Result<StoreAnswer, FredError> {
        let c = &self.client;
        Ok(match op {
            StoreOp::Get { key } => StoreAnswer::Value(bytes_of(c.get::<Value, _>(key).await?)?),
            StoreOp::Set { key, value, ttl_ms } => {
                c.set::<(), _, _>(key, Value::Bytes(Bytes::from(value)), px(ttl_ms), None, false).await?;
                StoreAnswer::Done
            }
            StoreOp::SetNx { key, value, ttl_ms } => {
                let v: Value =
                    c.set(key, Value::Bytes(Bytes::from(value)), px(ttl_ms), Some(SetOptions::NX), false).await?;
                StoreAnswer::Flag(!v.is_null())
            }
            StoreOp::Expire { key, ttl_ms } => {
                let n: i64 = if ttl_ms > 0 {
                    c.pexpire(key, clamp_ms(ttl_ms), None).await?
                } else {
                    c.eval(PERSIST_IF_EXISTS, key, Vec::<Value>::new()).await?
                };
                StoreAnswer::Flag(n == 1)
            }
            StoreOp::Del { key } => {
                c.del::<i64, _>(key).await?;
                StoreAnswer::Done
            }
            StoreOp::DelIfEq { key, value } => {
                let n: i64 = c.eval(DEL_IF_EQ, key, vec![Value::Bytes(Bytes::from(value))]).await?;
                StoreAnswer::Flag(n == 1)
            }
            StoreOp::SetIndexed { key, value, ttl_ms, index, index_ttl_ms } => {
                c.set::<(), _, _>(key.as_str(), Value::Bytes(Bytes::from(value)), px(ttl_ms), None, false).await?;
                // One command per key: in a cluster the set and the session live in
                // different slots. A set outlives every session it names (index_ttl_ms
                // is the longest a session can live).
                for set in index {
                    c.sadd::<i64, _, _>(set.as_str(), key.as_str()).await?;
                    if index_ttl_ms > 0 {
                        c.pexpire::<i64, _>(set.as_str(), clamp_ms(index_ttl_ms), None).await?;
                    }
                }
                StoreAnswer::Done
            }
            StoreOp::TakeIndexed { index } => {
                let members: Vec<String> = c.smembers(index.as_str()).await?;
                let mut taken = Vec::new();
                for m in members {
                    // GET then DEL rather than GETDEL (Redis 6.2+): older servers too. A
                    // session rewritten in between is deleted all the same.
                    if let Some(v) = bytes_of(c.get::<Value, _>(m.as_str()).await?)? {
                        c.del::<i64, _>(m.as_str()).await?;
                        taken.push((m, v));
                    }
                }
                c.del::<i64, _>(index.as_str()).await?;
                StoreAnswer::Entries(taken)
            }
        })
    }
}

impl Drop for RedisStore {
    /// The connection task reconnects forever: it ends with the store.
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl StoreOp {
    fn name(&self) -> &'static str {
        match self {
            StoreOp::Get { .. } => "GET",
            StoreOp::Set { .. } => "SET",
            StoreOp::SetNx { .. } => "SET NX",
            StoreOp::Expire { .. } => "PEXPIRE",
            StoreOp::Del { .. } => "DEL",
            StoreOp::DelIfEq { .. } => "DEL IF EQUAL",
            StoreOp::SetIndexed { .. } => "SET+SADD",
            StoreOp::TakeIndexed { .. } => "SMEMBERS+DEL",
        }
    }
}

fn px(ttl_ms: u64) -> Option<Expiration> {
    (ttl_ms > 0).then(|| Expiration::PX(clamp_ms(ttl_ms)))
}

fn clamp_ms(ms: u64) -> i64 {
    ms.min(i64::MAX as u64) as i64
}

fn bytes_of(v: Value) -> Result<Option<Vec<u8>>, FredError> {
    match v {
        Value::Null => Ok(None),
        Value::Bytes(b) => Ok(Some(b.to_vec())),
        Value::String(s) => Ok(Some(s.as_bytes().to_vec())),
        other => Err(FredError::new(
            fred::error::ErrorKind::Parse,
            format!("unexpected {} reply to GET", other.kind()),
        )),
    }
}

/// fred's error kind and details: server errors ("WRONGPASS ...", "READONLY ...") and
/// I/O errors ("Connection refused"). Neither carries a key or a value.
fn describe(e: &FredError) -> String {
    e.to_string()
}

/// 64 random bits from the standard library's per-process hash seed and the clock; a
/// name, not a secret.
fn random_id() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

//! The request side of a server-side session store: one store command for one request,
//! answered now (the shared zone, read under its mutex) or after a suspension (Redis, on
//! the runtime thread).
//!
//! Concurrent requests that need the same Redis key (several tabs of one user arriving
//! together) share one command: the first submits it, the others wait on the same key,
//! and every one of them gets the answer.

use std::cell::RefCell;
use std::collections::HashSet;

use nginx_sys::ngx_int_t;
use oidc_redis::{StoreAnswer, StoreOp};

use super::watchdog_ms;
use crate::request::Request;
use crate::bridge::{self, waiters, Outcome, Work};
use crate::cache::documents;
use crate::cache::zone::Zone;
use crate::conf::session_store::SessionStore;
use crate::conf::Provider;

/// A store's answer as a request keeps it (each waiter gets its own copy).
#[derive(Clone, Debug)]
pub enum Reply {
    Value(Option<Vec<u8>>),
    Flag(bool),
    Done,
    /// (key, value) pairs taken from an index (sessions a logout by the OP ended).
    Entries(Vec<(String, Vec<u8>)>),
    /// Down, slow, refused: the reason for the log (never a key or value).
    Failed(String),
}

impl From<Result<StoreAnswer, String>> for Reply {
    fn from(r: Result<StoreAnswer, String>) -> Self {
        match r {
            Ok(StoreAnswer::Value(v)) => Reply::Value(v),
            Ok(StoreAnswer::Flag(f)) => Reply::Flag(f),
            Ok(StoreAnswer::Done) => Reply::Done,
            Ok(StoreAnswer::Entries(e)) => Reply::Entries(e),
            Err(e) => Reply::Failed(e),
        }
    }
}

thread_local! {
    /// Shared commands in flight (by waiter key).
    static INFLIGHT: RefCell<HashSet<u64>> = RefCell::new(HashSet::new());
}

/// The shared zone holding a provider's sessions (its own, or `oidc_shared_zone`'s).
pub fn zone_of(p: &Provider) -> Option<Zone> {
    match &p.session_store {
        // SAFETY: a zone registered at configuration, initialised before workers start.
        SessionStore::Zone(Some(z)) => unsafe { Zone::from_shm_zone(z.shm_zone) },
        _ => documents::zone(),
    }
}

/// The answer this request's last command got, if it has one waiting.
pub fn take_reply(r: Request<'_>) -> Option<Reply> {
    r.ctx().and_then(|mut c| c.store_reply.take())
}

/// Whether an invalidation from Redis arrived while this request's last command was in
/// flight (see `session_local::invalidations_seen`).
pub fn reply_raced(r: Request<'_>) -> bool {
    r.ctx().is_none_or(|c| c.store_reply_raced)
}

/// asking the same share one command.
pub fn redis(r: Request<'_>, pidx: usize, p: &Provider, op: StoreOp, share: Option<u64>) -> ngx_int_t {
    let wkey = share.map_or_else(waiters::job_key, |k| k | (1 << 62));
    if share.is_some() && INFLIGHT.with_borrow(|f| f.contains(&wkey)) {
        return waiters::suspend(r, wkey, watchdog_ms(p));
    }
    let invalidations_before = crate::cache::session_local::invalidations_seen();
    let submitted = bridge::submit(Work::Store { provider: pidx, op }, move |outcome: Outcome| {
        INFLIGHT.with_borrow_mut(|f| f.remove(&wkey));
        let reply = match outcome {
            Outcome::Stored(res) => Reply::from(res),
            _ => Reply::Failed("unexpected answer".into()),
        };
        let raced = crate::cache::session_local::invalidations_seen() != invalidations_before;
        waiters::deliver(wkey, |ctx| {
            ctx.store_reply = Some(reply.clone());
            ctx.store_reply_raced = raced;
        });
    });
    if !submitted {
        return unavailable(r, p, "the worker's runtime is not running");
    }
    if share.is_some() {
        INFLIGHT.with_borrow_mut(|f| f.insert(wkey));
    }
    waiters::suspend(r, wkey, watchdog_ms(p))
}

/// Sends a command and does not wait for it (moving an idle deadline).
pub fn redis_background(pidx: usize, op: StoreOp) {
    let _ = bridge::submit(Work::Store { provider: pidx, op }, |_| {});
}

/// The store cannot be reached: 503, never a login loop and never a pass.
pub fn unavailable(r: Request<'_>, p: &Provider, why: &str) -> ngx_int_t {
    ngx_log!(
        err,
        r.log(),
        "auth_oidc: provider \"{}\": session_store_unavailable: {} ({})",
        p.name,
        sanitize(why),
        p.session_store.describe()
    );
    r.send(nginx_sys::NGX_HTTP_SERVICE_UNAVAILABLE as usize,
        "Service unavailable",
        "Your session cannot be checked right now. Please try again in a moment.",
    )
}

fn sanitize(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).take(300).collect()
}

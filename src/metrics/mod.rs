//! Prometheus metrics: counters in shared memory, added to where things happen.
//!
//! Every event below is one or two relaxed atomic additions to a slot of the
//! provider's counter array (laid out by `oidc_core::metrics`): no lock, no allocation,
//! nothing that waits. The array lives in the `auth_oidc_metrics` zone, so all workers
//! add to one set and a reload keeps it. `auth_oidc_metrics;` (see `handler`) shows it.
//!
//! Call sites name the provider by its index in the configuration, as handlers do:
//! `metrics::logout(pidx, LogoutKind::Backchannel)`.

mod handler;
mod shm;

use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;

use oidc_core::metrics::{op_error, slot, PROVIDER_SLOTS};
pub use oidc_core::metrics::{
    BearerOutcome, Document, Endpoint, FetchOutcome, LogoutKind, RefreshOutcome, SessionSource, StoreKind, StoreOp,
    TokenCacheResult, ZoneTable,
};

pub use handler::cmd_auth_oidc_metrics;
pub use shm::{request, MetricsConf, ZONE_NAME};

use crate::conf::MainConf;

/// This process's view of the zone: the addresses of the zone-wide counters and of each
/// provider's (0: not counted). Set once per worker, before the runtime thread starts;
/// read by both of the worker's threads.
struct Bases {
    global: usize,
    providers: Vec<usize>,
}

static BASES: OnceLock<Bases> = OnceLock::new();

/// Called in each worker at start.
pub fn attach(mcf: &MainConf) {
    let hdr = mcf.metrics.header;
    if hdr.is_null() {
        return;
    }
    // SAFETY: the header is the live zone of the running cycle, mapped in every worker.
    let (global, providers) = unsafe {
        let global = (*hdr).global.as_ptr() as usize;
        let providers =
            mcf.metrics.slots.iter().map(|s| s.map_or(0, |j| (*hdr).providers[j].counters.as_ptr() as usize)).collect();
        (global, providers)
    };
    let _ = BASES.set(Bases { global, providers });
}

#[inline]
fn add(pidx: usize, slot: usize, n: u64) {
    debug_assert!(slot < PROVIDER_SLOTS);
    let Some(base) = BASES.get().and_then(|b| b.providers.get(pidx).copied()).filter(|&b| b != 0) else { return };
    // SAFETY: base is a provider's array of PROVIDER_SLOTS counters in the zone, mapped
    // for the life of the worker; slots come from oidc_core's layout.
    unsafe { (*(base as *const AtomicU64).add(slot)).fetch_add(n, Relaxed) };
}

/// A browser sent to the OP to log in.
pub fn login_redirect(pidx: usize) {
    add(pidx, slot::login_redirect(), 1);
}

/// A login completed (session created).
pub fn login(pidx: usize) {
    add(pidx, slot::login(), 1);
}

/// A login failed at the redirect URI with this reason word.
pub fn login_failed(pidx: usize, reason: &str) {
    add(pidx, slot::login_failure(reason), 1);
}

/// A valid session let a request through.
pub fn session_served(pidx: usize, source: SessionSource) {
    add(pidx, slot::session_served(source), 1);
}

/// A session's access token was renewed.
pub fn session_renewed(pidx: usize) {
    add(pidx, slot::session_renewal(), 1);
}

/// A refresh grant sent to the OP ended so.
pub fn refresh_grant(pidx: usize, outcome: RefreshOutcome) {
    add(pidx, slot::refresh_grant(outcome), 1);
}

/// A session ended by logout of this kind.
pub fn logout(pidx: usize, kind: LogoutKind) {
    add(pidx, slot::logout(kind), 1);
}

/// A bearer token was accepted.
pub fn bearer_accepted(pidx: usize) {
    add(pidx, slot::bearer_verdict(BearerOutcome::Accepted), 1);
}

/// A bearer token was refused with this reason word.
pub fn bearer_rejected(pidx: usize, reason: &str) {
    add(pidx, slot::bearer_verdict(BearerOutcome::Rejected), 1);
    add(pidx, slot::bearer_rejection(reason), 1);
}

/// A bearer token could not be checked (OP or keys unavailable: 503).
pub fn bearer_unavailable(pidx: usize) {
    add(pidx, slot::bearer_verdict(BearerOutcome::Unavailable), 1);
}

/// Where a bearer token's verdict was found.
pub fn token_cache(pidx: usize, result: TokenCacheResult) {
    add(pidx, slot::token_cache(result), 1);
}

/// A request to the OP ended after `micros`: an answer with `status`, or a failure
/// described by the error text (runs on the runtime thread too).
pub fn op_request(pidx: usize, endpoint: Endpoint, micros: u64, result: Result<u16, &str>) {
    add(pidx, slot::op_request(endpoint), 1);
    add(pidx, slot::op_duration_bucket(endpoint, micros), 1);
    add(pidx, slot::op_duration_sum(endpoint), micros);
    let kind = match result {
        Ok(status) => op_error::from_status(status),
        Err(e) => Some(op_error::classify(e)),
    };
    if let Some(kind) = kind {
        add(pidx, slot::op_error(endpoint, kind), 1);
    }
}

/// A request to the OP was not sent: `max_op_calls` reached.
pub fn op_busy(pidx: usize, endpoint: Endpoint) {
    add(pidx, slot::op_error(endpoint, op_error::OpErrorKind::Busy), 1);
}

/// A document fetch ended.
pub fn document_refresh(pidx: usize, doc: Document, ok: bool) {
    add(pidx, slot::document_refresh(doc, if ok { FetchOutcome::Ok } else { FetchOutcome::Failed }), 1);
}

/// A document past its expiry was used (within `cache_stale`).
pub fn stale_document(pidx: usize, doc: Document) {
    add(pidx, slot::stale_document(doc), 1);
}

/// A session store operation ended (`ok` false: it failed).
pub fn store_call(pidx: usize, store: StoreKind, op: StoreOp, ok: bool) {
    add(pidx, slot::store_call(store, op), 1);
    if !ok {
        add(pidx, slot::store_error(store, op), 1);
    }
}

/// The metrics operation of a Redis command.
pub fn redis_op(op: &oidc_redis::StoreOp) -> StoreOp {
    use oidc_redis::StoreOp as R;
    match op {
        R::Get { .. } => StoreOp::Get,
        R::Set { .. } | R::SetIndexed { .. } => StoreOp::Put,
        R::Expire { .. } => StoreOp::Touch,
        R::Del { .. } | R::TakeIndexed { .. } => StoreOp::Remove,
        R::SetNx { .. } | R::DelIfEq { .. } => StoreOp::Lock,
    }
}

/// Entries of the shared zone evicted to make room.
pub fn zone_evicted(table: ZoneTable, n: usize) {
    let Some(base) = BASES.get().map(|b| b.global).filter(|&b| b != 0) else { return };
    // SAFETY: base is the zone-wide counter array, mapped for the life of the worker.
    unsafe { (*(base as *const AtomicU64).add(slot::zone_eviction(table))).fetch_add(n as u64, Relaxed) };
}

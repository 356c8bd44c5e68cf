//! The OP's documents (discovery, JWKS) as the request path sees them.
//!
//! Lookup order: the worker's own parsed copy while it is fresh (no lock, no parse);
//! else the shared zone (one short locked copy, parsed once per new version); else a
//! fetch. One fetch serves everyone: within a worker, requests wait on the fetch in
//! flight; across workers, a lease in the zone lets one worker fetch while the others
//! re-check shortly after. A copy past its expiry is still served, within `cache_stale`,
//! while a refresh runs or the OP is down. A failed fetch is remembered for a moment so
//! an OP that is down is not hammered by every request.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use oidc_core::cache_policy::{self, Freshness};
use oidc_core::discovery::{self, ProviderMetadata};
use oidc_core::inflight::{self, Inflight};
use oidc_core::jwks::{self, Jwks};
// Text from the OP (its issuer, the URLs it names, its error text) is logged only
// sanitized: printable ASCII, bounded, so it cannot forge log lines.
use oidc_core::token_exchange::sanitize;

use super::zone::Zone;
use crate::metrics;
use crate::bridge::{self, waiters, Outcome, Work};
use crate::conf::Provider;

/// After a failed fetch, requests are answered with the failure for this long before
/// the next attempt.
const FAILURE_BACKOFF_SECS: i64 = 2;
/// How soon a worker re-checks the zone while another worker holds the fetch lease.
const PEER_RECHECK_MS: u64 = 50;
/// Deadline of such a wait (it takes PEER_RECHECK_MS unless its completion is lost).
const PEER_WAIT_DEADLINE_SECS: i64 = 2;

/// Why a document is not available; stored in the zone so every worker can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    Unavailable = 1,
    IssuerMismatch = 2,
    Invalid = 3,
    NoRoom = 4,
    NoRuntime = 5,
}

impl Failure {
    fn from_code(c: u32) -> Failure {
        match c {
            2 => Failure::IssuerMismatch,
            3 => Failure::Invalid,
            4 => Failure::NoRoom,
            5 => Failure::NoRuntime,
            _ => Failure::Unavailable,
        }
    }
}

pub enum Doc<T> {
    Ready(Rc<T>),
    Failed(&'static str),
    /// A fetch is under way; wait on this key.
    Pending(u64),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Discovery,
    Jwks,
}

impl Kind {
    fn endpoint(self) -> metrics::Endpoint {
        match self {
            Kind::Discovery => metrics::Endpoint::Discovery,
            Kind::Jwks => metrics::Endpoint::Jwks,
        }
    }

    fn document(self) -> metrics::Document {
        match self {
            Kind::Discovery => metrics::Document::Discovery,
            Kind::Jwks => metrics::Document::Jwks,
        }
    }

    fn reason(self, f: Failure) -> &'static str {
        match (self, f) {
            (Kind::Discovery, Failure::IssuerMismatch) => "issuer_mismatch",
            (Kind::Discovery, Failure::Invalid) => "discovery_invalid",
            (Kind::Discovery, _) => "discovery_unavailable",
            (Kind::Jwks, Failure::Invalid) => "jwks_invalid",
            (Kind::Jwks, _) => "jwks_unavailable",
        }
    }
}

struct Parsed<T> {
    version: u64,
    expires_at: i64,
    doc: Rc<T>,
}

#[derive(Default)]
struct Local {
    discovery: HashMap<u64, Parsed<ProviderMetadata>>,
    jwks: HashMap<u64, Parsed<Jwks>>,
    /// Fetches (and waits for another worker's fetch) under way, with deadlines: a
    /// completion that never comes cannot leave a document pending for good.
    inflight: Inflight,
    /// When a look at the zone for a key set refreshed by another worker last found
    /// nothing new (rate limit of those looks, per key).
    peer_look: HashMap<u64, i64>,
}

thread_local! {
    static LOCAL: RefCell<Local> = RefCell::new(Local::default());
}

/// A document type: where its parsed copies live and how it is validated.
trait Document: Sized + 'static {
    const KIND: Kind;
    fn copies(l: &mut Local) -> &mut HashMap<u64, Parsed<Self>>;
    fn parse(p: &Provider, body: &[u8]) -> Result<Self, (Failure, String)>;
}

impl Document for ProviderMetadata {
    const KIND: Kind = Kind::Discovery;
    fn copies(l: &mut Local) -> &mut HashMap<u64, Parsed<Self>> {
        &mut l.discovery
    }
    fn parse(p: &Provider, body: &[u8]) -> Result<Self, (Failure, String)> {
        discovery::parse(body, &p.issuer, p.allow_http).map_err(|e| {
            let f = if matches!(e, discovery::DiscoveryError::IssuerMismatch { .. }) {
                Failure::IssuerMismatch
            } else {
                Failure::Invalid
            };
            (f, e.to_string())
        })
    }
}

impl Document for Jwks {
    const KIND: Kind = Kind::Jwks;
    fn copies(l: &mut Local) -> &mut HashMap<u64, Parsed<Self>> {
        &mut l.jwks
    }
    fn parse(_p: &Provider, body: &[u8]) -> Result<Self, (Failure, String)> {
        jwks::parse(body).map_err(|e| (Failure::Invalid, e.to_string()))
    }
}

/// The provider's discovery document.
pub fn discovery(p: &Provider, pidx: usize, now: i64) -> Doc<ProviderMetadata> {
    lookup::<ProviderMetadata>(p, pidx, p.discovery_key, &p.config_url, now)
}

/// The provider's key set (from the discovered `jwks_uri`).
pub fn jwks(p: &Provider, pidx: usize, meta: &ProviderMetadata, now: i64) -> Doc<Jwks> {
    lookup::<Jwks>(p, pidx, p.jwks_key, &meta.jwks_uri, now)
}

/// A token named a key id the cached set lacks: refresh the set, at most once per
/// `jwks_refresh_interval` across all workers (random key ids cannot make us hammer the
/// OP). Returns whether a refresh was started; wait on `p.jwks_key` if so.
pub fn refresh_jwks_for_unknown_kid(p: &Provider, pidx: usize, meta: &ProviderMetadata, now: i64) -> bool {
    let Some(zone) = zone() else { return false };
    if !zone.try_forced_refresh(p.jwks_key, now, p.jwks_refresh_interval as i64) {
        return adopt_peer_refresh(&zone, p.jwks_key, now);
    }
    LOCAL.with_borrow_mut(|l| l.jwks.remove(&p.jwks_key));
    // The set is now due: this lookup starts the fetch (the old copy is still served
    // meanwhile, which is why the caller must wait rather than look again at once).
    let _ = jwks(p, pidx, meta, now);
    // Another worker holds the fetch lease: look again shortly, when it may be done.
    is_inflight(p.jwks_key) || start_peer_wait(p.jwks_key)
}

/// The forced refresh is rate-limited because another worker did it recently; that
/// worker's result is in the zone, but this worker's own copy is still fresh and would be
/// served for up to its whole TTL. So look at the zone: a newer version makes the local
/// copy due (the caller's next lookup adopts it); a fetch under way is waited for (returns
/// true: wait on the key). Looks that find nothing new are rate-limited to one per second
/// per worker, so random key ids cannot make every request take the zone lock.
fn adopt_peer_refresh(zone: &Zone, key: u64, now: i64) -> bool {
    if LOCAL.with_borrow(|l| l.peer_look.get(&key) == Some(&now)) {
        return false;
    }
    let Some(local) = LOCAL.with_borrow(|l| l.jwks.get(&key).map(|c| c.version)) else { return false };
    let Some((version, fetching)) = zone.peek(key, now) else { return false };
    if version != local || fetching {
        LOCAL.with_borrow_mut(|l| {
            if let Some(c) = l.jwks.get_mut(&key) {
                c.expires_at = i64::MIN;
            }
        });
    }
    if fetching {
        return is_inflight(key) || start_peer_wait(key);
    }
    if version == local {
        LOCAL.with_borrow_mut(|l| l.peer_look.insert(key, now));
    }
    false
}

pub fn zone() -> Option<Zone> {
    let mcf = bridge::main_conf()?;
    // SAFETY: the zone of the running cycle, initialised before workers start.
    unsafe { Zone::from_shm_zone(mcf.zone.shm_zone) }
}

fn lookup<T: Document>(p: &Provider, pidx: usize, key: u64, url: &str, now: i64) -> Doc<T> {
    let local = LOCAL.with_borrow_mut(|l| {
        T::copies(l).get(&key).map(|c| (c.version, c.expires_at, c.doc.clone()))
    });
    if let Some((_, expires_at, doc)) = &local {
        if now < *expires_at {
            return Doc::Ready(doc.clone());
        }
    }
    let Some(zone) = zone() else { return Doc::Failed(T::KIND.reason(Failure::NoRuntime)) };
    let have = local.as_ref().map_or(0, |c| c.0);
    let snap = zone.read(key, have);

    // Version 0: nothing in the zone yet.
    if snap.version != 0 {
        let s = &snap;
        let doc = match (&s.bytes, &local) {
            (None, Some((_, _, doc))) => Some(doc.clone()),
            (Some(bytes), _) => T::parse(p, bytes).ok().map(Rc::new),
            (None, None) => None,
        };
        if let Some(doc) = doc {
            LOCAL.with_borrow_mut(|l| {
                T::copies(l).insert(key, Parsed { version: s.version, expires_at: s.expires_at, doc: doc.clone() })
            });
            match cache_policy::freshness(now as u64, s.expires_at as u64, p.cache_stale) {
                Freshness::Fresh => return Doc::Ready(doc),
                Freshness::Stale => {
                    metrics::stale_document(pidx, T::KIND.document());
                    let failed_recently = s.failed_at != 0 && now - s.failed_at < FAILURE_BACKOFF_SECS;
                    if !failed_recently && !is_inflight(key) && zone.try_lease(key, now, lease_end(p, now)) {
                        start_fetch::<T>(pidx, key, url, lease_end(p, now));
                    }
                    return Doc::Ready(doc);
                }
                Freshness::Expired => {}
            }
        }
    }

    if is_inflight(key) {
        return Doc::Pending(key);
    }
    // No entry reads as never failed (failed_at 0).
    if snap.failed_at != 0 && now - snap.failed_at < FAILURE_BACKOFF_SECS {
        return Doc::Failed(T::KIND.reason(Failure::from_code(snap.failure)));
    }
    if zone.try_lease(key, now, lease_end(p, now)) {
        if !start_fetch::<T>(pidx, key, url, lease_end(p, now)) {
            return Doc::Failed(T::KIND.reason(Failure::NoRuntime));
        }
    } else if !start_peer_wait(key) {
        return Doc::Failed(T::KIND.reason(Failure::NoRuntime));
    }
    Doc::Pending(key)
}

fn lease_end(p: &Provider, now: i64) -> i64 {
    now + (p.timeout_ms / 1000) as i64 + 2
}

fn is_inflight(key: u64) -> bool {
    let state = LOCAL.with_borrow_mut(|l| l.inflight.check(key, ngx_now()));
    if state == inflight::State::Expired {
        ngx_log!(
            warn,
            cycle_log(),
            "auth_oidc: fetch_lost: a fetch of the OP's documents did not complete in time; starting over"
        );
    }
    state == inflight::State::Running
}

fn start_inflight(key: u64, deadline: i64) -> u64 {
    LOCAL.with_borrow_mut(|l| l.inflight.start(key, deadline))
}

fn finish_inflight(key: u64, gen: u64) {
    LOCAL.with_borrow_mut(|l| l.inflight.finish(key, gen));
}

fn start_fetch<T: Document>(pidx: usize, key: u64, url: &str, deadline: i64) -> bool {
    let gen = start_inflight(key, deadline);
    let url_owned = url.to_owned();
    let ok = bridge::submit(Work::Fetch { provider: pidx, url: url.to_owned(), endpoint: T::KIND.endpoint() }, move |outcome| {
        finish_inflight(key, gen);
        on_fetched::<T>(pidx, key, &url_owned, outcome)
    });
    if !ok {
        finish_inflight(key, gen);
        if let Some(zone) = zone() {
            zone.record_failure(key, ngx_now(), Failure::NoRuntime as u32);
        }
    }
    ok
}

fn start_peer_wait(key: u64) -> bool {
    let gen = start_inflight(key, ngx_now() + PEER_WAIT_DEADLINE_SECS);
    let ok = bridge::submit(Work::Sleep { ms: PEER_RECHECK_MS }, move |_| {
        finish_inflight(key, gen);
        waiters::wake_all(key);
    });
    if !ok {
        finish_inflight(key, gen);
    }
    ok
}

fn on_fetched<T: Document>(pidx: usize, key: u64, url: &str, outcome: Outcome) {
    let now = ngx_now();
    let (Some(mcf), Some(zone)) = (bridge::main_conf(), zone()) else { return };
    let p = &mcf.providers[pidx];
    let log = cycle_log();
    match outcome {
        Outcome::Fetched(Ok(fetched)) => match T::parse(p, &fetched.body) {
            Ok(doc) => {
                metrics::document_refresh(pidx, T::KIND.document(), true);
                let ttl = cache_policy::ttl(fetched.cache_control.as_deref(), &p.cache) as i64;
                let doc = Rc::new(doc);
                match zone.store(key, &fetched.body, now, now + ttl) {
                    Some(version) => {
                        LOCAL.with_borrow_mut(|l| {
                            T::copies(l).insert(key, Parsed { version, expires_at: now + ttl, doc: doc.clone() })
                        });
                    }
                    None => {
                        ngx_log!(
                            err,
                            log,
                            "auth_oidc: provider \"{}\": zone_full: no room in oidc_shared_zone for {} ({} bytes); increase its size",
                            p.name, sanitize(url), fetched.body.len()
                        );
                        zone.record_failure(key, now, Failure::NoRoom as u32);
                    }
                }
                ngx_log!(info, log, "auth_oidc: provider \"{}\": fetched {} (cached for {}s)", p.name, sanitize(url), ttl);
                if T::KIND == Kind::Discovery {
                    // Warm the key set now so the login callback does not wait for it.
                    let meta = LOCAL.with_borrow(|l| l.discovery.get(&key).map(|c| c.doc.clone()));
                    if let Some(meta) = meta {
                        let _ = jwks(p, pidx, &meta, now);
                    }
                }
            }
            Err((failure, msg)) => {
                metrics::document_refresh(pidx, T::KIND.document(), false);
                ngx_log!(err, log, "auth_oidc: provider \"{}\": {}: {} (from {})", p.name, T::KIND.reason(failure), sanitize(&msg), sanitize(url));
                zone.record_failure(key, now, failure as u32);
            }
        },
        Outcome::Fetched(Err(msg)) => {
            metrics::document_refresh(pidx, T::KIND.document(), false);
            let reason = T::KIND.reason(Failure::Unavailable);
            ngx_log!(err, log, "auth_oidc: provider \"{}\": {}: GET {} failed: {}", p.name, reason, sanitize(url), sanitize(&msg));
            zone.record_failure(key, now, Failure::Unavailable as u32);
        }
        Outcome::Slept | Outcome::Answered(_) | Outcome::Stored(_) | Outcome::Invalidated { .. } => {}
    }
    waiters::wake_all(key);
}

pub fn ngx_now() -> i64 {
    nginx_sys::ngx_time() as i64
}

/// nginx's cached time in milliseconds (no system call).
pub fn ngx_now_ms() -> u64 {
    let tp = nginx_sys::ngx_timeofday();
    tp.sec as u64 * 1000 + tp.msec as u64
}

fn cycle_log() -> *mut nginx_sys::ngx_log_t {
    ngx::log::ngx_cycle_log().as_ptr()
}

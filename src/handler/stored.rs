//! Server-side sessions on the request path (`session_store zone` or Redis): the cookie
//! holds a sealed reference, the session lives in the store.
//!
//! The hot path is the worker's cache of sessions it has seen (`session_local`), trusted
//! without asking the store while nothing can have changed:
//! - zone: the zone's session generation is the one the copy was checked under (one
//!   atomic load); after any removal elsewhere, one look at the slot under the mutex;
//! - Redis: client tracking is live on the worker's connection and its epoch unchanged
//!   (a change, delete, expiry or eviction on any host arrives as an invalidation that
//!   drops the copy); otherwise a copy is trusted for at most a second.

use std::rc::Rc;

use nginx_sys::ngx_int_t;
use oidc_core::session::{Session, SessionState, SessionTimes};
use oidc_core::session_ref::{SessionRef, StoredSessions};
use oidc_core::session_tags::TagKind;
use oidc_redis::StoreOp;

use super::store_io::{self, Reply};
use crate::request::Request;
use crate::metrics::{SessionSource, StoreKind, StoreOp as MetricOp};
use super::{identity_of, pass_session, refresh, refused, session};
use crate::cache::session_local::{self, Backing};
use crate::cache::zone_sessions::Validity;
use crate::conf::session_store::SessionStore;
use crate::conf::{LocConf, Provider};
use crate::{bridge, store_keys};

/// A cached Redis session is trusted this long when invalidations may have been missed.
const REDIS_UNTRACKED_TRUST_MS: u64 = 1000;

pub fn sessions(p: &Provider) -> StoredSessions<'_> {
    StoredSessions { cipher: &p.cipher, purpose: &p.session_purpose }
}

use crate::cache::documents::ngx_now_ms as now_ms;

/// Where a loaded session lives.
pub enum Place {
    Zone([u8; 32]),
    Redis(String),
}

impl Place {
    pub fn of(p: &Provider, r: &SessionRef) -> Place {
        match p.session_store {
            SessionStore::Redis(_) => Place::Redis(store_keys::session(&p.session_purpose, r)),
            _ => Place::Zone(r.zone_key(&p.session_purpose)),
        }
    }
}

/// When a stored session stops being valid unless seen again.
fn idle_deadline(p: &Provider, s: &Session, now: u64) -> u64 {
    if p.session_idle_timeout == 0 {
        s.expires_at
    } else {
        s.expires_at.min(now + p.session_idle_timeout)
    }
}

/// The epoch of a copy that is never current on tracking (tracking epochs count up from
/// zero and never get here).
const RACED_EPOCH: u64 = u64::MAX;

/// Milliseconds a Redis entry of `s` lives from `now`.
fn ttl_ms(p: &Provider, s: &Session, now: u64) -> u64 {
    idle_deadline(p, s, now).saturating_sub(now).max(1) * 1000
}

/// Whether a cached copy is still current; the new validity when it is.
fn current(pidx: usize, p: &Provider, backing: &Backing, now: i64) -> Option<Backing> {
    match backing {
        Backing::Cookie => None,
        Backing::Zone { key, validity } => {
            let zone = store_io::zone_of(p)?;
            if zone.session_generation() == validity.generation {
                return Some(backing.clone());
            }
            crate::metrics::store_call(pidx, StoreKind::Zone, MetricOp::Check, true);
            zone.session_check(key, validity.version, now).map(|v| Backing::Zone { key: *key, validity: v })
        }
        Backing::Redis { epoch, checked_ms, .. } => {
            let health = bridge::redis_health(pidx)?;
            if (health.tracking_live() && health.epoch() == *epoch) || now_ms().saturating_sub(*checked_ms) < REDIS_UNTRACKED_TRUST_MS {
                Some(backing.clone())
            } else {
                None
            }
        }
    }
}

/// The access decision for a request with a reference cookie.
pub fn access(r: Request<'_>, lcf: &LocConf, pidx: usize, p: &Provider, sealed: &str, now: i64) -> ngx_int_t {
    // The request's context is borrowed briefly, never across a call that borrows it.
    let Some(resuming) = r.ctx().map(|c| c.store_reply.is_some() || c.loaded.is_some() || c.refreshing || c.flight.is_some())
    else {
        return super::INTERNAL_ERROR;
    };
    let now_u = now as u64;

    // Hot path: a session this worker has seen, still current in the store.
    if !resuming {
        if let Some((identity, times, backing)) = session_local::get_backed(pidx, sealed) {
            let state = times.state(now_u, p.session_idle_timeout);
            if !times.refresh_due(now_u) && matches!(state, SessionState::Valid | SessionState::ValidTouch) {
                if let Some(b) = current(pidx, p, &backing, now) {
                    if state == SessionState::ValidTouch {
                        if !touch(pidx, p, &b, times, now_u) {
                            session_local::forget(pidx, sealed);
                            return ended(r, lcf, pidx, p, now, "session_ended");
                        }
                        session_local::confirm(pidx, sealed, b, now_u);
                    } else if b.differs(&backing) {
                        session_local::confirm(pidx, sealed, b, 0);
                    }
                    if let Some(mut ctx) = r.ctx() {
                        ctx.identity = Some(identity);
                    }
                    crate::metrics::session_served(pidx, SessionSource::WorkerCache);
                    return pass_session(r, lcf, p);
                }
            }
            session_local::forget(pidx, sealed);
        }
    }

    let sref = match sessions(p).open_ref(sealed) {
        Ok(x) => x,
        Err(e) => return refused(r, lcf, pidx, p, now, e.reason()),
    };
    let place = Place::of(p, &sref);
    let loaded = r.ctx().and_then(|mut c| c.loaded.take());
    let (mut session, mut backing) = match loaded {
        Some(x) => x,
        None => match load(r, pidx, p, &sref, &place, now) {
            Load::Found(s, b) => (s, b),
            Load::Gone(reason) => return ended(r, lcf, pidx, p, now, reason),
            Load::Return(rc) => return rc,
        },
    };
    if session.expires_at <= now_u {
        return ended(r, lcf, pidx, p, now, "session_expired");
    }

    if session.times().refresh_due(now_u) || r.ctx().is_some_and(|c| c.flight.is_some()) {
        // Kept across the suspensions of the refresh.
        let jar = r.jar();
        match refresh::renew(r, pidx, p, session.clone(), &jar, now, Some((&sref, &place))) {
            refresh::Refreshed::Return(rc) => {
                if let Some(mut ctx) = r.ctx() {
                    if ctx.loaded.is_none() {
                        ctx.loaded = Some((session, backing));
                    }
                }
                return rc;
            }
            refresh::Refreshed::Ended => {
                remove(r, pidx, p, &place);
                return ended(r, lcf, pidx, p, now, "session_ended");
            }
            refresh::Refreshed::Continue(s, b) => {
                session = s;
                if let Some(b) = b {
                    backing = b;
                }
            }
        }
    }

    let times = session.times();
    let identity = Rc::new(identity_of(session));
    session_local::put_backed(pidx, sealed, identity.clone(), times, backing, now_u);
    if let Some(mut ctx) = r.ctx() {
        ctx.identity = Some(identity);
    }
    crate::metrics::session_served(pidx, SessionSource::FullOpen);
    pass_session(r, lcf, p)
}

/// The identity of a reference cookie for variables read before the access phase: the
/// worker's cache, or the zone (never a network call); None otherwise.
pub fn probe(pidx: usize, p: &Provider, sealed: &str, now: i64) -> Option<Rc<crate::req_ctx::Identity>> {
    if let Some((identity, times, backing)) = session_local::get_backed(pidx, sealed) {
        let valid = matches!(times.state(now as u64, p.session_idle_timeout), SessionState::Valid | SessionState::ValidTouch);
        if valid && current(pidx, p, &backing, now).is_some() {
            return Some(identity);
        }
    }
    let sref = sessions(p).open_ref(sealed).ok()?;
    let Place::Zone(key) = Place::of(p, &sref) else { return None };
    let stored = store_io::zone_of(p)?.session_get(&key, now)?;
    let session = sessions(p).open_value(&sref, &stored.value).ok()?;
    (session.expires_at > now as u64).then(|| Rc::new(identity_of(session)))
}

impl Backing {
    fn differs(&self, other: &Backing) -> bool {
        match (self, other) {
            (Backing::Zone { validity: a, .. }, Backing::Zone { validity: b, .. }) => a != b,
            _ => false,
        }
    }
}

pub enum Load {
    Found(Session, Backing),
    /// Not in the store (logged out, revoked, expired, evicted), or not a valid value.
    Gone(&'static str),
    Return(ngx_int_t),
}

/// Reads a session from its store (suspending for Redis).
pub fn load(r: Request<'_>, pidx: usize, p: &Provider, sref: &SessionRef, place: &Place, now: i64) -> Load {
    let now_u = now as u64;
    let (value, backing, last_seen) = match place {
        Place::Zone(key) => {
            let Some(zone) = store_io::zone_of(p) else { return Load::Return(store_io::unavailable(r, p, "no shared zone")) };
            // The generation before the read: a removal after it is noticed next time.
            let generation = zone.session_generation();
            crate::metrics::store_call(pidx, StoreKind::Zone, MetricOp::Get, true);
            let Some(stored) = zone.session_get(key, now) else { return Load::Gone("session_ended") };
            let last_seen = if p.session_idle_timeout > 0 {
                (stored.idle_until as u64).saturating_sub(p.session_idle_timeout)
            } else {
                0
            };
            (stored.value, Backing::Zone { key: *key, validity: Validity { generation, version: stored.version } }, last_seen)
        }
        Place::Redis(key) => {
            let health = bridge::redis_health(pidx);
            // An answer that raced an invalidation is trusted like an untracked one (for
            // REDIS_UNTRACKED_TRUST_MS), never on tracking: no epoch matches it.
            let epoch = match health.as_ref() {
                Some(h) if !store_io::reply_raced(r) => h.epoch(),
                _ => RACED_EPOCH,
            };
            let value = match store_io::take_reply(r) {
                None => {
                    let share = crate::cache::key_hash(&[key.as_bytes()]);
                    return Load::Return(store_io::redis(r, pidx, p, StoreOp::Get { key: key.clone() }, Some(share)));
                }
                Some(Reply::Value(Some(v))) => v,
                Some(Reply::Value(None)) => return Load::Gone("session_ended"),
                Some(Reply::Failed(e)) => return Load::Return(store_io::unavailable(r, p, &e)),
                Some(_) => return Load::Return(store_io::unavailable(r, p, "unexpected answer")),
            };
            // Seen now: the store's TTL is the idle clock, so it was not idle.
            (value, Backing::Redis { key: key.as_str().into(), epoch, checked_ms: now_ms() }, now_u)
        }
    };
    match sessions(p).open_value(sref, &value) {
        Ok(mut s) => {
            if p.session_idle_timeout > 0 {
                s.last_seen = s.last_seen.max(last_seen);
            }
            Load::Found(s, backing)
        }
        Err(e) => {
            ngx_log!(
                warn,
                r.log(),
                "auth_oidc: provider \"{}\": {}: a stored session does not open with the configured session_secret keys",
                p.name,
                e.reason()
            );
            Load::Gone(e.reason())
        }
    }
}

/// Moves the idle deadline of a session in the store; false when it is gone.
fn touch(pidx: usize, p: &Provider, b: &Backing, times: SessionTimes, now: u64) -> bool {
    let until = if p.session_idle_timeout == 0 { times.expires_at } else { times.expires_at.min(now + p.session_idle_timeout) };
    match b {
        Backing::Zone { key, .. } => {
            crate::metrics::store_call(pidx, StoreKind::Zone, MetricOp::Touch, true);
            store_io::zone_of(p).is_some_and(|z| z.session_touch(key, until as i64, now as i64))
        }
        Backing::Redis { key, .. } => {
            store_io::redis_background(pidx, StoreOp::Expire { key: key.to_string(), ttl_ms: until.saturating_sub(now).max(1) * 1000 });
            true
        }
        Backing::Cookie => true,
    }
}

/// Writes a session to the store. Zone: at once (the new backing); Redis: suspends, and
/// the caller finds the reply in the context when resumed.
pub enum Saved {
    Zone(Backing),
    Redis(ngx_int_t),
    Failed(String),
}

/// # Safety
/// `r` must be the live main request whose access handler is running.
pub fn save(r: Request<'_>, pidx: usize, p: &Provider, sref: &SessionRef, session: &Session, now: u64) -> Saved {
    let value = match sessions(p).seal_value(sref, session) {
        Ok(v) => v,
        Err(e) => return Saved::Failed(e.to_string()),
    };
    match Place::of(p, sref) {
        Place::Zone(key) => {
            let Some(zone) = store_io::zone_of(p) else { return Saved::Failed("no shared zone".into()) };
            let generation = zone.session_generation();
            let tags = p.session_tags(session);
            let put = zone.session_put(&key, &value, tags, session.expires_at as i64, idle_deadline(p, session, now) as i64, now as i64);
            crate::metrics::store_call(pidx, StoreKind::Zone, MetricOp::Put, put.is_some());
            match put {
                Some(version) => {
                    // Our own write bumped the generation when it replaced an entry: the
                    // copy we cache is the new version, so checking it costs one look.
                    Saved::Zone(Backing::Zone { key, validity: Validity { generation, version } })
                }
                None => Saved::Failed("the shared zone has no room for the session (zone_full)".into()),
            }
        }
        Place::Redis(key) => {
            // Also in the index sets of its sid and sub, which a logout started by the
            // OP ends; they live as long as the longest session can. Always, not only when
            // the provider has a logout URI: one added by a later reload must still find
            // the sessions that exist then (one SADD per login or renewal).
            let tags = p.session_tags(session);
            let mut index = vec![store_keys::index(&p.session_purpose, TagKind::Sub, tags.sub)];
            if tags.sid != 0 {
                index.push(store_keys::index(&p.session_purpose, TagKind::Sid, tags.sid));
            }
            let ttl_ms = ttl_ms(p, session, now);
            let op = StoreOp::SetIndexed { key, value, ttl_ms, index, index_ttl_ms: (p.session_timeout + 60) * 1000 };
            Saved::Redis(store_io::redis(r, pidx, p, op, None))
        }
    }
}

/// worker sees it; Redis: sent without waiting (the caller that must wait uses `end`).
pub fn remove(_r: Request<'_>, pidx: usize, p: &Provider, place: &Place) {
    match place {
        Place::Zone(key) => {
            crate::metrics::store_call(pidx, StoreKind::Zone, MetricOp::Remove, true);
            if let Some(z) = store_io::zone_of(p) {
                z.session_remove(key);
            }
        }
        Place::Redis(key) => store_io::redis_background(pidx, StoreOp::Del { key: key.clone() }),
    }
}

/// The session is over (or was never there): clear the cookie, then as without session.
fn ended(r: Request<'_>, lcf: &LocConf, pidx: usize, p: &Provider, now: i64, reason: &str) -> ngx_int_t {
    let jar = r.jar();
    let _ = session::clear(r, p, &jar);
    refused(r, lcf, pidx, p, now, reason)
}

/// logout hint and the tokens to revoke) or a suspension.
pub fn end(r: Request<'_>, pidx: usize, p: &Provider, sealed: &str, now: i64) -> Result<Option<Session>, ngx_int_t> {
    session_local::forget(pidx, sealed);
    let Ok(sref) = sessions(p).open_ref(sealed) else { return Ok(None) };
    let place = Place::of(p, &sref);
    let Some(step) = r.ctx().map(|c| c.logout_step) else { return Ok(None) };
    match &place {
        Place::Zone(key) => {
            let session = match load(r, pidx, p, &sref, &place, now) {
                Load::Found(s, _) => Some(s),
                _ => None,
            };
            crate::metrics::store_call(pidx, StoreKind::Zone, MetricOp::Remove, true);
            if let Some(z) = store_io::zone_of(p) {
                z.session_remove(key);
            }
            Ok(session)
        }
        Place::Redis(key) => {
            // Two steps: read the session (for the hint and its tokens), then delete it.
            let set = |step: u8, session: Option<Session>| {
                if let Some(mut ctx) = r.ctx() {
                    ctx.logout_step = step;
                    if session.is_some() {
                        ctx.logout_session = session;
                    }
                }
            };
            match (step, store_io::take_reply(r)) {
                (0, _) => {
                    set(1, None);
                    Err(store_io::redis(r, pidx, p, StoreOp::Get { key: key.clone() }, None))
                }
                (1, reply) => {
                    let session = match reply {
                        Some(Reply::Value(Some(v))) => sessions(p).open_value(&sref, &v).ok(),
                        _ => None,
                    };
                    set(2, session);
                    Err(store_io::redis(r, pidx, p, StoreOp::Del { key: key.clone() }, None))
                }
                (_, reply) => {
                    if let Some(Reply::Failed(e)) = reply {
                        // The cookie is cleared anyway; the stored copy ends with its TTL.
                        ngx_log!(
                            err,
                            r.log(),
                            "auth_oidc: provider \"{}\": session_store_unavailable: logout could not remove the stored session: {}",
                            p.name,
                            e
                        );
                    }
                    Ok(r.ctx().and_then(|mut c| c.logout_session.take()))
                }
            }
        }
    }
}

pub enum Created {
    Done,
    Failed(String),
    /// Suspended (Redis): call again when resumed.
    Return(ngx_int_t),
}

/// reference cookie.
pub fn create(r: Request<'_>, pidx: usize, p: &Provider, session: &Session, now: u64) -> Created {
    let Some(new_ref) = r.ctx().map(|c| c.new_ref) else { return Created::Failed("no request context".into()) };
    let sref = match new_ref {
        Some(x) => {
            match store_io::take_reply(r) {
                Some(Reply::Done) | Some(Reply::Flag(true)) => {}
                // The caller logs the reason (session_store_unavailable) before this.
                Some(Reply::Failed(e)) => return Created::Failed(e),
                _ => return Created::Failed("no answer from the store".into()),
            }
            x
        }
        None => {
            let Ok(x) = SessionRef::random() else { return Created::Failed("the system random number generator failed".into()) };
            match r.ctx() {
                Some(mut ctx) => ctx.new_ref = Some(x),
                None => return Created::Failed("no request context".into()),
            }
            match save(r, pidx, p, &x, session, now) {
                Saved::Zone(_) => x,
                Saved::Redis(rc) => return Created::Return(rc),
                Saved::Failed(e) => return Created::Failed(e),
            }
        }
    };
    let cookie = match sessions(p).seal_ref(&sref) {
        Ok(c) => c,
        Err(e) => return Created::Failed(e.to_string()),
    };
    match session::write_ref(r, p, &cookie, session.expires_at.saturating_sub(now)) {
        Ok(()) => Created::Done,
        Err(e) => Created::Failed(e),
    }
}

//! Renewing the access token a session keeps (RFC 6749 section 6), when it is about to
//! expire and the session has a refresh token: the request waits for the token endpoint,
//! the session is stored again with the new tokens, and the upstream gets a live
//! `$oidc_access_token`.
//!
//! Single flight: concurrent requests of one session (any worker; any host with Redis)
//! send exactly one grant. The refresh token's hash names a lease (the zone's lease table,
//! or a Redis lock with a lease time); the holder sends the grant, the others wait for it
//! (bounded by the provider's timeout) and then use its result. The result stays in a
//! grace entry for a minute, keyed by the old refresh token's hash, so a request that
//! still carries the pre-refresh cookie (another tab, a race) gets the new tokens and
//! never sends the old refresh token again (OPs that rotate refresh tokens treat a reuse
//! as theft and revoke the whole family).
//!
//! Only `invalid_grant` ends a session. Any other refusal (`invalid_client` while a
//! secret is rotated ...), a 5xx, a timeout: the session goes on as it is
//! (`refresh_unavailable`), and this worker does not try again for a while.

use std::cell::RefCell;
use std::collections::HashMap;

use nginx_sys::ngx_int_t;
use oidc_core::session::Session;
use oidc_core::session_cookie::CookieJar;
use oidc_core::session_ref::{refresh_key, SessionRef};
use oidc_core::token_exchange::{self, TokenEndpointError};
use oidc_redis::StoreOp;

use super::store_io::{self, Reply};
use super::stored::{self, Load, Place, Saved};
use super::{op_call, session, watchdog_ms};
use crate::request::Request;
use crate::metrics::RefreshOutcome;
use crate::bridge::{self, waiters, OpCall, Outcome, Work};
use crate::cache::documents::{self, Doc};
use crate::cache::session_local::Backing;
use crate::conf::Provider;
use crate::store_keys;

/// After a failed attempt (OP unreachable), no new attempt from this worker for this long.
const BACKOFF_SECS: i64 = 10;
/// How long the result of a refresh answers requests that carry the old refresh token.
const GRACE_SECS: i64 = 60;
/// A request waiting for another one's grant looks again this often.
const WAIT_STEP_MS: u64 = 100;

thread_local! {
    static BACKOFF: RefCell<HashMap<usize, i64>> = RefCell::new(HashMap::new());
}

pub enum Refreshed {
    /// Suspended or answered: return this.
    Return(ngx_int_t),
    /// Go on with this session (renewed, or as it was), and where it now lives.
    Continue(Session, Option<Backing>),
    /// The OP refused: the session is over.
    Ended,
}

/// A refresh in progress for one request, across its suspensions. Copied out of the
/// request's context and written back with `set_flight`: the steps call what borrows
/// the context.
#[derive(Clone, Copy)]
pub struct Flight {
    rk: [u8; 32],
    /// Give up waiting for another request's grant at this time (ms).
    deadline_ms: u64,
    step: Step,
    /// This request holds the lease.
    leased: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Look for a finished refresh, then take the lease.
    Start,
    /// Redis: asked for the grace entry.
    GraceAsked,
    /// Redis: asked for the lock.
    LockAsked,
    /// Re-reading the stored session (after the lease, or after another's refresh).
    Reload { then_grant: bool },
    /// Waiting for the token endpoint.
    Granting,
    /// Redis: storing the renewed session.
    Saving,
    /// Another request holds the lease: sleeping before looking again.
    Sleeping,
}

use crate::cache::documents::ngx_now_ms as now_ms;

pub fn renew(
    r: Request<'_>,
    pidx: usize,
    p: &Provider,
    session: Session,
    jar: &CookieJar<'_>,
    now: i64,
    stored: Option<(&SessionRef, &Place)>,
) -> Refreshed {
    let log = r.log();
    let Some(refresh_token) = session.refresh_token.clone() else { return Refreshed::Continue(session, None) };
    {
        let Some(mut ctx) = r.ctx() else { return Refreshed::Continue(session, None) };
        if ctx.flight.is_none() {
            if BACKOFF.with_borrow(|b| b.get(&pidx).is_some_and(|until| now < *until)) {
                return Refreshed::Continue(session, None);
            }
            ctx.flight = Some(Flight {
                rk: refresh_key(&p.session_purpose, &refresh_token),
                deadline_ms: now_ms() + p.timeout_ms,
                step: Step::Start,
                leased: false,
            });
        }
    }
    let redis = matches!(stored, Some((_, Place::Redis(_))));
    loop {
        let Some(flight) = r.ctx().and_then(|c| c.flight) else { return Refreshed::Continue(session, None) };
        let rk = flight.rk;
        match flight.step {
            Step::Start | Step::Sleeping => {
                if redis {
                    set_flight(r, |f| f.step = Step::GraceAsked);
                    let key = store_keys::refresh_grace(&p.session_purpose, &rk);
                    return Refreshed::Return(store_io::redis(r, pidx, p, StoreOp::Get { key }, None));
                }
                let Some(zone) = coordination_zone(p) else { return finish(r, p, session, None) };
                if let Some(v) = zone.token_get(&rk, now) {
                    return adopt(r, pidx, p, session, jar, now, stored, &v.0);
                }
                if !zone.lease_take(&rk, now, now + (p.timeout_ms / 1000) as i64 + 2) {
                    return wait(r, p, session);
                }
                set_flight(r, |f| f.leased = true);
                if stored.is_some() {
                    set_flight(r, |f| f.step = Step::Reload { then_grant: true });
                    continue;
                }
                set_flight(r, |f| f.step = Step::Granting);
                return grant(r, pidx, p, session, now);
            }
            Step::GraceAsked => match store_io::take_reply(r) {
                Some(Reply::Value(Some(v))) => return adopt(r, pidx, p, session, jar, now, stored, &v),
                Some(Reply::Value(None)) => {
                    set_flight(r, |f| f.step = Step::LockAsked);
                    let key = store_keys::refresh_lock(&p.session_purpose, &rk);
                    let op = StoreOp::SetNx { key, value: lock_value(), ttl_ms: p.timeout_ms + 2000 };
                    return Refreshed::Return(store_io::redis(r, pidx, p, op, None));
                }
                other => return store_trouble(r, p, session, other),
            },
            Step::LockAsked => match store_io::take_reply(r) {
                Some(Reply::Flag(true)) => {
                    set_flight(r, |f| f.leased = true);
                    set_flight(r, |f| f.step = Step::Reload { then_grant: true });
                }
                Some(Reply::Flag(false)) => return wait(r, p, session),
                other => return store_trouble(r, p, session, other),
            },
            Step::Reload { then_grant } => {
                let Some((sref, place)) = stored else { return finish(r, p, session, None) };
                match stored::load(r, pidx, p, sref, place, now) {
                    Load::Return(rc) => return Refreshed::Return(rc),
                    Load::Gone(_) => {
                        release(pidx, p, rk, redis);
                        clear_flight(r);
                        return Refreshed::Ended;
                    }
                    Load::Found(s, b) => {
                        // Someone renewed it meanwhile (its refresh token changed): use that.
                        if !then_grant || s.refresh_token.as_deref() != Some(refresh_token.as_str()) {
                            release(pidx, p, rk, redis);
                            return finish(r, p, s, Some(b));
                        }
                        set_flight(r, |f| f.step = Step::Granting);
                        return grant(r, pidx, p, s, now);
                    }
                }
            }
            Step::Granting => {
                let outcome = r.ctx().and_then(|mut c| {
                    let outcome = c.outcome.take().filter(|_| c.refreshing);
                    if outcome.is_some() {
                        c.refreshing = false;
                    }
                    outcome
                });
                if let Some(outcome) = outcome {
                    return apply(r, pidx, p, session, jar, now, outcome, stored);
                }
                // Resumed without an answer (the call could not be made).
                release(pidx, p, rk, redis);
                return finish(r, p, session, None);
            }
            Step::Saving => {
                let renewed = r.ctx().and_then(|mut c| c.loaded.take()).map(|(s, _)| s);
                let renewed = renewed.unwrap_or(session);
                match store_io::take_reply(r) {
                    Some(Reply::Done) => {
                        let Some((_, Place::Redis(key))) = stored else { return finish(r, p, renewed, None) };
                        let grace = store_keys::refresh_grace(&p.session_purpose, &rk);
                        store_io::redis_background(pidx, StoreOp::Set { key: grace, value: b"1".to_vec(), ttl_ms: GRACE_SECS as u64 * 1000 });
                        release(pidx, p, rk, true);
                        ngx_log!(info, log, "auth_oidc: provider \"{}\": refresh: access token renewed", p.name);
                        let epoch = bridge::redis_health(pidx).map_or(0, |h| h.epoch());
                        let b = Backing::Redis { key: key.as_str().into(), epoch, checked_ms: now_ms() };
                        return finish(r, p, renewed, Some(b));
                    }
                    other => {
                        // The grant succeeded but the result could not be stored: the old
                        // refresh token may be dead now. Keep serving; log it clearly.
                        release(pidx, p, rk, true);
                        let why = match other {
                            Some(Reply::Failed(e)) => e,
                            _ => "unexpected answer".into(),
                        };
                        ngx_log!(err, log, "auth_oidc: provider \"{}\": session_store_unavailable: the renewed session could not be stored: {}", p.name, why);
                        return finish(r, p, renewed, None);
                    }
                }
            }
        }
    }
}

/// The zone that coordinates refreshes of cookie and zone sessions.
fn coordination_zone(p: &Provider) -> Option<crate::cache::zone::Zone> {
    match p.session_store {
        crate::conf::session_store::SessionStore::Cookie => documents::zone(),
        _ => store_io::zone_of(p),
    }
}

fn lock_value() -> Vec<u8> {
    oidc_core::random::token(12).map(String::into_bytes).unwrap_or_else(|_| b"lock".to_vec())
}

/// Changes the request's flight (if it still has one).
fn set_flight(r: Request<'_>, change: impl FnOnce(&mut Flight)) {
    if let Some(f) = r.ctx().as_mut().and_then(|c| c.flight.as_mut()) {
        change(f);
    }
}

fn clear_flight(r: Request<'_>) {
    if let Some(mut ctx) = r.ctx() {
        ctx.flight = None;
        ctx.refreshing = false;
    }
}

fn finish(r: Request<'_>, _p: &Provider, s: Session, b: Option<Backing>) -> Refreshed {
    clear_flight(r);
    Refreshed::Continue(s, b)
}

/// Releases the lease (zone) or lock (Redis) of `rk` if this request holds it.
fn release(pidx: usize, p: &Provider, rk: [u8; 32], redis: bool) {
    if redis {
        // The lock expires by itself too; a delete just lets the next refresh start sooner.
        let key = store_keys::refresh_lock(&p.session_purpose, &rk);
        store_io::redis_background(pidx, StoreOp::Del { key });
    } else if let Some(z) = coordination_zone(p) {
        z.lease_release(&rk);
    }
}

/// A store problem while coordinating: keep the session as it is (its access token is
/// still valid for a while), never end it.
fn store_trouble(r: Request<'_>, p: &Provider, session: Session, reply: Option<Reply>) -> Refreshed {
    let why = match reply {
        Some(Reply::Failed(e)) => e,
        _ => "unexpected answer".into(),
    };
    ngx_log!(
        warn,
        r.log(),
        "auth_oidc: provider \"{}\": refresh_unavailable: the session store cannot coordinate the refresh ({}); keeping the session as it is",
        p.name,
        why
    );
    finish(r, p, session, None)
}

/// Another request is renewing this session: wait a little and look again, up to the
/// provider's timeout; then go on with the session as it is.
fn wait(r: Request<'_>, p: &Provider, session: Session) -> Refreshed {
    let Some(flight) = r.ctx().and_then(|c| c.flight) else { return Refreshed::Continue(session, None) };
    if now_ms() >= flight.deadline_ms {
        ngx_log!(
            warn,
            r.log(),
            "auth_oidc: provider \"{}\": refresh_unavailable: another request's refresh did not finish in time; keeping the session as it is",
            p.name
        );
        return finish(r, p, session, None);
    }
    set_flight(r, |f| f.step = Step::Sleeping);
    let key = waiters::job_key();
    let ok = bridge::submit(Work::Sleep { ms: WAIT_STEP_MS }, move |_| waiters::wake_all(key));
    if !ok {
        return finish(r, p, session, None);
    }
    Refreshed::Return(waiters::suspend(r, key, watchdog_ms(p)))
}

/// A finished refresh found in the grace entry: use its result.
#[allow(clippy::too_many_arguments)]
fn adopt(
    r: Request<'_>,
    pidx: usize,
    p: &Provider,
    session: Session,
    jar: &CookieJar<'_>,
    now: i64,
    stored: Option<(&SessionRef, &Place)>,
    grace: &[u8],
) -> Refreshed {
    if grace.is_empty() || grace == b"0" {
        // The refresh was refused: the session is over for every request that has it.
        clear_flight(r);
        return Refreshed::Ended;
    }
    if stored.is_some() {
        // The store holds the renewed session: read it again.
        set_flight(r, |f| f.step = Step::Reload { then_grant: false });
        return renew_reload(r, pidx, p, session, jar, now, stored);
    }
    // Cookie sessions: the grace entry holds the renewed session, sealed.
    let text = core::str::from_utf8(grace).unwrap_or_default();
    match p.cipher.open(&grace_purpose(p), text).ok().and_then(|b| Session::decode(&b).ok()) {
        Some(renewed) => {
            crate::metrics::session_renewed(pidx);
            if let Err(e) = session::write(r, p, &renewed, jar, now as u64) {
                ngx_log!(err, r.log(), "auth_oidc: provider \"{}\": session_too_large: {e}", p.name);
            }
            finish(r, p, renewed, None)
        }
        None => finish(r, p, session, None),
    }
}

/// Continues the loop at the reload step.
#[allow(clippy::too_many_arguments)]
fn renew_reload(
    r: Request<'_>,
    pidx: usize,
    p: &Provider,
    session: Session,
    jar: &CookieJar<'_>,
    now: i64,
    stored: Option<(&SessionRef, &Place)>,
) -> Refreshed {
    renew(r, pidx, p, session, jar, now, stored)
}

fn grace_purpose(p: &Provider) -> Vec<u8> {
    [p.session_purpose.as_slice(), b"\nrefresh grace"].concat()
}

/// Sends the refresh grant (this request holds the lease).
fn grant(r: Request<'_>, pidx: usize, p: &Provider, session: Session, now: i64) -> Refreshed {
    let log = r.log();
    let redis = matches!(p.session_store, crate::conf::session_store::SessionStore::Redis(_));
    let Some(rk) = r.ctx().map(|c| c.flight.map_or([0; 32], |f| f.rk)) else { return Refreshed::Continue(session, None) };
    let meta = match documents::discovery(p, pidx, now) {
        Doc::Pending(key) => {
            // The lease is kept; the step stays Granting with no outcome: look again.
            clear_flight(r);
            release(pidx, p, rk, redis);
            return Refreshed::Return(waiters::suspend(r, key, watchdog_ms(p)));
        }
        Doc::Failed(_) => {
            release(pidx, p, rk, redis);
            return finish(r, p, session, None);
        }
        Doc::Ready(m) => m,
    };
    let (Some(endpoint), Some(refresh_token)) = (meta.token_endpoint.as_deref(), session.refresh_token.as_deref()) else {
        release(pidx, p, rk, redis);
        return finish(r, p, session, None);
    };
    let creds = match p.client_credentials(endpoint, now) {
        Ok(c) => c,
        Err(e) => {
            ngx_log!(err, log, "auth_oidc: provider \"{}\": client_auth_failed: {e}", p.name);
            release(pidx, p, rk, redis);
            return finish(r, p, session, None);
        }
    };
    let req = token_exchange::refresh_request(refresh_token, None, creds);
    let call = OpCall { post: true, url: endpoint.to_owned(), authorization: req.authorization, form: Some(req.body), endpoint: crate::metrics::Endpoint::Token };
    if let Some(mut ctx) = r.ctx() {
        ctx.refreshing = true;
        // The session being renewed, for when the answer comes.
        ctx.loaded = ctx.loaded.take().map(|(_, b)| (session.clone(), b)).or(Some((session.clone(), Backing::Cookie)));
    }
    match op_call::call_and_wait(r, pidx, call, watchdog_ms(p)) {
        Some(rc) => Refreshed::Return(rc),
        None => {
            if let Some(mut ctx) = r.ctx() {
                ctx.refreshing = false;
            }
            release(pidx, p, rk, redis);
            finish(r, p, session, None)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn apply(
    r: Request<'_>,
    pidx: usize,
    p: &Provider,
    mut session: Session,
    jar: &CookieJar<'_>,
    now: i64,
    outcome: Outcome,
    stored: Option<(&SessionRef, &Place)>,
) -> Refreshed {
    let log = r.log();
    let redis = matches!(stored, Some((_, Place::Redis(_))));
    let rk = r.ctx().and_then(|c| c.flight.as_ref().map(|f| f.rk)).unwrap_or([0; 32]);
    // The session as it was when the grant was sent (it may have been re-read).
    if let Some((s, _)) = r.ctx().and_then(|mut c| c.loaded.take()) {
        session = s;
    }
    let answer = match outcome {
        Outcome::Answered(Ok(a)) => a,
        Outcome::Answered(Err(e)) => {
            crate::metrics::refresh_grant(pidx, RefreshOutcome::Unavailable);
            ngx_log!(warn, log, "auth_oidc: provider \"{}\": refresh_unavailable: {e}; keeping the session as it is", p.name);
            BACKOFF.with_borrow_mut(|b| b.insert(pidx, now + BACKOFF_SECS));
            release(pidx, p, rk, redis);
            return finish(r, p, session, None);
        }
        _ => {
            release(pidx, p, rk, redis);
            return finish(r, p, session, None);
        }
    };
    match token_exchange::parse_response(answer.status, &answer.body) {
        Ok(t) => {
            crate::metrics::refresh_grant(pidx, RefreshOutcome::Renewed);
            crate::metrics::session_renewed(pidx);
            let now_u = now as u64;
            session.access_expires_at = t.access_expires_at(now_u);
            session.access_token = Some(t.access_token);
            if let Some(rt) = t.refresh_token {
                // Rotated refresh tokens (RFC 6749 10.4): the old one is dead now.
                session.refresh_token = Some(rt);
            }
            session.last_seen = now_u;
            match stored {
                None => {
                    if let Err(e) = session::write(r, p, &session, jar, now_u) {
                        ngx_log!(err, log, "auth_oidc: provider \"{}\": session_too_large: {e}", p.name);
                    }
                    if let (Some(z), Ok(sealed)) = (coordination_zone(p), p.cipher.seal(&grace_purpose(p), &session.encode())) {
                        let _ = z.token_put_pinned(&rk, sealed.as_bytes(), now + GRACE_SECS, now);
                    }
                    release(pidx, p, rk, false);
                    ngx_log!(info, log, "auth_oidc: provider \"{}\": refresh: access token renewed", p.name);
                    finish(r, p, session, None)
                }
                Some((sref, _)) => match stored::save(r, pidx, p, sref, &session, now_u) {
                    Saved::Zone(b) => {
                        if let Some(z) = coordination_zone(p) {
                            let _ = z.token_put_pinned(&rk, b"1", now + GRACE_SECS, now);
                        }
                        release(pidx, p, rk, false);
                        ngx_log!(info, log, "auth_oidc: provider \"{}\": refresh: access token renewed", p.name);
                        finish(r, p, session, Some(b))
                    }
                    Saved::Redis(rc) => {
                        if let Some(mut ctx) = r.ctx() {
                            ctx.loaded = Some((session, Backing::Cookie));
                            if let Some(f) = ctx.flight.as_mut() {
                                f.step = Step::Saving;
                            }
                        }
                        Refreshed::Return(rc)
                    }
                    Saved::Failed(e) => {
                        release(pidx, p, rk, redis);
                        ngx_log!(err, log, "auth_oidc: provider \"{}\": session_store_unavailable: the renewed session could not be stored: {e}", p.name);
                        finish(r, p, session, None)
                    }
                },
            }
        }
        Err(TokenEndpointError::Refused { status, error, .. }) if error == "invalid_grant" => {
            crate::metrics::refresh_grant(pidx, RefreshOutcome::Refused);
            ngx_log!(
                warn,
                log,
                "auth_oidc: provider \"{}\": refresh_refused: the OP refused the refresh token (HTTP {status}, invalid_grant); the session ends",
                p.name
            );
            // Every request still holding this refresh token learns it from the grace entry.
            if redis {
                let key = store_keys::refresh_grace(&p.session_purpose, &rk);
                store_io::redis_background(pidx, StoreOp::Set { key, value: b"0".to_vec(), ttl_ms: GRACE_SECS as u64 * 1000 });
            } else if let Some(z) = coordination_zone(p) {
                let _ = z.token_put_pinned(&rk, b"0", now + GRACE_SECS, now);
            }
            release(pidx, p, rk, redis);
            clear_flight(r);
            Refreshed::Ended
        }
        Err(e) => {
            crate::metrics::refresh_grant(pidx, RefreshOutcome::Unavailable);
            ngx_log!(warn, log, "auth_oidc: provider \"{}\": refresh_unavailable: {e}; keeping the session as it is", p.name);
            BACKOFF.with_borrow_mut(|b| b.insert(pidx, now + BACKOFF_SECS));
            release(pidx, p, rk, redis);
            finish(r, p, session, None)
        }
    }
}

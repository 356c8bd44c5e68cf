//! Logout started by the OP: OpenID Connect Back-Channel Logout 1.0 (the OP POSTs a
//! signed logout token to `backchannel_logout_uri`) and Front-Channel Logout 1.0 (the
//! OP's logout page frames `frontchannel_logout_uri?iss=..&sid=..`).
//!
//! Neither call carries a session check: the back-channel call comes from the OP's
//! server, and a framed front-channel page usually gets no cookie (third-party). The
//! sessions are found by their `sid` (or, for a logout token with only `sub`, by
//! subject) in the provider's store:
//! - Redis: the index sets of the sid or sub (every host; tracking invalidates every
//!   worker's cached copy);
//! - zone: the table's slots carrying the tag (every worker of this host, through the
//!   session generation);
//! - cookie: an entry in the zone's revocation list (this host's workers: a cookie
//!   session has nothing to delete).
//!
//! Each request goes through steps across suspensions (documents, Redis), kept in
//! `OpLogout` in the request's context.

use nginx_sys::ngx_int_t;
use oidc_core::callback_params;
use oidc_core::discovery::ProviderMetadata;
use oidc_core::session::Session;
use oidc_core::session_cookie::{Loaded, Sealed};
use oidc_core::session_ref::{binding_of_store_id, binding_of_zone_key};
use oidc_core::session_tags::{self, TagKind};
use oidc_core::token::logout_token::{self, LogoutRequest, LogoutTokenRules};
use oidc_core::token::signature::SignatureRules;
use oidc_core::token_exchange::sanitize;
use oidc_redis::StoreOp;

use super::store_io::{self, Reply};
use super::{callback, revoke, session, stored, watchdog_ms};
use crate::request::Request;
use crate::bridge::waiters;
use crate::cache::documents::{self, Doc};
use crate::cache::session_local;
use crate::conf::session_store::SessionStore;
use crate::conf::Provider;
use crate::store_keys;

/// Largest back-channel body accepted (a logout token is a few kilobytes).
const MAX_BODY: usize = 64 * 1024;
const MAX_TOKEN: usize = 16 * 1024;

/// Which sessions a logout ends: those whose tag of this kind is this hash.
#[derive(Clone, Copy)]
pub struct Target {
    kind: TagKind,
    tag: u64,
}

impl Target {
    /// By `sid` when there is one (the OP's session), else every session of `sub`.
    fn of(p: &Provider, iss: &str, sid: Option<&str>, sub: Option<&str>) -> Option<Target> {
        let (kind, value) = match (sid, sub) {
            (Some(s), _) => (TagKind::Sid, s),
            (None, Some(s)) => (TagKind::Sub, s),
            (None, None) => return None,
        };
        Some(Target { kind, tag: session_tags::tag(&p.session_purpose, iss, kind, value) })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Validate,
    /// Waiting for Redis to record the jti.
    Replay,
    /// Ending the sessions (waiting for Redis when `submitted`).
    End,
    /// Front-channel with the cookie only: ending this browser's session.
    EndCookie,
}

/// A logout started by the OP, across suspensions.
pub struct OpLogout {
    step: Step,
    kid_refreshed: bool,
    request: Option<LogoutRequest>,
    target: Option<Target>,
    submitted: bool,
}

impl OpLogout {
    fn new(step: Step) -> Box<OpLogout> {
        Box::new(OpLogout { step, kid_refreshed: false, request: None, target: None, submitted: false })
    }
}

/// A back-channel failure: 400 with an OAuth-style JSON error (section 2.8), and the log
/// line `backchannel_logout_invalid: <check>: <detail>`.
fn refuse(r: Request<'_>, p: &Provider, check: &str, detail: &str) -> ngx_int_t {
    ngx_log!(
        warn,
        r.log(),
        "auth_oidc: provider \"{}\": backchannel_logout_invalid: {}: {}",
        p.name,
        check,
        detail
    );
    let error = if check == "temporarily_unavailable" { "temporarily_unavailable" } else { "invalid_request" };
    let body = serde_json::json!({"error": error, "error_description": check}).to_string();
    r.send_json(nginx_sys::NGX_HTTP_BAD_REQUEST as usize, &body)
}

/// Runs a step of an OP-started logout with its flow taken out of the request's context
/// (what the steps call borrows the context), and puts the flow back for the next
/// resumption.
fn with_flow(r: Request<'_>, steps: impl FnOnce(&mut Option<Box<OpLogout>>, bool) -> ngx_int_t) -> ngx_int_t {
    let Some((mut slot, body_read)) = r.ctx().map(|mut c| (c.op_logout.take(), c.body_read)) else {
        return super::INTERNAL_ERROR;
    };
    let rc = steps(&mut slot, body_read);
    if let (Some(flow), Some(mut ctx)) = (slot, r.ctx()) {
        ctx.op_logout = Some(flow);
    }
    rc
}

/// `backchannel_logout_uri`.
pub fn backchannel(r: Request<'_>, pidx: usize, p: &Provider, now: i64) -> ngx_int_t {
    with_flow(r, |slot, body_read| backchannel_steps(r, slot, body_read, pidx, p, now))
}

fn backchannel_steps(r: Request<'_>, slot: &mut Option<Box<OpLogout>>, body_read: bool, pidx: usize, p: &Provider, now: i64) -> ngx_int_t {
    if slot.is_none() {
        // A GET (a link, an image, a crawler) never ends a session. Not logged: the
        // request line, which nginx adds to every line, could carry a token.
        if r.method() != b"POST" {
            return nginx_sys::NGX_HTTP_NOT_ALLOWED as ngx_int_t;
        }
        if !body_read {
            if let Some(rc) = crate::body_read::start(r) {
                return rc;
            }
        }
        *slot = Some(OpLogout::new(Step::Validate));
    }
    let meta = match documents::discovery(p, pidx, now) {
        Doc::Pending(key) => return waiters::suspend(r, key, watchdog_ms(p)),
        Doc::Failed(reason) => return refuse(r, p, "temporarily_unavailable", &format!("{reason}: the OP's configuration is unavailable")),
        Doc::Ready(m) => m,
    };
    let Some(flow) = slot.as_mut() else { return super::INTERNAL_ERROR };
    loop {
        match flow.step {
            Step::Validate => {
                let body = match r.body_in_memory(MAX_BODY) {
                    Ok(b) => b,
                    Err(e) => return refuse(r, p, "body", e),
                };
                let params = match callback_params::named(&body, &["logout_token"], MAX_TOKEN) {
                    Ok(x) => x,
                    Err(e) => return refuse(r, p, "body", &e.to_string()),
                };
                let Some(token) = params.get("logout_token") else {
                    return refuse(r, p, "logout_token_missing", "the request has no logout_token parameter");
                };
                let jwks = match documents::jwks(p, pidx, &meta, now) {
                    Doc::Pending(key) => return waiters::suspend(r, key, watchdog_ms(p)),
                    Doc::Failed(reason) => {
                        return refuse(r, p, "temporarily_unavailable", &format!("{reason}: the OP's key set is unavailable"))
                    }
                    Doc::Ready(j) => j,
                };
                let algs = callback::allowed_algs(p.id_token_algs.as_ref(), &meta);
                let rules = LogoutTokenRules {
                    issuer: &p.issuer,
                    issuer_template: p.issuer_template.as_ref(),
                    client_id: &p.client_id,
                    signature: SignatureRules { allowed_algs: &algs, client_secret: p.client_secret.as_deref().map(str::as_bytes) },
                    now: now as u64,
                    clock_skew: p.clock_skew,
                };
                match logout_token::validate(token, &rules, &jwks) {
                    Ok(req) => {
                        flow.target = Target::of(p, &req.iss, req.sid.as_deref(), req.sub.as_deref());
                        flow.request = Some(req);
                        flow.step = Step::Replay;
                    }
                    Err(e) if e.unknown_kid().is_some() && !flow.kid_refreshed => {
                        // Key rotation: the set is refreshed once (rate-limited across
                        // workers), then the token checked again.
                        flow.kid_refreshed = true;
                        if documents::refresh_jwks_for_unknown_kid(p, pidx, &meta, now) {
                            return waiters::suspend(r, p.jwks_key, watchdog_ms(p));
                        }
                    }
                    Err(e) => return refuse(r, p, e.reason(), &e.to_string()),
                }
            }
            Step::Replay => {
                let req = flow.request.as_ref().expect("validated");
                let first = match first_sight(r, pidx, p, req, flow.submitted, now) {
                    Sight::Wait(rc) => {
                        flow.submitted = true;
                        return rc;
                    }
                    Sight::First => true,
                    Sight::Replayed => false,
                    Sight::Failed(e) => return refuse(r, p, "temporarily_unavailable", &format!("the jti cannot be recorded: {e}")),
                };
                flow.submitted = false;
                if !first {
                    return refuse(r, p, "jti_replayed", "this logout token was received already");
                }
                flow.step = Step::End;
            }
            Step::End => {
                let target = flow.target.expect("sid or sub");
                match end_tagged(r, pidx, p, Some(&meta), target, flow.submitted, now, "backchannel_logout") {
                    Ended::Wait(rc) => {
                        flow.submitted = true;
                        return rc;
                    }
                    Ended::Failed(e) => return refuse(r, p, "temporarily_unavailable", &format!("the sessions cannot be ended: {e}")),
                    Ended::Done => {}
                }
                crate::metrics::logout(pidx, crate::metrics::LogoutKind::Backchannel);
                // Section 2.8: 200, and the answer must not be cached.
                return r.send_json(nginx_sys::NGX_HTTP_OK as usize, "{}");
            }
            Step::EndCookie => return super::INTERNAL_ERROR,
        }
    }
}

enum Sight {
    First,
    Replayed,
    Wait(ngx_int_t),
    Failed(String),
}

/// Records the token's `jti` until it expires; whether it was new. Redis when the
/// provider's sessions are there (every host sees it), else the zone.
fn first_sight(r: Request<'_>, pidx: usize, p: &Provider, req: &LogoutRequest, submitted: bool, now: i64) -> Sight {
    let id = oidc_core::token_cache::TokenCacheKey::new(&format!("logout-jti\n{}", req.iss), &req.jti);
    let until = (req.replay_until as i64).max(now + 1);
    if let SessionStore::Redis(_) = p.session_store {
        if !submitted {
            let key = store_keys::logout_jti(&p.session_purpose, &id.0);
            let op = StoreOp::SetNx { key, value: b"1".to_vec(), ttl_ms: (until - now) as u64 * 1000 };
            return Sight::Wait(store_io::redis(r, pidx, p, op, None));
        }
        return match store_io::take_reply(r) {
            Some(Reply::Flag(true)) => Sight::First,
            Some(Reply::Flag(false)) => Sight::Replayed,
            Some(Reply::Failed(e)) => Sight::Failed(e),
            _ => Sight::Failed("unexpected answer".into()),
        };
    }
    let zone = match &p.session_store {
        SessionStore::Zone(_) => store_io::zone_of(p),
        _ => documents::zone(),
    };
    match zone.and_then(|z| z.mark_once(&id.0, until, now)) {
        Some(true) => Sight::First,
        Some(false) => Sight::Replayed,
        None => Sight::Failed("no room in the shared zone".into()),
    }
}

/// Cookie sessions created before this time are ended. A `sid` names one OP session,
/// over for good: every session with it. A `sub` names a person, who may log in again
/// at once: the sessions created up to now (this second included, the resolution of a
/// session's creation time).
fn revoked_before(kind: TagKind, now: i64) -> i64 {
    match kind {
        TagKind::Sid => i64::MAX,
        TagKind::Sub => now + 1,
    }
}

/// A revocation is kept as long as a session it ends could live.
fn revocation_until(p: &Provider, now: i64) -> i64 {
    now + p.session_timeout as i64 + p.clock_skew as i64
}

enum Ended {
    Done,
    Wait(ngx_int_t),
    Failed(String),
}

/// Ends every session of `target` in the provider's store, and revokes their tokens.
/// `submitted`: a Redis command was sent and its answer is in the context.
#[allow(clippy::too_many_arguments)]
fn end_tagged(
    r: Request<'_>,
    pidx: usize,
    p: &Provider,
    meta: Option<&ProviderMetadata>,
    target: Target,
    submitted: bool,
    now: i64,
    why: &str,
) -> Ended {
    let log = r.log();
    let cookies = |sessions: Vec<Session>| {
        for s in &sessions {
            ngx_log!(info, log, "auth_oidc: provider \"{}\": {why}: session ended for sub \"{}\"", p.name, sanitize(&s.sub));
            revoke::session_tokens(pidx, p, meta, s, now);
        }
        if sessions.is_empty() {
            ngx_log!(info, log, "auth_oidc: provider \"{}\": {why}: no session with this {} here", p.name, target.kind.word());
        }
    };
    match &p.session_store {
        SessionStore::Cookie => {
            let Some(zone) = documents::zone() else { return Ended::Failed("no shared zone".into()) };
            match zone.revoke(target.kind, target.tag, revoked_before(target.kind, now), revocation_until(p, now), now) {
                crate::cache::revocations::Revocation::NoRoom => return Ended::Failed("the zone has no revocation list".into()),
                crate::cache::revocations::Revocation::Replaced => {
                    ngx_log!(
                        warn,
                        log,
                        "auth_oidc: provider \"{}\": revocation_list_full: the oldest revocation was dropped (raise the oidc_shared_zone size)",
                        p.name
                    );
                }
                crate::cache::revocations::Revocation::Added => {}
            }
            session_local::sync_revocations(&zone);
            ngx_log!(
                info,
                log,
                "auth_oidc: provider \"{}\": {why}: cookie sessions with this {} are refused from now on",
                p.name,
                target.kind.word()
            );
            Ended::Done
        }
        SessionStore::Zone(_) => {
            let Some(zone) = store_io::zone_of(p) else { return Ended::Failed("no shared zone".into()) };
            let taken = zone.session_take_tagged(target.kind, target.tag, now);
            let opened = taken
                .iter()
                .filter_map(|(key, value)| stored::sessions(p).open_value_bound(&binding_of_zone_key(key), value).ok())
                .collect();
            cookies(opened);
            Ended::Done
        }
        SessionStore::Redis(_) => {
            if !submitted {
                let index = store_keys::index(&p.session_purpose, target.kind, target.tag);
                return Ended::Wait(store_io::redis(r, pidx, p, StoreOp::TakeIndexed { index }, None));
            }
            match store_io::take_reply(r) {
                Some(Reply::Entries(entries)) => {
                    // This worker at once; the others when Redis's invalidation arrives.
                    let keys: Vec<String> = entries.iter().map(|(k, _)| k.clone()).collect();
                    session_local::forget_redis(pidx, Some(&keys));
                    let opened = entries
                        .iter()
                        .filter_map(|(key, value)| {
                            let binding = binding_of_store_id(store_keys::store_id_of(key)?)?;
                            stored::sessions(p).open_value_bound(&binding, value).ok()
                        })
                        .collect();
                    cookies(opened);
                    Ended::Done
                }
                Some(Reply::Failed(e)) => Ended::Failed(e),
                _ => Ended::Failed("unexpected answer".into()),
            }
        }
    }
}

/// `frontchannel_logout_uri`.
pub fn frontchannel(r: Request<'_>, pidx: usize, p: &Provider, now: i64) -> ngx_int_t {
    with_flow(r, |slot, _| frontchannel_steps(r, slot, pidx, p, now))
}

fn frontchannel_steps(r: Request<'_>, slot: &mut Option<Box<OpLogout>>, pidx: usize, p: &Provider, now: i64) -> ngx_int_t {
    let log = r.log();
    if slot.is_none() {
        if !matches!(r.method(), b"GET" | b"HEAD") {
            return nginx_sys::NGX_HTTP_NOT_ALLOWED as ngx_int_t;
        }
        let params = match callback_params::named(r.args(), &["iss", "sid"], 4096) {
            Ok(x) => x,
            Err(e) => return invalid(r, p, &e.to_string()),
        };
        let (iss, sid) = (params.get("iss"), params.get("sid"));
        if let Some(iss) = iss {
            // Section 2: the RP must check iss; another OP's call ends nothing.
            if *iss != p.issuer && !p.issuer_template.as_ref().is_some_and(|t| t.matches(iss)) {
                return invalid(r, p, &format!("iss \"{}\" is not the issuer", sanitize(iss)));
            }
        }
        let mut flow = match sid {
            // Section 2 wants iss with sid, but Microsoft Entra ID sends sid alone; the
            // sid names the OP session by itself (its tag holds no issuer), and an iss
            // that is there was checked above.
            Some(sid) => {
                let mut f = OpLogout::new(Step::End);
                f.target = Target::of(p, iss.map_or(p.issuer.as_str(), String::as_str), Some(sid), None);
                f
            }
            // Without sid: the session of this browser's cookie, if it sent one.
            None => OpLogout::new(Step::EndCookie),
        };
        flow.submitted = false;
        *slot = Some(flow);
    }
    let meta = match documents::discovery(p, pidx, now) {
        Doc::Pending(key) => return waiters::suspend(r, key, watchdog_ms(p)),
        Doc::Failed(_) => None,
        Doc::Ready(m) => Some(m),
    };
    let Some(flow) = slot.as_mut() else { return super::INTERNAL_ERROR };
    match flow.step {
        Step::End => {
            let target = flow.target.expect("sid");
            match end_tagged(r, pidx, p, meta.as_deref(), target, flow.submitted, now, "frontchannel_logout") {
                Ended::Wait(rc) => {
                    flow.submitted = true;
                    return rc;
                }
                Ended::Failed(e) => {
                    ngx_log!(err, log, "auth_oidc: provider \"{}\": frontchannel_logout_failed: {}", p.name, sanitize(&e));
                    return r.send(nginx_sys::NGX_HTTP_SERVICE_UNAVAILABLE as usize,
                        "Sign-out failed",
                        "The session could not be ended right now.",
                    );
                }
                Ended::Done => {}
            }
        }
        _ => {
            let jar = r.jar();
            let Sealed::Value(sealed) = session::cookies(p).sealed(&jar) else {
                ngx_log!(info, log, "auth_oidc: provider \"{}\": frontchannel_logout: no sid and no session cookie: nothing to end", p.name);
                return signed_out(r);
            };
            let ended = if p.session_store.is_server_side() {
                match stored::end(r, pidx, p, &sealed, now) {
                    Ok(s) => s,
                    Err(rc) => return rc,
                }
            } else {
                session_local::forget(pidx, &sealed);
                match session::cookies(p).load(&jar, now as u64) {
                    Loaded::Valid { session, .. } => {
                        // A copy of this cookie elsewhere is refused too, through the
                        // revocation list, when the session has an OP session id.
                        if let (Some(sid), Some(zone)) = (session.sid.as_deref(), documents::zone()) {
                            let iss = session.iss.as_deref().unwrap_or(&p.issuer);
                            let tag = session_tags::tag(&p.session_purpose, iss, TagKind::Sid, sid);
                            zone.revoke(TagKind::Sid, tag, revoked_before(TagKind::Sid, now), revocation_until(p, now), now);
                        }
                        Some(session)
                    }
                    _ => None,
                }
            };
            let _ = session::clear(r, p, &jar);
            if let Some(s) = &ended {
                ngx_log!(info, log, "auth_oidc: provider \"{}\": frontchannel_logout: session ended for sub \"{}\"", p.name, sanitize(&s.sub));
                revoke::session_tokens(pidx, p, meta.as_deref(), s, now);
            }
        }
    }
    crate::metrics::logout(pidx, crate::metrics::LogoutKind::Frontchannel);
    signed_out(r)
}

/// A front-channel call that ends nothing: logged, and a small page (framed, unseen).
fn invalid(r: Request<'_>, p: &Provider, why: &str) -> ngx_int_t {
    ngx_log!(warn, r.log(), "auth_oidc: provider \"{}\": frontchannel_logout_invalid: {}", p.name, why);
    r.send(nginx_sys::NGX_HTTP_BAD_REQUEST as usize, "Sign-out refused", "This sign-out request is not valid.")
}

/// The page the OP frames: no X-Frame-Options (it must be framable), not cached.
fn signed_out(r: Request<'_>) -> ngx_int_t {
    r.send(nginx_sys::NGX_HTTP_OK as usize, "Signed out", "You have been signed out of this site.")
}

//! The access-phase handler: decides, before `proxy_pass` runs, whether a request may
//! pass, must log in, or gets an error.
//!
//! The handler may suspend a request (waiting for the OP) and is then called again by
//! the phase engine when the request resumes; every step below is written to be
//! re-entered: what was already done is kept in the request's context.

pub mod bearer;
pub mod callback;
pub mod choose;
mod identity;
mod login_redirect;
mod logout;
mod op_call;
pub mod op_logout;
pub(crate) mod page;
mod revoke;
pub mod refresh;
mod session;
pub mod store_io;
mod stored;
mod unauth;

use std::rc::Rc;

use nginx_sys::{
    ngx_conf_t, ngx_http_core_main_conf_t, ngx_http_handler_pt, ngx_http_request_t, ngx_int_t, NGX_DECLINED,
    NGX_DONE, NGX_OK,
};
use ngx::core::Status;
use ngx::http::{HttpModuleMainConf, NgxHttpCoreModule};
use oidc_core::session::{Session, SessionState};
use oidc_core::session_cookie::{Loaded, Sealed};

use crate::bridge::waiters;
use crate::cache::session_local;
use crate::conf::{AuthSetting, BearerMode, LocConf, Provider};
use crate::metrics::SessionSource;
use crate::req_ctx::Identity;
use crate::request::Request;

const INTERNAL_ERROR: ngx_int_t = nginx_sys::NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;

pub fn register(cf: &mut ngx_conf_t) -> Status {
    let Some(cmcf) = NgxHttpCoreModule::main_conf_mut(cf) else {
        return Status::NGX_ERROR;
    };
    let cmcf: &mut ngx_http_core_main_conf_t = cmcf;
    // SAFETY: the phase handler arrays exist during postconfiguration.
    unsafe {
        let h = nginx_sys::ngx_array_push(&mut cmcf.phases[nginx_sys::ngx_http_phases_NGX_HTTP_ACCESS_PHASE as usize].handlers)
            .cast::<ngx_http_handler_pt>();
        if h.is_null() {
            return Status::NGX_ERROR;
        }
        *h = Some(access_handler);
    }
    Status::NGX_OK
}

guarded! { fn access_handler(r: *mut ngx_http_request_t) -> ngx_int_t = access_handler_body, on_panic nginx_sys::NGX_HTTP_INTERNAL_SERVER_ERROR as nginx_sys::ngx_int_t; }
unsafe fn access_handler_body(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls the access handler with its live main request, whose header
    // is not sent yet: the invariant of Request::from_raw, for the duration of this call.
    access(Request::from_raw(r))
}

fn access(req: Request<'_>) -> ngx_int_t {
    let Some(lcf) = req.loc_conf() else { return NGX_DECLINED as ngx_int_t };
    if matches!(lcf.auth, AuthSetting::Unset | AuthSetting::Off) {
        return NGX_DECLINED as ngx_int_t;
    }
    if waiters::is_waiting(req) {
        return NGX_DONE as ngx_int_t;
    }
    let Some(mcf) = req.main_conf() else { return NGX_DECLINED as ngx_int_t };
    let pidx = match choose::provider(req, lcf, mcf) {
        choose::Choice::Provider(i) => i,
        choose::Choice::None => return NGX_DECLINED as ngx_int_t,
        choose::Choice::Unknown(value) => {
            ngx_log!(
                err,
                req.log(),
                "auth_oidc: unknown_provider: \"auth_oidc\" names \"{value}\" for this request, and no oidc_provider has that name"
            );
            return INTERNAL_ERROR;
        }
    };
    let p: &Provider = &mcf.providers[pidx];
    {
        // Borrowed for these lines only: every handler below borrows it for itself.
        let Some(mut ctx) = req.ctx() else { return INTERNAL_ERROR };
        if ctx.body_pending {
            // Still reading a form body; its completion resumes the request.
            return NGX_DONE as ngx_int_t;
        }
        // Whatever a variable read before this phase found is decided again here, and
        // from now on variables show only what this handler decides (never a cookie
        // re-read).
        ctx.identity = None;
        ctx.probed = true;
    }
    let now = crate::cache::documents::ngx_now();

    // The OP's logout calls carry no session and no bearer token: answered first.
    let uri = req.uri();
    if p.backchannel_logout_uri.as_deref().is_some_and(|l| uri == l.as_bytes()) {
        return op_logout::backchannel(req, pidx, p, now);
    }
    if p.frontchannel_logout_uri.as_deref().is_some_and(|l| uri == l.as_bytes()) {
        return op_logout::frontchannel(req, pidx, p, now);
    }

    match lcf.bearer.mode() {
        BearerMode::Off => {}
        mode => match bearer::handle(req, lcf, pidx, p, now) {
            bearer::BearerCheck::Done(rc) => return rc,
            bearer::BearerCheck::NoToken if mode == BearerMode::Only => {
                return unauth::challenge(req, p);
            }
            bearer::BearerCheck::NoToken => {}
        },
    }

    if uri == p.redirect_path().as_bytes() {
        return callback::handle(req, pidx, p, now);
    }
    if p.logout_uri.as_deref().is_some_and(|l| uri == l.as_bytes()) {
        return logout::handle(req, pidx, p, now);
    }

    let jar = req.jar();
    let cookies = session::cookies(p);
    let sealed = match cookies.sealed(&jar) {
        Sealed::Absent => return unauth::handle(req, lcf, pidx, p, now, false),
        Sealed::Incomplete => return refused(req, lcf, pidx, p, now, "session_chunk_missing"),
        Sealed::Value(v) => v,
    };
    if p.session_store.is_server_side() {
        return stored::access(req, lcf, pidx, p, &sealed, now);
    }
    let now_u = now as u64;
    // Cookie sessions the OP ended are in the zone's revocation list.
    let revocations = revocation_list(p);
    // Hot path: a session this worker opened before, with exactly this cookie.
    if let Some((identity, times)) = session_local::get(pidx, &sealed).filter(|(_, t)| !t.refresh_due(now_u)) {
        match times.state(now_u, p.session_idle_timeout) {
            SessionState::Valid => {
                if let Some(mut ctx) = req.ctx() {
                    ctx.identity = Some(identity);
                }
                crate::metrics::session_served(pidx, SessionSource::WorkerCache);
                return pass_session(req, lcf, p);
            }
            SessionState::Expired | SessionState::Idle => session_local::forget(pidx, &sealed),
            // Re-issue below, from the full session.
            SessionState::ValidTouch => {}
        }
    }
    match cookies.open(&sealed, now_u) {
        Loaded::Valid { session, .. } if revocations.is_some_and(|z| revoked(z, p, &session, now)) => {
            let _ = session::clear(req, p, &jar);
            refused(req, lcf, pidx, p, now, "session_revoked")
        }
        Loaded::Valid { mut session, mut touch } => {
            let mut renewed = false;
            if session.times().refresh_due(now_u) || req.ctx().is_some_and(|c| c.flight.is_some()) {
                let before = session.access_expires_at;
                match refresh::renew(req, pidx, p, session, &jar, now, None) {
                    refresh::Refreshed::Return(rc) => return rc,
                    refresh::Refreshed::Ended => {
                        session_local::forget(pidx, &sealed);
                        let _ = session::clear(req, p, &jar);
                        return unauth::handle(req, lcf, pidx, p, now, false);
                    }
                    refresh::Refreshed::Continue(s, _) => {
                        // Renewed: the cookie was re-issued already.
                        renewed = s.access_expires_at != before;
                        touch = touch && !renewed;
                        session = s;
                    }
                }
            }
            if touch {
                // Move the idle clock: re-issue the cookie (at most every tenth of the
                // idle timeout, see Session::state).
                session_local::forget(pidx, &sealed);
                session.last_seen = now_u;
                if let Err(e) = session::write(req, p, &session, &jar, now_u) {
                    ngx_log!(err, req.log(), "auth_oidc: provider \"{}\": session_too_large: {e}", p.name);
                }
                if let Some(mut ctx) = req.ctx() {
                    ctx.identity = Some(Rc::new(identity_of(session)));
                }
            } else {
                let times = session.times();
                let identity = Rc::new(identity_of(session));
                // A renewed session is not cached under the old cookie: a copy of that
                // cookie must not pick up the new tokens from this worker's cache.
                if renewed {
                    session_local::forget(pidx, &sealed);
                } else {
                    session_local::put(pidx, &sealed, identity.clone(), times, now_u);
                }
                if let Some(mut ctx) = req.ctx() {
                    ctx.identity = Some(identity);
                }
            }
            crate::metrics::session_served(pidx, SessionSource::FullOpen);
            pass_session(req, lcf, p)
        }
        Loaded::Refused(reason) => refused(req, lcf, pidx, p, now, reason),
        Loaded::Absent => unauth::handle(req, lcf, pidx, p, now, false),
    }
}

/// The identity of the request's session, for variables read before the access phase.
/// Only the cookie is looked at (no network, no cookie re-issued); the access phase
/// makes the real decision later.
pub fn probe_session(req: Request<'_>) -> Option<Rc<Identity>> {
    let lcf = req.loc_conf()?;
    let mcf = req.main_conf()?;
    let choose::Choice::Provider(pidx) = choose::provider(req, lcf, mcf) else { return None };
    let mode = lcf.bearer.mode();
    if mode == BearerMode::Only || (mode == BearerMode::On && req.header_in("Authorization").is_some()) {
        return None;
    }
    let p: &Provider = &mcf.providers[pidx];
    let jar = req.jar();
    let cookies = session::cookies(p);
    let Sealed::Value(sealed) = cookies.sealed(&jar) else { return None };
    let now = crate::cache::documents::ngx_now() as u64;
    if p.session_store.is_server_side() {
        return stored::probe(pidx, p, &sealed, now as i64);
    }
    let revocations = revocation_list(p);
    if let Some((identity, times)) = session_local::get(pidx, &sealed) {
        if matches!(times.state(now, p.session_idle_timeout), SessionState::Valid | SessionState::ValidTouch) {
            return Some(identity);
        }
    }
    match cookies.open(&sealed, now) {
        Loaded::Valid { session, .. } if revocations.is_some_and(|z| revoked(z, p, &session, now as i64)) => None,
        Loaded::Valid { session, .. } => Some(Rc::new(identity_of(session))),
        _ => None,
    }
}

/// The zone's revocation list when the OP can end this provider's cookie sessions, with
/// this worker's cached sessions brought up to date with it (one atomic load).
fn revocation_list(p: &Provider) -> Option<crate::cache::zone::Zone> {
    let zone = if p.ended_by_op() { crate::cache::documents::zone() } else { None };
    if let Some(z) = &zone {
        session_local::sync_revocations(z);
    }
    zone
}

/// Whether the OP ended this cookie session (back- or front-channel logout).
fn revoked(zone: crate::cache::zone::Zone, p: &Provider, session: &Session, now: i64) -> bool {
    zone.is_revoked(&p.session_tags(session), session.created_at as i64, now)
}

/// A session cookie that is not (or no longer) valid: as if there were none.
fn refused(r: Request<'_>, lcf: &LocConf, pidx: usize, p: &Provider, now: i64, reason: &str) -> ngx_int_t {
    ngx_log!(
        info,
        r.log(),
        "auth_oidc: provider \"{}\": {reason}: the session cookie is not valid, treating the request as without session",
        p.name
    );
    unauth::handle(r, lcf, pidx, p, now, true)
}

/// Lets the request through (with or without an identity).
fn pass(r: Request<'_>, lcf: &LocConf, p: &Provider) -> ngx_int_t {
    if identity::apply(r, lcf, p).is_none() {
        return INTERNAL_ERROR;
    }
    NGX_OK as ngx_int_t
}

/// A logged-in user passes if the location requires no scope and its claim rules
/// (`auth_oidc_claim`) hold.
fn pass_session(r: Request<'_>, lcf: &LocConf, p: &Provider) -> ngx_int_t {
    if let Some(rc) = bearer::refuse_session_scope(r, lcf, p) {
        return rc;
    }
    let rules = &lcf.bearer.requirements.claims;
    if !rules.is_empty() {
        let identity = r.ctx().and_then(|c| c.identity.clone());
        let claims = identity.as_ref().map(|i| &i.claims);
        if let Some(failed) = claims.and_then(|c| rules.iter().find(|rule| !rule.holds(c))) {
            ngx_log!(warn, r.log(), "auth_oidc: provider \"{}\": claim_rule_failed: {}", p.name, failed);
            return r.send(
                nginx_sys::NGX_HTTP_FORBIDDEN as usize,
                "Access denied",
                "You are signed in, but your account is not allowed to see this page.",
            );
        }
    }
    pass(r, lcf, p)
}

/// The identity a session gives the request's variables.
pub(crate) fn identity_of(session: Session) -> Identity {
    let mut claims = session.claims;
    claims.insert("sub".into(), serde_json::Value::String(session.sub));
    Identity { kind: "session", claims, id_token: session.id_token, access_token: session.access_token, userinfo: session.userinfo }
}

/// The longest a request waits for the OP: a fetch of its own, or one of another
/// worker's followed by a re-check, each bounded by the provider's timeout.
fn watchdog_ms(p: &Provider) -> u64 {
    2 * p.timeout_ms + 3000
}

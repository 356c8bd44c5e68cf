//! Renewing the access token a session keeps (RFC 6749 section 6), when it is about to
//! expire and the session has a refresh token: the request waits for the token
//! endpoint, the session cookie is re-issued with the new tokens, and the upstream gets
//! a live `$oidc_access_token`.
//!
//! A refusal (`invalid_grant`: revoked, expired) ends the session. An OP that cannot be
//! reached does not: the request goes on with the session as it is (an outage never
//! logs anyone out), and this worker does not try again for a while.

use std::cell::RefCell;
use std::collections::HashMap;

use nginx_sys::{ngx_http_request_t, ngx_int_t};
use oidc_core::session::Session;
use oidc_core::session_cookie::CookieJar;
use oidc_core::token_exchange::{self, TokenEndpointError};

use super::{op_call, session, watchdog_ms};
use crate::bridge::{waiters, OpCall, Outcome};
use crate::cache::documents::{self, Doc};
use crate::conf::Provider;
use crate::req_ctx::request_ctx;

/// After a failed attempt (OP unreachable), no new attempt from this worker for this long.
const BACKOFF_SECS: i64 = 10;

thread_local! {
    static BACKOFF: RefCell<HashMap<usize, i64>> = RefCell::new(HashMap::new());
}

pub enum Refreshed {
    /// Suspended or answered: return this.
    Return(ngx_int_t),
    /// Go on with this session (renewed, or as it was).
    Continue(Session),
    /// The OP refused: the session is over.
    Ended,
}

/// # Safety
/// `r` must be the live main request whose access handler is running.
pub unsafe fn renew(r: *mut ngx_http_request_t, pidx: usize, p: &Provider, session: Session, jar: &CookieJar<'_>, now: i64) -> Refreshed {
    let log = (*(*r).connection).log;
    let Some(ctx) = request_ctx(r) else { return Refreshed::Continue(session) };
    if let Some(outcome) = ctx.outcome.take().filter(|_| ctx.refreshing) {
        ctx.refreshing = false;
        return apply(r, pidx, p, session, jar, now, outcome);
    }
    if BACKOFF.with_borrow(|b| b.get(&pidx).is_some_and(|until| now < *until)) {
        return Refreshed::Continue(session);
    }
    let meta = match documents::discovery(p, pidx, now) {
        Doc::Pending(key) => return Refreshed::Return(waiters::suspend(r, key, watchdog_ms(p))),
        Doc::Failed(_) => return Refreshed::Continue(session),
        Doc::Ready(m) => m,
    };
    let (Some(endpoint), Some(refresh_token)) = (meta.token_endpoint.as_deref(), session.refresh_token.as_deref()) else {
        return Refreshed::Continue(session);
    };
    let creds = p.client_credentials(endpoint, now);
    let creds = match creds {
        Ok(c) => c,
        Err(e) => {
            ngx_log!(err, log, "auth_oidc: provider \"{}\": client_auth_failed: {e}", p.name);
            return Refreshed::Continue(session);
        }
    };
    let req = token_exchange::refresh_request(refresh_token, None, creds);
    let call = OpCall { post: true, url: endpoint.to_owned(), authorization: req.authorization, form: Some(req.body) };
    ctx.refreshing = true;
    match op_call::call_and_wait(r, pidx, call, watchdog_ms(p)) {
        Some(rc) => Refreshed::Return(rc),
        None => {
            ctx.refreshing = false;
            Refreshed::Continue(session)
        }
    }
}

unsafe fn apply(
    r: *mut ngx_http_request_t,
    pidx: usize,
    p: &Provider,
    mut session: Session,
    jar: &CookieJar<'_>,
    now: i64,
    outcome: Outcome,
) -> Refreshed {
    let log = (*(*r).connection).log;
    let answer = match outcome {
        Outcome::Answered(Ok(a)) => a,
        Outcome::Answered(Err(e)) => {
            ngx_log!(warn, log, "auth_oidc: provider \"{}\": refresh_unavailable: {e}; keeping the session as it is", p.name);
            BACKOFF.with_borrow_mut(|b| b.insert(pidx, now + BACKOFF_SECS));
            return Refreshed::Continue(session);
        }
        _ => return Refreshed::Continue(session),
    };
    match token_exchange::parse_response(answer.status, &answer.body) {
        Ok(t) => {
            let now_u = now as u64;
            session.access_expires_at = t.access_expires_at(now_u);
            session.access_token = Some(t.access_token);
            if let Some(rt) = t.refresh_token {
                // Rotated refresh tokens (RFC 6749 10.4): the old one is dead now.
                session.refresh_token = Some(rt);
            }
            session.last_seen = now_u;
            if let Err(e) = session::write(r, p, &session, jar, now_u) {
                ngx_log!(err, log, "auth_oidc: provider \"{}\": session_too_large: {e}", p.name);
            }
            ngx_log!(info, log, "auth_oidc: provider \"{}\": refresh: access token renewed", p.name);
            Refreshed::Continue(session)
        }
        Err(TokenEndpointError::Refused { status, .. }) if status == 400 || status == 401 => {
            ngx_log!(
                warn,
                log,
                "auth_oidc: provider \"{}\": refresh_refused: the OP refused the refresh token (HTTP {status}); the session ends",
                p.name
            );
            Refreshed::Ended
        }
        Err(e) => {
            ngx_log!(warn, log, "auth_oidc: provider \"{}\": refresh_unavailable: {e}; keeping the session as it is", p.name);
            BACKOFF.with_borrow_mut(|b| b.insert(pidx, now + BACKOFF_SECS));
            Refreshed::Continue(session)
        }
    }
}

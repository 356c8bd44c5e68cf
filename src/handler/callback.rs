//! The OP's answer at the redirect URI: the second half of login.
//!
//! 1. read the answer (query, or a `form_post` body), find the login attempt its
//!    `state` belongs to (its own sealed cookie), check `iss` (RFC 9207) and `error`;
//! 2. exchange the code at the token endpoint (PKCE verifier, client authentication);
//! 3. validate the ID token (OIDC Core 3.1.3.7) against the cached key set, refreshing
//!    it once when the token names a key we do not know;
//! 4. optionally fetch userinfo (its `sub` must be the ID token's);
//! 5. create the session cookie and send the browser back where it started.
//!
//! Steps 2-4 wait for the OP; the request is suspended and this handler re-entered, so
//! the progress lives in `CallbackFlow` in the request's context. Every failure is one
//! log line with a stable reason and a short page, never a redirect (no login loops),
//! and the attempt's state cookie is cleared at the first sight of the answer, so it
//! cannot be replayed.

use nginx_sys::ngx_int_t;
use oidc_core::callback_params;
use oidc_core::claims_view;
use oidc_core::cookie_header;
use oidc_core::discovery::ProviderMetadata;
use oidc_core::login_state::{self, LoginState};
use oidc_core::return_to;
use oidc_core::session::Session;
use oidc_core::token::id_token::{self, IdTokenRules};
use oidc_core::token::signature::SignatureRules;
use oidc_core::token::{Claims, TokenError};
use oidc_core::token_exchange::{self, sanitize, TokenResponse};

use super::{login_redirect, op_call, page, session, watchdog_ms};
use crate::request::Request;
use crate::bridge::{waiters, OpCall, Outcome};
use crate::cache::documents::{self, Doc};
use crate::conf::Provider;
use crate::metrics::Endpoint;

/// Largest form_post body accepted (an honest one is a few kilobytes).
const MAX_FORM_BODY: usize = 64 * 1024;

/// A login callback in progress.
pub struct CallbackFlow {
    login: LoginState,
    step: Step,
    token: Option<TokenResponse>,
    claims: Option<Claims>,
    /// Userinfo claims and their JSON text.
    userinfo: Option<(Claims, String)>,
    kid_refreshed: bool,
    /// The session built, kept while a server-side store writes it.
    session: Option<Session>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Exchange,
    Validate,
    Userinfo,
    Finish,
}

/// A failure: status, reason word for the log, detail for the log, text for the user.
struct Failure {
    status: usize,
    reason: String,
    detail: String,
    user: std::borrow::Cow<'static, str>,
}

fn failure(status: u32, reason: impl Into<String>, detail: impl Into<String>, user: impl Into<std::borrow::Cow<'static, str>>) -> Failure {
    Failure { status: status as usize, reason: reason.into(), detail: detail.into(), user: user.into() }
}

const BAD_REQUEST: u32 = nginx_sys::NGX_HTTP_BAD_REQUEST;
const UNAUTHORIZED: u32 = nginx_sys::NGX_HTTP_UNAUTHORIZED;
const FORBIDDEN: u32 = nginx_sys::NGX_HTTP_FORBIDDEN;
const BAD_GATEWAY: u32 = nginx_sys::NGX_HTTP_BAD_GATEWAY;
const INTERNAL: u32 = nginx_sys::NGX_HTTP_INTERNAL_SERVER_ERROR;

const MSG_STATE: &str =
    "This sign-in link is not valid any more (it was already used, it expired, or it was started in another browser). Please start again.";
const MSG_OP: &str = "The sign-in service did not complete the login. Please try again later.";
const MSG_TOKEN: &str = "The sign-in service sent an answer that could not be verified, so you were not signed in.";

enum Next {
    /// Return this from the access handler (suspended, or a response chosen).
    Return(ngx_int_t),
    Fail(Failure),
}

impl From<Failure> for Next {
    fn from(f: Failure) -> Self {
        Next::Fail(f)
    }
}

pub fn handle(r: Request<'_>, pidx: usize, p: &Provider, now: i64) -> ngx_int_t {
    let Some((fresh, body_read)) = r.ctx().map(|c| (c.callback.is_none(), c.body_read)) else { return INTERNAL as ngx_int_t };
    if fresh && !body_read {
        // nginx puts the request line into every error log line of the request (and
        // `$request` into access logs): the authorization code is masked in it before
        // anything is logged. (`$args` / `$arg_code` still hold it: do not log them for
        // the redirect URI.)
        r.mask_request_line(callback_params::mask_request_line);
    }
    let meta = match documents::discovery(p, pidx, now) {
        Doc::Pending(key) => return waiters::suspend(r, key, watchdog_ms(p)),
        Doc::Failed(reason) => {
            crate::metrics::login_failed(pidx, reason);
            return fail(r, p, failure(BAD_GATEWAY, reason, "the OpenID Provider's configuration is unavailable", MSG_OP), None)
        }
        Doc::Ready(meta) => meta,
    };
    // The login in progress is taken out of the request's context while it advances
    // (what it calls borrows the context), and put back for the next resumption.
    let mut flow = r.ctx().and_then(|mut c| c.callback.take());
    let next = match flow.as_deref_mut() {
        None => start(r, &mut flow, body_read, pidx, p, &meta, now),
        Some(f) => advance(r, f, pidx, p, &meta, now),
    };
    let again = flow.as_ref().map(|c| c.login.return_to.clone());
    if let (Some(f), Some(mut ctx)) = (flow, r.ctx()) {
        ctx.callback = Some(f);
    }
    match next {
        Next::Return(rc) => rc,
        Next::Fail(f) => {
            crate::metrics::login_failed(pidx, &f.reason);
            fail(r, p, f, again.as_deref())
        }
    }
}

fn fail(r: Request<'_>, p: &Provider, f: Failure, again: Option<&str>) -> ngx_int_t {
    let log = r.log();
    if f.status >= 500 {
        ngx_log!(err, log, "auth_oidc: provider \"{}\": {}: {}", p.name, f.reason, f.detail);
    } else {
        ngx_log!(warn, log, "auth_oidc: provider \"{}\": {}: {}", p.name, f.reason, f.detail);
    }
    let title = if f.status == FORBIDDEN as usize { "Sign-in refused" } else { "Sign-in failed" };
    let target = again.filter(|t| return_to::is_safe_local_target(t)).unwrap_or("/");
    let body = page::html_with_link(title, &f.user, Some((target, "Start again")));
    r.send_html(f.status, &body)
}

/// The first sight of the OP's answer.
/// `slot` receives the login once its state checks out.
fn start(
    r: Request<'_>,
    slot: &mut Option<Box<CallbackFlow>>,
    body_read: bool,
    pidx: usize,
    p: &Provider,
    meta: &ProviderMetadata,
    now: i64,
) -> Next {
    let method = r.method();
    let raw: Vec<u8> = if method == b"POST" {
        if !body_read {
            if let Some(rc) = crate::body_read::start(r) {
                return Next::Return(rc);
            }
        }
        match r.body_in_memory(MAX_FORM_BODY) {
            Ok(b) => b,
            Err(e) => return failure(BAD_REQUEST, "bad_callback", e, MSG_STATE).into(),
        }
    } else if method == b"GET" || method == b"HEAD" {
        r.args().to_vec()
    } else {
        return failure(BAD_REQUEST, "bad_callback", "the callback takes GET or POST", MSG_STATE).into();
    };
    let params = match callback_params::parse(&raw) {
        Ok(x) => x,
        Err(e) => return failure(BAD_REQUEST, "bad_callback", e.to_string(), MSG_STATE).into(),
    };

    let Some(state) = params.state.as_deref() else {
        if let Some(error) = &params.error {
            return op_error(error, params.error_description.as_deref());
        }
        return failure(BAD_REQUEST, "state_missing", "the callback has no state parameter", MSG_STATE).into();
    };
    let jar = r.jar();
    let cookie = login_state::cookie_name(&p.state_cookie_prefix(), state);
    let sealed = jar.get(&cookie);
    if sealed.is_some() {
        // Used once, whatever happens next.
        let clear = login_redirect::state_cookie_attrs(p, r.is_https(), Some(0));
        if session::add_set_cookie(r, &cookie_header::set_cookie(&cookie, "", &clear)).is_err() {
            return failure(INTERNAL, "out_of_memory", "cannot add a header", MSG_OP).into();
        }
    }
    let login = sealed
        .and_then(|v| p.cipher.open(cookie.as_bytes(), v).ok())
        .and_then(|b| LoginState::decode(&b).ok())
        .filter(|l| constant_time_eq(l.state.as_bytes(), state.as_bytes()));
    let Some(login) = login else {
        let why = if sealed.is_some() { "the state cookie does not open" } else { "no login attempt of this browser has this state" };
        return failure(BAD_REQUEST, "state_mismatch", why, MSG_STATE).into();
    };
    if login.is_expired(now as u64, p.login_timeout) {
        return failure(BAD_REQUEST, "state_expired", "the login attempt is older than login_timeout", MSG_STATE).into();
    }
    // The browser drops the state cookie now, but a copy replayed with the callback would
    // still open: mark the state used in the shared zone first (issue 10 item 9), so a
    // replay costs no second token request.
    let used_key = oidc_core::token_cache::TokenCacheKey::new(&format!("state-used\n{}", p.issuer), state);
    let used_until = now + p.login_timeout as i64;
    if crate::cache::documents::zone().and_then(|z| z.mark_once(&used_key.0, used_until, now)) == Some(false) {
        return failure(BAD_REQUEST, "state_replayed", "this login attempt's callback was used already", MSG_STATE).into();
    }
    let flow = slot.insert(Box::new(CallbackFlow {
        login,
        step: Step::Exchange,
        token: None,
        claims: None,
        userinfo: None,
        kid_refreshed: false,
        session: None,
    }));

    // RFC 9207: the answer says which OP sent it; a mix-up attack would show another.
    match params.iss.as_deref() {
        // With issuer_template, any tenant's issuer: the ID token's iss and tid decide.
        Some(iss) if iss != p.issuer && !p.issuer_template.as_ref().is_some_and(|t| t.matches(iss)) => {
            return failure(BAD_REQUEST, "iss_mismatch", format!("the answer's iss \"{}\" is not the issuer", sanitize(iss)), MSG_TOKEN).into()
        }
        None if meta.authorization_response_iss_parameter_supported => {
            return failure(BAD_REQUEST, "iss_missing", "the OP announces the iss parameter but the answer has none", MSG_TOKEN).into()
        }
        _ => {}
    }
    if let Some(error) = &params.error {
        return op_error(error, params.error_description.as_deref());
    }
    let Some(code) = params.code.as_deref() else {
        return failure(BAD_REQUEST, "code_missing", "the answer has neither code nor error", MSG_OP).into();
    };
    let Some(token_endpoint) = meta.token_endpoint.as_deref() else {
        return failure(BAD_GATEWAY, "discovery_invalid", "the OP has no token_endpoint", MSG_OP).into();
    };
    let https = r.is_https();
    let Some(redirect_uri) = login_redirect::absolute_redirect_uri(r, p, https) else {
        return failure(BAD_REQUEST, "bad_callback", "no usable Host to build redirect_uri", MSG_STATE).into();
    };
    let method = p.auth_method();
    if !meta.token_auth_methods().contains(&method.name()) {
        ngx_log!(
            warn,
            r.log(),
            "auth_oidc: provider \"{}\": the OP does not announce client authentication \"{}\" (it announces {:?}); trying it anyway",
            p.name,
            method.name(),
            meta.token_auth_methods()
        );
    }
    let creds = p.client_credentials(token_endpoint, now);
    let creds = match creds {
        Ok(c) => c,
        Err(e) => return failure(INTERNAL, "client_auth_failed", e, MSG_OP).into(),
    };
    let req = token_exchange::code_request(code, &redirect_uri, flow.login.code_verifier.as_deref(), creds);
    let call = OpCall { post: true, url: token_endpoint.to_owned(), authorization: req.authorization, form: Some(req.body), endpoint: Endpoint::Token };
    wait_for(r, pidx, p, call)
}

fn wait_for(r: Request<'_>, pidx: usize, p: &Provider, call: OpCall) -> Next {
    match op_call::call_and_wait(r, pidx, call, watchdog_ms(p)) {
        Some(rc) => Next::Return(rc),
        None => failure(BAD_GATEWAY, "no_runtime", "the worker's runtime thread is not running", MSG_OP).into(),
    }
}

fn op_error(error: &str, description: Option<&str>) -> Next {
    let detail = match description {
        Some(d) => format!("the OP answered error=\"{}\" ({})", sanitize(error), sanitize(d)),
        None => format!("the OP answered error=\"{}\"", sanitize(error)),
    };
    let what = if error == "access_denied" {
        "The sign-in was cancelled or refused, so you are not signed in."
    } else {
        "The sign-in service could not sign you in."
    };
    // The OAuth error code (RFC 6749 4.1.2.1) helps whoever reads the page; it is
    // printable ASCII here and escaped by the page.
    let user = format!("{what} (The sign-in service answered: {}.)", sanitize(error));
    failure(FORBIDDEN, "op_error", detail, user).into()
}

/// After a suspension: take the OP's answer and go as far as possible.
fn advance(r: Request<'_>, flow: &mut CallbackFlow, pidx: usize, p: &Provider, meta: &ProviderMetadata, now: i64) -> Next {
    let mut outcome = r.ctx().and_then(|mut c| c.outcome.take());
    loop {
        match flow.step {
            Step::Exchange => {
                let answer = match take_answer(&mut outcome, "token endpoint") {
                    Ok(a) => a,
                    Err(f) => return f.into(),
                };
                let resp = match token_exchange::parse_response(answer.status, &answer.body) {
                    Ok(t) => t,
                    Err(e) => return failure(BAD_GATEWAY, e.reason(), e.to_string(), MSG_OP).into(),
                };
                if resp.id_token.is_none() {
                    return failure(BAD_GATEWAY, "token_response_invalid", "the token response has no id_token", MSG_OP).into();
                }
                flow.token = Some(resp);
                flow.step = Step::Validate;
            }
            Step::Validate => {
                let jwks = match documents::jwks(p, pidx, meta, now) {
                    Doc::Pending(key) => return Next::Return(waiters::suspend(r, key, watchdog_ms(p))),
                    Doc::Failed(reason) => return failure(BAD_GATEWAY, reason, "the OP's key set is unavailable", MSG_OP).into(),
                    Doc::Ready(j) => j,
                };
                let algs = allowed_algs(p.id_token_algs.as_ref(), meta);
                let token = flow.token.as_ref().expect("exchanged");
                let rules = IdTokenRules {
                    issuer: &p.issuer,
                    issuer_template: p.issuer_template.as_ref(),
                    client_id: &p.client_id,
                    signature: SignatureRules { allowed_algs: &algs, client_secret: p.client_secret.as_deref().map(str::as_bytes) },
                    nonce: &flow.login.nonce,
                    now: now as u64,
                    clock_skew: p.clock_skew,
                    access_token: Some(&token.access_token),
                };
                match id_token::validate(token.id_token.as_deref().unwrap_or_default(), &rules, &jwks) {
                    Ok(claims) => {
                        flow.claims = Some(claims);
                        match meta.userinfo_endpoint.as_deref().filter(|_| p.userinfo) {
                            Some(url) => {
                                flow.step = Step::Userinfo;
                                let call = OpCall {
                                    post: false,
                                    url: url.to_owned(),
                                    authorization: Some(format!("Bearer {}", token.access_token)),
                                    form: None,
                                    endpoint: Endpoint::Userinfo,
                                };
                                return wait_for(r, pidx, p, call);
                            }
                            None => flow.step = Step::Finish,
                        }
                    }
                    Err(TokenError::UnknownKid(kid)) if !flow.kid_refreshed => {
                        // Key rotation: refresh the set once (rate-limited across workers).
                        flow.kid_refreshed = true;
                        ngx_log!(
                            info,
                            r.log(),
                            "auth_oidc: provider \"{}\": the ID token names key \"{}\", not in the cached key set: refreshing it",
                            p.name,
                            sanitize(&kid)
                        );
                        if documents::refresh_jwks_for_unknown_kid(p, pidx, meta, now) {
                            return Next::Return(waiters::suspend(r, p.jwks_key, watchdog_ms(p)));
                        }
                        // Not refreshed now (one was done recently): check once more
                        // against whatever the cache holds.
                    }
                    Err(e) => return failure(UNAUTHORIZED, e.log_reason("id_token"), e.to_string(), MSG_TOKEN).into(),
                }
            }
            Step::Userinfo => {
                let answer = match take_answer(&mut outcome, "userinfo endpoint") {
                    Ok(a) => a,
                    Err(f) => return f.into(),
                };
                if answer.status != 200 {
                    let detail = format!("the userinfo endpoint answered HTTP {}", answer.status);
                    return failure(BAD_GATEWAY, "userinfo_unavailable", detail, MSG_OP).into();
                }
                let claims: Claims = match serde_json::from_slice(&answer.body) {
                    Ok(c) => c,
                    Err(e) => {
                        let detail = format!("the userinfo response is not a JSON object: {e}");
                        return failure(BAD_GATEWAY, "userinfo_invalid", detail, MSG_OP).into();
                    }
                };
                let id_sub = flow.claims.as_ref().and_then(|c| c.get("sub")).and_then(|s| s.as_str());
                if claims.get("sub").and_then(|s| s.as_str()) != id_sub {
                    return failure(UNAUTHORIZED, "userinfo_sub_mismatch", "the userinfo sub is not the ID token's", MSG_TOKEN).into();
                }
                let text = String::from_utf8_lossy(&answer.body).into_owned();
                flow.userinfo = Some((claims, text));
                flow.step = Step::Finish;
            }
            Step::Finish => return finish(r, pidx, p, flow, now),
        }
    }
}

fn take_answer(outcome: &mut Option<Outcome>, what: &str) -> Result<crate::bridge::OpAnswer, Failure> {
    match outcome.take() {
        Some(Outcome::Answered(Ok(a))) => Ok(a),
        Some(Outcome::Answered(Err(e))) => {
            Err(failure(BAD_GATEWAY, "op_unavailable", format!("the request to the {what} failed: {e}"), MSG_OP))
        }
        _ => Err(failure(INTERNAL, "internal", format!("resumed without the {what}'s answer"), MSG_OP)),
    }
}

/// The ID token algorithms accepted: those the OP announces (RS256 when it announces
/// none, OIDC Discovery 3), narrowed to the configured `id_token_alg` when set.
pub(super) fn allowed_algs(configured: Option<&Vec<String>>, meta: &ProviderMetadata) -> Vec<String> {
    let announced: Vec<String> = if meta.id_token_signing_alg_values_supported.is_empty() {
        vec!["RS256".into()]
    } else {
        meta.id_token_signing_alg_values_supported.clone()
    };
    match configured {
        Some(configured) => announced.into_iter().filter(|a| configured.contains(a)).collect(),
        None => announced,
    }
}

fn finish(r: Request<'_>, pidx: usize, p: &Provider, flow: &mut CallbackFlow, now: i64) -> Next {
    let now = now as u64;
    if p.session_store.is_server_side() {
        return finish_stored(r, pidx, p, flow, now);
    }
    let mut session = build_session(p, flow, now);
    let jar = r.jar();
    if let Err(e) = session::write(r, p, &session, &jar, now) {
        // Without the ID token (kept only as a logout hint) it may fit: a logout
        // without the hint is better than no login.
        let retry = p.id_token_for_hint_only && session.id_token.take().is_some();
        if !retry || session::write(r, p, &session, &jar, now).is_err() {
            return failure(
                INTERNAL,
                "session_too_large",
                e,
                "Your account's information is too large to be kept in this site's cookies; the site's administrator must raise a limit.",
            )
            .into();
        }
        ngx_log!(
            warn,
            r.log(),
            "auth_oidc: provider \"{}\": session_too_large: the ID token is left out of the session (logout will not send id_token_hint): {e}",
            p.name
        );
    }
    crate::metrics::login(pidx);
    logged_in(r, p, flow, &session)
}

/// The session exists: log it and send the browser where it started.
fn logged_in(r: Request<'_>, p: &Provider, flow: &mut CallbackFlow, session: &Session) -> Next {
    ngx_log!(
        info,
        r.log(),
        "auth_oidc: provider \"{}\": login: session created for sub \"{}\"",
        p.name,
        sanitize(&session.sub)
    );
    let target = Some(flow.login.return_to.as_str()).filter(|t| return_to::is_safe_local_target(t)).unwrap_or("/");
    if p.cookie_samesite == "Strict" {
        // This navigation began at the OP, another site: a browser does not send
        // SameSite=Strict cookies on any redirect of it, so a 302 would land without the
        // session and start a new login. A page of ours that moves on by itself makes
        // the next hop a same-site navigation.
        let t = page::escape(target);
        let body = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url={t}\">\
             <title>Signed in</title></head>\n<body><p>Signed in. <a href=\"{t}\">Continue</a></p></body></html>\n"
        );
        return Next::Return(r.send_html(nginx_sys::NGX_HTTP_OK as usize, &body));
    }
    if r.set_cache_control(b"no-store", false).is_none() || r.set_location(target).is_none() {
        return failure(INTERNAL, "out_of_memory", "cannot add a header", MSG_OP).into();
    }
    Next::Return(nginx_sys::NGX_HTTP_MOVED_TEMPORARILY as ngx_int_t)
}

/// A server-side session: stored (suspending for Redis), then the reference cookie.
fn finish_stored(r: Request<'_>, pidx: usize, p: &Provider, flow: &mut CallbackFlow, now: u64) -> Next {
    if flow.session.is_none() {
        flow.session = Some(build_session(p, flow, now));
    }
    let session = flow.session.as_ref().expect("built");
    match super::stored::create(r, pidx, p, session, now) {
        super::stored::Created::Return(rc) => return Next::Return(rc),
        super::stored::Created::Failed(e) => {
            return failure(
                nginx_sys::NGX_HTTP_SERVICE_UNAVAILABLE,
                "session_store_unavailable",
                e,
                "Your session could not be stored right now. Please try again in a moment.",
            )
            .into()
        }
        super::stored::Created::Done => {}
    }
    let session = flow.session.take().expect("built");
    crate::metrics::login(pidx);
    logged_in(r, p, flow, &session)
}

/// The session of a completed login, from the token response, the validated ID token's
/// claims and the userinfo.
fn build_session(p: &Provider, flow: &mut CallbackFlow, now: u64) -> Session {
    let token = flow.token.take().expect("exchanged");
    let claims = flow.claims.take().expect("validated");
    let sub = claims.get("sub").and_then(|s| s.as_str()).unwrap_or_default().to_owned();
    let (ui_claims, ui_text) = match flow.userinfo.take() {
        Some((c, t)) => (Some(c), Some(t)),
        None => (None, None),
    };
    let keep = p.session_keep;
    Session {
        claims: claims_view::session_claims(&claims, ui_claims.as_ref(), p.session_claims.as_deref()),
        sub,
        id_token: token.id_token.clone().filter(|_| keep.id_token),
        access_token: Some(token.access_token.clone()).filter(|_| keep.access_token),
        refresh_token: token.refresh_token.clone().filter(|_| keep.refresh_token),
        access_expires_at: token.access_expires_at(now),
        userinfo: ui_text.filter(|_| keep.userinfo),
        created_at: now,
        expires_at: now + p.session_timeout,
        last_seen: now,
        sid: claims.get("sid").and_then(|s| s.as_str()).map(str::to_owned),
        // The token's own iss: with issuer_template it names the tenant.
        iss: claims.get("iss").and_then(|s| s.as_str()).map(str::to_owned),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

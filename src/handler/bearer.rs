//! Resource-server mode: an OAuth 2.0 access token in the request (RFC 6750) decides.
//!
//! The token is judged once and the verdict cached under a hash of it: first the
//! worker's own cache, then the shared zone, and only on a miss a real check, either a
//! JWT validated locally against the cached key set (RFC 9068 rules: signature, `iss`,
//! `aud`, times, optional `typ`) or an RFC 7662 introspection call. Then the location's
//! scope and claim rules run on the claims. Every refusal is RFC 6750's answer:
//! `WWW-Authenticate: Bearer` with `error` and `error_description`, and a log line
//! whose reason starts with `bearer_` (the token never reaches the log).

use std::rc::Rc;

use nginx_sys::ngx_int_t;
use oidc_core::bearer::{self, BearerToken};
use oidc_core::discovery::ProviderMetadata;
use oidc_core::introspection::{self, IntrospectionError, IntrospectionRules};
use oidc_core::token::access_token::{self, AccessTokenRules};
use oidc_core::token::checks::numeric_date;
use oidc_core::token::signature::SignatureRules;
use oidc_core::token::{Claims, TokenError};
use oidc_core::token_cache::{self, CacheLifetimes, CachedResult, TokenCacheKey};
use oidc_core::www_authenticate::{Challenge, ErrorCode};

use super::{callback, op_call, watchdog_ms};
use crate::bridge::{waiters, OpCall, Outcome};
use crate::cache::documents::{self, Doc};
use crate::cache::token_local::{self, Verdict};
use crate::conf::{Introspect, LocConf, Provider};
use crate::metrics::TokenCacheResult;
use crate::request::Request;
use crate::req_ctx::Identity;

/// Progress of one request's check across suspensions.
#[derive(Default)]
pub struct BearerFlow {
    kid_refreshed: bool,
    introspecting: bool,
}

pub enum BearerCheck {
    /// The request carries no bearer token.
    NoToken,
    /// Return this from the access handler.
    Done(ngx_int_t),
}

/// What a fresh check found.
enum Found {
    /// The verdict, the token's `exp`, and whether it may be cached.
    Verdict(Verdict, Option<u64>, bool),
    /// The OP or its keys cannot be reached: 503, not cached.
    Unavailable(&'static str, String),
    /// Suspended; return this.
    Wait(ngx_int_t),
}

/// `r` is the main request whose access handler is running.
pub fn handle(r: Request<'_>, lcf: &LocConf, pidx: usize, p: &Provider, now: i64) -> BearerCheck {
    let log = r.log();
    // nginx refuses a request with two Authorization headers. Read as the client sent
    // it: `auth_oidc_set_header Authorization` removed the client's copy before now.
    let one: [&[u8]; 1];
    let authorization: &[&[u8]] = match r.header_in("Authorization") {
        None => &[],
        Some(v) => {
            one = [v];
            &one
        }
    };
    let jar;
    let alternative = if let Some(h) = &lcf.bearer.token_header {
        r.header_in(h)
    } else if let Some(c) = &lcf.bearer.token_cookie {
        jar = r.jar();
        jar.get(c).map(str::as_bytes)
    } else {
        None
    };
    let token = match bearer::extract(authorization, alternative) {
        BearerToken::None => return BearerCheck::NoToken,
        BearerToken::Malformed(m) => {
            ngx_log!(warn, log, "auth_oidc: provider \"{}\": bearer_malformed: {}", p.name, m);
            crate::metrics::bearer_rejected(pidx, "bearer_malformed");
            return BearerCheck::Done(challenge(r, p, Some(ErrorCode::InvalidRequest), Some(m.description()), None));
        }
        BearerToken::Token(t) => t,
    };

    let (ns, ns_key) = lcf.bearer_namespace(pidx);
    if let Some(v) = token_local::get(ns_key, token, now) {
        crate::metrics::token_cache(pidx, TokenCacheResult::WorkerHit);
        return BearerCheck::Done(conclude(r, lcf, pidx, p, v));
    }
    // With the cache off (token_cache_ttl 0 and no negative caching) there is nothing to
    // look up, and no reason to hash the token.
    let caching = p.token_cache_ttl > 0 || p.token_cache_negative > 0;
    let key = caching.then(|| TokenCacheKey::new(ns, token));
    let zone = documents::zone();
    let shared = key.as_ref().and_then(|k| zone.as_ref().and_then(|z| z.token_get(&k.0, now)));
    if let Some((bytes, shared_until)) = shared {
        if let Some(cached) = token_cache::decode(&bytes) {
            let (verdict, _) = verdict_of(cached, token);
            // The worker's copy ends when the shared entry does: counted from now, it
            // would outlive it (a token without exp accepted up to twice
            // token_cache_ttl, a refusal held token_cache_ttl, not token_cache_negative).
            token_local::put(ns_key, token, verdict.clone(), shared_until, now);
            crate::metrics::token_cache(pidx, TokenCacheResult::SharedHit);
            return BearerCheck::Done(conclude(r, lcf, pidx, p, verdict));
        }
    }

    let found = check(r, lcf, pidx, p, token, now);
    let verdict = match found {
        Found::Wait(rc) => return BearerCheck::Done(rc),
        Found::Unavailable(reason, detail) => {
            crate::metrics::token_cache(pidx, TokenCacheResult::Miss);
            crate::metrics::bearer_unavailable(pidx);
            ngx_log!(err, log, "auth_oidc: provider \"{}\": {}: {}, answering 503", p.name, reason, detail);
            return BearerCheck::Done(nginx_sys::NGX_HTTP_SERVICE_UNAVAILABLE as ngx_int_t);
        }
        Found::Verdict(v, exp, cacheable) => {
            crate::metrics::token_cache(pidx, TokenCacheResult::Miss);
            if let (true, Some(key)) = (cacheable, key.as_ref()) {
                remember(p, ns_key, token, key, &v, exp, now);
            }
            v
        }
    };
    BearerCheck::Done(conclude(r, lcf, pidx, p, verdict))
}

/// Caches a fresh verdict in both caches, for as long as it may be trusted.
fn remember(p: &Provider, ns_key: u64, token: &str, key: &TokenCacheKey, verdict: &Verdict, exp: Option<u64>, now: i64) {
    let lifetimes = CacheLifetimes { max_ttl: p.token_cache_ttl, default_ttl: p.token_cache_ttl, refused_ttl: p.token_cache_negative };
    let (ttl, bytes) = match verdict {
        Verdict::Valid(id) => (lifetimes.valid_for(exp, now as u64), token_cache::encode_valid(exp, &id.claims)),
        Verdict::Refused { reason, description } => {
            (lifetimes.refused_for(), Some(token_cache::encode_refused(reason, description)))
        }
    };
    if ttl == 0 {
        return;
    }
    let until = now + ttl as i64;
    token_local::put(ns_key, token, verdict.clone(), until, now);
    if let (Some(zone), Some(bytes)) = (documents::zone(), bytes) {
        // No room is not an error: the worker's own cache still has it.
        let _ = zone.token_put(&key.0, &bytes, until, now);
    }
}

fn verdict_of(cached: CachedResult, token: &str) -> (Verdict, Option<u64>) {
    match cached {
        CachedResult::Valid { exp, claims } => (Verdict::Valid(Rc::new(identity(claims, token))), exp),
        CachedResult::Refused { reason, description } => {
            (Verdict::Refused { reason: reason.into(), description: description.into() }, None)
        }
    }
}

fn identity(claims: Claims, token: &str) -> Identity {
    Identity { kind: "bearer", claims, id_token: None, access_token: Some(token.to_owned()), userinfo: None }
}

fn refused(reason: String, description: &str) -> Found {
    Found::Verdict(Verdict::Refused { reason: reason.into(), description: description.into() }, None, true)
}

/// The verdict applied: pass with the identity, or refuse as RFC 6750 says.
fn conclude(r: Request<'_>, lcf: &LocConf, pidx: usize, p: &Provider, verdict: Verdict) -> ngx_int_t {
    let log = r.log();
    match verdict {
        Verdict::Valid(id) => {
            let req = &lcf.bearer.requirements;
            if let Err(unmet) = req.check(&id.claims) {
                ngx_log!(warn, log, "auth_oidc: provider \"{}\": insufficient_scope: {}", p.name, unmet);
                crate::metrics::bearer_rejected(pidx, "insufficient_scope");
                let scope = req.scope_param();
                return challenge(
                    r,
                    p,
                    Some(ErrorCode::InsufficientScope),
                    Some("the access token does not grant what this resource requires"),
                    scope.as_deref(),
                );
            }
            match r.ctx() {
                Some(mut ctx) => ctx.identity = Some(id),
                None => return nginx_sys::NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t,
            }
            crate::metrics::bearer_accepted(pidx);
            super::pass(r, lcf, p)
        }
        Verdict::Refused { reason, description } => {
            ngx_log!(warn, log, "auth_oidc: provider \"{}\": {}: {}", p.name, reason, description);
            crate::metrics::bearer_rejected(pidx, &reason);
            challenge(r, p, Some(ErrorCode::InvalidToken), Some(&description), None)
        }
    }
}

/// A browser session in a location that requires a scope (`auth_oidc_scope`): scopes
/// are what an access token grants, and a session shows none (its tokens stay inside
/// the sealed cookie, and the token response's `scope` is not kept), so it is refused
/// with 403 `insufficient_scope`, as a token without the scope would be. None when the
/// location requires no scope.
pub fn refuse_session_scope(r: Request<'_>, lcf: &LocConf, p: &Provider) -> Option<ngx_int_t> {
    let scope = lcf.bearer.requirements.scope_param()?;
    ngx_log!(
        warn,
        r.log(),
        "auth_oidc: provider \"{}\": scope_needs_token: this location requires scope \"{}\" and the request has a browser session but no access token, answering 403",
        p.name,
        scope
    );
    Some(challenge(
        r,
        p,
        Some(ErrorCode::InsufficientScope),
        Some("this resource requires an access token with the scope"),
        Some(&scope),
    ))
}

/// An RFC 6750 challenge; without `error`, the bare one for a request with no token.
pub fn challenge(
    r: Request<'_>,
    p: &Provider,
    error: Option<ErrorCode>,
    description: Option<&str>,
    scope: Option<&str>,
) -> ngx_int_t {
    let c = Challenge { realm: &p.name, error, description, scope };
    if r.set_www_authenticate(c.header_value().as_bytes()).is_none() {
        return nginx_sys::NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    }
    c.status() as ngx_int_t
}

fn check(r: Request<'_>, lcf: &LocConf, pidx: usize, p: &Provider, token: &str, now: i64) -> Found {
    let meta = match documents::discovery(p, pidx, now) {
        Doc::Pending(key) => return Found::Wait(waiters::suspend(r, key, watchdog_ms(p))),
        Doc::Failed(reason) => return Found::Unavailable(reason, "the OpenID Provider's configuration is unavailable".into()),
        Doc::Ready(m) => m,
    };
    let introspect = match lcf.bearer.introspect.unwrap_or_default() {
        Introspect::Always => true,
        Introspect::Off => false,
        Introspect::Auto => !access_token::looks_like_jwt(token),
    };
    if introspect {
        introspect_token(r, lcf, pidx, p, &meta, token, now)
    } else {
        validate_jwt(r, lcf, pidx, p, &meta, token, now)
    }
}

fn validate_jwt(
    r: Request<'_>,
    lcf: &LocConf,
    pidx: usize,
    p: &Provider,
    meta: &ProviderMetadata,
    token: &str,
    now: i64,
) -> Found {
    let Some(mut ctx) = r.ctx() else { return Found::Unavailable("internal", "no request context".into()) };
    let flow = ctx.bearer.get_or_insert_with(BearerFlow::default);
    let algs = callback::allowed_algs(p.access_token_algs.as_ref().or(p.id_token_algs.as_ref()), meta);
    let audiences = lcf.bearer.audiences.clone().unwrap_or_default();
    loop {
        let jwks = match documents::jwks(p, pidx, meta, now) {
            Doc::Pending(key) => return Found::Wait(waiters::suspend(r, key, watchdog_ms(p))),
            Doc::Failed(reason) => return Found::Unavailable(reason, "the OP's key set is unavailable".into()),
            Doc::Ready(j) => j,
        };
        let rules = AccessTokenRules {
            issuer: &p.issuer,
            issuer_template: p.issuer_template.as_ref(),
            audiences: &audiences,
            // HS* access tokens would need a secret shared with the OP: none here, so
            // they are refused (and so is an HS token "signed" with an RSA public key).
            signature: SignatureRules { allowed_algs: &algs, client_secret: None },
            now: now as u64,
            clock_skew: p.clock_skew,
            require_typ_at_jwt: lcf.bearer.require_at_jwt.unwrap_or(false),
        };
        match access_token::validate(token, &rules, &jwks) {
            Ok(claims) => {
                let exp = numeric_date(&claims, "exp");
                return Found::Verdict(Verdict::Valid(Rc::new(identity(claims, token))), exp, true);
            }
            Err(TokenError::UnknownKid(_)) if !flow.kid_refreshed => {
                flow.kid_refreshed = true;
                if documents::refresh_jwks_for_unknown_kid(p, pidx, meta, now) {
                    return Found::Wait(waiters::suspend(r, p.jwks_key, watchdog_ms(p)));
                }
                // Refreshed recently by someone: one more look at what the cache holds.
            }
            Err(e) => {
                let reason: Rc<str> = e.log_reason("bearer").into();
                let verdict = Verdict::Refused { reason, description: access_token::public_description(&e).into() };
                // A key we do not know may be one the OP is about to publish: do not
                // remember that refusal.
                return Found::Verdict(verdict, None, token_cache::refusal_is_cacheable(&e));
            }
        }
    }
}

fn introspect_token(
    r: Request<'_>,
    lcf: &LocConf,
    pidx: usize,
    p: &Provider,
    meta: &ProviderMetadata,
    token: &str,
    now: i64,
) -> Found {
    let Some(mut ctx) = r.ctx() else { return Found::Unavailable("internal", "no request context".into()) };
    let outcome = ctx.outcome.take();
    let flow = ctx.bearer.get_or_insert_with(BearerFlow::default);
    let Some(endpoint) = p.introspection_endpoint.as_deref().or(meta.introspection_endpoint.as_deref()) else {
        return refused("bearer_not_jwt".into(), "the access token is not a JWT and this server cannot introspect tokens");
    };
    if flow.introspecting {
        let answer = match outcome {
            Some(Outcome::Answered(Ok(a))) => a,
            Some(Outcome::Answered(Err(e))) => {
                return Found::Unavailable("introspection_unavailable", format!("POST {endpoint} failed: {e}"))
            }
            _ => return Found::Unavailable("internal", "resumed without the introspection answer".into()),
        };
        let audiences = lcf.bearer.audiences.clone().unwrap_or_default();
        let rules = IntrospectionRules { issuer: &p.issuer, audiences: &audiences, now: now as u64, clock_skew: p.clock_skew };
        let result = introspection::parse_response(answer.status, &answer.body)
            .and_then(|claims| introspection::check_claims(&claims, &rules).map(|()| claims));
        return match result {
            Ok(claims) => {
                let exp = numeric_date(&claims, "exp");
                Found::Verdict(Verdict::Valid(Rc::new(identity(claims, token))), exp, true)
            }
            Err(IntrospectionError::Rejected(te)) => {
                refused(format!("bearer_{}", te.reason()), access_token::public_description(&te))
            }
            Err(IntrospectionError::Inactive(why)) => {
                ngx_log!(info, r.log(), "auth_oidc: provider \"{}\": token_inactive: {why}", p.name);
                refused("token_inactive".into(), "the access token is not active")
            }
            Err(e) if e.concerns_token() => {
                ngx_log!(info, r.log(), "auth_oidc: provider \"{}\": introspection_refused: {e}", p.name);
                refused("token_inactive".into(), "the access token is not valid")
            }
            Err(e) => Found::Unavailable("introspection_unavailable", format!("{endpoint}: {e}")),
        };
    }
    let creds = p.client_credentials(endpoint, now);
    let creds = match creds {
        Ok(c) => c,
        Err(e) => return Found::Unavailable("client_auth_failed", e),
    };
    let req = introspection::request(token, creds);
    flow.introspecting = true;
    let call = OpCall { post: true, url: endpoint.to_owned(), authorization: req.authorization, form: Some(req.body), endpoint: crate::metrics::Endpoint::Introspection };
    match op_call::call_and_wait(r, pidx, call, watchdog_ms(p)) {
        Some(rc) => Found::Wait(rc),
        None => Found::Unavailable("no_runtime", "the worker's runtime thread is not running".into()),
    }
}

//! Token revocation at logout (RFC 7009): the session's refresh token, then its access
//! token, sent to the OP's `revocation_endpoint` with the provider's client
//! authentication. Fire-and-forget on the runtime thread: a logout never waits for it,
//! and a failure is logged (`revocation_failed`) without stopping anything.

use oidc_core::discovery::ProviderMetadata;
use oidc_core::session::Session;
use oidc_core::token_exchange::{self, sanitize};

use crate::bridge::{self, OpCall, Outcome, Work};
use crate::conf::Provider;

/// Revokes what `session` holds, when `revoke_tokens` is on and the OP can revoke.
pub fn session_tokens(pidx: usize, p: &Provider, meta: Option<&ProviderMetadata>, session: &Session, now: i64) {
    if !p.revoke_tokens {
        return;
    }
    let Some(endpoint) = meta.and_then(|m| m.revocation_endpoint.as_deref()) else { return };
    // Refresh token first: revoking it may end the access tokens issued with it too
    // (RFC 7009 section 2.1), and it is the one that outlives the session.
    let mut tokens = Vec::new();
    if let Some(t) = &session.refresh_token {
        tokens.push((t.clone(), "refresh_token"));
    }
    if let Some(t) = &session.access_token {
        tokens.push((t.clone(), "access_token"));
    }
    if tokens.is_empty() {
        return;
    }
    send_next(pidx, endpoint.to_owned(), tokens, now);
}

/// Sends the first revocation; its answer sends the next.
fn send_next(pidx: usize, endpoint: String, mut tokens: Vec<(String, &'static str)>, now: i64) {
    if tokens.is_empty() {
        return;
    }
    let (token, hint) = tokens.remove(0);
    let Some(p) = bridge::main_conf().and_then(|m| m.providers.get(pidx)) else { return };
    let creds = match p.client_credentials(&endpoint, now) {
        Ok(c) => c,
        Err(e) => return failed(p, hint, &e),
    };
    let req = token_exchange::revocation_request(&token, hint, creds);
    let call = OpCall {
        post: true,
        url: endpoint.clone(),
        authorization: req.authorization,
        form: Some(req.body),
        endpoint: crate::metrics::Endpoint::Revocation,
    };
    let submitted = bridge::submit(Work::Call { provider: pidx, call }, move |outcome: Outcome| {
        let Some(p) = bridge::main_conf().and_then(|m| m.providers.get(pidx)) else { return };
        match outcome {
            // RFC 7009 section 2.2: 200 whether or not the token was valid.
            Outcome::Answered(Ok(a)) if a.status == 200 => {
                ngx_log!(info, ngx::log::ngx_cycle_log().as_ptr(), "auth_oidc: provider \"{}\": {hint} revoked at the OP", p.name);
            }
            Outcome::Answered(Ok(a)) => {
                // Only the OAuth error code: an OP's free text might echo the token.
                let code = serde_json::from_slice::<serde_json::Value>(&a.body)
                    .ok()
                    .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(|e| format!(" (error=\"{}\")", sanitize(e))))
                    .unwrap_or_default();
                failed(p, hint, &format!("the revocation endpoint answered HTTP {}{code}", a.status));
            }
            Outcome::Answered(Err(e)) => failed(p, hint, &e),
            _ => failed(p, hint, "unexpected answer"),
        }
        send_next(pidx, endpoint, tokens, crate::cache::documents::ngx_now());
    });
    if !submitted {
        failed(p, hint, "the worker's runtime thread is not running");
    }
}

fn failed(p: &Provider, hint: &str, why: &str) {
    ngx_log!(
        warn,
        ngx::log::ngx_cycle_log().as_ptr(),
        "auth_oidc: provider \"{}\": revocation_failed: the {hint} was not revoked: {}",
        p.name,
        sanitize(why)
    );
}

//! The logout URI: ends the session here and, when the OP has an end_session_endpoint,
//! at the OP too (OpenID Connect RP-Initiated Logout 1.0).
//!
//! Cross-site request forgery: a GET from another site (an `<img>` or a link on a page
//! elsewhere) must not silently log the user out. A GET is acted on only when the
//! browser says it came from this origin or was typed/bookmarked (`Sec-Fetch-Site:
//! same-origin` or `none`); otherwise the answer is a page with a button that POSTs
//! back here, and a POST is acted on only when its `Origin` (or `Sec-Fetch-Site`) is
//! this origin.

use crate::metrics::LogoutKind;
use nginx_sys::ngx_int_t;
use oidc_core::session_cookie::{Loaded, Sealed};

use super::{page, session, watchdog_ms};
use crate::bridge::waiters;
use crate::cache::documents::{self, Doc};
use crate::cache::session_local;
use crate::conf::Provider;
use crate::request::Request;

/// `r` is the main request whose access handler is running.
pub fn handle(r: Request<'_>, pidx: usize, p: &Provider, now: i64) -> ngx_int_t {
    let method = r.method();
    let fetch_site = r.header_in("Sec-Fetch-Site");
    let trusted = match method {
        b"GET" | b"HEAD" => matches!(fetch_site, Some(b"same-origin") | Some(b"none")),
        b"POST" => same_origin_post(r, fetch_site),
        _ => return nginx_sys::NGX_HTTP_NOT_ALLOWED as ngx_int_t,
    };
    if !trusted {
        if method == b"POST" {
            ngx_log!(
                warn,
                r.log(),
                "auth_oidc: provider \"{}\": logout_forbidden: a logout POST from another origin was refused",
                p.name
            );
            return r.send(nginx_sys::NGX_HTTP_FORBIDDEN as usize, "Sign-out refused", "This sign-out request came from another site.");
        }
        return confirm_page(r, p);
    }

    // The OP's end_session_endpoint, if it has one; logout works locally without it.
    let meta = match documents::discovery(p, pidx, now) {
        Doc::Pending(key) => return waiters::suspend(r, key, watchdog_ms(p)),
        Doc::Failed(reason) => {
            ngx_log!(
                warn,
                r.log(),
                "auth_oidc: provider \"{}\": {}: logging out locally only",
                p.name,
                reason
            );
            None
        }
        Doc::Ready(m) => Some(m),
    };

    let jar = r.jar();
    let session = if p.session_store.is_server_side() {
        // The stored session ends here, for every copy of the cookie on every host.
        match session::cookies(p).sealed(&jar) {
            Sealed::Value(v) => match super::stored::end(r, pidx, p, &v, now) {
                Ok(s) => s,
                Err(rc) => return rc,
            },
            _ => None,
        }
    } else {
        if let Sealed::Value(v) = session::cookies(p).sealed(&jar) {
            session_local::forget(pidx, &v);
        }
        match session::cookies(p).load(&jar, now as u64) {
            Loaded::Valid { session, .. } => Some(session),
            _ => None,
        }
    };
    if let Some(s) = &session {
        super::revoke::session_tokens(pidx, p, meta.as_deref(), s, now);
    }
    let id_token = session.and_then(|s| s.id_token);
    if session::clear(r, p, &jar).is_err() {
        return nginx_sys::NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    }
    ngx_log!(info, r.log(), "auth_oidc: provider \"{}\": logout: session cookies cleared", p.name);
    crate::metrics::logout(pidx, if meta.as_ref().is_some_and(|m| m.end_session_endpoint.is_some()) { LogoutKind::RpInitiated } else { LogoutKind::Local });

    let post_logout = p.post_logout_uri.as_deref().map(|u| absolute(r, u));
    let target = match meta.as_ref().and_then(|m| m.end_session_endpoint.as_deref()) {
        Some(endpoint) => {
            let mut url = match reqwest::Url::parse(endpoint) {
                Ok(u) => u,
                Err(_) => return local_end(r, post_logout.as_deref()),
            };
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("client_id", &p.client_id);
                if let (true, Some(t)) = (p.logout_token_hint, id_token.as_deref()) {
                    q.append_pair("id_token_hint", t);
                }
                if let Some(u) = post_logout.as_deref() {
                    q.append_pair("post_logout_redirect_uri", u);
                    // RP-Initiated Logout 1.0 section 2: an opaque value the OP hands
                    // back on the way to post_logout_redirect_uri.
                    if let Ok(state) = oidc_core::random::token(16) {
                        q.append_pair("state", &state);
                    }
                }
            }
            url.to_string()
        }
        None => return local_end(r, post_logout.as_deref()),
    };
    redirect(r, &target)
}

/// No end_session_endpoint: go to post_logout_uri, or show that the user is out.
fn local_end(r: Request<'_>, post_logout: Option<&str>) -> ngx_int_t {
    match post_logout {
        Some(u) => redirect(r, u),
        None => r.send(nginx_sys::NGX_HTTP_OK as usize, "Signed out", "You have been signed out."),
    }
}

fn redirect(r: Request<'_>, url: &str) -> ngx_int_t {
    if r.set_cache_control(b"no-store", false).is_none() || r.set_location(url).is_none() {
        return nginx_sys::NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    }
    nginx_sys::NGX_HTTP_MOVED_TEMPORARILY as ngx_int_t
}

/// A configured path made absolute on the host the browser used (the OP needs a full URL).
fn absolute(r: Request<'_>, uri: &str) -> String {
    if uri.starts_with('/') {
        if let Some(origin) = r.origin() {
            return format!("{origin}{uri}");
        }
    }
    uri.to_owned()
}

fn same_origin_post(r: Request<'_>, fetch_site: Option<&[u8]>) -> bool {
    if let Some(site) = fetch_site {
        return site == b"same-origin";
    }
    match (r.header_in("Origin"), r.origin()) {
        (Some(o), Some(ours)) => o == ours.as_bytes(),
        _ => false,
    }
}

/// A page whose button POSTs the logout from this origin.
fn confirm_page(r: Request<'_>, p: &Provider) -> ngx_int_t {
    let action = page::escape(p.logout_uri.as_deref().unwrap_or("/"));
    let body = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Sign out</title></head>\n<body><h1>Sign out?</h1>\n\
         <form method=\"post\" action=\"{action}\"><button type=\"submit\">Sign out</button></form>\n</body></html>\n"
    );
    r.send_html(nginx_sys::NGX_HTTP_OK as usize, &body)
}

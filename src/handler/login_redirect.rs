//! The first step of login: a 302 to the OP's authorization endpoint, and the state of
//! this attempt in its own short-lived encrypted cookie.

use nginx_sys::ngx_int_t;
use oidc_core::auth_request::AuthorizationRequest;
use oidc_core::cookie_header::{self, SetCookieAttrs};
use oidc_core::discovery::ProviderMetadata;
use oidc_core::login_state::{self, LoginState};
use oidc_core::return_to;

use crate::conf::{PkceMode, Provider, ResponseMode};
use crate::request::Request;

/// At most this many login attempts (tabs) in flight per browser; beyond it the oldest
/// state cookies are cleared so cookies cannot pile up.
pub const MAX_STATE_COOKIES: usize = 4;

/// At most this many bytes of state cookies (`name=value; ` each, the new one included)
/// per browser: the oldest go first. With return URLs of up to 1 KB a state cookie takes
/// up to about 1.7 KB, so a page that sends a browser to long URLs again and again
/// cannot push its `Cookie` header past nginx's 8 KB (`large_client_header_buffers`)
/// and lock it out of every page, logout and callback included, for `login_timeout`.
pub const STATE_COOKIES_BUDGET: usize = 4096;

const INTERNAL_ERROR: ngx_int_t = nginx_sys::NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;

/// `r` is the request whose access handler is running.
pub fn start_login(r: Request<'_>, p: &Provider, meta: &ProviderMetadata, now: i64) -> ngx_int_t {
    let log = r.log();
    let https = r.is_https();

    let redirect_uri = match absolute_redirect_uri(r, p, https) {
        Some(u) => u,
        None => {
            ngx_log!(info, log, "auth_oidc: provider \"{}\": bad_request: no usable Host to build redirect_uri", p.name);
            return nginx_sys::NGX_HTTP_BAD_REQUEST as ngx_int_t;
        }
    };
    let requested = String::from_utf8_lossy(r.unparsed_uri());
    let target = return_to::return_target(&requested);

    let use_pkce = match p.pkce {
        PkceMode::On => true,
        PkceMode::Off => false,
        PkceMode::Auto => meta.supports_pkce_s256(),
    };
    let (state, pkce) = match LoginState::new(target, use_pkce, now as u64) {
        Ok(x) => x,
        Err(e) => {
            ngx_log!(alert, log, "auth_oidc: cannot generate random values: {e}");
            return INTERNAL_ERROR;
        }
    };
    let url = AuthorizationRequest {
        endpoint: &meta.authorization_endpoint,
        client_id: &p.client_id,
        redirect_uri: &redirect_uri,
        scope: &p.scope,
        state: &state.state,
        nonce: &state.nonce,
        code_challenge: pkce.as_ref().map(|x| x.challenge.as_str()),
        response_mode: (p.response_mode == ResponseMode::FormPost).then_some("form_post"),
        extra_args: p.extra_auth_args.as_deref(),
    }
    .to_url();
    let url = match url {
        Ok(u) => u,
        Err(e) => {
            ngx_log!(err, log, "auth_oidc: provider \"{}\": cannot build the authorization request: {e}", p.name);
            return INTERNAL_ERROR;
        }
    };

    let prefix = p.state_cookie_prefix();
    let name = login_state::cookie_name(&prefix, &state.state);
    let sealed = match p.cipher.seal(name.as_bytes(), &state.encode()) {
        Ok(s) => s,
        Err(e) => {
            ngx_log!(alert, log, "auth_oidc: cannot encrypt the state cookie: {e}");
            return INTERNAL_ERROR;
        }
    };
    let attrs = state_cookie_attrs(p, https, Some(p.login_timeout as i64));
    let mut set_cookies = vec![cookie_header::set_cookie(&name, &sealed, &attrs)];
    let clear = SetCookieAttrs { max_age: Some(0), ..attrs };
    for old in state_cookies_to_clear(r, p, &prefix, now, cookie_size(&name, &sealed)) {
        set_cookies.push(cookie_header::set_cookie(&old, "", &clear));
    }

    for c in &set_cookies {
        if r.add_header("Set-Cookie", c.as_bytes()).is_none() {
            return INTERNAL_ERROR;
        }
    }
    if r.set_cache_control(b"no-store", false).is_none() || r.set_location(&url).is_none() {
        return INTERNAL_ERROR;
    }
    nginx_sys::NGX_HTTP_MOVED_TEMPORARILY as ngx_int_t
}

/// Attributes of the state cookies. With `form_post` the OP's answer is a cross-site
/// POST, on which browsers send only `SameSite=None` cookies (which must be `Secure`;
/// browsers accept that on http://localhost and 127.0.0.1 too).
pub fn state_cookie_attrs(p: &Provider, https: bool, max_age: Option<i64>) -> SetCookieAttrs<'_> {
    let form_post = p.response_mode == ResponseMode::FormPost;
    SetCookieAttrs {
        path: "/",
        domain: p.cookie_domain.as_deref(),
        max_age,
        secure: form_post || p.cookie_secure(https),
        http_only: true,
        same_site: if form_post { "None" } else { "Lax" },
    }
}

/// `redirect_uri` as an absolute URL: a configured path is joined to the scheme and Host
/// the browser used (behind a TLS-terminating proxy, configure the absolute URL).
pub fn absolute_redirect_uri(r: Request<'_>, p: &Provider, https: bool) -> Option<String> {
    if !p.redirect_uri.starts_with('/') {
        return Some(p.redirect_uri.clone());
    }
    let host = r.authority()?;
    Some(format!("{}://{}{}", if https { "https" } else { "http" }, host, p.redirect_uri))
}

/// What a cookie adds to the `Cookie` header: `name=value; `.
fn cookie_size(name: &str, value: &str) -> usize {
    name.len() + value.len() + 3
}

/// State cookies of earlier attempts to clear so that, with the new one (of `new_size`
/// bytes), at most MAX_STATE_COOKIES remain in at most STATE_COOKIES_BUDGET bytes:
/// unreadable or expired ones, and all but the newest that fit.
fn state_cookies_to_clear(r: Request<'_>, p: &Provider, prefix: &str, now: i64, new_size: usize) -> Vec<String> {
    let mut dead = Vec::new();
    let mut live: Vec<(u64, String, usize)> = Vec::new();
    for header in r.cookie_headers() {
        for (name, value) in cookie_header::iter_cookies(header) {
            if !login_state::is_state_cookie_name(prefix, name) {
                continue;
            }
            let issued = p
                .cipher
                .open(name.as_bytes(), value)
                .ok()
                .and_then(|b| LoginState::decode(&b).ok())
                .filter(|s| !s.is_expired(now as u64, p.login_timeout))
                .map(|s| s.issued_at);
            match issued {
                Some(t) => live.push((t, name.to_string(), cookie_size(name, value))),
                None => dead.push(name.to_string()),
            }
        }
    }
    // Newest first: keep while they fit, clear from the first that does not.
    live.sort_by(|a, b| b.0.cmp(&a.0));
    let mut slots = MAX_STATE_COOKIES - 1;
    let mut budget = STATE_COOKIES_BUDGET.saturating_sub(new_size);
    let mut full = false;
    for (_, name, size) in live {
        full = full || slots == 0 || size > budget;
        if full {
            dead.push(name);
        } else {
            slots -= 1;
            budget -= size;
        }
    }
    dead
}

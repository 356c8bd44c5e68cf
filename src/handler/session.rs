//! The browser session of a provider on the request path: reading it from the request's
//! cookies, writing it (and clearing what is stale) as Set-Cookie headers.

use nginx_sys::ngx_http_request_t;
use oidc_core::cookie_header::{self, SetCookieAttrs};
use oidc_core::session::Session;
use oidc_core::session_cookie::{CookieJar, SessionCookies};

use crate::conf::Provider;
use crate::ngx_util;

/// The cookies of the request.
///
/// # Safety
/// `r` must be a live request; the jar borrows its headers.
pub unsafe fn jar<'a>(r: *mut ngx_http_request_t) -> CookieJar<'a> {
    CookieJar::parse(&ngx_util::cookie_headers(r))
}

pub fn cookies(p: &Provider) -> SessionCookies<'_> {
    SessionCookies {
        cipher: &p.cipher,
        purpose: &p.session_purpose,
        name: &p.cookie_name,
        idle_timeout: p.session_idle_timeout,
    }
}

/// Attributes of the session cookies.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn attrs(r: *mut ngx_http_request_t, p: &Provider, max_age: Option<i64>) -> SetCookieAttrs<'_> {
    SetCookieAttrs {
        path: &p.cookie_path,
        domain: p.cookie_domain.as_deref(),
        max_age,
        secure: p.cookie_secure(ngx_util::is_https(r)),
        http_only: true,
        same_site: &p.cookie_samesite,
    }
}

/// Adds the Set-Cookie headers that store `session`.
///
/// # Safety
/// `r` must be a live request whose response header is not sent yet.
pub unsafe fn write(r: *mut ngx_http_request_t, p: &Provider, session: &Session, jar: &CookieJar<'_>, now: u64) -> Result<(), String> {
    let (set, stale) = cookies(p).seal(session, jar)?;
    let a = attrs(r, p, Some(session.expires_at.saturating_sub(now) as i64));
    for (name, value) in &set {
        add_set_cookie(r, &cookie_header::set_cookie(name, value, &a))?;
    }
    let clear = attrs(r, p, Some(0));
    for name in &stale {
        add_set_cookie(r, &cookie_header::set_cookie(name, "", &clear))?;
    }
    Ok(())
}

/// Adds Set-Cookie headers that delete every session cookie the browser sent.
///
/// # Safety
/// As for `write`.
pub unsafe fn clear(r: *mut ngx_http_request_t, p: &Provider, jar: &CookieJar<'_>) -> Result<(), String> {
    let clear = attrs(r, p, Some(0));
    if jar.get(&p.cookie_name).is_some() {
        add_set_cookie(r, &cookie_header::set_cookie(&p.cookie_name, "", &clear))?;
    }
    for name in cookies(p).stale_chunks(1, jar) {
        add_set_cookie(r, &cookie_header::set_cookie(&name, "", &clear))?;
    }
    Ok(())
}

/// # Safety
/// As for `write`.
pub unsafe fn add_set_cookie(r: *mut ngx_http_request_t, value: &str) -> Result<(), String> {
    ngx_util::add_header(r, "Set-Cookie", value.as_bytes()).map(|_| ()).ok_or_else(|| "out of memory".to_string())
}

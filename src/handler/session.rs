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

/// Adds the Set-Cookie headers that store `session`. Refuses a session whose cookies,
/// with the other cookies the browser sends this site, would make a `Cookie` header
/// longer than `large_client_header_buffers` allows: nginx would answer every later
/// request of that browser with 400 (the logout URI too), before the module ever runs.
///
/// # Safety
/// `r` must be a live request whose response header is not sent yet.
pub unsafe fn write(r: *mut ngx_http_request_t, p: &Provider, session: &Session, jar: &CookieJar<'_>, now: u64) -> Result<(), String> {
    let (set, stale) = cookies(p).seal(session, jar)?;
    let ours = |n: &str| n == p.cookie_name || set.iter().any(|(c, _)| c == n) || stale.iter().any(|c| c == n);
    let others: usize = jar.pairs().filter(|(n, _)| !ours(n)).map(|(n, v)| n.len() + v.len() + 3).sum();
    let line = "Cookie: ".len() + others + set.iter().map(|(n, v)| n.len() + v.len() + 3).sum::<usize>();
    let limit = header_line_limit(r);
    if line > limit {
        return Err(format!(
            "the session needs a Cookie header of about {line} bytes, more than large_client_header_buffers allows ({limit}); \
             raise it (e.g. large_client_header_buffers 4 32k;) or keep less in the session (session_contents, session_claims)"
        ));
    }
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

/// Adds the Set-Cookie header of a server-side session's reference (and clears the
/// chunks of a cookie session the browser may still have).
///
/// # Safety
/// As for `write`.
pub unsafe fn write_ref(r: *mut ngx_http_request_t, p: &Provider, sealed_ref: &str, max_age: u64) -> Result<(), String> {
    let a = attrs(r, p, Some(max_age as i64));
    add_set_cookie(r, &cookie_header::set_cookie(&p.cookie_name, sealed_ref, &a))?;
    let jar = jar(r);
    let clear = attrs(r, p, Some(0));
    for name in cookies(p).stale_chunks(1, &jar) {
        add_set_cookie(r, &cookie_header::set_cookie(&name, "", &clear))?;
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

/// The longest request header line this server accepts (HTTP/1.x; HTTP/2 and 3 send
/// each cookie as its own field, for which the same size holds).
unsafe fn header_line_limit(r: *mut ngx_http_request_t) -> usize {
    use ngx::http::{HttpModuleServerConf, NgxHttpCoreModule};
    match NgxHttpCoreModule::server_conf(&*r) {
        Some(cscf) => cscf.large_client_header_buffers.size,
        None => 8192,
    }
}

/// # Safety
/// As for `write`.
pub unsafe fn add_set_cookie(r: *mut ngx_http_request_t, value: &str) -> Result<(), String> {
    // A response that sets a cookie of the module (a re-issued session on a proxied page,
    // above all) must not be stored by a shared cache and served to someone else.
    if ngx_util::set_cache_control(r, b"private", true).is_none() {
        return Err("out of memory".to_string());
    }
    ngx_util::add_header(r, "Set-Cookie", value.as_bytes()).map(|_| ()).ok_or_else(|| "out of memory".to_string())
}

//! The browser session of a provider on the request path: reading it from the request's
//! cookies, writing it (and clearing what is stale) as Set-Cookie headers.

use oidc_core::cookie_header::{self, SetCookieAttrs};
use oidc_core::session::Session;
use oidc_core::session_cookie::{CookieJar, SessionCookies};

use crate::conf::Provider;
use crate::request::Request;

pub fn cookies(p: &Provider) -> SessionCookies<'_> {
    SessionCookies {
        cipher: &p.cipher,
        purpose: &p.session_purpose,
        name: &p.cookie_name,
        idle_timeout: p.session_idle_timeout,
    }
}

/// Attributes of the session cookies.
pub fn attrs<'p>(r: Request<'_>, p: &'p Provider, max_age: Option<i64>) -> SetCookieAttrs<'p> {
    SetCookieAttrs {
        path: &p.cookie_path,
        domain: p.cookie_domain.as_deref(),
        max_age,
        secure: p.cookie_secure(r.is_https()),
        http_only: true,
        same_site: &p.cookie_samesite,
    }
}

/// Adds the Set-Cookie headers that store `session`. Refuses a session whose cookies,
/// with the other cookies the browser sends this site, would make a `Cookie` header
/// longer than `large_client_header_buffers` allows: nginx would answer every later
/// request of that browser with 400 (the logout URI too), before the module ever runs.
pub fn write(r: Request<'_>, p: &Provider, session: &Session, jar: &CookieJar<'_>, now: u64) -> Result<(), String> {
    let (set, stale) = cookies(p).seal(session, jar)?;
    let ours = |n: &str| n == p.cookie_name || set.iter().any(|(c, _)| c == n) || stale.iter().any(|c| c == n);
    let others: usize = jar.pairs().filter(|(n, _)| !ours(n)).map(|(n, v)| n.len() + v.len() + 3).sum();
    let line = "Cookie: ".len() + others + set.iter().map(|(n, v)| n.len() + v.len() + 3).sum::<usize>();
    let limit = r.header_line_limit();
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
pub fn write_ref(r: Request<'_>, p: &Provider, sealed_ref: &str, max_age: u64) -> Result<(), String> {
    let a = attrs(r, p, Some(max_age as i64));
    add_set_cookie(r, &cookie_header::set_cookie(&p.cookie_name, sealed_ref, &a))?;
    let jar = r.jar();
    let clear = attrs(r, p, Some(0));
    for name in cookies(p).stale_chunks(1, &jar) {
        add_set_cookie(r, &cookie_header::set_cookie(&name, "", &clear))?;
    }
    Ok(())
}

/// Adds Set-Cookie headers that delete every session cookie the browser sent.
pub fn clear(r: Request<'_>, p: &Provider, jar: &CookieJar<'_>) -> Result<(), String> {
    let clear = attrs(r, p, Some(0));
    if jar.get(&p.cookie_name).is_some() {
        add_set_cookie(r, &cookie_header::set_cookie(&p.cookie_name, "", &clear))?;
    }
    for name in cookies(p).stale_chunks(1, jar) {
        add_set_cookie(r, &cookie_header::set_cookie(&name, "", &clear))?;
    }
    Ok(())
}

/// Adds one Set-Cookie header (and makes the response private).
pub fn add_set_cookie(r: Request<'_>, value: &str) -> Result<(), String> {
    // A response that sets a cookie of the module (a re-issued session on a proxied page,
    // above all) must not be stored by a shared cache and served to someone else.
    if r.set_cache_control(b"private", true).is_none() {
        return Err("out of memory".to_string());
    }
    r.add_header("Set-Cookie", value.as_bytes()).ok_or_else(|| "out of memory".to_string())
}

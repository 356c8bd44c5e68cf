//! Removes the client's own copies of what the module vouches for, before any access
//! module runs: request headers named by `auth_oidc_set_header` (the client could pose as
//! anyone) and the module's cookies (session cookie and chunks, login states: the
//! upstream has no business with them).
//!
//! Doing it in the access handler when the module grants is not enough: under
//! `satisfy any` the module's 401 lets nginx ask the next access module, and when
//! `allow`, `auth_basic` or `auth_request` grants, the module never runs again; a nested
//! `auth_oidc off` location inherits `auth_oidc_set_header` but has no access handler of
//! ours at all. So this runs in the preaccess phase, which every main request passes
//! through in its final location, after the rewrites and before any access check. The
//! module itself still reads what the client sent through `header_snapshot`.

use nginx_sys::{
    ngx_conf_t, ngx_http_core_main_conf_t, ngx_http_handler_pt, ngx_http_request_t, ngx_int_t, ngx_table_elt_t,
    NGX_DECLINED,
};
use ngx::core::Status;
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf, NgxHttpCoreModule};
use oidc_core::cookie_header;

use crate::conf::{AuthSetting, LocConf, Provider};
use crate::handler::choose;
use crate::{header_snapshot, ngx_util, AuthOidcModule};

/// Registers the preaccess handler (postconfiguration).
pub fn register(cf: &mut ngx_conf_t) -> Status {
    let Some(cmcf) = NgxHttpCoreModule::main_conf_mut(cf) else {
        return Status::NGX_ERROR;
    };
    let cmcf: &mut ngx_http_core_main_conf_t = cmcf;
    // SAFETY: the phase handler arrays exist during postconfiguration.
    unsafe {
        let phase = nginx_sys::ngx_http_phases_NGX_HTTP_PREACCESS_PHASE as usize;
        let h = nginx_sys::ngx_array_push(&mut cmcf.phases[phase].handlers).cast::<ngx_http_handler_pt>();
        if h.is_null() {
            return Status::NGX_ERROR;
        }
        *h = Some(preaccess_handler);
    }
    Status::NGX_OK
}

guarded! { fn preaccess_handler(r: *mut ngx_http_request_t) -> ngx_int_t = preaccess_handler_body, on_panic nginx_sys::NGX_HTTP_INTERNAL_SERVER_ERROR as nginx_sys::ngx_int_t; }
unsafe fn preaccess_handler_body(r: *mut ngx_http_request_t) -> ngx_int_t {
    const DECLINED: ngx_int_t = NGX_DECLINED as ngx_int_t;
    // SAFETY: nginx calls phase handlers with a live request. Subrequests share the main
    // request's header list (a copy of its head): it was cleaned when the main request
    // passed here, and must not be edited through the copy.
    unsafe {
        if r != (*r).main {
            return DECLINED;
        }
        let Some(lcf) = AuthOidcModule::location_conf(&*r) else { return DECLINED };
        let mcf = AuthOidcModule::main_conf(&*r);
        // `auth_oidc $var`: the cookies of the provider the variable names for this request.
        let chosen = match (&lcf.auth, mcf) {
            (AuthSetting::Variable(_), Some(m)) => match choose::provider(crate::request::Request::from_raw(r), lcf, m) {
                choose::Choice::Provider(i) => Some(i),
                _ => None,
            },
            _ => lcf.cookie_provider,
        };
        let provider = match chosen.filter(|_| !lcf.pass_cookies()) {
            Some(i) => mcf.and_then(|m| m.providers.get(i)).map(|p| &**p),
            None => None,
        };
        if lcf.set_headers.is_empty() && provider.is_none() {
            return DECLINED;
        }
        match strip(r, lcf, provider) {
            Some(()) => DECLINED,
            None => nginx_sys::NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t,
        }
    }
}

/// Whether a cookie name is one of the provider's (session chunks, login states).
pub fn is_module_cookie(p: &Provider, name: &str) -> bool {
    let Some(rest) = name.strip_prefix(p.cookie_name.as_str()) else { return false };
    rest.is_empty()
        || rest.strip_prefix('_').is_some_and(|n| n.parse::<u8>().is_ok())
        || rest.starts_with("_state_")
}

/// Header names as CGI, FastCGI, uWSGI and SCGI upstreams see them (`HTTP_X_USER`):
/// case and `-` versus `_` do not count, so with `underscores_in_headers on` a client's
/// `X_User` is the configured `X-User` too.
fn same_header(a: &[u8], b: &[u8]) -> bool {
    let norm = |c: u8| if c == b'_' { b'-' } else { c.to_ascii_lowercase() };
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| norm(*x) == norm(*y))
}

/// # Safety
/// `r` must be a live main request.
unsafe fn strip(r: *mut ngx_http_request_t, lcf: &LocConf, p: Option<&Provider>) -> Option<()> {
    // SAFETY: `r` is live; header elements are only read here.
    let named = |h: *mut ngx_table_elt_t| unsafe {
        let key = ngx_util::bytes(&(*h).key);
        lcf.set_headers.iter().any(|s| same_header(key, s.name.as_bytes()))
    };
    let mut found = false;
    // SAFETY: as above.
    unsafe {
        ngx_util::each_header_in(r, |h| found |= named(h));
        if let Some(p) = p {
            found |= ngx_util::cookie_elements(r)
                .into_iter()
                .any(|h| cookie_header::iter_cookies(ngx_util::bytes(&(*h).value)).any(|(n, _)| is_module_cookie(p, n)));
        }
    }
    if !found {
        // The common case of a request without a session: nothing to keep, nothing to do.
        return Some(());
    }
    // SAFETY: nothing was changed yet, so the snapshot holds what the client sent.
    unsafe {
        header_snapshot::take(r)?;
        ngx_util::remove_headers_in(r, named)?;
        if let Some(p) = p {
            strip_module_cookies(r, p)?;
        }
    }
    Some(())
}

/// Rewrites each `Cookie` header without the provider's cookies (drops it when nothing
/// else is left).
///
/// # Safety
/// `r` must be a live main request.
unsafe fn strip_module_cookies(r: *mut ngx_http_request_t, p: &Provider) -> Option<()> {
    let mut emptied: Vec<*mut ngx_table_elt_t> = Vec::new();
    // SAFETY: the elements are the request's own, live for the request.
    unsafe {
        for h in ngx_util::cookie_elements(r) {
            let value = ngx_util::bytes(&(*h).value);
            if !cookie_header::iter_cookies(value).any(|(n, _)| is_module_cookie(p, n)) {
                continue;
            }
            let mut kept = String::new();
            for (n, v) in cookie_header::iter_cookies(value).filter(|(n, _)| !is_module_cookie(p, n)) {
                if !kept.is_empty() {
                    kept.push_str("; ");
                }
                kept.push_str(n);
                kept.push('=');
                kept.push_str(v);
            }
            if kept.is_empty() {
                emptied.push(h);
            } else {
                ngx_util::set_header_value(r, h, kept.as_bytes())?;
            }
        }
        if !emptied.is_empty() {
            ngx_util::remove_headers_in(r, |e| emptied.contains(&e))?;
        }
    }
    Some(())
}

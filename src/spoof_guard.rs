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

use nginx_sys::{ngx_conf_t, ngx_http_core_main_conf_t, ngx_http_handler_pt, ngx_http_request_t, ngx_int_t, NGX_DECLINED};
use ngx::core::Status;
use ngx::http::{HttpModuleMainConf, NgxHttpCoreModule};
use oidc_core::cookie_header;

use crate::conf::{AuthSetting, LocConf, Provider};
use crate::handler::choose;
use crate::request::Request;

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
    // SAFETY: nginx calls phase handlers with a live request, on its thread, before any
    // response header is sent.
    preaccess(unsafe { Request::from_raw(r) })
}

fn preaccess(r: Request<'_>) -> ngx_int_t {
    const DECLINED: ngx_int_t = NGX_DECLINED as ngx_int_t;
    // Subrequests share the main request's header list (a copy of its head): it was
    // cleaned when the main request passed here, and must not be edited through the copy.
    if r.is_subrequest() {
        return DECLINED;
    }
    let Some(lcf) = r.loc_conf() else { return DECLINED };
    let mcf = r.main_conf();
    // `auth_oidc $var`: the cookies of the provider the variable names for this request.
    let chosen = match (&lcf.auth, mcf) {
        (AuthSetting::Variable(_), Some(m)) => match choose::provider(r, lcf, m) {
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

fn strip(r: Request<'_>, lcf: &LocConf, p: Option<&Provider>) -> Option<()> {
    let named = |key: &[u8]| lcf.set_headers.iter().any(|s| same_header(key, s.name.as_bytes()));
    let has_module_cookie = |value: &[u8]| match p {
        Some(p) => cookie_header::iter_cookies(value).any(|(n, _)| is_module_cookie(p, n)),
        None => false,
    };
    let found = r.any_header_named(named) || r.cookie_headers().into_iter().any(has_module_cookie);
    if !found {
        // The common case of a request without a session: nothing to keep, nothing to do.
        return Some(());
    }
    // Nothing was changed yet, so the snapshot holds what the client sent.
    r.snapshot_headers()?;
    r.remove_headers_named(named)?;
    if let Some(p) = p {
        // Each Cookie header without the provider's cookies (dropped when nothing else is
        // left).
        r.rewrite_cookie_headers(|value| {
            if !has_module_cookie(value) {
                return None;
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
            Some(kept)
        })?;
    }
    Some(())
}

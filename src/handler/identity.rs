//! What the upstream receives about the user: `auth_oidc_set_header` headers (any copy
//! the client sent under those names removed first, so a client cannot pose as someone),
//! and the Cookie header without the module's own cookies.

use nginx_sys::{ngx_http_request_t, ngx_str_t, ngx_table_elt_t, NGX_OK};
use oidc_core::cookie_header;

use crate::conf::{LocConf, Provider};
use crate::ngx_util;

/// # Safety
/// `r` must be the live main request, in its access phase, with its identity (if any)
/// already in its context (the header values may use `$oidc_*` variables).
pub unsafe fn apply(r: *mut ngx_http_request_t, lcf: &LocConf, p: &Provider) -> Option<()> {
    for h in &lcf.set_headers {
        let name = h.name.as_bytes();
        ngx_util::remove_headers_in(r, |e| ngx_util::bytes(&(*e).key).eq_ignore_ascii_case(name))?;
        let mut value = ngx_str_t { len: 0, data: core::ptr::null_mut() };
        if nginx_sys::ngx_http_complex_value(r, h.value, &mut value) != NGX_OK as nginx_sys::ngx_int_t {
            return None;
        }
        // An empty value (no such claim, anonymous request) sets no header at all.
        if value.len > 0 {
            ngx_util::push_header_in(r, name, ngx_util::bytes(&value))?;
        }
    }
    if !lcf.pass_cookies() {
        strip_module_cookies(r, p)?;
    }
    Some(())
}

/// Whether a cookie name is one of the provider's (session chunks, login states).
fn is_module_cookie(p: &Provider, name: &str) -> bool {
    let Some(rest) = name.strip_prefix(p.cookie_name.as_str()) else { return false };
    rest.is_empty()
        || rest.strip_prefix('_').is_some_and(|n| n.parse::<u8>().is_ok())
        || rest.starts_with("_state_")
}

unsafe fn strip_module_cookies(r: *mut ngx_http_request_t, p: &Provider) -> Option<()> {
    let mut emptied: Vec<*mut ngx_table_elt_t> = Vec::new();
    for h in ngx_util::cookie_elements(r) {
        let value = ngx_util::bytes(&(*h).value);
        if cookie_header::iter_cookies(value).any(|(n, _)| is_module_cookie(p, n)) {
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
    }
    if !emptied.is_empty() {
        ngx_util::remove_headers_in(r, |e| emptied.contains(&e))?;
    }
    Some(())
}

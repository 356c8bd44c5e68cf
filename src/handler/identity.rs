//! What the upstream receives about the user: `auth_oidc_set_header` headers. The
//! client's own copies of them, and of the module's cookies, were removed before the
//! access phase (`spoof_guard`); removing the names again here costs little and keeps
//! this function right on its own.

use nginx_sys::{ngx_http_request_t, ngx_str_t, NGX_OK};

use crate::conf::{LocConf, Provider};
use crate::ngx_util;

/// # Safety
/// `r` must be the live main request, in its access phase, with its identity (if any)
/// already in its context (the header values may use `$oidc_*` variables).
pub unsafe fn apply(r: *mut ngx_http_request_t, lcf: &LocConf, _p: &Provider) -> Option<()> {
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
    Some(())
}

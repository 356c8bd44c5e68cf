//! Location-level settings besides `auth_oidc` itself: what to do without a session,
//! the identity headers for the upstream, and whether the module's cookies go upstream.

use core::ffi::{c_char, c_void};

use nginx_sys::{ngx_command_t, ngx_conf_t, ngx_http_complex_value_t};
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};

use super::{values, LocConf};

/// `auth_oidc_unauth_action` (the name of lua-resty-openidc's `unauth_action` option).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UnauthAction {
    /// Redirect browser navigations to the OP; 401 for scripts and non-GET requests.
    #[default]
    Auto,
    Redirect,
    /// 401 always.
    Deny,
    /// Let the request through as anonymous.
    Pass,
}

/// One `auth_oidc_set_header NAME VALUE;`: the value is compiled once, evaluated per request.
#[derive(Clone, Debug)]
pub struct SetHeader {
    pub name: String,
    pub value: *mut ngx_http_complex_value_t,
}

guarded! { pub fn cmd_unauth_action(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char = cmd_unauth_action_body, on_panic ngx::core::NGX_CONF_ERROR; }
/// `auth_oidc_unauth_action auto | redirect | deny | pass;`
fn cmd_unauth_action_body(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes the parsing context and our location conf.
    let (cf, lcf) = unsafe { (&mut *cf, &mut *conf.cast::<LocConf>()) };
    if lcf.unauth_action.is_some() {
        conf_emerg!(cf, "\"auth_oidc_unauth_action\" directive is duplicate");
        return NGX_CONF_ERROR;
    }
    let args = values::args(cf);
    lcf.unauth_action = Some(match args[1] {
        b"auto" => UnauthAction::Auto,
        b"redirect" => UnauthAction::Redirect,
        b"deny" => UnauthAction::Deny,
        b"pass" => UnauthAction::Pass,
        other => {
            conf_emerg!(
                cf,
                "\"auth_oidc_unauth_action\": invalid value \"{}\", it must be auto, redirect, deny or pass",
                String::from_utf8_lossy(other)
            );
            return NGX_CONF_ERROR;
        }
    });
    NGX_CONF_OK
}

guarded! { pub fn cmd_pass_cookies(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char = cmd_pass_cookies_body, on_panic ngx::core::NGX_CONF_ERROR; }
/// `auth_oidc_pass_cookies on | off;`
fn cmd_pass_cookies_body(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: as above.
    let (cf, lcf) = unsafe { (&mut *cf, &mut *conf.cast::<LocConf>()) };
    if lcf.pass_cookies.is_some() {
        conf_emerg!(cf, "\"auth_oidc_pass_cookies\" directive is duplicate");
        return NGX_CONF_ERROR;
    }
    match values::flag(values::args(cf)[1]) {
        Ok(v) => {
            lcf.pass_cookies = Some(v);
            NGX_CONF_OK
        }
        Err(e) => {
            conf_emerg!(cf, "\"auth_oidc_pass_cookies\": {e}");
            NGX_CONF_ERROR
        }
    }
}

guarded! { pub fn cmd_set_header(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char = cmd_set_header_body, on_panic ngx::core::NGX_CONF_ERROR; }
/// `auth_oidc_set_header NAME VALUE;`
fn cmd_set_header_body(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: as above.
    let (cf, lcf) = unsafe { (&mut *cf, &mut *conf.cast::<LocConf>()) };
    let args = values::args(cf);
    let name = String::from_utf8_lossy(args[1]).into_owned();
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        conf_emerg!(cf, "\"auth_oidc_set_header\": invalid header name \"{name}\"");
        return NGX_CONF_ERROR;
    }
    if ["host", "cookie", "content-length", "transfer-encoding", "connection"].iter().any(|h| name.eq_ignore_ascii_case(h)) {
        conf_emerg!(cf, "\"auth_oidc_set_header\": the \"{name}\" header cannot be set this way");
        return NGX_CONF_ERROR;
    }
    if lcf.set_headers.iter().any(|h| h.name.eq_ignore_ascii_case(&name)) {
        conf_emerg!(cf, "\"auth_oidc_set_header\": \"{name}\" is set twice");
        return NGX_CONF_ERROR;
    }
    let Some(value) = values::complex_value(cf, 2) else { return NGX_CONF_ERROR };
    lcf.set_headers.push(SetHeader { name, value });
    lcf.set_headers_here = true;
    NGX_CONF_OK
}

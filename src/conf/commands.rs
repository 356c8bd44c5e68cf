//! The directive table and the handlers of the http/server/location-level directives.

use core::ffi::{c_char, c_void};
use core::ptr;

use nginx_sys::{
    ngx_command_t, ngx_conf_t, ngx_str_t, ngx_uint_t, NGX_CONF_1MORE, NGX_CONF_BLOCK, NGX_CONF_NOARGS, NGX_CONF_TAKE1, NGX_CONF_TAKE2, NGX_CONF_TAKE3, NGX_HTTP_LOC_CONF,
    NGX_HTTP_LMT_CONF, NGX_HTTP_LOC_CONF_OFFSET, NGX_HTTP_MAIN_CONF, NGX_HTTP_MAIN_CONF_OFFSET, NGX_HTTP_SRV_CONF,
};
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::ngx_string;

use super::provider_block::cmd_oidc_provider;
use super::{bearer_conf, location, values, AuthSetting, LocConf, MainConf};

type Handler = extern "C" fn(*mut ngx_conf_t, *mut ngx_command_t, *mut c_void) -> *mut c_char;

/// A directive of the http block (its handler gets the main conf).
const fn http_cmd(name: ngx_str_t, args: u32, set: Handler) -> ngx_command_t {
    command(name, NGX_HTTP_MAIN_CONF | args, NGX_HTTP_MAIN_CONF_OFFSET, set)
}

/// A directive of http, server and location (its handler gets the location conf).
const fn loc_cmd(name: ngx_str_t, args: u32, set: Handler) -> ngx_command_t {
    command(name, NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | args, NGX_HTTP_LOC_CONF_OFFSET, set)
}

/// As `loc_cmd`, also inside `limit_except`.
const fn lmt_cmd(name: ngx_str_t, args: u32, set: Handler) -> ngx_command_t {
    loc_cmd(name, NGX_HTTP_LMT_CONF | args, set)
}

const fn command(name: ngx_str_t, type_: u32, conf: ngx_uint_t, set: Handler) -> ngx_command_t {
    ngx_command_t { name, type_: type_ as ngx_uint_t, set: Some(set), conf, offset: 0, post: ptr::null_mut() }
}

pub static mut COMMANDS: [ngx_command_t; 16] = [
    http_cmd(ngx_string!("oidc_provider"), NGX_CONF_BLOCK | NGX_CONF_TAKE1, cmd_oidc_provider),
    http_cmd(ngx_string!("oidc_shared_zone"), NGX_CONF_TAKE1, cmd_oidc_shared_zone),
    loc_cmd(ngx_string!("auth_oidc"), NGX_CONF_TAKE1, cmd_auth_oidc),
    lmt_cmd(ngx_string!("auth_oidc_unauth_action"), NGX_CONF_TAKE1, location::cmd_unauth_action),
    loc_cmd(ngx_string!("auth_oidc_set_header"), NGX_CONF_TAKE2, location::cmd_set_header),
    loc_cmd(ngx_string!("auth_oidc_pass_cookies"), NGX_CONF_TAKE1, location::cmd_pass_cookies),
    lmt_cmd(ngx_string!("auth_oidc_bearer"), NGX_CONF_TAKE1, bearer_conf::cmd_bearer),
    loc_cmd(ngx_string!("auth_oidc_token_header"), NGX_CONF_TAKE1, bearer_conf::cmd_token_header),
    loc_cmd(ngx_string!("auth_oidc_token_cookie"), NGX_CONF_TAKE1, bearer_conf::cmd_token_cookie),
    lmt_cmd(ngx_string!("auth_oidc_audience"), NGX_CONF_1MORE, bearer_conf::cmd_audience),
    loc_cmd(ngx_string!("auth_oidc_introspect"), NGX_CONF_TAKE1, bearer_conf::cmd_introspect),
    loc_cmd(ngx_string!("auth_oidc_require_at_jwt"), NGX_CONF_TAKE1, bearer_conf::cmd_require_at_jwt),
    lmt_cmd(ngx_string!("auth_oidc_scope"), NGX_CONF_1MORE, bearer_conf::cmd_scope),
    lmt_cmd(ngx_string!("auth_oidc_claim"), NGX_CONF_TAKE3, bearer_conf::cmd_claim),
    command(ngx_string!("auth_oidc_metrics"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS, NGX_HTTP_LOC_CONF_OFFSET, crate::metrics::cmd_auth_oidc_metrics),
    ngx_command_t::empty(),
];

guarded! { fn cmd_oidc_shared_zone(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char = cmd_oidc_shared_zone_body, on_panic ngx::core::NGX_CONF_ERROR; }
/// `oidc_shared_zone zone=NAME:SIZE;`
fn cmd_oidc_shared_zone_body(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes the parsing context and our main conf.
    let (cf, mcf) = unsafe { (&mut *cf, &mut *conf.cast::<MainConf>()) };
    let args = values::args(cf);
    match mcf.zone.configure(args[1]) {
        Ok(()) => NGX_CONF_OK,
        Err(msg) => {
            conf_emerg!(cf, "oidc_shared_zone: {msg}");
            NGX_CONF_ERROR
        }
    }
}

guarded! { fn cmd_auth_oidc(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char = cmd_auth_oidc_body, on_panic ngx::core::NGX_CONF_ERROR; }
/// `auth_oidc NAME | off;`, NAME possibly with variables.
fn cmd_auth_oidc_body(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes the parsing context and our location conf.
    let (cf, lcf) = unsafe { (&mut *cf, &mut *conf.cast::<LocConf>()) };
    if !matches!(lcf.auth, AuthSetting::Unset) {
        conf_emerg!(cf, "\"auth_oidc\" directive is duplicate");
        return NGX_CONF_ERROR;
    }
    let args = values::args(cf);
    lcf.auth = if args[1] == b"off" {
        AuthSetting::Off
    } else if args[1].contains(&b'$') {
        let Some(cv) = values::complex_value(cf, 1) else { return NGX_CONF_ERROR };
        AuthSetting::Variable(cv)
    } else {
        AuthSetting::Named {
            name: String::from_utf8_lossy(args[1]).into_owned(),
            place: values::place(cf),
        }
    };
    NGX_CONF_OK
}

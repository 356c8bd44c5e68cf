//! Location-level settings of resource-server mode (bearer tokens).

use core::ffi::{c_char, c_void};

use nginx_sys::{ngx_command_t, ngx_conf_t};
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use oidc_core::authz_rules::{self, ClaimRule, Requirements};

use super::{values, LocConf};

/// `auth_oidc_bearer off | on | only`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BearerMode {
    #[default]
    Off,
    /// A token decides when present; otherwise the browser session.
    On,
    /// A token is required; no sessions.
    Only,
}

/// `auth_oidc_introspect auto | always | off`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Introspect {
    /// JWTs locally, other tokens by introspection.
    #[default]
    Auto,
    Always,
    Off,
}

/// Everything `auth_oidc_bearer` and its companions say for a location; each field
/// unset (None / empty) inherits from the enclosing level.
#[derive(Clone, Debug, Default)]
pub struct BearerConf {
    pub mode: Option<BearerMode>,
    /// "FILE:LINE" of the `auth_oidc_bearer` that set `mode`, for errors found when merging.
    pub mode_place: Option<String>,
    pub token_header: Option<String>,
    pub token_cookie: Option<String>,
    /// Some(empty): `auth_oidc_audience off`.
    pub audiences: Option<Vec<String>>,
    pub introspect: Option<Introspect>,
    pub require_at_jwt: Option<bool>,
    pub scopes: Option<Vec<String>>,
    pub claims: Vec<ClaimRule>,
    pub claims_here: bool,
    /// `scopes` and `claims` together, built once when merging.
    pub requirements: Requirements,
}

impl BearerConf {
    pub fn mode(&self) -> BearerMode {
        self.mode.unwrap_or_default()
    }

    pub fn merge(&mut self, prev: &BearerConf) {
        macro_rules! inherit {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = prev.$f.clone(); } )* };
        }
        inherit!(mode, mode_place, token_header, token_cookie, audiences, introspect, require_at_jwt, scopes);
        if !self.claims_here {
            self.claims = prev.claims.clone();
        }
        self.requirements = Requirements { scopes: self.scopes.clone().unwrap_or_default(), claims: self.claims.clone() };
    }

    /// What makes two locations' judgements of the same token differ: part of the
    /// cache key, so a token accepted for one audience is not taken as valid for another.
    pub fn cache_namespace(&self, provider: &str) -> String {
        format!(
            "{provider}\n{:?}\n{:?}\n{:?}",
            self.audiences.as_deref().unwrap_or_default(),
            self.introspect.unwrap_or_default(),
            self.require_at_jwt.unwrap_or(false)
        )
    }
}

fn lcf<'a>(cf: *mut ngx_conf_t, conf: *mut c_void) -> (&'a mut ngx_conf_t, &'a mut LocConf) {
    // SAFETY: nginx passes the parsing context and our location conf.
    unsafe { (&mut *cf, &mut *conf.cast::<LocConf>()) }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

macro_rules! once {
    ($cf:expr, $field:expr, $name:literal) => {
        if $field.is_some() {
            conf_emerg!($cf, concat!("\"", $name, "\" directive is duplicate"));
            return NGX_CONF_ERROR;
        }
    };
}

guarded! { pub fn cmd_bearer(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char = cmd_bearer_body, on_panic ngx::core::NGX_CONF_ERROR; }
fn cmd_bearer_body(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    let (cf, lcf) = lcf(cf, conf);
    once!(cf, lcf.bearer.mode, "auth_oidc_bearer");
    lcf.bearer.mode_place = Some(values::place(cf));
    lcf.bearer.mode = Some(match values::args(cf)[1] {
        b"off" => BearerMode::Off,
        b"on" => BearerMode::On,
        b"only" => BearerMode::Only,
        other => {
            conf_emerg!(cf, "\"auth_oidc_bearer\": invalid value \"{}\", it must be off, on or only", text(other));
            return NGX_CONF_ERROR;
        }
    });
    NGX_CONF_OK
}

guarded! { pub fn cmd_token_header(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char = cmd_token_header_body, on_panic ngx::core::NGX_CONF_ERROR; }
fn cmd_token_header_body(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    let (cf, lcf) = lcf(cf, conf);
    once!(cf, lcf.bearer.token_header, "auth_oidc_token_header");
    let name = text(values::args(cf)[1]);
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        conf_emerg!(cf, "\"auth_oidc_token_header\": invalid header name \"{name}\"");
        return NGX_CONF_ERROR;
    }
    lcf.bearer.token_header = Some(name);
    NGX_CONF_OK
}

guarded! { pub fn cmd_token_cookie(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char = cmd_token_cookie_body, on_panic ngx::core::NGX_CONF_ERROR; }
fn cmd_token_cookie_body(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    let (cf, lcf) = lcf(cf, conf);
    once!(cf, lcf.bearer.token_cookie, "auth_oidc_token_cookie");
    let name = text(values::args(cf)[1]);
    if name.is_empty() || name.contains([';', '=', ' ', ',']) {
        conf_emerg!(cf, "\"auth_oidc_token_cookie\": invalid cookie name \"{name}\"");
        return NGX_CONF_ERROR;
    }
    lcf.bearer.token_cookie = Some(name);
    NGX_CONF_OK
}

guarded! { pub fn cmd_audience(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char = cmd_audience_body, on_panic ngx::core::NGX_CONF_ERROR; }
fn cmd_audience_body(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    let (cf, lcf) = lcf(cf, conf);
    once!(cf, lcf.bearer.audiences, "auth_oidc_audience");
    let args = values::args(cf);
    lcf.bearer.audiences = Some(if args.len() == 2 && args[1] == b"off" {
        Vec::new()
    } else {
        args[1..].iter().map(|a| text(a)).collect()
    });
    NGX_CONF_OK
}

guarded! { pub fn cmd_introspect(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char = cmd_introspect_body, on_panic ngx::core::NGX_CONF_ERROR; }
fn cmd_introspect_body(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    let (cf, lcf) = lcf(cf, conf);
    once!(cf, lcf.bearer.introspect, "auth_oidc_introspect");
    lcf.bearer.introspect = Some(match values::args(cf)[1] {
        b"auto" => Introspect::Auto,
        b"always" => Introspect::Always,
        b"off" => Introspect::Off,
        other => {
            conf_emerg!(cf, "\"auth_oidc_introspect\": invalid value \"{}\", it must be auto, always or off", text(other));
            return NGX_CONF_ERROR;
        }
    });
    NGX_CONF_OK
}

guarded! { pub fn cmd_require_at_jwt(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char = cmd_require_at_jwt_body, on_panic ngx::core::NGX_CONF_ERROR; }
fn cmd_require_at_jwt_body(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    let (cf, lcf) = lcf(cf, conf);
    once!(cf, lcf.bearer.require_at_jwt, "auth_oidc_require_at_jwt");
    match values::flag(values::args(cf)[1]) {
        Ok(v) => {
            lcf.bearer.require_at_jwt = Some(v);
            NGX_CONF_OK
        }
        Err(e) => {
            conf_emerg!(cf, "\"auth_oidc_require_at_jwt\": {e}");
            NGX_CONF_ERROR
        }
    }
}

guarded! { pub fn cmd_scope(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char = cmd_scope_body, on_panic ngx::core::NGX_CONF_ERROR; }
fn cmd_scope_body(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    let (cf, lcf) = lcf(cf, conf);
    once!(cf, lcf.bearer.scopes, "auth_oidc_scope");
    let joined = values::args(cf)[1..].iter().map(|a| text(a)).collect::<Vec<_>>().join(" ");
    match authz_rules::parse_scopes(&joined) {
        Ok(s) => {
            lcf.bearer.scopes = Some(s);
            NGX_CONF_OK
        }
        Err(e) => {
            conf_emerg!(cf, "\"auth_oidc_scope\": {e}");
            NGX_CONF_ERROR
        }
    }
}

guarded! { pub fn cmd_claim(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char = cmd_claim_body, on_panic ngx::core::NGX_CONF_ERROR; }
fn cmd_claim_body(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
    let (cf, lcf) = lcf(cf, conf);
    let args: Vec<String> = values::args(cf)[1..].iter().map(|a| text(a)).collect();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    match ClaimRule::parse(&refs) {
        Ok(rule) => {
            lcf.bearer.claims.push(rule);
            lcf.bearer.claims_here = true;
            NGX_CONF_OK
        }
        Err(e) => {
            conf_emerg!(cf, "\"auth_oidc_claim\": {e}");
            NGX_CONF_ERROR
        }
    }
}

//! The `$oidc_*` variables: who the module let through, for `proxy_set_header`,
//! `auth_oidc_set_header`, `add_header`, `map`, `log_format`, `if`.
//!
//! Values are computed only when a configuration uses them (nginx calls a variable's
//! handler on use), from the identity the access handler put in the main request's
//! context. They are not cacheable: a variable read before the access phase (in `if`
//! at the server level, say) must not stick for the rest of the request.


use nginx_sys::{
    ngx_conf_t, ngx_http_request_t, ngx_http_variable_value_t, ngx_int_t, ngx_str_t, ngx_uint_t, NGX_ERROR,
    NGX_HTTP_VAR_NOCACHEABLE, NGX_HTTP_VAR_PREFIX, NGX_OK,
};
use ngx::core::Status;
use oidc_core::claims_view;
use std::rc::Rc;

use crate::req_ctx::{CtxCell, existing_ctx, request_ctx, Identity};

const CLAIM_PREFIX: &str = "oidc_claim_";

type Getter = unsafe extern "C" fn(*mut ngx_http_request_t, *mut ngx_http_variable_value_t, usize) -> ngx_int_t;

struct Var {
    name: &'static str,
    get: Getter,
    data: usize,
    prefix: bool,
}

const ID_TOKEN: usize = 1;
const ACCESS_TOKEN: usize = 2;
const USERINFO: usize = 3;

static VARS: &[Var] = &[
    Var { name: CLAIM_PREFIX, get: get_claim, data: 0, prefix: true },
    Var { name: "oidc_id_token", get: get_token, data: ID_TOKEN, prefix: false },
    Var { name: "oidc_access_token", get: get_token, data: ACCESS_TOKEN, prefix: false },
    Var { name: "oidc_userinfo", get: get_token, data: USERINFO, prefix: false },
    Var { name: "oidc_authenticated", get: get_authenticated, data: 0, prefix: false },
    Var { name: "oidc_auth_type", get: get_auth_type, data: 0, prefix: false },
];

/// Registers the variables (preconfiguration).
pub fn register(cf: &mut ngx_conf_t) -> Status {
    for v in VARS {
        let mut name = ngx_str_t { len: v.name.len(), data: v.name.as_ptr().cast_mut() };
        let flags = NGX_HTTP_VAR_NOCACHEABLE | if v.prefix { NGX_HTTP_VAR_PREFIX } else { 0 };
        // SAFETY: called during configuration with a valid cf; nginx copies the name.
        let var = unsafe { nginx_sys::ngx_http_add_variable(cf, &mut name, flags as ngx_uint_t) };
        if var.is_null() {
            return Status::NGX_ERROR;
        }
        // SAFETY: var points to the variable nginx just added.
        unsafe {
            (*var).get_handler = Some(v.get);
            (*var).data = v.data;
        }
    }
    Status::NGX_OK
}

unsafe fn identity(r: *mut ngx_http_request_t) -> Option<Rc<Identity>> {
    let main = (*r).main;
    if let Some(cell) = existing_ctx(main) {
        let Some(ctx) = cell.borrow() else {
            // Read while a handler of this request holds its context (a bug): no value
            // rather than a second `&mut` to it.
            ngx_log!(alert, (*(*r).connection).log, "auth_oidc: internal: a variable was read while the request context is in use");
            return None;
        };
        if ctx.identity.is_some() || ctx.probed {
            return ctx.identity.clone();
        }
    }
    // Read before the access phase (`if` in a location runs in the rewrite phase): look
    // at the session cookie now, as the access phase will.
    // SAFETY: main is the live main request of the variable's request, on this thread;
    // the probe only reads it (a variable may be read after the header is sent).
    let identity = crate::handler::probe_session(crate::request::Request::from_raw(main));
    let mut ctx = request_ctx(main).and_then(CtxCell::borrow)?;
    ctx.probed = true;
    ctx.identity = identity;
    ctx.identity.clone()
}

/// Sets a variable's value, with every control character (CR, LF, NUL, ...) replaced by
/// a space: claim values come from the OP, often from what users typed into their
/// profile, and go into request headers (`proxy_set_header X-Name $oidc_claim_name`),
/// where a CR LF would start a header of the user's choosing.
unsafe fn set_value(r: *mut ngx_http_request_t, v: *mut ngx_http_variable_value_t, s: &[u8]) -> ngx_int_t {
    let p = nginx_sys::ngx_pnalloc((*r).pool, s.len().max(1)).cast::<u8>();
    if p.is_null() {
        return NGX_ERROR as ngx_int_t;
    }
    for (i, &b) in s.iter().enumerate() {
        *p.add(i) = if b < 0x20 || b == 0x7f { b' ' } else { b };
    }
    (*v).data = p;
    (*v).set_len(s.len() as u32);
    (*v).set_valid(1);
    (*v).set_no_cacheable(1);
    (*v).set_not_found(0);
    NGX_OK as ngx_int_t
}

unsafe fn not_found(v: *mut ngx_http_variable_value_t) -> ngx_int_t {
    (*v).set_not_found(1);
    (*v).set_valid(0);
    NGX_OK as ngx_int_t
}

guarded! { fn get_claim(r: *mut ngx_http_request_t, v: *mut ngx_http_variable_value_t, data: usize) -> ngx_int_t = get_claim_body, on_panic nginx_sys::NGX_ERROR as nginx_sys::ngx_int_t; }
/// `$oidc_claim_NAME`; `data` points to the variable's full name.
unsafe fn get_claim_body(r: *mut ngx_http_request_t, v: *mut ngx_http_variable_value_t, data: usize) -> ngx_int_t {
    let name = &*(data as *const ngx_str_t);
    let full = crate::ngx_util::bytes(name);
    let Some(claim) = full.get(CLAIM_PREFIX.len()..).and_then(|b| core::str::from_utf8(b).ok()) else {
        return not_found(v);
    };
    let Some(id) = identity(r) else { return not_found(v) };
    match claims_view::lookup(&id.claims, claim).and_then(claims_view::display) {
        Some(text) => set_value(r, v, text.as_bytes()),
        None => not_found(v),
    }
}

guarded! { fn get_token(r: *mut ngx_http_request_t, v: *mut ngx_http_variable_value_t, data: usize) -> ngx_int_t = get_token_body, on_panic nginx_sys::NGX_ERROR as nginx_sys::ngx_int_t; }
unsafe fn get_token_body(r: *mut ngx_http_request_t, v: *mut ngx_http_variable_value_t, data: usize) -> ngx_int_t {
    let Some(id) = identity(r) else { return not_found(v) };
    let value = match data {
        ID_TOKEN => id.id_token.as_deref(),
        ACCESS_TOKEN => id.access_token.as_deref(),
        _ => id.userinfo.as_deref(),
    };
    match value {
        Some(s) => set_value(r, v, s.as_bytes()),
        None => not_found(v),
    }
}

guarded! { fn get_authenticated(r: *mut ngx_http_request_t, v: *mut ngx_http_variable_value_t, _data: usize) -> ngx_int_t = get_authenticated_body, on_panic nginx_sys::NGX_ERROR as nginx_sys::ngx_int_t; }
unsafe fn get_authenticated_body(r: *mut ngx_http_request_t, v: *mut ngx_http_variable_value_t, _data: usize) -> ngx_int_t {
    let yes = identity(r).is_some();
    set_value(r, v, if yes { b"1" } else { b"0" })
}

guarded! { fn get_auth_type(r: *mut ngx_http_request_t, v: *mut ngx_http_variable_value_t, _data: usize) -> ngx_int_t = get_auth_type_body, on_panic nginx_sys::NGX_ERROR as nginx_sys::ngx_int_t; }
unsafe fn get_auth_type_body(r: *mut ngx_http_request_t, v: *mut ngx_http_variable_value_t, _data: usize) -> ngx_int_t {
    let kind = identity(r).map_or("", |id| id.kind);
    set_value(r, v, kind.as_bytes())
}

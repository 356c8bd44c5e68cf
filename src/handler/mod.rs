//! The access-phase handler: decides, before `proxy_pass` runs, whether a request may
//! pass, must log in, or gets an error.

mod login_redirect;

use nginx_sys::{
    ngx_conf_t, ngx_http_core_main_conf_t, ngx_http_handler_pt, ngx_http_request_t, ngx_int_t,
    NGX_DECLINED, NGX_DONE,
};
use ngx::core::Status;
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf, NgxHttpCoreModule};

use crate::bridge::waiters;
use crate::cache::documents::{self, Doc};
use crate::conf::AuthSetting;
use crate::AuthOidcModule;

pub fn register(cf: &mut ngx_conf_t) -> Status {
    let Some(cmcf) = NgxHttpCoreModule::main_conf_mut(cf) else {
        return Status::NGX_ERROR;
    };
    let cmcf: &mut ngx_http_core_main_conf_t = cmcf;
    // SAFETY: the phase handler arrays exist during postconfiguration.
    unsafe {
        let h = nginx_sys::ngx_array_push(&mut cmcf.phases[nginx_sys::ngx_http_phases_NGX_HTTP_ACCESS_PHASE as usize].handlers)
            .cast::<ngx_http_handler_pt>();
        if h.is_null() {
            return Status::NGX_ERROR;
        }
        *h = Some(access_handler);
    }
    Status::NGX_OK
}

unsafe extern "C" fn access_handler(r: *mut ngx_http_request_t) -> ngx_int_t {
    let Some(lcf) = AuthOidcModule::location_conf(&*r) else { return NGX_DECLINED as ngx_int_t };
    let AuthSetting::Provider(pidx) = lcf.auth else { return NGX_DECLINED as ngx_int_t };
    if waiters::is_waiting(r) {
        return NGX_DONE as ngx_int_t;
    }
    let Some(mcf) = AuthOidcModule::main_conf(&*r) else { return NGX_DECLINED as ngx_int_t };
    let p = &mcf.providers[pidx];
    let now = documents::ngx_now();

    if is_redirect_uri(r, p) {
        ngx_log!(
            err,
            (*(*r).connection).log,
            "auth_oidc: provider \"{}\": callback_unsupported: this build does not complete logins yet",
            p.name
        );
        return nginx_sys::NGX_HTTP_NOT_IMPLEMENTED as ngx_int_t;
    }

    match documents::discovery(p, pidx, now) {
        Doc::Pending(key) => waiters::suspend(r, key, watchdog_ms(p)),
        Doc::Failed(reason) => {
            ngx_log!(
                err,
                (*(*r).connection).log,
                "auth_oidc: provider \"{}\": {}: the OpenID Provider's configuration is unavailable, answering 502",
                p.name,
                reason
            );
            nginx_sys::NGX_HTTP_BAD_GATEWAY as ngx_int_t
        }
        Doc::Ready(meta) => login_redirect::start_login(r, p, &meta, now),
    }
}

/// Whether the request is the OP's answer at the provider's redirect URI.
unsafe fn is_redirect_uri(r: *mut ngx_http_request_t, p: &crate::conf::Provider) -> bool {
    let path = match p.redirect_uri.find("://") {
        None => p.redirect_uri.as_str(),
        Some(i) => {
            let rest = &p.redirect_uri[i + 3..];
            rest.find('/').map_or("/", |j| &rest[j..])
        }
    };
    crate::ngx_util::uri(r) == path.as_bytes()
}

/// The longest a request waits for the OP: a fetch of its own, or one of another
/// worker's followed by a re-check, each bounded by the provider's timeout.
fn watchdog_ms(p: &crate::conf::Provider) -> u64 {
    2 * p.timeout_ms + 3000
}

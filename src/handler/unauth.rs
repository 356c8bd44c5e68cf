//! A request without a (valid) session: send it to the OP to log in, answer 401, or let
//! it through anonymously, as `auth_oidc_unauth_action` says.

use nginx_sys::{ngx_http_request_t, ngx_int_t};
use oidc_core::request_kind::{self, RequestHints};

use super::{login_redirect, page, session, watchdog_ms};
use crate::bridge::waiters;
use crate::cache::documents::{self, Doc};
use crate::conf::{LocConf, Provider, UnauthAction};
use crate::ngx_util;

/// # Safety
/// `r` must be the live main request whose access handler is running.
pub unsafe fn handle(r: *mut ngx_http_request_t, lcf: &LocConf, pidx: usize, p: &Provider, now: i64, bad_cookie: bool) -> ngx_int_t {
    match lcf.unauth_action() {
        UnauthAction::Pass => super::pass(r, lcf, p),
        UnauthAction::Deny => challenge(r, p),
        UnauthAction::Redirect => redirect(r, pidx, p, now, bad_cookie),
        UnauthAction::Auto => {
            if request_kind::is_navigation(&hints(r)) {
                redirect(r, pidx, p, now, bad_cookie)
            } else {
                challenge(r, p)
            }
        }
    }
}

unsafe fn hints<'a>(r: *mut ngx_http_request_t) -> RequestHints<'a> {
    RequestHints {
        method: ngx_util::method(r),
        sec_fetch_mode: ngx_util::header_in(r, "Sec-Fetch-Mode"),
        sec_fetch_dest: ngx_util::header_in(r, "Sec-Fetch-Dest"),
        accept: ngx_util::header_in(r, "Accept"),
        x_requested_with: ngx_util::header_in(r, "X-Requested-With"),
    }
}

/// 401 with a challenge: scripts learn they must authenticate, and no redirect to a
/// login page they cannot follow.
///
/// # Safety
/// As for `handle`.
pub unsafe fn challenge(r: *mut ngx_http_request_t, p: &Provider) -> ngx_int_t {
    let value = format!("Bearer realm=\"{}\"", p.name);
    match ngx_util::add_header(r, "WWW-Authenticate", value.as_bytes()) {
        Some(h) => (*r).headers_out.www_authenticate = h,
        None => return nginx_sys::NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t,
    }
    nginx_sys::NGX_HTTP_UNAUTHORIZED as ngx_int_t
}

unsafe fn redirect(r: *mut ngx_http_request_t, pidx: usize, p: &Provider, now: i64, bad_cookie: bool) -> ngx_int_t {
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
            page::send(
                r,
                nginx_sys::NGX_HTTP_BAD_GATEWAY as usize,
                "Login unavailable",
                "The sign-in service cannot be reached right now. Please try again in a moment.",
            )
        }
        Doc::Ready(meta) => {
            if bad_cookie {
                // An expired or unreadable session: drop it so the browser stops sending it.
                let _ = session::clear(r, p, &session::jar(r));
            }
            login_redirect::start_login(r, p, &meta, now)
        }
    }
}

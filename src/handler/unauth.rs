//! A request without a (valid) session: send it to the OP to log in, answer 401, or let
//! it through anonymously, as `auth_oidc_unauth_action` says.

use nginx_sys::{ngx_http_request_t, ngx_int_t};
use oidc_core::request_kind::{self, RequestHints};

use super::{login_redirect, page, session, watchdog_ms};
use crate::bridge::waiters;
use crate::cache::documents::{self, Doc};
use crate::conf::{BearerMode, LocConf, Provider, UnauthAction};
use crate::ngx_util;

/// # Safety
/// `r` must be the live main request whose access handler is running.
pub unsafe fn handle(r: *mut ngx_http_request_t, lcf: &LocConf, pidx: usize, p: &Provider, now: i64, bad_cookie: bool) -> ngx_int_t {
    let action = lcf.unauth_action();
    // With bearer tokens accepted here, this is an API as well as a web app: a script
    // (anything but a browser navigation) gets a challenge, never a login page.
    if lcf.bearer.mode() == BearerMode::On && action != UnauthAction::Pass && !request_kind::is_navigation(&hints(r)) {
        return challenge(r, p);
    }
    match action {
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

/// 401 with a bare challenge: scripts learn they must authenticate, and get no
/// redirect to a login page they cannot follow.
///
/// # Safety
/// As for `handle`.
pub unsafe fn challenge(r: *mut ngx_http_request_t, p: &Provider) -> ngx_int_t {
    super::bearer::challenge(r, p, None, None, None)
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
            crate::metrics::login_redirect(pidx);
            login_redirect::start_login(r, p, &meta, now)
        }
    }
}

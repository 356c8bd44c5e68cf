//! Reading a request body (the login callback's form_post, the OP's back-channel
//! logout): nginx reads it asynchronously and calls back `body_read`; this file is the
//! FFI edge of that exchange.

use nginx_sys::{ngx_http_request_t, ngx_int_t};

use crate::req_ctx::{request_ctx, CtxCell};
use crate::request::Request;

/// Starts reading a request's form body (the login callback's form_post, the OP's
/// back-channel logout). None: complete now; otherwise what the access handler returns,
/// and the request continues when the body is in (see `body_read`).
pub fn start(r: Request<'_>) -> Option<ngx_int_t> {
    IN_READ.set(true);
    // SAFETY: Request's invariant: r is the live main request whose access handler is
    // running; body_read is the guarded entry point nginx calls when the body is in.
    let rc = unsafe { nginx_sys::ngx_http_read_client_request_body(r.raw(), Some(body_read)) };
    IN_READ.set(false);
    if rc == nginx_sys::NGX_OK as ngx_int_t {
        // Complete already (it came with the headers): the post handler ran inside the
        // call, and left the bookkeeping to us.
        if let Some(mut ctx) = r.ctx() {
            ctx.body_read = true;
        }
        return None;
    }
    if rc == nginx_sys::NGX_ERROR as ngx_int_t || rc >= nginx_sys::NGX_HTTP_SPECIAL_RESPONSE as ngx_int_t {
        return Some(rc);
    }
    match r.ctx() {
        Some(mut ctx) => ctx.body_pending = true,
        None => return Some(nginx_sys::NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t),
    }
    Some(nginx_sys::NGX_DONE as ngx_int_t)
}

thread_local! {
    /// Inside ngx_http_read_client_request_body: `start` does the bookkeeping.
    static IN_READ: core::cell::Cell<bool> = const { core::cell::Cell::new(false) };
}

guarded! { fn body_read(r: *mut ngx_http_request_t) = body_read_body; }
/// The body has been read (called by nginx, possibly from inside the read call).
unsafe fn body_read_body(r: *mut ngx_http_request_t) {
    let main = (*r).main;
    // ngx_http_read_client_request_body took a reference for the read; the request
    // goes on in the phase engine, which does not hand it back.
    (*main).set_count((*main).count() - 1);
    if IN_READ.get() {
        return;
    }
    let Some(mut ctx) = request_ctx(r).and_then(CtxCell::borrow) else { return };
    ctx.body_read = true;
    if ctx.body_pending {
        ctx.body_pending = false;
        // The access handler that the phase engine runs borrows the context itself.
        drop(ctx);
        nginx_sys::ngx_http_core_run_phases(r);
    }
}


//! Requests suspended until a document they need arrives.
//!
//! A suspended request is left exactly where nginx's own `limit_req` delay leaves one: the
//! access handler returns NGX_DONE, the phase engine stops, `read_event_handler` watches
//! for the client going away, and a watchdog timer on the write event bounds the wait
//! (it also keeps a gracefully exiting worker alive until the request is answered).
//! When the document arrives (or its fetch failed), `wake_all` re-runs the phase engine,
//! which calls the access handler again; it then finds the document in the cache.
//! If the client goes away first, nginx frees the request; the pool cleanup removes it
//! from here, so a late result touches nothing.
//!
//! Each suspension has a wait id, kept in the request's context and in the table
//! (`oidc_core::wait_table`); the table never identifies a suspension by its request
//! address, which nginx reuses. Every way out (delivery, watchdog, the pool's cleanup)
//! removes the id from both of the table's maps.

use std::cell::RefCell;

use nginx_sys::{ngx_http_request_t, ngx_int_t, NGX_DONE};
use oidc_core::wait_table::WaitTable;

use crate::req_ctx::{existing_ctx, request_ctx};
use crate::request::Request;

thread_local! {
    static TABLE: RefCell<WaitTable<*mut ngx_http_request_t>> = RefCell::new(WaitTable::default());
}

/// Suspends `r` until `wake_all(key)`; at most `watchdog_ms`, then 504. The caller is
/// the request's access handler, which returns what this returns (NGX_DONE).
pub fn suspend(req: Request<'_>, key: u64, watchdog_ms: u64) -> ngx_int_t {
    let r = req.raw();
    // SAFETY: Request's invariant: r is live for the call; the context lives in its pool.
    let Some(cell) = (unsafe { request_ctx(r) }) else {
        return nginx_sys::NGX_HTTP_INTERNAL_SERVER_ERROR as ngx_int_t;
    };
    if let Some(old) = cell.wait_id.take() {
        // Not expected (a waiting request's handler returns at once), but never leave
        // an old suspension listed.
        TABLE.with_borrow_mut(|t| t.remove(old));
    }
    cell.wait_id.set(Some(TABLE.with_borrow_mut(|t| t.add(key, r))));
    // SAFETY: Request's invariant: r is the live request whose access handler is running
    // on this thread; its connection and write event live as long as it does. The
    // handlers set here are guarded entry points (or nginx's own).
    unsafe {
        (*r).read_event_handler = Some(nginx_sys::ngx_http_test_reading);
        (*r).write_event_handler = Some(on_watchdog);
        let wev = (*(*r).connection).write;
        if (*wev).timer_set() != 0 {
            nginx_sys::ngx_del_timer(wev);
        }
        nginx_sys::ngx_add_timer(wev, watchdog_ms as nginx_sys::ngx_msec_t);
    }
    NGX_DONE as ngx_int_t
}

/// Resumes every request waiting on `key`.
pub fn wake_all(key: u64) {
    deliver(key, |_| {});
}

/// Hands something to every request still waiting on `key` (on the nginx thread, with
/// the request alive), then resumes it. Requests freed meanwhile are skipped.
pub fn deliver(key: u64, mut give: impl FnMut(&mut crate::req_ctx::ReqCtx)) {
    let ids = TABLE.with_borrow_mut(|t| t.take_key(key));
    for id in ids {
        // One at a time: resuming one request may have ended another of the list, whose
        // pool cleanup removed its id.
        let Some(r) = TABLE.with_borrow_mut(|t| t.remove(id)) else { continue };
        // SAFETY: the id was still in the table, so its request's pool (and the request)
        // is alive: the pool cleanup removes the id before the pool is freed.
        unsafe {
            let Some(cell) = existing_ctx(r).filter(|c| c.wait_id.get() == Some(id)) else { continue };
            cell.wait_id.set(None);
            // Nothing borrows a suspended request's state: its handler has returned.
            let Some(mut ctx) = cell.borrow() else { continue };
            give(&mut ctx);
            // The handler that resume runs borrows the context itself.
            drop(ctx);
            resume(r)
        };
    }
}

/// A key no document uses, for a job of one request.
pub fn job_key() -> u64 {
    thread_local! { static NEXT: core::cell::Cell<u64> = const { core::cell::Cell::new(1) }; }
    // Document keys are hashes; the top bit set and a counter cannot collide in practice.
    NEXT.with(|n| {
        let k = n.get();
        n.set(k + 1);
        (1 << 63) | k
    })
}

unsafe fn resume(r: *mut ngx_http_request_t) {
    let c = (*r).connection;
    if (*(*c).write).timer_set() != 0 {
        nginx_sys::ngx_del_timer((*c).write);
    }
    (*r).read_event_handler = Some(nginx_sys::ngx_http_block_reading);
    (*r).write_event_handler = Some(nginx_sys::ngx_http_core_run_phases);
    nginx_sys::ngx_http_core_run_phases(r);
    nginx_sys::ngx_http_run_posted_requests(c);
}

guarded! { fn on_watchdog(r: *mut ngx_http_request_t) = on_watchdog_body; }
/// The write event of a waiting request: only its watchdog timer matters.
unsafe fn on_watchdog_body(r: *mut ngx_http_request_t) {
    let wev = (*(*r).connection).write;
    if (*wev).timedout() == 0 {
        return;
    }
    (*wev).set_timedout(0);
    if let Some(id) = existing_ctx(r).and_then(|cell| cell.wait_id.take()) {
        TABLE.with_borrow_mut(|t| t.remove(id));
    }
    ngx_log!(
        err,
        (*(*r).connection).log,
        "auth_oidc: op_timeout: gave up waiting for the OpenID Provider, answering 504"
    );
    (*r).read_event_handler = Some(nginx_sys::ngx_http_block_reading);
    nginx_sys::ngx_http_finalize_request(r, nginx_sys::NGX_HTTP_GATEWAY_TIME_OUT as ngx_int_t);
}

/// The request's pool is being destroyed: forget its suspension, if any.
pub fn forget(wait_id: Option<u64>) {
    if let Some(id) = wait_id {
        TABLE.with_borrow_mut(|t| t.remove(id));
    }
}

/// Whether the request is suspended (its handler should not run twice meanwhile).
pub fn is_waiting(req: Request<'_>) -> bool {
    // SAFETY: Request's invariant: r is live for the call; the context lives in its pool.
    let id = unsafe { existing_ctx(req.raw()) }.and_then(|cell| cell.wait_id.get());
    id.is_some_and(|id| TABLE.with_borrow(|t| t.contains(id)))
}

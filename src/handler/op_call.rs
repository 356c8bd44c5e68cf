//! One request to the OP on behalf of one browser request: submitted to the runtime
//! thread, the browser request suspended meanwhile; the answer is put into the request's
//! context and the request resumed. A request that died meanwhile never sees it.

use nginx_sys::{ngx_http_request_t, ngx_int_t};

use crate::bridge::{self, waiters, OpCall, Outcome, Work};

/// # Safety
/// `r` must be the live request whose access handler is running.
pub unsafe fn call_and_wait(r: *mut ngx_http_request_t, provider: usize, call: OpCall, watchdog_ms: u64) -> Option<ngx_int_t> {
    let key = waiters::job_key();
    let submitted = bridge::submit(Work::Call { provider, call }, move |outcome: Outcome| {
        let mut outcome = Some(outcome);
        waiters::deliver(key, |ctx| ctx.outcome = outcome.take());
    });
    if !submitted {
        return None;
    }
    Some(waiters::suspend(r, key, watchdog_ms))
}

//! One request to the OP on behalf of one browser request: submitted to the runtime
//! thread, the browser request suspended meanwhile; the answer is put into the request's
//! context and the request resumed. A request that died meanwhile never sees it.
//!
//! Clients can cause these calls without being authenticated (an opaque token to
//! introspect, a replayed callback, a cookie to refresh), so each worker admits at most
//! `max_op_calls` of them per provider at a time; the next answers 503 at once (log
//! `op_busy`) instead of queueing without bound. A call counts until its answer arrives
//! or, should the answer be lost, until its deadline, so a lost answer cannot shrink the
//! bound for good.

use std::cell::RefCell;
use std::collections::HashMap;

use nginx_sys::ngx_int_t;

use crate::request::Request;
use crate::bridge::{self, waiters, OpCall, Outcome, Work};
use crate::conf::Provider;

thread_local! {
    /// provider index -> calls in flight: (job key, deadline)
    static INFLIGHT: RefCell<HashMap<usize, Vec<(u64, i64)>>> = RefCell::new(HashMap::new());
}

pub fn call_and_wait(r: Request<'_>, provider: usize, call: OpCall, watchdog_ms: u64) -> Option<ngx_int_t> {
    let Some(p) = bridge::main_conf().and_then(|m| m.providers.get(provider)) else { return None };
    let key = waiters::job_key();
    let now = crate::cache::documents::ngx_now();
    if !admit(p, provider, key, now + (watchdog_ms / 1000) as i64 + 1) {
        crate::metrics::op_busy(provider, call.endpoint);
        ngx_log!(
            err,
            r.log(),
            "auth_oidc: provider \"{}\": op_busy: {} requests to the OP in flight in this worker (max_op_calls), answering 503",
            p.name,
            p.max_op_calls
        );
        return Some(nginx_sys::NGX_HTTP_SERVICE_UNAVAILABLE as ngx_int_t);
    }
    let submitted = bridge::submit(Work::Call { provider, call }, move |outcome: Outcome| {
        release(provider, key);
        let mut outcome = Some(outcome);
        waiters::deliver(key, |ctx| ctx.outcome = outcome.take());
    });
    if !submitted {
        release(provider, key);
        return None;
    }
    Some(waiters::suspend(r, key, watchdog_ms))
}

fn admit(p: &Provider, provider: usize, key: u64, deadline: i64) -> bool {
    let now = crate::cache::documents::ngx_now();
    INFLIGHT.with_borrow_mut(|m| {
        let calls = m.entry(provider).or_default();
        calls.retain(|&(_, d)| d > now);
        if calls.len() >= p.max_op_calls {
            return false;
        }
        calls.push((key, deadline));
        true
    })
}

fn release(provider: usize, key: u64) {
    INFLIGHT.with_borrow_mut(|m| {
        if let Some(calls) = m.get_mut(&provider) {
            calls.retain(|&(k, _)| k != key);
        }
    });
}

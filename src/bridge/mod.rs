//! The async bridge between nginx's event loop and a per-worker tokio runtime.
//!
//! nginx is single-threaded per worker and not thread-safe; reqwest needs tokio. Each
//! worker therefore starts one background thread (in `init_process`, never in the master)
//! running a current-thread tokio runtime. The nginx side submits `Work` and keeps the
//! completion callback itself (callbacks touch nginx objects, so they never cross
//! threads). The runtime thread pushes `(job id, Outcome)` onto a queue and writes to an
//! eventfd that is registered in nginx's own event loop; its read handler drains the
//! queue and runs the callbacks on the nginx thread. No polling, no busy loops.

mod fetch;
mod notify;
mod runtime;
pub mod waiters;

use std::cell::RefCell;
use std::collections::HashMap;

use nginx_sys::ngx_cycle_t;

pub use fetch::{ClientSettings, Fetched, OpAnswer, OpCall};
use crate::conf::{MainConf, Provider};

/// Whether the provider's HTTP client can be built (at configuration time).
pub fn check_client(p: &Provider) -> Result<(), String> {
    fetch::check(&ClientSettings::from_provider(p))
}

/// What the runtime thread is asked to do.
pub enum Work {
    /// GET a document from the OP with the provider's HTTP client.
    Fetch { provider: usize, url: String, endpoint: crate::metrics::Endpoint },
    /// Wait, then report back (used while another worker holds a fetch lease).
    Sleep { ms: u64 },
    /// One request to the OP on behalf of one browser request (token exchange,
    /// userinfo, introspection): any status comes back, the caller reads it.
    Call { provider: usize, call: OpCall },
    /// One command for the provider's Redis session store.
    Store { provider: usize, op: oidc_redis::StoreOp },
}

/// What comes back.
pub enum Outcome {
    Fetched(Result<Fetched, String>),
    Slept,
    Answered(Result<OpAnswer, String>),
    Stored(Result<oidc_redis::StoreAnswer, String>),
    /// Not the answer to a job: Redis reported that sessions of a provider changed or
    /// went (None: any of them may have).
    Invalidated { provider: usize, keys: Option<Vec<String>> },
}

/// Job id of messages that answer no job (invalidations).
const NO_JOB: u64 = 0;

type Callback = Box<dyn FnOnce(Outcome)>;

struct Worker {
    runtime: runtime::Handle,
    notify: notify::Notifier,
    callbacks: HashMap<u64, Callback>,
    next_id: u64,
    mcf: *const MainConf,
    /// Per provider: the health of its Redis store, readable without a round trip.
    redis_health: Vec<Option<std::sync::Arc<oidc_redis::Health>>>,
}

thread_local! {
    // Only ever touched on the nginx thread of a worker.
    static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
}

pub fn start_worker(cycle: &mut ngx_cycle_t, mcf: &MainConf) -> Result<(), String> {
    let settings = mcf.providers.iter().map(|p| ClientSettings::from_provider(p)).collect();
    let notify = notify::Notifier::register(cycle, on_wakeup)?;
    let stores = mcf.providers.iter().map(|p| runtime::StoreSettings::from_provider(p)).collect();
    let (runtime, redis_health) = runtime::spawn(settings, stores, notify.writer())?;
    WORKER.with_borrow_mut(|w| {
        *w = Some(Worker { runtime, notify, callbacks: HashMap::new(), next_id: 1, mcf, redis_health });
    });
    Ok(())
}

pub fn stop_worker() {
    if let Some(w) = WORKER.with_borrow_mut(Option::take) {
        // Dropping the runtime handle closes the job channel: the thread finishes and
        // drops what is in flight. Late results are written nowhere.
        drop(w.runtime);
        w.notify.close();
    }
}

/// The main configuration of the running cycle (set at worker start).
pub fn main_conf() -> Option<&'static MainConf> {
    // SAFETY: the cycle's configuration outlives the worker's use of it.
    WORKER.with_borrow(|w| w.as_ref().map(|w| unsafe { &*w.mcf }))
}

/// The health of a provider's Redis store (None: it has none, or the bridge is down).
pub fn redis_health(provider: usize) -> Option<std::sync::Arc<oidc_redis::Health>> {
    WORKER.with_borrow(|w| w.as_ref().and_then(|w| w.redis_health.get(provider).cloned().flatten()))
}

/// Submits work; `done` runs later on the nginx thread. Returns false when the bridge is
/// not running (the caller answers with an error instead of waiting forever).
pub fn submit(work: Work, done: impl FnOnce(Outcome) + 'static) -> bool {
    WORKER.with_borrow_mut(|w| {
        let Some(w) = w.as_mut() else { return false };
        let id = w.next_id;
        w.next_id += 1;
        if !w.runtime.send(id, work) {
            return false;
        }
        w.callbacks.insert(id, Box::new(done));
        true
    })
}

/// eventfd readable: run the callbacks of every finished job.
fn on_wakeup() {
    let done = WORKER.with_borrow(|w| w.as_ref().map(|w| w.runtime.drain()).unwrap_or_default());
    for (id, outcome) in done {
        if id == NO_JOB {
            if let Outcome::Invalidated { provider, keys } = outcome {
                crate::cache::session_local::forget_redis(provider, keys.as_deref());
            }
            continue;
        }
        // Take the callback out before running it: it may submit new work.
        let cb = WORKER.with_borrow_mut(|w| w.as_mut().and_then(|w| w.callbacks.remove(&id)));
        if let Some(cb) = cb {
            cb(outcome);
        }
    }
}

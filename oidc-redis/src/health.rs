//! What the nginx thread may read without a round trip. Written only by the store's
//! tracking task (on the runtime thread), read by anyone.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// What the nginx thread may read without a round trip: whether invalidations are
/// being received, and an epoch that changes whenever they may have been missed.
#[derive(Default)]
pub struct Health {
    live: AtomicBool,
    epoch: AtomicU64,
    /// Why the last connection attempt failed (a refused TLS certificate, a refused
    /// connection, a wrong password), until tracking is on again: a command that then
    /// times out can say why, instead of only that it timed out.
    last_error: Mutex<Option<String>>,
}

impl Health {
    /// True while the connection is up and client tracking is on.
    pub fn tracking_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }
    /// Changes (increases) at every (re)connection or tracking restart: a cached
    /// entry validated under another epoch may have missed an invalidation.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Invalidations may have been (or be about to be) missed: not live, new epoch.
    pub(crate) fn lost(&self) {
        self.live.store(false, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }
    /// Tracking is (again) on everywhere: a new epoch first, then live, so that a reader
    /// that sees `live` also sees the epoch that entries validated from now on carry.
    pub(crate) fn restored(&self) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.epoch.fetch_add(1, Ordering::AcqRel);
        self.live.store(true, Ordering::Release);
    }

    /// A connection error: the server's or the network's text, never a key or a value.
    pub(crate) fn connection_error(&self, e: String) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
    }
    /// The last connection error while tracking is not on (None once it is on again).
    pub fn last_error(&self) -> Option<String> {
        self.last_error.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

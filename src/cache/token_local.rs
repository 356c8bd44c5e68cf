//! Each worker's own cache of bearer-token verdicts: a hit costs a hash of the token
//! and a map lookup, with no lock shared with other workers and nothing parsed. It sits
//! in front of the shared zone's table (see `token_table`), which makes one worker's
//! validation (or introspection round trip) count for all.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::req_ctx::Identity;

/// Entries per worker; beyond it expired entries go, then everything (a burst of
/// distinct tokens must not grow the worker without bound).
const MAX_ENTRIES: usize = 16 * 1024;

#[derive(Clone)]
pub enum Verdict {
    Valid(Rc<Identity>),
    /// Refused: the log's reason and the `error_description`.
    Refused { reason: Rc<str>, description: Rc<str> },
}

thread_local! {
    static CACHE: RefCell<HashMap<[u8; 32], (i64, Verdict)>> = RefCell::new(HashMap::new());
}

pub fn get(key: &[u8; 32], now: i64) -> Option<Verdict> {
    CACHE.with_borrow(|c| c.get(key).filter(|(exp, _)| *exp > now).map(|(_, v)| v.clone()))
}

pub fn put(key: [u8; 32], verdict: Verdict, expires_at: i64, now: i64) {
    CACHE.with_borrow_mut(|c| {
        if c.len() >= MAX_ENTRIES {
            c.retain(|_, (exp, _)| *exp > now);
            if c.len() >= MAX_ENTRIES {
                c.clear();
            }
        }
        c.insert(key, (expires_at, verdict));
    });
}

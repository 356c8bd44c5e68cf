//! Each worker's own cache of bearer-token verdicts: a hit costs a map lookup and one
//! comparison of the token with the one that was judged, with no hash of the token, no
//! lock shared with other workers and nothing parsed. It sits in front of the shared
//! zone's table (see `token_table`, keyed by SHA-256), which makes one worker's
//! validation (or introspection round trip) count for all.
//!
//! The key is the location's validation rules (a hash of its cache namespace) and the
//! token's last 16 bytes (of a JWT: its signature; of an opaque token: random too); a
//! hit still compares the whole token, so a token that merely ends the same never
//! matches.

use std::cell::RefCell;
use std::rc::Rc;

use super::bounded_map::{Bounded, BoundedMap};
use crate::req_ctx::Identity;

/// Entries per worker and the memory they may take; beyond either, expired entries go,
/// then everything (a burst of distinct tokens must not grow the worker without bound).
const MAX_ENTRIES: usize = 16 * 1024;
const MAX_BYTES: usize = 16 << 20;

#[derive(Clone)]
pub enum Verdict {
    Valid(Rc<Identity>),
    /// Refused: the log's reason and the `error_description`.
    Refused { reason: Rc<str>, description: Rc<str> },
}

struct Entry {
    token: Box<str>,
    expires_at: i64,
    verdict: Verdict,
}

type Key = (u64, [u8; 16]);

impl Bounded for Entry {
    /// Its token, and about as much again for the claims.
    fn cost(&self) -> usize {
        2 * self.token.len() + 512
    }

    fn expired(&self, now: i64) -> bool {
        self.expires_at <= now
    }
}

thread_local! {
    static CACHE: RefCell<BoundedMap<Key, Entry>> = RefCell::new(BoundedMap::new(MAX_ENTRIES, MAX_BYTES));
}

fn key(namespace: u64, token: &str) -> Key {
    let b = token.as_bytes();
    let mut tail = [0u8; 16];
    let n = b.len().min(16);
    tail[..n].copy_from_slice(&b[b.len() - n..]);
    (namespace, tail)
}

pub fn get(namespace: u64, token: &str, now: i64) -> Option<Verdict> {
    CACHE.with_borrow(|c| {
        c.get(&key(namespace, token)).filter(|e| !e.expired(now) && *e.token == *token).map(|e| e.verdict.clone())
    })
}

pub fn put(namespace: u64, token: &str, verdict: Verdict, expires_at: i64, now: i64) {
    let entry = Entry { token: token.into(), expires_at, verdict };
    CACHE.with_borrow_mut(|c| c.insert(key(namespace, token), entry, now));
}

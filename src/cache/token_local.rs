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
    /// The token judged, to compare in full on a hit; None when the verdict's identity
    /// holds it already (`access_token`), so that a valid token is not held twice.
    token: Option<Box<str>>,
    expires_at: i64,
    verdict: Verdict,
    /// What the entry holds (see `cost_of`), computed once.
    cost: usize,
}

type Key = (u64, [u8; 16]);

impl Entry {
    fn token(&self) -> Option<&str> {
        match (&self.token, &self.verdict) {
            (Some(t), _) => Some(t),
            (None, Verdict::Valid(id)) => id.access_token.as_deref(),
            (None, Verdict::Refused { .. }) => None,
        }
    }

    /// The memory the entry holds, counted as the allocator sees it (heap_size): its
    /// slot in the hash table (a table is at least 7/16 full), the token, and for a valid
    /// token the identity with its decoded claims; for a refusal its two texts.
    fn cost_of(token: Option<&str>, verdict: &Verdict) -> usize {
        use oidc_core::heap_size::block;
        let slot = (core::mem::size_of::<(Key, Entry)>() + 1) * 16 / 7;
        let rc_header = 2 * core::mem::size_of::<usize>();
        let held = match verdict {
            Verdict::Valid(id) => id.heap_size(),
            Verdict::Refused { reason, description } => block(rc_header + reason.len()) + block(rc_header + description.len()),
        };
        slot + token.map_or(0, |t| block(t.len())) + held
    }
}

impl Bounded for Entry {
    fn cost(&self) -> usize {
        self.cost
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
        c.get(&key(namespace, token)).filter(|e| !e.expired(now) && e.token() == Some(token)).map(|e| e.verdict.clone())
    })
}

pub fn put(namespace: u64, token: &str, verdict: Verdict, expires_at: i64, now: i64) {
    let held_by_identity = matches!(&verdict, Verdict::Valid(id) if id.access_token.as_deref() == Some(token));
    let own = (!held_by_identity).then(|| Box::<str>::from(token));
    let cost = Entry::cost_of(own.as_deref(), &verdict);
    let entry = Entry { token: own, expires_at, verdict, cost };
    CACHE.with_borrow_mut(|c| c.insert(key(namespace, token), entry, now));
}

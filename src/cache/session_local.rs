//! Each worker's cache of sessions it has already opened: the next request with the
//! same cookie costs a map lookup and a comparison of the cookie with the one that was
//! opened, instead of an AES-GCM open and a JSON decode (the hot path of a logged-in
//! user). Only the lifetimes are checked again.
//!
//! The key is the provider and the cookie's last 16 characters (part of its GCM tag);
//! a hit still compares the whole cookie, so a tampered cookie never matches an entry.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use oidc_core::session::SessionTimes;

use super::fast_hash::BuildWordHasher;
use crate::req_ctx::Identity;

/// Sessions remembered per worker, and the memory they may take (each entry holds its
/// cookie, up to 30 KB for the largest sessions, and the decoded identity).
const MAX_ENTRIES: usize = 2048;
const MAX_BYTES: usize = 16 << 20;

struct Entry {
    sealed: Box<str>,
    identity: Rc<Identity>,
    times: SessionTimes,
}

type Key = (usize, [u8; 16]);

#[derive(Default)]
struct Cache {
    map: HashMap<Key, Entry, BuildWordHasher>,
    /// Estimated memory of the entries (see `cost`).
    bytes: usize,
}

/// What an entry costs: its cookie, and about as much again for the decoded identity.
fn cost(sealed: &str) -> usize {
    2 * sealed.len() + 256
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache::default());
}

fn key(provider: usize, sealed: &str) -> Option<Key> {
    let b = sealed.as_bytes();
    let tail: [u8; 16] = b.get(b.len().checked_sub(16)?..)?.try_into().ok()?;
    Some((provider, tail))
}

/// The identity and lifetimes of a session already opened with exactly this cookie.
pub fn get(provider: usize, sealed: &str) -> Option<(Rc<Identity>, SessionTimes)> {
    let k = key(provider, sealed)?;
    CACHE.with_borrow(|c| {
        c.map.get(&k).filter(|e| *e.sealed == *sealed).map(|e| (e.identity.clone(), e.times))
    })
}

pub fn put(provider: usize, sealed: &str, identity: Rc<Identity>, times: SessionTimes, now: u64) {
    let Some(k) = key(provider, sealed) else { return };
    let new = cost(sealed);
    CACHE.with_borrow_mut(|c| {
        if c.map.len() >= MAX_ENTRIES || c.bytes + new > MAX_BYTES {
            c.map.retain(|_, e| e.times.expires_at > now);
            c.bytes = c.map.values().map(|e| cost(&e.sealed)).sum();
            if c.map.len() >= MAX_ENTRIES || c.bytes + new > MAX_BYTES {
                c.map.clear();
                c.bytes = 0;
            }
        }
        if let Some(old) = c.map.insert(k, Entry { sealed: sealed.into(), identity, times }) {
            c.bytes -= cost(&old.sealed);
        }
        c.bytes += new;
    });
}

/// Forgets a session (logout, or re-issued with new lifetimes).
pub fn forget(provider: usize, sealed: &str) {
    if let Some(k) = key(provider, sealed) {
        CACHE.with_borrow_mut(|c| {
            if let Some(old) = c.map.remove(&k) {
                c.bytes -= cost(&old.sealed);
            }
        });
    }
}

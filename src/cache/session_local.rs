//! Each worker's cache of sessions it has already opened: the next request with the
//! same cookie costs a map lookup and a comparison of the cookie with the one that was
//! opened, instead of an AES-GCM open and a JSON decode (the hot path of a logged-in
//! user). Only the lifetimes are checked again.
//!
//! The key is the provider and the cookie's last 16 characters (part of its GCM tag);
//! a hit still compares the whole cookie, so a tampered cookie never matches an entry.

use std::cell::RefCell;
use std::rc::Rc;

use oidc_core::session::SessionTimes;

use super::bounded_map::{Bounded, BoundedMap};
use super::zone_sessions::Validity;
use crate::req_ctx::Identity;

/// Sessions remembered per worker, and the memory they may take (each entry holds its
/// cookie, up to 30 KB for the largest sessions, and the decoded identity).
const MAX_ENTRIES: usize = 2048;
const MAX_BYTES: usize = 16 << 20;

struct Entry {
    /// What the entry holds, counted once when it is made (see `cost_of`).
    cost: usize,
    sealed: Box<str>,
    identity: Rc<Identity>,
    times: SessionTimes,
    backing: Backing,
}

/// Where the cached session lives, and what says the copy is still current.
#[derive(Clone)]
pub enum Backing {
    /// The cookie is the session: nothing else to check.
    Cookie,
    /// In the shared zone, read as `validity` (see `zone_sessions`).
    Zone { key: [u8; 32], validity: Validity },
    /// In Redis, read (or last confirmed) at `checked_ms` under the store's `epoch`.
    Redis { key: Rc<str>, epoch: u64, checked_ms: u64 },
}

type Key = (usize, [u8; 16]);

impl Bounded for Entry {
    fn cost(&self) -> usize {
        self.cost
    }

    fn expired(&self, now: i64) -> bool {
        self.times.expires_at <= now as u64
    }
}

/// The memory an entry holds, counted as the allocator sees it: its slot in the map (a
/// table at least 7/16 full), the cookie, the identity with its decoded claims and tokens
/// (with a server-side store the cookie is a small reference and the identity is most of
/// it), and a Redis key.
fn cost_of(sealed: &str, identity: &Identity, backing: &Backing) -> usize {
    use oidc_core::heap_size::block;
    let slot = (core::mem::size_of::<(Key, Entry)>() + 1) * 16 / 7;
    let key = match backing {
        Backing::Redis { key, .. } => block(2 * core::mem::size_of::<usize>() + key.len()),
        _ => 0,
    };
    slot + block(sealed.len()) + identity.heap_size() + key
}

thread_local! {
    static CACHE: RefCell<BoundedMap<Key, Entry>> = RefCell::new(BoundedMap::new(MAX_ENTRIES, MAX_BYTES));
}

fn key(provider: usize, sealed: &str) -> Option<Key> {
    let b = sealed.as_bytes();
    let tail: [u8; 16] = b.get(b.len().checked_sub(16)?..)?.try_into().ok()?;
    Some((provider, tail))
}

/// The identity and lifetimes of a session already opened with exactly this cookie.
pub fn get(provider: usize, sealed: &str) -> Option<(Rc<Identity>, SessionTimes)> {
    get_backed(provider, sealed).map(|(i, t, _)| (i, t))
}

/// As `get`, with where the session lives.
pub fn get_backed(provider: usize, sealed: &str) -> Option<(Rc<Identity>, SessionTimes, Backing)> {
    let k = key(provider, sealed)?;
    CACHE.with_borrow(|c| {
        c.get(&k).filter(|e| *e.sealed == *sealed).map(|e| (e.identity.clone(), e.times, e.backing.clone()))
    })
}

pub fn put(provider: usize, sealed: &str, identity: Rc<Identity>, times: SessionTimes, now: u64) {
    put_backed(provider, sealed, identity, times, Backing::Cookie, now)
}

pub fn put_backed(provider: usize, sealed: &str, identity: Rc<Identity>, times: SessionTimes, backing: Backing, now: u64) {
    let Some(k) = key(provider, sealed) else { return };
    let cost = cost_of(sealed, &identity, &backing);
    let entry = Entry { cost, sealed: sealed.into(), identity, times, backing };
    CACHE.with_borrow_mut(|c| c.insert(k, entry, now as i64));
}

/// Records that a cached server-side session was confirmed current (new validity, and
/// the idle clock moved to `last_seen`).
pub fn confirm(provider: usize, sealed: &str, backing: Backing, last_seen: u64) {
    let Some(k) = key(provider, sealed) else { return };
    CACHE.with_borrow_mut(|c| {
        if let Some(e) = c.get_mut(&k).filter(|e| *e.sealed == *sealed) {
            e.backing = backing;
            e.times.last_seen = e.times.last_seen.max(last_seen);
        }
    });
}

/// Forgets every cached session stored under one of `keys` in Redis (None: all of the
/// provider's Redis sessions), after another host or worker changed or removed them.
pub fn forget_redis(provider: usize, keys: Option<&[String]>) {
    INVALIDATIONS.set(INVALIDATIONS.get().wrapping_add(1));
    CACHE.with_borrow_mut(|c| {
        c.retain(|k, e| {
            if k.0 != provider {
                return true;
            }
            match &e.backing {
                Backing::Redis { key, .. } => keys.is_some_and(|ks| !ks.iter().any(|x| **x == **key)),
                _ => true,
            }
        })
    });
}

/// Forgets a session (logout, or re-issued with new lifetimes).
pub fn forget(provider: usize, sealed: &str) {
    if let Some(k) = key(provider, sealed) {
        CACHE.with_borrow_mut(|c| c.remove(&k));
    }
}

thread_local! {
    /// Invalidations from Redis this worker has applied. A read whose answer arrives
    /// after an invalidation that arrived after the read was sent may hold a value that
    /// the invalidation was about (the answer and the invalidation travel apart): such a
    /// value is not trusted on tracking (see `store_io::redis`).
    static INVALIDATIONS: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

/// How many invalidations this worker has applied (see INVALIDATIONS).
pub fn invalidations_seen() -> u64 {
    INVALIDATIONS.get()
}

thread_local! {
    /// The zone's revocation generation this worker's cookie sessions were checked under.
    static REVOKED_SEEN: core::cell::Cell<u64> = const { core::cell::Cell::new(0) };
}

/// Cookie sessions: drops the cached ones when the zone's revocation list changed since
/// they were checked (a logout started by the OP). One atomic load when it did not.
pub fn sync_revocations(zone: &super::zone::Zone) {
    let generation = zone.revoked_generation();
    if REVOKED_SEEN.get() != generation {
        CACHE.with_borrow_mut(|c| c.retain(|_, e| !matches!(e.backing, Backing::Cookie)));
        REVOKED_SEEN.set(generation);
    }
}

//! Results of token validation shared by all workers: a fixed open-addressing table of
//! slots in the shared zone, keyed by the SHA-256 of the token (never the token), each
//! pointing to an encoded result in the slab. A worker that validated or introspected a
//! token stores the result; every worker reads it until it expires.
//!
//! Lookups probe a short window of slots; a full window evicts its oldest entry. The
//! slab mutex is held only to copy a slot's bytes in or out.
//!
//! The same table holds a few entries that are not a cache: the one-time marks of
//! `mark_once` (logout-token `jti`s, used login states) and the refresh grace entries.
//! Losing one of those to a flood of bearer tokens would let a logout token be replayed,
//! or send a second refresh grant, so they are pinned: only their expiry removes them,
//! and a put that finds no other room fails rather than evict a live pinned entry.

use core::ptr;

use super::zone::Zone;

/// Slots probed from a key's home slot.
const WINDOW: usize = 8;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct Slot {
    key: [u8; 32],
    expires_at: i64,
    stored_at: i64,
    data: *mut u8,
    len: usize,
    /// Not a cache entry (see the top of this file): never evicted while live.
    pinned: bool,
}

impl Slot {
    const EMPTY: Slot = Slot { key: [0; 32], expires_at: 0, stored_at: 0, data: ptr::null_mut(), len: 0, pinned: false };

    fn live(&self, now: i64) -> bool {
        !self.data.is_null() && self.expires_at > now
    }
}

/// Frees the entries `doomed` picks. The caller holds the slab mutex.
fn evict(slots: &mut [Slot], shpool: *mut nginx_sys::ngx_slab_pool_t, mut doomed: impl FnMut(&Slot) -> bool) -> usize {
    let mut n = 0;
    for s in slots.iter_mut().filter(|s| !s.data.is_null() && doomed(s)) {
        n += 1;
        // SAFETY: the blob belongs to the slot; the caller holds the mutex.
        unsafe { nginx_sys::ngx_slab_free_locked(shpool, s.data.cast()) };
        *s = Slot::EMPTY;
    }
    n
}

/// How many slots a zone of `size` bytes gets: about one per 2 KiB of zone.
pub fn slots_for(size: usize) -> usize {
    (size / 2048).max(64)
}

fn home(key: &[u8; 32], slots: usize) -> usize {
    let mut k = [0u8; 8];
    k.copy_from_slice(&key[..8]);
    (u64::from_le_bytes(k) % slots as u64) as usize
}

impl Zone {
    /// The stored result for `key`, if present and not expired, with its expiry (a copy
    /// kept elsewhere must not outlive it).
    pub fn token_get(&self, key: &[u8; 32], now: i64) -> Option<(Vec<u8>, i64)> {
        self.locked(|h, _| {
            if h.tokens.is_null() {
                return None;
            }
            // SAFETY: the table has token_slots slots, allocated at zone init.
            let slots = unsafe { core::slice::from_raw_parts(h.tokens, h.token_slots) };
            let start = home(key, slots.len());
            (0..WINDOW.min(slots.len())).map(|i| &slots[(start + i) % slots.len()]).find_map(|s| {
                (s.key == *key && s.expires_at > now && !s.data.is_null())
                    // SAFETY: data/len describe the slab blob owned by the slot.
                    .then(|| (unsafe { core::slice::from_raw_parts(s.data, s.len) }.to_vec(), s.expires_at))
            })
        })
    }

    /// Stores a result until `expires_at`. Returns false when the zone has no room.
    pub fn token_put(&self, key: &[u8; 32], value: &[u8], expires_at: i64, now: i64) -> bool {
        self.locked(|h, shpool| put_locked(h, shpool, key, value, expires_at, now, false))
    }

    /// As `token_put`, for an entry that is not a cache (a refresh's grace entry): pinned
    /// until `expires_at`.
    pub fn token_put_pinned(&self, key: &[u8; 32], value: &[u8], expires_at: i64, now: i64) -> bool {
        self.locked(|h, shpool| put_locked(h, shpool, key, value, expires_at, now, true))
    }

    /// Marks `key` until `expires_at` unless a live mark exists, in one locked step (two
    /// workers cannot both get `Some(true)`). `Some(false)`: marked already; None: no
    /// room in the zone.
    pub fn mark_once(&self, key: &[u8; 32], expires_at: i64, now: i64) -> Option<bool> {
        self.locked(|h, shpool| {
            if h.tokens.is_null() {
                return None;
            }
            // SAFETY: the table has token_slots slots, allocated at zone init; we hold the mutex.
            let slots = unsafe { core::slice::from_raw_parts(h.tokens, h.token_slots) };
            let start = home(key, slots.len());
            let marked = (0..WINDOW.min(slots.len()))
                .map(|i| &slots[(start + i) % slots.len()])
                .any(|s| s.key == *key && s.expires_at > now && !s.data.is_null());
            if marked {
                return Some(false);
            }
            put_locked(h, shpool, key, b"1", expires_at, now, true).then_some(true)
        })
    }
}

fn put_locked(
    h: &mut super::zone::Header,
    shpool: *mut nginx_sys::ngx_slab_pool_t,
    key: &[u8; 32],
    value: &[u8],
    expires_at: i64,
    now: i64,
    pinned: bool,
) -> bool {
        {
            if h.tokens.is_null() {
                return false;
            }
            // SAFETY: as above; we hold the slab mutex.
            let slots = unsafe { core::slice::from_raw_parts_mut(h.tokens, h.token_slots) };
            let n = slots.len();
            let start = home(key, n);
            let window = (0..WINDOW.min(n)).map(|i| (start + i) % n);
            let target = window
                .clone()
                .find(|&i| slots[i].key == *key)
                .or_else(|| window.clone().find(|&i| !slots[i].live(now)))
                .or_else(|| window.filter(|&i| !slots[i].pinned).min_by_key(|&i| slots[i].stored_at));
            let Some(i) = target else { return false };
            // SAFETY: slab calls under the mutex we hold.
            let alloc = || unsafe { nginx_sys::ngx_slab_alloc_locked(shpool, value.len().max(1)) }.cast::<u8>();
            let mut data = alloc();
            if data.is_null() {
                // The slab is full (big entries fill it before the slots run out): make
                // room, expired entries first, then the oldest eighth of the table.
                let _ = evict(slots, shpool, |s| s.expires_at <= now);
                data = alloc();
            }
            if data.is_null() {
                let mut ages: Vec<i64> = slots.iter().filter(|s| !s.data.is_null() && !s.pinned).map(|s| s.stored_at).collect();
                ages.sort_unstable();
                if let Some(&cut) = ages.get(ages.len() / 8) {
                    // Times are whole seconds, and a burst stores many entries in one:
                    // "stored at or before the cut" could be the whole table. Older ones
                    // first, then those of the cut's second, an eighth in all.
                    let mut left = (ages.len() / 8).max(1);
                    let mut take = |s: &Slot, older: bool| {
                        let pick = left > 0 && !s.pinned && if older { s.stored_at < cut } else { s.stored_at == cut };
                        left -= usize::from(pick);
                        pick
                    };
                    let mut n = evict(slots, shpool, |s| take(s, true));
                    n += evict(slots, shpool, |s| take(s, false));
                    crate::metrics::zone_evicted(crate::metrics::ZoneTable::Tokens, n);
                }
                data = alloc();
            }
            if data.is_null() {
                return false;
            }
            if slots[i].key != *key && slots[i].live(now) {
                crate::metrics::zone_evicted(crate::metrics::ZoneTable::Tokens, 1);
            }
            let s = &mut slots[i];
            // SAFETY: data is a fresh slab block of at least value.len() bytes; the old block
            // is this entry's, freed and replaced while we hold the slab mutex.
            unsafe {
                ptr::copy_nonoverlapping(value.as_ptr(), data, value.len());
                if !s.data.is_null() {
                    nginx_sys::ngx_slab_free_locked(shpool, s.data.cast());
                }
            }
            *s = Slot { key: *key, expires_at, stored_at: now, data, len: value.len(), pinned };
            true
        }
}

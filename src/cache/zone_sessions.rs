//! Server-side sessions in the shared zone (`session_store zone`): a fixed open-addressing
//! table of slots keyed by a hash of the session's reference (never the reference), each
//! pointing to the sealed session in the slab. Every worker of the host sees the same
//! sessions, and they survive a reload and a killed worker.
//!
//! Revocation reaches every worker through `session_gen`: removing a session bumps it, and
//! a worker's cached copy of a session is trusted without the mutex only while the
//! generation it was checked under is current (one atomic load per request).
//!
//! A full slab evicts the sessions seen longest ago (logged as `zone_full`, at most once a
//! minute), so new logins always find room.

use core::ptr;
use core::sync::atomic::Ordering;

use oidc_core::session_tags::{SessionTags, TagKind};

use super::zone::{Header, Zone};

/// Slots probed from a key's home slot.
const WINDOW: usize = 16;
/// Concurrent single-flight leases per zone.
pub const LEASES: usize = 64;

#[repr(C)]
#[derive(Clone, Copy)]
pub struct SessionSlot {
    key: [u8; 32],
    /// When the session ends for good (absolute timeout), and when it ends unless seen
    /// again (idle timeout; i64::MAX without one).
    expires_at: i64,
    idle_until: i64,
    /// Changes at every rewrite; a cached copy remembers the version it decoded.
    version: u64,
    data: *mut u8,
    len: usize,
    /// Hashes of the session's `sid` and `sub`: what a logout started by the OP names.
    tags: SessionTags,
}

const EMPTY: SessionSlot = SessionSlot {
    key: [0; 32],
    expires_at: 0,
    idle_until: 0,
    version: 0,
    data: ptr::null_mut(),
    len: 0,
    tags: SessionTags { sid: 0, sub: 0 },
};

#[repr(C)]
#[derive(Clone, Copy)]
pub struct Lease {
    key: [u8; 32],
    until: i64,
}

/// A stored session as read back.
pub struct Stored {
    pub value: Vec<u8>,
    pub version: u64,
    pub idle_until: i64,
}

/// Where a session lives and under which version it was read: what a worker's cached copy
/// needs to be checked again.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub generation: u64,
    pub version: u64,
}

pub fn slots_for(size: usize) -> usize {
    (size / 4096).max(64)
}

fn home(key: &[u8; 32], n: usize) -> usize {
    let mut k = [0u8; 8];
    k.copy_from_slice(&key[8..16]);
    (u64::from_le_bytes(k) % n as u64) as usize
}

fn live(s: &SessionSlot, now: i64) -> bool {
    !s.data.is_null() && s.expires_at > now && s.idle_until > now
}

/// The table, under the mutex the caller holds.
fn table(h: &mut Header) -> &mut [SessionSlot] {
    if h.sessions.is_null() {
        return &mut [];
    }
    // SAFETY: `sessions` has `session_slots` slots, allocated at zone init and never freed;
    // the caller holds the slab mutex.
    unsafe { core::slice::from_raw_parts_mut(h.sessions, h.session_slots) }
}

fn free(slot: &mut SessionSlot, shpool: *mut nginx_sys::ngx_slab_pool_t) {
    if !slot.data.is_null() {
        // SAFETY: the blob belongs to this slot; the caller holds the slab mutex.
        unsafe { nginx_sys::ngx_slab_free_locked(shpool, slot.data.cast()) };
    }
    *slot = EMPTY;
}

impl Zone {
    /// The current session generation (no mutex: an atomic load).
    pub fn session_generation(&self) -> u64 {
        // SAFETY: hdr points to the initialised header for the worker's life.
        unsafe { (*self.hdr).session_gen.load(Ordering::Acquire) }
    }

    fn bump(h: &Header) {
        h.session_gen.fetch_add(1, Ordering::AcqRel);
    }

    /// The session stored under `key`, if it is there and alive.
    pub fn session_get(&self, key: &[u8; 32], now: i64) -> Option<Stored> {
        self.locked(|h, _| {
            let t = table(h);
            let n = t.len();
            let start = if n == 0 { return None } else { home(key, n) };
            (0..WINDOW.min(n)).map(|i| &t[(start + i) % n]).find(|s| s.key == *key && live(s, now)).map(|s| Stored {
                // SAFETY: data/len describe the slab blob owned by the slot.
                value: unsafe { core::slice::from_raw_parts(s.data, s.len) }.to_vec(),
                version: s.version,
                idle_until: s.idle_until,
            })
        })
    }

    /// Whether a cached copy read as `version` is still the stored session, without
    /// copying it; moves nothing.
    pub fn session_check(&self, key: &[u8; 32], version: u64, now: i64) -> Option<Validity> {
        let generation = self.session_generation();
        self.locked(|h, _| {
            let t = table(h);
            let n = t.len();
            if n == 0 {
                return None;
            }
            let start = home(key, n);
            (0..WINDOW.min(n))
                .map(|i| &t[(start + i) % n])
                .any(|s| s.key == *key && s.version == version && live(s, now))
                .then_some(Validity { generation, version })
        })
    }

    /// Stores (or replaces) a session. The oldest sessions make room when the zone is
    /// full. Returns the version, or None when even that did not give room.
    pub fn session_put(&self, key: &[u8; 32], value: &[u8], tags: SessionTags, expires_at: i64, idle_until: i64, now: i64) -> Option<u64> {
        let (version, evicted) = self.locked(|h, shpool| {
            let version = h.next_version;
            h.next_version += 1;
            let replacing = {
                let t = table(h);
                let n = t.len();
                if n == 0 {
                    return (None, 0);
                }
                let start = home(key, n);
                (0..WINDOW.min(n)).map(|i| (start + i) % n).find(|&i| t[i].key == *key)
            };
            let mut evicted = 0;
            // SAFETY: slab allocation under the mutex we hold.
            let alloc = |shpool| unsafe { nginx_sys::ngx_slab_alloc_locked(shpool, value.len().max(1)) }.cast::<u8>();
            let mut data = alloc(shpool);
            while data.is_null() {
                // Full: expired sessions first, then the one idle longest.
                let t = table(h);
                let victim = t
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| !s.data.is_null() && Some(s.key) != Some(*key))
                    .min_by_key(|(_, s)| if live(s, now) { s.idle_until.min(s.expires_at) } else { i64::MIN })
                    .map(|(i, _)| i);
                let Some(v) = victim else { break };
                free(&mut t[v], shpool);
                evicted += 1;
                data = alloc(shpool);
            }
            if data.is_null() {
                if evicted > 0 {
                    Self::bump(h);
                }
                return (None, evicted);
            }
            let t = table(h);
            let n = t.len();
            let start = home(key, n);
            let slot = replacing
                .or_else(|| (0..WINDOW.min(n)).map(|i| (start + i) % n).find(|&i| !live(&t[i], now)))
                .unwrap_or_else(|| {
                    // The window is all live sessions: the one that would end first goes.
                    let i = (0..WINDOW.min(n))
                        .map(|i| (start + i) % n)
                        .min_by_key(|&i| t[i].idle_until.min(t[i].expires_at))
                        .unwrap_or(start);
                    evicted += 1;
                    i
                });
            free(&mut t[slot], shpool);
            // SAFETY: `data` was just allocated for value.len() bytes.
            unsafe { ptr::copy_nonoverlapping(value.as_ptr(), data, value.len()) };
            t[slot] = SessionSlot { key: *key, expires_at, idle_until, version, data, len: value.len(), tags };
            if evicted > 0 || replacing.is_some() {
                Self::bump(h);
            }
            (Some(version), evicted)
        });
        if evicted > 0 {
            crate::metrics::zone_evicted(crate::metrics::ZoneTable::Sessions, evicted);
            self.note_full(now, evicted);
        }
        version
    }

    /// Moves a session's idle deadline (it was seen); false when it is gone.
    pub fn session_touch(&self, key: &[u8; 32], idle_until: i64, now: i64) -> bool {
        self.locked(|h, _| {
            let t = table(h);
            let n = t.len();
            if n == 0 {
                return false;
            }
            let start = home(key, n);
            match (0..WINDOW.min(n)).map(|i| (start + i) % n).find(|&i| t[i].key == *key && live(&t[i], now)) {
                Some(i) => {
                    t[i].idle_until = t[i].idle_until.max(idle_until);
                    true
                }
                None => false,
            }
        })
    }

    /// Ends a session (logout, revocation) on every worker.
    pub fn session_remove(&self, key: &[u8; 32]) -> bool {
        self.locked(|h, shpool| {
            let t = table(h);
            let n = t.len();
            if n == 0 {
                return false;
            }
            let start = home(key, n);
            let found = (0..WINDOW.min(n)).map(|i| (start + i) % n).find(|&i| t[i].key == *key);
            if let Some(i) = found {
                free(&mut t[i], shpool);
                Self::bump(h);
            }
            found.is_some()
        })
    }

    /// Ends every session with this tag (a logout started by the OP), on every worker:
    /// returns their keys and sealed values (their tokens are revoked at the OP). A scan
    /// of the whole table, under the mutex: a few thousand slots, once per logout.
    pub fn session_take_tagged(&self, kind: TagKind, tag: u64, now: i64) -> Vec<([u8; 32], Vec<u8>)> {
        self.locked(|h, shpool| {
            let mut taken = Vec::new();
            for slot in table(h).iter_mut() {
                if !slot.data.is_null() && slot.tags.matches(kind, tag) {
                    if live(slot, now) {
                        // SAFETY: data/len describe the slab blob owned by the slot.
                        let value = unsafe { core::slice::from_raw_parts(slot.data, slot.len) }.to_vec();
                        taken.push((slot.key, value));
                    }
                    free(slot, shpool);
                }
            }
            if !taken.is_empty() {
                Self::bump(h);
            }
            taken
        })
    }

    /// Takes the lease of `key` (one refresh grant at a time for all workers) unless a
    /// live one is held. A full lease table refuses (the caller waits and tries again).
    pub fn lease_take(&self, key: &[u8; 32], now: i64, until: i64) -> bool {
        self.locked(|h, _| {
            if let Some(l) = h.leases.iter_mut().find(|l| l.key == *key) {
                if l.until > now {
                    return false;
                }
                l.until = until;
                return true;
            }
            match h.leases.iter_mut().find(|l| l.until <= now) {
                Some(l) => {
                    *l = Lease { key: *key, until };
                    true
                }
                None => false,
            }
        })
    }

    pub fn lease_release(&self, key: &[u8; 32]) {
        self.locked(|h, _| {
            if let Some(l) = h.leases.iter_mut().find(|l| l.key == *key) {
                l.until = 0;
            }
        })
    }

    /// One `zone_full` line per minute, however many sessions are evicted meanwhile.
    fn note_full(&self, now: i64, evicted: usize) {
        let log_now = self.locked(|h, _| {
            if now - h.full_logged_at >= 60 {
                h.full_logged_at = now;
                true
            } else {
                false
            }
        });
        if log_now {
            ngx_log!(
                warn,
                ngx::log::ngx_cycle_log().as_ptr(),
                "auth_oidc: zone_full: the shared zone has no room for new sessions; evicted {evicted} session(s) seen longest ago (raise the zone size)"
            );
        }
    }
}

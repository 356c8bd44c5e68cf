//! The revocation list of cookie sessions (`session_store cookie`): a session lives in
//! the browser, so a logout started by the OP cannot delete it. Instead the zone keeps
//! (tag of the `sid` or `sub`, issued-before time) for `session_timeout`, and a cookie
//! session of that tag created before that time is refused.
//!
//! The hot path pays one atomic load: each worker remembers the list's generation its
//! cached sessions were checked under, and drops them when it moves. The list itself is
//! read under the mutex only when a cookie session is opened in full.

use core::sync::atomic::Ordering;

use oidc_core::session_tags::{SessionTags, TagKind};

use super::zone::{Header, Zone};

#[repr(C)]
#[derive(Clone, Copy)]
pub struct Revoked {
    tag: u64,
    /// 1: sid, 2: sub (0: free).
    kind: u8,
    /// Sessions created before this time are ended.
    before: i64,
    /// The entry is dropped then (every session it could end has expired).
    until: i64,
}

/// One entry per 2 KiB of zone, at least 256 (the default 1 MiB zone holds 512).
pub fn slots_for(size: usize) -> usize {
    (size / 2048).max(256)
}

fn kind_code(kind: TagKind) -> u8 {
    match kind {
        TagKind::Sid => 1,
        TagKind::Sub => 2,
    }
}

fn list(h: &mut Header) -> &mut [Revoked] {
    if h.revoked.is_null() {
        return &mut [];
    }
    // SAFETY: `revoked` has `revoked_slots` entries, allocated at zone init and never
    // freed; the caller holds the slab mutex.
    unsafe { core::slice::from_raw_parts_mut(h.revoked, h.revoked_slots) }
}

/// What `revoke` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Revocation {
    Added,
    /// The list was full of live entries: the one that would expire first was dropped.
    Replaced,
    /// No list in the zone (it could not be allocated).
    NoRoom,
}

impl Zone {
    pub fn revoked_generation(&self) -> u64 {
        // SAFETY: hdr points to the initialised header for the worker's life.
        unsafe { (*self.hdr).revoked_gen.load(Ordering::Acquire) }
    }

    /// Ends the cookie sessions of this tag created before `before`, until `until`.
    pub fn revoke(&self, kind: TagKind, tag: u64, before: i64, until: i64, now: i64) -> Revocation {
        self.locked(|h, _| {
            let l = list(h);
            if l.is_empty() {
                return Revocation::NoRoom;
            }
            let code = kind_code(kind);
            let (i, how) = if let Some(i) = l.iter().position(|e| e.kind == code && e.tag == tag && e.until > now) {
                (i, Revocation::Added)
            } else if let Some(i) = l.iter().position(|e| e.kind == 0 || e.until <= now) {
                (i, Revocation::Added)
            } else {
                let i = l.iter().enumerate().min_by_key(|(_, e)| e.until).map_or(0, |(i, _)| i);
                (i, Revocation::Replaced)
            };
            let e = &mut l[i];
            let same = e.kind == code && e.tag == tag && e.until > now;
            *e = Revoked {
                tag,
                kind: code,
                before: if same { e.before.max(before) } else { before },
                until: if same { e.until.max(until) } else { until },
            };
            h.revoked_gen.fetch_add(1, Ordering::AcqRel);
            how
        })
    }

    /// Whether a cookie session with these tags, created at `created_at`, was ended.
    pub fn is_revoked(&self, tags: &SessionTags, created_at: i64, now: i64) -> bool {
        if self.revoked_generation() == 0 {
            return false;
        }
        self.locked(|h, _| {
            list(h).iter().any(|e| {
                e.until > now
                    && created_at < e.before
                    && match e.kind {
                        1 => tags.matches(TagKind::Sid, e.tag),
                        2 => tags.matches(TagKind::Sub, e.tag),
                        _ => false,
                    }
            })
        })
    }
}

//! The shared-memory zone: a small table of entries (one per cached document), each
//! pointing to a blob in the zone's slab allocator.
//!
//! Every access takes the slab mutex, copies what it needs and releases it, so no lock is
//! ever held across a call into nginx or a wait. Workers keep parsed copies of their own
//! (see `documents`) and come here only when their copy expires or is of an old version.

use core::ffi::c_void;
use core::{mem, ptr};

use nginx_sys::{ngx_conf_t, ngx_int_t, ngx_shm_zone_t, ngx_slab_pool_t, ngx_str_t};
use ngx::core::Status;
use ngx::http::HttpModule;

const MAGIC: u64 = 0x6f69_6463_5f7a_6e05;
/// Two entries per provider (discovery, JWKS); room for many providers and for the
/// entries of providers removed by a reload until they are evicted.
const MAX_ENTRIES: usize = 128;

#[repr(C)]
#[derive(Clone, Copy)]
struct Entry {
    key: u64,
    data: *mut u8,
    len: usize,
    version: u64,
    fetched_at: i64,
    expires_at: i64,
    /// A worker is fetching this document until then (one fetch for all workers).
    lease_until: i64,
    failed_at: i64,
    failure: u32,
    /// Last refresh forced by an unknown key id (rate limit).
    forced_refresh_at: i64,
}

#[repr(C)]
pub(super) struct Header {
    magic: u64,
    pub(super) next_version: u64,
    entries: [Entry; MAX_ENTRIES],
    /// Validated-token results (see `token_table`).
    pub(super) tokens: *mut super::token_table::Slot,
    pub(super) token_slots: usize,
    /// Server-side sessions (`session_store zone`, see `zone_sessions`).
    pub(super) sessions: *mut super::zone_sessions::SessionSlot,
    pub(super) session_slots: usize,
    /// Bumped whenever a session is removed (logout, eviction) or rewritten: a worker's
    /// cached copy validated under another generation is looked up again. Read without
    /// the mutex, on the hot path.
    pub(super) session_gen: core::sync::atomic::AtomicU64,
    /// Single-flight leases (refresh grants), shared by all workers.
    pub(super) leases: [super::zone_sessions::Lease; super::zone_sessions::LEASES],
    /// Last `zone_full` log line (one per minute).
    pub(super) full_logged_at: i64,
    /// Cookie sessions ended by a logout the OP started (see `revocations`).
    pub(super) revoked: *mut super::revocations::Revoked,
    pub(super) revoked_slots: usize,
    /// Bumped at every revocation: read without the mutex on the hot path.
    pub(super) revoked_gen: core::sync::atomic::AtomicU64,
}

/// What a reader learns about an entry. `bytes` is filled only when the entry holds a
/// version other than the one the reader already has.
/// A document's entry as read from the zone; all zeros (version 0) when there is none.
///
/// Not an `Option<Snapshot>`: with the `None` niche in `bytes`, the optimiser tests
/// `version` before the discriminant, reading the fields of a `None`, which is harmless
/// but makes every valgrind run report a conditional jump on uninitialised memory.
#[derive(Default)]
pub struct Snapshot {
    pub version: u64,
    pub expires_at: i64,
    pub failed_at: i64,
    pub failure: u32,
    pub bytes: Option<Vec<u8>>,
}

pub fn min_size() -> usize {
    // SAFETY: ngx_pagesize is set by nginx before configuration parsing.
    let page = unsafe { nginx_sys::ngx_pagesize };
    (8 * page).max(mem::size_of::<Header>() + 4 * page)
}

/// Registers the zone during configuration.
pub fn add(cf: &mut ngx_conf_t, name: &str, size: usize) -> Result<*mut ngx_shm_zone_t, ()> {
    // nginx keeps a pointer to the name for the cycle's life: allocate it from the
    // configuration pool, which is freed with that cycle (a Rust copy leaked at every
    // load shows up as "definitely lost" in valgrind runs of Test::Nginx users).
    // SAFETY: cf.pool is the live configuration pool; the copy fills the allocation.
    let data = unsafe { nginx_sys::ngx_pnalloc(cf.pool, name.len().max(1)).cast::<u8>() };
    if data.is_null() {
        return Err(());
    }
    // SAFETY: data has room for name.len() bytes and does not overlap name.
    unsafe { ptr::copy_nonoverlapping(name.as_ptr(), data, name.len()) };
    let mut ngx_name = ngx_str_t { len: name.len(), data };
    let tag = ptr::from_ref(crate::AuthOidcModule::module()).cast_mut().cast();
    // SAFETY: called while parsing the configuration.
    let zone = unsafe { nginx_sys::ngx_shared_memory_add(cf, &mut ngx_name, size, tag) };
    if zone.is_null() {
        return Err(());
    }
    // A zone of this name declared by another module has another tag, and nginx has
    // already refused it with its own message; ours gets its init handler.
    // SAFETY: ngx_shared_memory_add returned a valid zone.
    unsafe { (*zone).init = Some(init_zone) };
    Ok(zone)
}

guarded! { fn init_zone(zone: *mut ngx_shm_zone_t, data: *mut c_void) -> ngx_int_t = init_zone_body, on_panic nginx_sys::NGX_ERROR as nginx_sys::ngx_int_t; }
fn init_zone_body(zone: *mut ngx_shm_zone_t, data: *mut c_void) -> ngx_int_t {
    // SAFETY: nginx calls this with the zone being initialised and the data of the zone
    // of the same name in the previous cycle, if any.
    unsafe {
        let zone = &mut *zone;
        if !data.is_null() && (*data.cast::<Header>()).magic == MAGIC {
            // Reload: keep what the old configuration's workers fetched (the magic also
            // encodes the layout, so an upgraded module never reads an old layout).
            zone.data = data;
            return Status::NGX_OK.into();
        }
        let shpool = zone.shm.addr.cast::<ngx_slab_pool_t>();
        if zone.shm.exists != 0 {
            zone.data = (*shpool).data;
            return Status::NGX_OK.into();
        }
        // A full zone is reported by the module's own log lines (zone_full), and a
        // full token table makes room: no [crit] from the allocator for each of them.
        (*shpool).set_log_nomem(0);
        let hdr = nginx_sys::ngx_slab_calloc(shpool, mem::size_of::<Header>()).cast::<Header>();
        if hdr.is_null() {
            return Status::NGX_ERROR.into();
        }
        (*hdr).magic = MAGIC;
        (*hdr).next_version = 1;
        // A quarter of the zone for the token table's slots (their blobs come from the
        // rest of the slab as they are stored).
        let slots = super::token_table::slots_for(zone.shm.size);
        let table = nginx_sys::ngx_slab_calloc(shpool, slots * mem::size_of::<super::token_table::Slot>());
        if !table.is_null() {
            (*hdr).tokens = table.cast();
            (*hdr).token_slots = slots;
        }
        // The session table's slots (one per 4 KiB of zone; blobs from the slab).
        let slots = super::zone_sessions::slots_for(zone.shm.size);
        let table = nginx_sys::ngx_slab_calloc(shpool, slots * mem::size_of::<super::zone_sessions::SessionSlot>());
        if !table.is_null() {
            (*hdr).sessions = table.cast();
            (*hdr).session_slots = slots;
        }
        let slots = super::revocations::slots_for(zone.shm.size);
        let table = nginx_sys::ngx_slab_calloc(shpool, slots * mem::size_of::<super::revocations::Revoked>());
        if !table.is_null() {
            (*hdr).revoked = table.cast();
            (*hdr).revoked_slots = slots;
        }
        (*shpool).data = hdr.cast();
        zone.data = hdr.cast();
    }
    Status::NGX_OK.into()
}

/// A handle to the initialised zone, valid for the whole life of a worker.
#[derive(Clone, Copy)]
pub struct Zone {
    pub(super) shpool: *mut ngx_slab_pool_t,
    pub(super) hdr: *mut Header,
}

impl Zone {
    /// # Safety
    /// `zone` must be the initialised zone of the running cycle.
    pub unsafe fn from_shm_zone(zone: *mut ngx_shm_zone_t) -> Option<Zone> {
        let zone = zone.as_ref()?;
        let hdr = zone.data.cast::<Header>();
        if hdr.is_null() || (*hdr).magic != MAGIC {
            return None;
        }
        Some(Zone { shpool: zone.shm.addr.cast(), hdr })
    }

    pub(super) fn locked<R>(&self, f: impl FnOnce(&mut Header, *mut ngx_slab_pool_t) -> R) -> R {
        // SAFETY: the zone lives as long as the worker; the mutex serialises workers.
        unsafe {
            nginx_sys::ngx_shmtx_lock(ptr::addr_of_mut!((*self.shpool).mutex));
            let r = f(&mut *self.hdr, self.shpool);
            nginx_sys::ngx_shmtx_unlock(ptr::addr_of_mut!((*self.shpool).mutex));
            r
        }
    }

    pub fn read(&self, key: u64, have_version: u64) -> Snapshot {
        self.locked(|h, _| {
            let Some(e) = h.entries.iter().find(|e| e.key == key) else { return Snapshot::default() };
            let bytes = (e.version != 0 && e.version != have_version && !e.data.is_null())
                // SAFETY: data/len describe a live slab allocation owned by the entry.
                .then(|| unsafe { core::slice::from_raw_parts(e.data, e.len) }.to_vec());
            Snapshot { version: e.version, expires_at: e.expires_at, failed_at: e.failed_at, failure: e.failure, bytes }
        })
    }

    /// The version of `key` in the zone and whether a worker is fetching it now, without
    /// copying anything (a cheap look for a worker whose own copy is still fresh).
    pub fn peek(&self, key: u64, now: i64) -> Option<(u64, bool)> {
        self.locked(|h, _| h.entries.iter().find(|e| e.key == key).map(|e| (e.version, e.lease_until > now)))
    }

    /// Takes the fetch lease of `key` unless another worker holds a live one.
    pub fn try_lease(&self, key: u64, now: i64, until: i64) -> bool {
        self.locked(|h, shpool| {
            let Some(e) = slot(h, shpool, key, now) else { return false };
            if e.lease_until > now {
                return false;
            }
            e.lease_until = until;
            true
        })
    }

    /// Stores a new version of a document and releases the lease. Returns the version,
    /// or None when the zone has no room (the caller logs it; the old copy stays).
    pub fn store(&self, key: u64, body: &[u8], now: i64, expires_at: i64) -> Option<u64> {
        self.locked(|h, shpool| {
            let version = h.next_version;
            h.next_version += 1;
            let e = slot(h, shpool, key, now)?;
            e.lease_until = 0;
            // SAFETY: allocation and free under the slab mutex we hold.
            let data = unsafe { nginx_sys::ngx_slab_alloc_locked(shpool, body.len().max(1)) }.cast::<u8>();
            if data.is_null() {
                return None;
            }
            // SAFETY: data is a fresh slab block of at least body.len() bytes; the old block
            // is this entry's, freed and replaced while we hold the slab mutex.
            unsafe {
                ptr::copy_nonoverlapping(body.as_ptr(), data, body.len());
                if !e.data.is_null() {
                    nginx_sys::ngx_slab_free_locked(shpool, e.data.cast());
                }
            }
            e.data = data;
            e.len = body.len();
            e.version = version;
            e.fetched_at = now;
            e.expires_at = expires_at;
            e.failed_at = 0;
            e.failure = 0;
            Some(version)
        })
    }

    /// Records a failed fetch (the old copy, if any, stays) and releases the lease.
    pub fn record_failure(&self, key: u64, now: i64, failure: u32) {
        self.locked(|h, shpool| {
            if let Some(e) = slot(h, shpool, key, now) {
                e.lease_until = 0;
                e.failed_at = now;
                e.failure = failure;
            }
        })
    }

    /// Bytes in use (whole pages of the slab allocator) and the zone's size, for metrics.
    pub fn usage(&self) -> (u64, u64) {
        // SAFETY: ngx_pagesize is set before workers start.
        let page = unsafe { nginx_sys::ngx_pagesize } as u64;
        self.locked(|_, shpool| {
            // SAFETY: the pool's bounds and free page count, read under its mutex.
            let (size, free) = unsafe { ((*shpool).end as u64 - (*shpool).addr as u64, (*shpool).pfree as u64) };
            (size.saturating_sub(free * page), size)
        })
    }

    /// Rate limit of refreshes forced by unknown key ids, shared by all workers.
    pub fn try_forced_refresh(&self, key: u64, now: i64, min_interval: i64) -> bool {
        self.locked(|h, shpool| {
            let Some(e) = slot(h, shpool, key, now) else { return false };
            if e.forced_refresh_at != 0 && now - e.forced_refresh_at < min_interval {
                return false;
            }
            e.forced_refresh_at = now;
            e.expires_at = now; // make readers see it as due
            true
        })
    }
}

/// The entry of `key`, created if missing; when the table is full the entry fetched
/// longest ago (and not being fetched) is recycled.
fn slot(h: &mut Header, shpool: *mut ngx_slab_pool_t, key: u64, now: i64) -> Option<&mut Entry> {
    if let Some(i) = h.entries.iter().position(|e| e.key == key) {
        return Some(&mut h.entries[i]);
    }
    let i = match h.entries.iter().position(|e| e.key == 0) {
        Some(i) => i,
        None => h
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.lease_until <= now)
            .min_by_key(|(_, e)| e.fetched_at)
            .map(|(i, _)| i)?,
    };
    let e = &mut h.entries[i];
    if e.key != 0 {
        crate::metrics::zone_evicted(crate::metrics::ZoneTable::Documents, 1);
    }
    if !e.data.is_null() {
        // SAFETY: the caller holds the slab mutex; the blob belonged to the evicted entry.
        unsafe { nginx_sys::ngx_slab_free_locked(shpool, e.data.cast()) };
    }
    *e = Entry { key, data: ptr::null_mut(), len: 0, version: 0, fetched_at: 0, expires_at: 0,
                 lease_until: 0, failed_at: 0, failure: 0, forced_refresh_at: 0 };
    Some(e)
}

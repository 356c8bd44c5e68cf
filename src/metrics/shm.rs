//! The counters' own shared-memory zone.
//!
//! A zone of its own (not `oidc_shared_zone`), of a size fixed by the layout, so nginx
//! hands the same memory to the next configuration on every reload, whatever happens to
//! the other zone's size. Each provider owns one slot, found by its name: a reload that
//! reorders, adds or removes providers keeps every remaining provider's counts. Slots
//! are claimed in the master, while the new configuration's zones are set up; workers
//! only add to them.

use core::ffi::c_void;
use core::sync::atomic::AtomicU64;
use core::{mem, ptr};

use nginx_sys::{ngx_conf_t, ngx_int_t, ngx_shm_zone_t, ngx_slab_pool_t, ngx_str_t};
use ngx::core::Status;
use ngx::http::HttpModule;
use oidc_core::metrics::{layout_hash, GLOBAL_SLOTS, PROVIDER_SLOTS};

const MAGIC: u64 = 0x6f69_6463_6d65_7401;
pub const ZONE_NAME: &str = "auth_oidc_metrics";
/// Providers with counters; more are configured rarely, and are not counted.
pub const MAX_PROVIDERS: usize = 64;

#[repr(C)]
pub struct ProviderSlot {
    /// A hash of the provider's name; 0: free.
    key: u64,
    pub counters: [AtomicU64; PROVIDER_SLOTS],
}

#[repr(C)]
pub struct Header {
    magic: u64,
    layout: u64,
    pub global: [AtomicU64; GLOBAL_SLOTS],
    pub providers: [ProviderSlot; MAX_PROVIDERS],
}

/// What the configuration keeps about the zone.
pub struct MetricsConf {
    pub shm_zone: *mut ngx_shm_zone_t,
    /// The providers' names, by index (copied when the zone is requested).
    names: Vec<String>,
    /// Each provider's slot, by index (None: no room); set when the zone is set up.
    pub slots: Vec<Option<usize>>,
    /// The zone's header, once set up.
    pub header: *mut Header,
}

impl Default for MetricsConf {
    fn default() -> Self {
        MetricsConf { shm_zone: ptr::null_mut(), names: Vec::new(), slots: Vec::new(), header: ptr::null_mut() }
    }
}

fn zone_size() -> usize {
    // SAFETY: ngx_pagesize is set by nginx before configuration parsing.
    let page = unsafe { nginx_sys::ngx_pagesize }.max(4096);
    // Whole pages for the header, and room for the slab allocator's own bookkeeping.
    mem::size_of::<Header>().div_ceil(page) * page + 16 * page
}

fn name_key(name: &str) -> u64 {
    crate::cache::key_hash(&[b"metrics\n", name.as_bytes()]).max(1)
}

/// Registers the zone during configuration (with the providers' names).
pub fn request(cf: &mut ngx_conf_t, mc: &mut MetricsConf, names: Vec<String>) -> Result<(), ()> {
    let mut ngx_name = ngx_str_t { len: ZONE_NAME.len(), data: ZONE_NAME.as_ptr().cast_mut() };
    let tag = ptr::from_ref(crate::AuthOidcModule::module()).cast_mut().cast();
    // SAFETY: called while parsing the configuration; the name is a static string.
    let zone = unsafe { nginx_sys::ngx_shared_memory_add(cf, &mut ngx_name, zone_size(), tag) };
    if zone.is_null() {
        return Err(());
    }
    if names.len() > MAX_PROVIDERS {
        conf_warn!(cf, "auth_oidc: metrics are kept for {MAX_PROVIDERS} of the {} oidc_provider blocks only", names.len());
    }
    mc.names = names;
    mc.shm_zone = zone;
    // SAFETY: ngx_shared_memory_add returned a valid zone; `mc` lives in the main
    // configuration, allocated from the cycle's pool, as long as the zone's cycle.
    unsafe {
        (*zone).init = Some(init_zone);
        (*zone).data = ptr::from_mut(mc).cast();
    }
    Ok(())
}

guarded! { fn init_zone(zone: *mut ngx_shm_zone_t, data: *mut c_void) -> ngx_int_t = init_zone_body, on_panic nginx_sys::NGX_ERROR as nginx_sys::ngx_int_t; }
fn init_zone_body(zone: *mut ngx_shm_zone_t, _old: *mut c_void) -> ngx_int_t {
    // SAFETY: nginx calls this in the master with the zone of the configuration being
    // loaded, whose data we set to its MetricsConf; the slab pool is at shm.addr (the
    // same memory as the previous cycle's zone when nginx reuses it on reload).
    unsafe {
        let zone = &mut *zone;
        let mc = &mut *zone.data.cast::<MetricsConf>();
        let shpool = zone.shm.addr.cast::<ngx_slab_pool_t>();
        let mut hdr = (*shpool).data.cast::<Header>();
        let layout = layout_hash();
        if hdr.is_null() || (*hdr).magic != MAGIC || (*hdr).layout != layout {
            // New, or laid out by another build: start afresh (an old header is left
            // alone, the previous workers may still be adding to it).
            hdr = nginx_sys::ngx_slab_calloc(shpool, mem::size_of::<Header>()).cast::<Header>();
            if hdr.is_null() {
                return Status::NGX_ERROR.into();
            }
            (*hdr).magic = MAGIC;
            (*hdr).layout = layout;
            (*shpool).data = hdr.cast();
        }
        mc.header = hdr;
        mc.slots = claim(&mut *hdr, &mc.names);
    }
    Status::NGX_OK.into()
}

/// Each name's slot: the one it had, else a free one, else one of a provider this
/// configuration no longer has (its counts start again from zero).
fn claim(hdr: &mut Header, names: &[String]) -> Vec<Option<usize>> {
    let keys: Vec<u64> = names.iter().map(|n| name_key(n)).collect();
    let mut slots: Vec<Option<usize>> = keys.iter().map(|k| hdr.providers.iter().position(|s| s.key == *k)).collect();
    for (i, key) in keys.iter().enumerate() {
        if slots[i].is_some() {
            continue;
        }
        let free = hdr.providers.iter().position(|s| s.key == 0);
        let Some(j) = free.or_else(|| hdr.providers.iter().position(|s| !keys.contains(&s.key))) else { continue };
        let s = &mut hdr.providers[j];
        s.key = *key;
        for c in &s.counters {
            c.store(0, core::sync::atomic::Ordering::Relaxed);
        }
        slots[i] = Some(j);
    }
    slots
}

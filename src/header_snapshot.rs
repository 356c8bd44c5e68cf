//! The request headers as they were before the module removed the client's copies of
//! identity headers and of the module's own cookies (see `spoof_guard`).
//!
//! The removal happens before the access phase, so that no other module or upstream sees
//! those copies; but the module itself still has to read its cookies (the session, the
//! login state) and token headers afterwards, also in a location entered later by an
//! internal redirect (`try_files`, `error_page`). nginx clears every module's request
//! context on an internal redirect, so the snapshot is hung on the request pool instead
//! (which lives as long as the request) and found again through its cleanup handler.

use core::ffi::c_void;

use nginx_sys::{ngx_http_request_t, ngx_table_elt_t};

use crate::ngx_util;

/// Header names and values as slices of the request's own memory (the client's header
/// buffers, or the pool): both outlive the request's handlers.
pub struct Snapshot {
    headers: Vec<(&'static [u8], &'static [u8])>,
    cookies: Vec<&'static [u8]>,
}

impl Snapshot {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'static [u8]> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| *v)
    }

    /// The `Cookie` header values, in order.
    pub fn cookies(&self) -> Vec<&'static [u8]> {
        self.cookies.clone()
    }
}

guarded! { fn drop_snapshot(data: *mut c_void) = drop_snapshot_body; }
unsafe fn drop_snapshot_body(data: *mut c_void) {
    // SAFETY: `data` is the Snapshot that `take` wrote into this cleanup's memory; the
    // pool calls each cleanup once.
    unsafe { core::ptr::drop_in_place(data.cast::<Snapshot>()) }
}

fn is_ours(handler: nginx_sys::ngx_pool_cleanup_pt) -> bool {
    handler.map(|f| f as usize) == Some(drop_snapshot as extern "C" fn(*mut c_void) as usize)
}

/// The snapshot of this request, if the module took one.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn get<'a>(r: *mut ngx_http_request_t) -> Option<&'a Snapshot> {
    // SAFETY: the pool's cleanup chain is a list of live entries; ours holds a Snapshot.
    unsafe {
        let mut c = (*(*r).pool).cleanup;
        while !c.is_null() {
            if is_ours((*c).handler) {
                return Some(&*(*c).data.cast::<Snapshot>());
            }
            c = (*c).next;
        }
    }
    None
}

/// Takes the snapshot now (once per request: a later call keeps the first).
///
/// # Safety
/// `r` must be a live main request whose headers have not been changed by this module.
pub unsafe fn take(r: *mut ngx_http_request_t) -> Option<()> {
    // SAFETY: as the caller promises; the cleanup memory is sized and aligned for a
    // Snapshot (checked), and the slices point into memory the request owns.
    unsafe {
        if get(r).is_some() {
            return Some(());
        }
        let mut headers = Vec::new();
        ngx_util::each_header_in(r, |h: *mut ngx_table_elt_t| {
            headers.push((ngx_util::bytes(&(*h).key), ngx_util::bytes(&(*h).value)));
        });
        let cookies = ngx_util::cookie_elements(r).into_iter().map(|h| ngx_util::bytes(&(*h).value)).collect();
        let cln = nginx_sys::ngx_pool_cleanup_add((*r).pool, core::mem::size_of::<Snapshot>());
        if cln.is_null() {
            return None;
        }
        let slot = (*cln).data.cast::<Snapshot>();
        if slot.align_offset(core::mem::align_of::<Snapshot>()) != 0 {
            // Never leave a cleanup that would drop memory holding no Snapshot.
            (*cln).handler = None;
            return None;
        }
        slot.write(Snapshot { headers, cookies });
        (*cln).handler = Some(drop_snapshot);
    }
    Some(())
}

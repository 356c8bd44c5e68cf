//! Small helpers over raw nginx request structures.

use core::ptr;

use nginx_sys::{ngx_http_request_t, ngx_str_t, ngx_table_elt_t};
use ngx::http::HttpModule;

use crate::AuthOidcModule;

/// Per-request state of the module, allocated in the request pool.
#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct ReqCtx {
    pub waiting: bool,
    pub cleanup_added: bool,
}

/// The request's context, created on first use.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn request_ctx<'a>(r: *mut ngx_http_request_t) -> Option<&'a mut ReqCtx> {
    let idx = AuthOidcModule::module().ctx_index;
    let slot = (*r).ctx.add(idx);
    if (*slot).is_null() {
        let p = nginx_sys::ngx_pcalloc((*r).pool, core::mem::size_of::<ReqCtx>()).cast::<ReqCtx>();
        if p.is_null() {
            return None;
        }
        p.write(ReqCtx::default());
        *slot = p.cast();
    }
    Some(&mut *(*slot).cast::<ReqCtx>())
}

/// # Safety
/// `s` must describe valid memory (or be empty).
pub unsafe fn bytes<'a>(s: &ngx_str_t) -> &'a [u8] {
    if s.len == 0 || s.data.is_null() {
        &[]
    } else {
        core::slice::from_raw_parts(s.data, s.len)
    }
}

/// Copies `b` into the request pool as an ngx_str_t.
unsafe fn pool_str(r: *mut ngx_http_request_t, b: &[u8]) -> Option<ngx_str_t> {
    let p = nginx_sys::ngx_pnalloc((*r).pool, b.len().max(1)).cast::<u8>();
    if p.is_null() {
        return None;
    }
    ptr::copy_nonoverlapping(b.as_ptr(), p, b.len());
    Some(ngx_str_t { len: b.len(), data: p })
}

/// Adds a response header; returns the element (for headers nginx tracks by pointer).
///
/// # Safety
/// `r` must be a live request whose header has not been sent.
pub unsafe fn add_header(r: *mut ngx_http_request_t, key: &'static str, value: &[u8]) -> Option<*mut ngx_table_elt_t> {
    let h = nginx_sys::ngx_list_push(&mut (*r).headers_out.headers).cast::<ngx_table_elt_t>();
    if h.is_null() {
        return None;
    }
    (*h).hash = 1;
    (*h).next = ptr::null_mut();
    (*h).key = ngx_str_t { len: key.len(), data: key.as_ptr().cast_mut() };
    (*h).value = pool_str(r, value)?;
    (*h).lowcase_key = ptr::null_mut();
    Some(h)
}

/// Sets `Location` so nginx's 302 carries it.
///
/// # Safety
/// As for `add_header`.
pub unsafe fn set_location(r: *mut ngx_http_request_t, url: &str) -> Option<()> {
    let h = add_header(r, "Location", url.as_bytes())?;
    (*r).headers_out.location = h;
    Some(())
}

/// Every `Cookie` request header, in order.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn cookie_headers<'a>(r: *mut ngx_http_request_t) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut h = (*r).headers_in.cookie;
    while !h.is_null() {
        out.push(bytes(&(*h).value));
        h = (*h).next;
    }
    out
}

/// Whether the client reached us over TLS.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn is_https(r: *mut ngx_http_request_t) -> bool {
    !(*(*r).connection).ssl.is_null()
}

/// The authority the client used (Host header with port, else the server name).
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn authority<'a>(r: *mut ngx_http_request_t) -> Option<&'a str> {
    let host = (*r).headers_in.host;
    let b = if !host.is_null() { bytes(&(*host).value) } else { bytes(&(*r).headers_in.server) };
    core::str::from_utf8(b).ok().filter(|s| !s.is_empty())
}

/// The request's path and query as the client sent them.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn unparsed_uri<'a>(r: *mut ngx_http_request_t) -> &'a [u8] {
    bytes(&(*r).unparsed_uri)
}

/// The request's normalised path (no query).
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn uri<'a>(r: *mut ngx_http_request_t) -> &'a [u8] {
    bytes(&(*r).uri)
}

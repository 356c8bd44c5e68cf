//! The request as the handlers see it: a safe handle over nginx's `ngx_http_request_t`.
//!
//! Handlers read headers and cookies, set response headers and send pages only through
//! the methods of `Request`; the raw pointer stays in this file (and the few FFI files it
//! delegates to: `ngx_util`, `header_snapshot`, `req_ctx`, `handler::page`). The one
//! `unsafe` step is `Request::from_raw`, done by the entry points that nginx calls with a
//! request; every method relies on the invariant it establishes.

use core::marker::PhantomData;

use nginx_sys::{ngx_http_complex_value_t, ngx_http_request_t, ngx_int_t, ngx_log_t, ngx_str_t, NGX_OK};
use oidc_core::session_cookie::CookieJar;

use crate::ngx_util;

thread_local! {
    /// The request a page was last sent for (and so finalized, and maybe freed), until
    /// nginx hands a request at that address to the module again. A `Request` is `Copy`,
    /// so code can still hold one after `send`: its context must not be touched then.
    static ENDED: core::cell::Cell<*mut ngx_http_request_t> = const { core::cell::Cell::new(core::ptr::null_mut()) };
}

/// A live nginx request, for the duration of one call from nginx (an access handler, a
/// resumption, a variable getter). `'a` is that call: nothing borrowed from the request
/// (header values, cookies) can outlive it.
#[derive(Clone, Copy)]
pub struct Request<'a> {
    r: *mut ngx_http_request_t,
    _call: PhantomData<&'a mut ngx_http_request_t>,
}

impl<'a> Request<'a> {
    /// # Safety
    /// `r` must be a live request (its pool not destroyed) for all of `'a`, used by this
    /// thread only, and its response header must not have been sent yet when a method
    /// that sets headers or sends a page is called. In practice: the request nginx
    /// passed to the entry point that is running.
    pub unsafe fn from_raw(r: *mut ngx_http_request_t) -> Self {
        // nginx hands us a live request: if a request that ended earlier had this address,
        // this one is another (or the same, resumed), and usable.
        ENDED.with(|e| {
            if e.get() == r {
                e.set(core::ptr::null_mut());
            }
        });
        Request { r, _call: PhantomData }
    }

    /// Whether a page was sent for this request during the current call from nginx
    /// (`send`, `send_html`, `send_json` finalize it, which may free it).
    pub fn ended(self) -> bool {
        ENDED.with(|e| e.get() == self.r)
    }

    /// The raw pointer, for the FFI files (suspension, body reading, nginx calls).
    /// Getting it is safe; using it is not.
    pub fn raw(self) -> *mut ngx_http_request_t {
        self.r
    }

    /// The module's configuration of the request's location.
    pub fn loc_conf(self) -> Option<&'a crate::conf::LocConf> {
        use ngx::http::HttpModuleLocationConf;
        // SAFETY: from_raw's invariant: r is live, and its configuration outlives it.
        crate::AuthOidcModule::location_conf(unsafe { &*self.r })
    }

    /// The module's main configuration.
    pub fn main_conf(self) -> Option<&'a crate::conf::MainConf> {
        use ngx::http::HttpModuleMainConf;
        // SAFETY: from_raw's invariant: r is live, and its configuration outlives it.
        crate::AuthOidcModule::main_conf(unsafe { &*self.r })
    }

    /// The connection's log, for `ngx_log!`.
    pub fn log(self) -> *mut ngx_log_t {
        // SAFETY: from_raw's invariant: r is live, so is its connection.
        unsafe { (*(*self.r).connection).log }
    }

    /// The request method as sent (`GET`, `POST`, ...).
    pub fn method(self) -> &'a [u8] {
        // SAFETY: from_raw's invariant: r is live for 'a.
        unsafe { ngx_util::method(self.r) }
    }

    /// The normalised path (no query).
    pub fn uri(self) -> &'a [u8] {
        // SAFETY: from_raw's invariant: r is live for 'a.
        unsafe { ngx_util::uri(self.r) }
    }

    /// The path and query as the client sent them.
    pub fn unparsed_uri(self) -> &'a [u8] {
        // SAFETY: from_raw's invariant: r is live for 'a.
        unsafe { ngx_util::unparsed_uri(self.r) }
    }

    /// The query string (without `?`).
    pub fn args(self) -> &'a [u8] {
        // SAFETY: from_raw's invariant: r is live for 'a.
        unsafe { ngx_util::args(self.r) }
    }

    /// The first request header of that name, as the client sent it.
    pub fn header_in(self, name: &str) -> Option<&'a [u8]> {
        // SAFETY: from_raw's invariant: r is live for 'a.
        unsafe { ngx_util::header_in(self.r, name) }
    }

    /// The request's cookies, as the client sent them.
    pub fn jar(self) -> CookieJar<'a> {
        CookieJar::parse(&self.cookie_headers())
    }

    /// Every `Cookie` request header, in order, as the client sent them.
    pub fn cookie_headers(self) -> Vec<&'a [u8]> {
        // SAFETY: from_raw's invariant: r is live for 'a.
        unsafe { ngx_util::cookie_headers(self.r) }
    }

    /// The authority the client used (Host header with port, else the server name).
    pub fn authority(self) -> Option<&'a str> {
        // SAFETY: from_raw's invariant: r is live for 'a.
        unsafe { ngx_util::authority(self.r) }
    }

    /// The longest request header line this server accepts (HTTP/1.x; HTTP/2 and 3 send
    /// each cookie as its own field, for which the same size holds).
    pub fn header_line_limit(self) -> usize {
        use ngx::http::{HttpModuleServerConf, NgxHttpCoreModule};
        // SAFETY: from_raw's invariant: r is live, and so is the configuration it points to.
        match NgxHttpCoreModule::server_conf(unsafe { &*self.r }) {
            Some(cscf) => cscf.large_client_header_buffers.size,
            None => 8192,
        }
    }

    /// Whether the client reached us over TLS.
    pub fn is_https(self) -> bool {
        // SAFETY: from_raw's invariant: r is live.
        unsafe { ngx_util::is_https(self.r) }
    }

    /// `scheme://authority` of this request, as the browser sees this site.
    pub fn origin(self) -> Option<String> {
        // SAFETY: from_raw's invariant: r is live.
        unsafe { ngx_util::origin(self.r) }
    }

    /// Adds a response header.
    pub fn add_header(self, key: &'static str, value: &[u8]) -> Option<()> {
        // SAFETY: from_raw's invariant: r is live and its header not sent.
        unsafe { ngx_util::add_header(self.r, key, value).map(|_| ()) }
    }

    /// Sets `WWW-Authenticate` (nginx keeps a pointer to it).
    pub fn set_www_authenticate(self, value: &[u8]) -> Option<()> {
        // SAFETY: from_raw's invariant: r is live and its header not sent; the element
        // add_header returns lives in the request pool, as long as headers_out.
        unsafe {
            let h = ngx_util::add_header(self.r, "WWW-Authenticate", value)?;
            (*self.r).headers_out.www_authenticate = h;
        }
        Some(())
    }

    /// Sets `Cache-Control` (see `ngx_util::set_cache_control`).
    pub fn set_cache_control(self, value: &[u8], only_if_absent: bool) -> Option<()> {
        // SAFETY: from_raw's invariant: r is live and its header not sent.
        unsafe { ngx_util::set_cache_control(self.r, value, only_if_absent) }
    }

    /// Sets `Location` so nginx's 302 carries it.
    pub fn set_location(self, url: &str) -> Option<()> {
        // SAFETY: from_raw's invariant: r is live and its header not sent.
        unsafe { ngx_util::set_location(self.r, url) }
    }

    /// Replaces the request line (`$request`, error log lines) and the raw URI
    /// (`$request_uri`) by what `mask` makes of them, where it changes them.
    pub fn mask_request_line(self, mask: impl Fn(&str) -> Option<String>) {
        // SAFETY: from_raw's invariant: r is live; the new text is copied into its pool,
        // which lives as long as the request that points to it.
        unsafe {
            for field in [&mut (*self.r).request_line, &mut (*self.r).unparsed_uri] {
                let text = ngx_util::bytes(field);
                let Some(masked) = core::str::from_utf8(text).ok().and_then(&mask) else { continue };
                let p = nginx_sys::ngx_pnalloc((*self.r).pool, masked.len()).cast::<u8>();
                if p.is_null() {
                    return;
                }
                core::ptr::copy_nonoverlapping(masked.as_ptr(), p, masked.len());
                *field = ngx_str_t { len: masked.len(), data: p };
            }
        }
    }

    /// Removes every request header of this name (case-insensitive).
    pub fn remove_headers_in(self, name: &[u8]) -> Option<()> {
        self.remove_headers_named(|key| key.eq_ignore_ascii_case(name))
    }

    /// Whether any request header's name satisfies `named`.
    pub fn any_header_named(self, named: impl Fn(&[u8]) -> bool) -> bool {
        let mut found = false;
        // SAFETY: from_raw's invariant: r is live; the walk hands out its own elements,
        // only read here.
        unsafe { ngx_util::each_header_in(self.r, |h| found |= named(ngx_util::bytes(&(*h).key))) };
        found
    }

    /// Removes every request header whose name satisfies `named`.
    pub fn remove_headers_named(self, named: impl Fn(&[u8]) -> bool) -> Option<()> {
        // SAFETY: from_raw's invariant: r is live; the closure only reads the element
        // nginx's list walk hands it, and no pointer to a removed element is kept.
        unsafe { ngx_util::remove_headers_in(self.r, |e| named(ngx_util::bytes(&(*e).key))) }
    }

    /// Rewrites each `Cookie` request header: `rewrite` returns None to keep a value as
    /// it is, or its replacement; a header whose replacement is empty is removed.
    pub fn rewrite_cookie_headers(self, rewrite: impl Fn(&[u8]) -> Option<String>) -> Option<()> {
        let mut emptied: Vec<*mut nginx_sys::ngx_table_elt_t> = Vec::new();
        // SAFETY: from_raw's invariant: r is live; the elements are the request's own and
        // live as long as it does. The new values are copied into its pool
        // (set_header_value); emptied elements are compared by address only.
        unsafe {
            for h in ngx_util::cookie_elements(self.r) {
                let Some(new) = rewrite(ngx_util::bytes(&(*h).value)) else { continue };
                if new.is_empty() {
                    emptied.push(h);
                } else {
                    ngx_util::set_header_value(self.r, h, new.as_bytes())?;
                }
            }
            if !emptied.is_empty() {
                ngx_util::remove_headers_in(self.r, |e| emptied.contains(&e))?;
            }
        }
        Some(())
    }

    /// Keeps a copy of the request headers as they are now, for the module's own reads:
    /// taken before the module removes anything, it holds what the client sent (see
    /// `header_snapshot`). A later call keeps the first copy.
    pub fn snapshot_headers(self) -> Option<()> {
        // SAFETY: from_raw's invariant: r is live; the snapshot lives in its pool and
        // points to header memory of that pool, which a later removal or rewrite unlinks
        // but never frees (take's "unchanged headers" is about what the copy means).
        unsafe { crate::header_snapshot::take(self.r) }
    }

    /// Whether this is a subrequest (which shares its main request's header list).
    pub fn is_subrequest(self) -> bool {
        // SAFETY: from_raw's invariant: r is live, and so is its main request.
        unsafe { (*self.r).main != self.r }
    }

    /// Adds a request header (seen by the upstream modules).
    pub fn push_header_in(self, key: &[u8], value: &[u8]) -> Option<()> {
        // SAFETY: from_raw's invariant: r is live.
        unsafe { ngx_util::push_header_in(self.r, key, value) }
    }

    /// Evaluates a complex value (a directive's argument with variables) for this request;
    /// None when nginx fails to.
    pub fn complex_value(self, cv: *mut ngx_http_complex_value_t) -> Option<&'a [u8]> {
        let mut value = ngx_str_t { len: 0, data: core::ptr::null_mut() };
        // SAFETY: from_raw's invariant: r is live; cv was compiled at configuration time
        // and lives in the configuration pool, longer than any request. The result is in
        // the request pool, so it lives for 'a.
        unsafe {
            if nginx_sys::ngx_http_complex_value(self.r, cv, &mut value) != NGX_OK as ngx_int_t {
                return None;
            }
            Some(ngx_util::bytes(&value))
        }
    }

    /// The request's context, created on first use, borrowed for writing. None when it
    /// cannot be created (no memory) or is already borrowed (logged: a bug, answered
    /// as if there were no context rather than with two `&mut` to it).
    pub fn ctx(self) -> Option<core::cell::RefMut<'a, crate::req_ctx::ReqCtx>> {
        if self.ended() {
            // Finalized by a page sent in this call: its pool may be gone.
            return None;
        }
        // SAFETY: from_raw's invariant: r is live for 'a; the context lives in its pool.
        let cell = unsafe { crate::req_ctx::request_ctx(self.r) }?;
        let ctx = cell.borrow();
        if ctx.is_none() {
            ngx_log!(alert, self.log(), "auth_oidc: internal: the request context is already in use");
        }
        ctx
    }

    /// The request body when it is in memory (see `ngx_util::body_in_memory`).
    pub fn body_in_memory(self, max: usize) -> Result<Vec<u8>, &'static str> {
        // SAFETY: from_raw's invariant: r is live; a body nginx has not read yet is a
        // null request_body, which body_in_memory answers as empty.
        unsafe { ngx_util::body_in_memory(self.r, max) }
    }

    /// Sends `status` with a small page and ends the request (see `handler::page`).
    /// Returns what the access handler must return.
    pub fn send(self, status: usize, title: &str, message: &str) -> ngx_int_t {
        self.send_html(status, &crate::handler::page::html(title, message))
    }

    /// As `send`, with a body already written (HTML-escaped by the caller).
    ///
    /// These three finalize the request, which may free it: afterwards `ended()` is true,
    /// `ctx()` gives None, and the caller returns what they return without touching the
    /// request again.
    pub fn send_html(self, status: usize, body: &str) -> ngx_int_t {
        // SAFETY: from_raw's invariant: r is the live request whose handler is running
        // and its header is not sent.
        let rc = unsafe { crate::handler::page::send_html(self.r, status, body) };
        ENDED.with(|e| e.set(self.r));
        rc
    }

    /// As `send_html`, for a JSON body.
    pub fn send_json(self, status: usize, body: &str) -> ngx_int_t {
        // SAFETY: from_raw's invariant, as for send_html.
        let rc = unsafe { crate::handler::page::send_json(self.r, status, body) };
        ENDED.with(|e| e.set(self.r));
        rc
    }
}

//! Small helpers over raw nginx request structures.

use core::ptr;

use nginx_sys::{ngx_http_request_t, ngx_str_t, ngx_table_elt_t};

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
    #[cfg(ngx_header_lists)]
    {
        (*h).next = ptr::null_mut();
    }
    (*h).key = ngx_str_t { len: key.len(), data: key.as_ptr().cast_mut() };
    (*h).value = pool_str(r, value)?;
    (*h).lowcase_key = ptr::null_mut();
    Some(h)
}

/// The response's header of this name (set by the module), if any.
///
/// # Safety
/// `r` must be a live request.
unsafe fn header_out(r: *mut ngx_http_request_t, name: &str) -> Option<*mut ngx_table_elt_t> {
    let mut found = None;
    each_header(&mut (*r).headers_out.headers, |h| {
        if (*h).hash != 0 && bytes(&(*h).key).eq_ignore_ascii_case(name.as_bytes()) {
            found = Some(h);
        }
        found.is_none()
    });
    found
}

/// Sets the response's `Cache-Control` (one header: a later, stricter value such as
/// `no-store` replaces the `private` a cookie added). With `only_if_absent`, an existing
/// value is kept.
///
/// # Safety
/// `r` must be a live request whose header has not been sent.
pub unsafe fn set_cache_control(r: *mut ngx_http_request_t, value: &[u8], only_if_absent: bool) -> Option<()> {
    match header_out(r, "Cache-Control") {
        Some(_) if only_if_absent => Some(()),
        Some(h) => set_header_value(r, h, value),
        None => add_header(r, "Cache-Control", value).map(|_| ()),
    }
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

/// Every `Cookie` request header, in order, as the client sent them.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn cookie_headers<'a>(r: *mut ngx_http_request_t) -> Vec<&'a [u8]> {
    // The module may have removed its own cookies from the request (spoof_guard).
    if let Some(s) = crate::header_snapshot::get(r) {
        return s.cookies();
    }
    cookie_elements(r).into_iter().map(|h| bytes(&(*h).value)).collect()
}

/// The `Cookie` header elements, in order (nginx 1.23+: a chain; 1.22: an array).
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn cookie_elements(r: *mut ngx_http_request_t) -> Vec<*mut ngx_table_elt_t> {
    let mut out = Vec::new();
    #[cfg(ngx_header_lists)]
    {
        let mut h = (*r).headers_in.cookie;
        while !h.is_null() {
            out.push(h);
            h = (*h).next;
        }
    }
    #[cfg(not(ngx_header_lists))]
    {
        let a = &(*r).headers_in.cookies;
        if !a.elts.is_null() {
            out.extend_from_slice(core::slice::from_raw_parts(a.elts.cast::<*mut ngx_table_elt_t>(), a.nelts));
        }
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

/// The request method as sent (`GET`, `POST`, ...).
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn method<'a>(r: *mut ngx_http_request_t) -> &'a [u8] {
    bytes(&(*r).method_name)
}

/// The query string (without `?`).
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn args<'a>(r: *mut ngx_http_request_t) -> &'a [u8] {
    bytes(&(*r).args)
}

/// Calls `f` for every element of a list of headers, stopping when it returns false.
unsafe fn each_header(list: *mut nginx_sys::ngx_list_t, mut f: impl FnMut(*mut ngx_table_elt_t) -> bool) {
    let mut part: *mut nginx_sys::ngx_list_part_t = &mut (*list).part;
    while !part.is_null() {
        let elts = (*part).elts.cast::<ngx_table_elt_t>();
        for i in 0..(*part).nelts {
            if !f(elts.add(i)) {
                return;
            }
        }
        part = (*part).next;
    }
}

/// Calls `f` for every request header, in order.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn each_header_in(r: *mut ngx_http_request_t, mut f: impl FnMut(*mut ngx_table_elt_t)) {
    each_header(&mut (*r).headers_in.headers, |h| {
        f(h);
        true
    });
}

/// The first request header of that name (case-insensitive), as the client sent it
/// (before the module removed anything, see `header_snapshot`).
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn header_in<'a>(r: *mut ngx_http_request_t, name: &str) -> Option<&'a [u8]> {
    if let Some(s) = crate::header_snapshot::get(r) {
        return s.header(name);
    }
    let mut found = None;
    each_header(&mut (*r).headers_in.headers, |h| {
        if bytes(&(*h).key).eq_ignore_ascii_case(name.as_bytes()) {
            found = Some(bytes(&(*h).value));
            return false;
        }
        true
    });
    found
}

/// Removes request headers for which `doomed` says so, without moving any element:
/// other parts of nginx keep pointers to header elements (`headers_in.host`, the
/// `Cookie` chain), so the list's parts are narrowed or split around a removed element.
/// Two rules of nginx's own list code must hold afterwards: no part may be empty (header
/// loops read `elts[0]` of the next part without checking its count), and `ngx_list_push`
/// must never write past the array of a narrowed or split last part (so it is made to
/// start a fresh part). Removed `Cookie` headers are also unlinked from
/// `headers_in.cookie`.
///
/// # Safety
/// `r` must be a live request; no pointer to a removed element may be used afterwards.
pub unsafe fn remove_headers_in(r: *mut ngx_http_request_t, mut doomed: impl FnMut(*mut ngx_table_elt_t) -> bool) -> Option<()> {
    let list: *mut nginx_sys::ngx_list_t = &mut (*r).headers_in.headers;
    // After each removal the walk starts again: lists are short, and it keeps the
    // bookkeeping of parts that change under the walk out of the picture.
    'again: loop {
        let mut prev: *mut nginx_sys::ngx_list_part_t = ptr::null_mut();
        let mut part: *mut nginx_sys::ngx_list_part_t = &mut (*list).part;
        while !part.is_null() {
            let elts = (*part).elts.cast::<ngx_table_elt_t>();
            for i in 0..(*part).nelts {
                let h = elts.add(i);
                if doomed(h) {
                    unlink_cookie(r, h);
                    unlink_known(r, h);
                    remove_at(r, list, prev, part, i)?;
                    continue 'again;
                }
            }
            prev = part;
            part = (*part).next;
        }
        return Some(());
    }
}

/// Removes element `i` of `part` (`prev` is the part before it, null for the first).
unsafe fn remove_at(
    r: *mut ngx_http_request_t,
    list: *mut nginx_sys::ngx_list_t,
    prev: *mut nginx_sys::ngx_list_part_t,
    part: *mut nginx_sys::ngx_list_part_t,
    i: usize,
) -> Option<()> {
    let size = core::mem::size_of::<ngx_table_elt_t>();
    let n = (*part).nelts;
    let elts = (*part).elts.cast::<u8>();
    if n == 1 {
        // The part would be empty: drop it from the chain.
        let next = (*part).next;
        if !prev.is_null() {
            (*prev).next = next;
            if (*list).last == part {
                (*list).last = prev;
            }
        } else if !next.is_null() {
            // The first part is inside the list itself: it takes over the next one.
            *part = *next;
            if (*list).last == next {
                (*list).last = part;
            }
        } else {
            // The only element of the list: an empty first part with a fresh array.
            let fresh = nginx_sys::ngx_palloc((*r).pool, (*list).nalloc.max(1) * size);
            if fresh.is_null() {
                return None;
            }
            (*part).elts = fresh;
            (*part).nelts = 0;
            (*list).nalloc = (*list).nalloc.max(1);
            return Some(());
        }
    } else if i == 0 {
        (*part).elts = elts.add(size).cast();
        (*part).nelts = n - 1;
    } else if i == n - 1 {
        (*part).nelts = n - 1;
    } else {
        let tail = nginx_sys::ngx_palloc((*r).pool, core::mem::size_of::<nginx_sys::ngx_list_part_t>())
            .cast::<nginx_sys::ngx_list_part_t>();
        if tail.is_null() {
            return None;
        }
        tail.write(nginx_sys::ngx_list_part_t { elts: elts.add((i + 1) * size).cast(), nelts: n - i - 1, next: (*part).next });
        (*part).nelts = i;
        (*part).next = tail;
        if (*list).last == part {
            (*list).last = tail;
        }
    }
    // The last part's array may now end where its count does: the next push must start
    // a new part (ngx_list_push does when the last part holds `nalloc` elements).
    let last = (*list).last;
    if (*last).nelts > 0 {
        (*list).nalloc = (*last).nelts;
    }
    Some(())
}

unsafe fn unlink_cookie(r: *mut ngx_http_request_t, h: *mut ngx_table_elt_t) {
    #[cfg(ngx_header_lists)]
    {
        let mut link: *mut *mut ngx_table_elt_t = &mut (*r).headers_in.cookie;
        while !(*link).is_null() {
            if *link == h {
                *link = (*h).next;
                return;
            }
            link = &mut (**link).next;
        }
    }
    #[cfg(not(ngx_header_lists))]
    {
        let a = &mut (*r).headers_in.cookies;
        if a.elts.is_null() {
            return;
        }
        let elts = core::slice::from_raw_parts_mut(a.elts.cast::<*mut ngx_table_elt_t>(), a.nelts);
        if let Some(i) = elts.iter().position(|e| *e == h) {
            elts.copy_within(i + 1.., i);
            a.nelts -= 1;
        }
    }
}

/// nginx's shortcuts to request headers it knows (`headers_in.authorization`, ...), which
/// `$http_*` variables, `$proxy_add_x_forwarded_for`, `auth_basic` and the upstream
/// modules read instead of the list. Those nginx has in every build, and the two that
/// depend on its configuration (spoofable identity headers), by lowercase name.
unsafe fn known_headers(r: *mut ngx_http_request_t) -> Vec<(&'static [u8], *mut *mut ngx_table_elt_t)> {
    let hi = &mut (*r).headers_in;
    #[allow(unused_mut)]
    let mut v: Vec<(&'static [u8], *mut *mut ngx_table_elt_t)> = vec![
        (b"host", &mut hi.host),
        (b"connection", &mut hi.connection),
        (b"if-modified-since", &mut hi.if_modified_since),
        (b"if-unmodified-since", &mut hi.if_unmodified_since),
        (b"if-match", &mut hi.if_match),
        (b"if-none-match", &mut hi.if_none_match),
        (b"user-agent", &mut hi.user_agent),
        (b"referer", &mut hi.referer),
        (b"content-length", &mut hi.content_length),
        (b"content-range", &mut hi.content_range),
        (b"content-type", &mut hi.content_type),
        (b"range", &mut hi.range),
        (b"if-range", &mut hi.if_range),
        (b"transfer-encoding", &mut hi.transfer_encoding),
        (b"te", &mut hi.te),
        (b"expect", &mut hi.expect),
        (b"upgrade", &mut hi.upgrade),
        (b"authorization", &mut hi.authorization),
        (b"keep-alive", &mut hi.keep_alive),
    ];
    // Before 1.23 repeated X-Forwarded-For headers are an array (see `unlink_known`).
    #[cfg(all(ngx_feature = "http_x_forwarded_for", ngx_header_lists))]
    v.push((b"x-forwarded-for", &mut hi.x_forwarded_for));
    #[cfg(ngx_feature = "http_realip")]
    v.push((b"x-real-ip", &mut hi.x_real_ip));
    v
}

/// A removed header element must not stay reachable through nginx's shortcuts (or, for
/// repeated headers, through the chain of the others): `$http_authorization` would
/// still show the client's value the module removed.
unsafe fn unlink_known(r: *mut ngx_http_request_t, h: *mut ngx_table_elt_t) {
    #[cfg(all(ngx_feature = "http_x_forwarded_for", not(ngx_header_lists)))]
    {
        let a = &mut (*r).headers_in.x_forwarded_for;
        if !a.elts.is_null() {
            let elts = core::slice::from_raw_parts_mut(a.elts.cast::<*mut ngx_table_elt_t>(), a.nelts);
            if let Some(i) = elts.iter().position(|e| *e == h) {
                elts.copy_within(i + 1.., i);
                a.nelts -= 1;
            }
        }
    }
    for (_, slot) in known_headers(r) {
        #[cfg(ngx_header_lists)]
        {
            if *slot == h {
                *slot = (*h).next;
            }
            let mut p = *slot;
            while !p.is_null() {
                if (*p).next == h {
                    (*p).next = (*h).next;
                }
                p = (*p).next;
            }
        }
        #[cfg(not(ngx_header_lists))]
        {
            if *slot == h {
                *slot = ptr::null_mut();
            }
        }
    }
}

/// Adds a request header (seen by proxy_pass, fastcgi_pass, uwsgi_pass, grpc_pass).
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn push_header_in(r: *mut ngx_http_request_t, key: &[u8], value: &[u8]) -> Option<()> {
    let h = nginx_sys::ngx_list_push(&mut (*r).headers_in.headers).cast::<ngx_table_elt_t>();
    if h.is_null() {
        return None;
    }
    let k = pool_str(r, key)?;
    let lower = nginx_sys::ngx_pnalloc((*r).pool, key.len().max(1)).cast::<u8>();
    if lower.is_null() {
        return None;
    }
    for (i, b) in key.iter().enumerate() {
        *lower.add(i) = b.to_ascii_lowercase();
    }
    (*h).key = k;
    (*h).value = pool_str(r, value)?;
    (*h).lowcase_key = lower;
    // The hash nginx's header parser computes, so upstream modules' lookups match.
    (*h).hash = nginx_sys::ngx_hash_key(lower, key.len());
    #[cfg(ngx_header_lists)]
    {
        (*h).next = ptr::null_mut();
    }
    // A header nginx keeps a shortcut to, left empty by the removal of the client's copy:
    // the shortcut now names the module's value ($http_authorization, auth_basic, ...).
    if let Some((_, slot)) = known_headers(r).into_iter().find(|(n, _)| n.eq_ignore_ascii_case(key)) {
        if (*slot).is_null() {
            *slot = h;
        }
    }
    Some(())
}

/// Replaces the value of a header element (a copy in the request pool).
///
/// # Safety
/// `r` must be a live request and `h` one of its header elements.
pub unsafe fn set_header_value(r: *mut ngx_http_request_t, h: *mut ngx_table_elt_t, value: &[u8]) -> Option<()> {
    (*h).value = pool_str(r, value)?;
    Some(())
}

/// The request body when it is in memory (a form post); None when there is none or
/// nginx wrote it to a file (larger than `client_body_buffer_size`).
///
/// # Safety
/// `r` must be a live request whose body has been read.
pub unsafe fn body_in_memory(r: *mut ngx_http_request_t, max: usize) -> Result<Vec<u8>, &'static str> {
    let rb = (*r).request_body;
    if rb.is_null() {
        return Ok(Vec::new());
    }
    if !(*rb).temp_file.is_null() {
        return Err("the body is larger than client_body_buffer_size");
    }
    let mut out = Vec::new();
    let mut cl = (*rb).bufs;
    while !cl.is_null() {
        let b = (*cl).buf;
        if (*b).in_file() != 0 {
            return Err("the body is larger than client_body_buffer_size");
        }
        cl = (*cl).next;
        // An empty buffer may have null pointers (a special buffer, or a body of zero
        // length): skip it, since from_raw_parts needs a non-null pointer even for
        // zero bytes and offset_from needs two pointers into one allocation.
        if (*b).pos.is_null() || (*b).last.is_null() || (*b).last <= (*b).pos {
            continue;
        }
        let len = (*b).last.offset_from((*b).pos) as usize;
        if out.len() + len > max {
            return Err("the body is too large");
        }
        // SAFETY: pos..last is the buffer's non-empty data in memory (in_file is excluded above).
        out.extend_from_slice(core::slice::from_raw_parts((*b).pos, len));
    }
    Ok(out)
}

/// `scheme://authority` of this request, as the browser sees this site.
///
/// # Safety
/// `r` must be a live request.
pub unsafe fn origin(r: *mut ngx_http_request_t) -> Option<String> {
    let host = authority(r)?;
    Some(format!("{}://{}", if is_https(r) { "https" } else { "http" }, host))
}

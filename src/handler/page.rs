//! Short HTML answers the module writes itself (login errors, logout), and the way an
//! access handler ends a request with one: send it, finalize, return NGX_DONE.

use core::ptr;

use nginx_sys::{ngx_chain_t, ngx_http_request_t, ngx_int_t, ngx_str_t, NGX_DONE, NGX_ERROR, NGX_OK};

use crate::ngx_util;

/// Sends `status` with an HTML page and ends the request (handlers call it through
/// `Request::send` and `Request::send_html`). Headers already added to `headers_out`
/// (Set-Cookie clearing a state cookie, ...) go with it. Returns what the access handler
/// must return. The body must be HTML-escaped by the caller.
///
/// # Safety
/// `r` must be the live main request whose access handler is running.
pub unsafe fn send_html(r: *mut ngx_http_request_t, status: usize, body: &str) -> ngx_int_t {
    let rc = send_inner(r, status, "text/html; charset=utf-8", "text/html".len(), body.as_bytes());
    nginx_sys::ngx_http_finalize_request(r, rc);
    NGX_DONE as ngx_int_t
}

/// As `send_html`, for a JSON body (answers to the OP's back-channel calls).
///
/// # Safety
/// As for `send_html`.
pub unsafe fn send_json(r: *mut ngx_http_request_t, status: usize, body: &str) -> ngx_int_t {
    let rc = send_inner(r, status, "application/json", "application/json".len(), body.as_bytes());
    nginx_sys::ngx_http_finalize_request(r, rc);
    NGX_DONE as ngx_int_t
}

/// Sends a response with this status, content type (`ct_len`: the length of its type
/// without parameters) and body, not cached; returns the output filter's code (what a
/// content handler returns).
///
/// # Safety
/// `r` must be a live request whose header is not sent yet.
pub(crate) unsafe fn send_inner(r: *mut ngx_http_request_t, status: usize, ct: &'static str, ct_len: usize, body: &[u8]) -> ngx_int_t {
    if nginx_sys::ngx_http_discard_request_body(r) != NGX_OK as ngx_int_t {
        return NGX_ERROR as ngx_int_t;
    }
    (*r).headers_out.status = status;
    (*r).headers_out.content_length_n = body.len() as i64;
    (*r).headers_out.content_type = ngx_str_t { len: ct.len(), data: ct.as_ptr().cast_mut() };
    (*r).headers_out.content_type_len = ct_len;
    (*r).headers_out.content_type_lowcase = ptr::null_mut();
    if ngx_util::set_cache_control(r, b"no-store", false).is_none() {
        return NGX_ERROR as ngx_int_t;
    }
    let rc = nginx_sys::ngx_http_send_header(r);
    if rc == NGX_ERROR as ngx_int_t || rc > NGX_OK as ngx_int_t || (*r).header_only() != 0 {
        return rc;
    }
    let b = nginx_sys::ngx_create_temp_buf((*r).pool, body.len().max(1));
    if b.is_null() {
        return NGX_ERROR as ngx_int_t;
    }
    ptr::copy_nonoverlapping(body.as_ptr(), (*b).last, body.len());
    (*b).last = (*b).last.add(body.len());
    (*b).set_last_buf(1);
    (*b).set_last_in_chain(1);
    let mut out = ngx_chain_t { buf: b, next: ptr::null_mut() };
    nginx_sys::ngx_http_output_filter(r, &mut out)
}

/// A minimal page; `title` and `message` are plain text, escaped here.
pub fn html(title: &str, message: &str) -> String {
    html_with_link(title, message, None)
}

/// As `html`, with a link (`(href, text)`; href must be a local path or a URL we chose).
pub fn html_with_link(title: &str, message: &str, link: Option<(&str, &str)>) -> String {
    let link = link
        .map(|(href, text)| format!("<p><a href=\"{}\">{}</a></p>\n", escape(href), escape(text)))
        .unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title></head>\n<body><h1>{t}</h1>\n<p>{m}</p>\n{link}</body></html>\n",
        t = escape(title),
        m = escape(message)
    )
}

/// HTML-escapes text for element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

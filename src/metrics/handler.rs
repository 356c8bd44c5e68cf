//! `auth_oidc_metrics;`: a location whose content is the counters, in the Prometheus
//! text format (like `stub_status`). Who may read it is the configuration's business
//! (`allow` / `deny`, `auth_basic`, a separate `listen`).

use core::ffi::{c_char, c_void};
use core::ptr;
use core::sync::atomic::Ordering::Relaxed;

use nginx_sys::{ngx_chain_t, ngx_command_t, ngx_conf_t, ngx_http_request_t, ngx_int_t, ngx_str_t, NGX_ERROR, NGX_OK};
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use ngx::http::{HttpModuleLocationConf, HttpModuleMainConf, NgxHttpCoreModule};
use oidc_core::metrics::{render, ProviderCounters, Snapshot, ZoneUsage};

use crate::AuthOidcModule;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

guarded! { pub fn cmd_auth_oidc_metrics(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char = cmd_body, on_panic NGX_CONF_ERROR; }
fn cmd_body(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, _conf: *mut c_void) -> *mut c_char {
    // SAFETY: nginx passes the parsing context of a location.
    let cf = unsafe { &mut *cf };
    let Some(clcf) = NgxHttpCoreModule::location_conf_mut(cf) else { return NGX_CONF_ERROR };
    if clcf.handler.is_some() {
        conf_emerg!(cf, "\"auth_oidc_metrics\": this location has a content handler already");
        return NGX_CONF_ERROR;
    }
    clcf.handler = Some(metrics_handler);
    NGX_CONF_OK
}

guarded! { fn metrics_handler(r: *mut ngx_http_request_t) -> ngx_int_t = handler_body, on_panic nginx_sys::NGX_HTTP_INTERNAL_SERVER_ERROR as nginx_sys::ngx_int_t; }
fn handler_body(r: *mut ngx_http_request_t) -> ngx_int_t {
    // SAFETY: nginx calls a content handler with a live request.
    unsafe {
        let method = crate::ngx_util::method(r);
        if method != b"GET" && method != b"HEAD" {
            return nginx_sys::NGX_HTTP_NOT_ALLOWED as ngx_int_t;
        }
        let body = match AuthOidcModule::main_conf(&*r) {
            Some(mcf) => body(mcf),
            None => String::new(),
        };
        send(r, body.as_bytes())
    }
}

/// Reads every counter once (relaxed loads: a scrape sees each counter's value at some
/// moment during the scrape, which is what Prometheus expects) and renders them.
fn body(mcf: &crate::conf::MainConf) -> String {
    let hdr = mcf.metrics.header;
    if hdr.is_null() {
        return render(&Snapshot { providers: Vec::new(), global: None, zone: None });
    }
    // SAFETY: the header is the zone of the running cycle, mapped in this worker.
    let hdr = unsafe { &*hdr };
    let values: Vec<(usize, Vec<u64>)> = mcf
        .metrics
        .slots
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.map(|j| (i, hdr.providers[j].counters.iter().map(|c| c.load(Relaxed)).collect())))
        .collect();
    let global: Vec<u64> = hdr.global.iter().map(|c| c.load(Relaxed)).collect();
    let zone = crate::cache::documents::zone().map(|z| z.usage());
    let snap = Snapshot {
        providers: values.iter().map(|(i, v)| ProviderCounters { name: &mcf.providers[*i].name, values: v }).collect(),
        global: Some(&global),
        zone: zone.map(|(used, size)| ZoneUsage { name: &mcf.zone.name, used, size }),
    };
    render(&snap)
}

unsafe fn send(r: *mut ngx_http_request_t, body: &[u8]) -> ngx_int_t {
    if nginx_sys::ngx_http_discard_request_body(r) != NGX_OK as ngx_int_t {
        return NGX_ERROR as ngx_int_t;
    }
    (*r).headers_out.status = nginx_sys::NGX_HTTP_OK as usize;
    (*r).headers_out.content_length_n = body.len() as i64;
    (*r).headers_out.content_type = ngx_str_t { len: CONTENT_TYPE.len(), data: CONTENT_TYPE.as_ptr().cast_mut() };
    (*r).headers_out.content_type_len = "text/plain".len();
    (*r).headers_out.content_type_lowcase = ptr::null_mut();
    if crate::ngx_util::set_cache_control(r, b"no-store", false).is_none() {
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

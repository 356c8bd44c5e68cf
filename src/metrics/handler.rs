//! `auth_oidc_metrics;`: a location whose content is the counters, in the Prometheus
//! text format (like `stub_status`). Who may read it is the configuration's business
//! (`allow` / `deny`, `auth_basic`, a separate `listen`).

use core::ffi::{c_char, c_void};
use core::sync::atomic::Ordering::Relaxed;

use nginx_sys::{ngx_command_t, ngx_conf_t, ngx_http_request_t, ngx_int_t};
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
        crate::handler::page::send_inner(r, nginx_sys::NGX_HTTP_OK as usize, CONTENT_TYPE, "text/plain".len(), body.as_bytes())
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


//! ngx_http_auth_oidc_module: nginx glue.
//!
//! Everything that can be written without an nginx pointer lives in the `oidc-core` crate;
//! this crate holds directives, the access-phase handler, the shared-memory zone and the
//! bridge between nginx's event loop and the per-worker tokio runtime.

use core::ffi::{c_char, c_void};
use core::ptr;

use nginx_sys::{
    ngx_conf_t, ngx_cycle_t, ngx_http_module_t, ngx_int_t, ngx_module_t, ngx_uint_t,
    NGX_HTTP_MODULE,
};
use ngx::core::Status;
use ngx::http::{HttpModule, HttpModuleLocationConf, HttpModuleMainConf, Merge};

#[macro_use]
mod log;
#[macro_use]
mod ffi_guard;

mod body_read;
mod bridge;
mod cache;
mod conf;
mod handler;
mod header_snapshot;
mod metrics;
mod ngx_util;
mod req_ctx;
mod request;
mod spoof_guard;
mod store_keys;
mod vars;

use conf::{LocConf, MainConf};

/// Marker type that ties our configuration types to the module.
pub struct AuthOidcModule;

static MODULE_CTX: ngx_http_module_t = ngx_http_module_t {
    preconfiguration: Some(AuthOidcModule::preconfiguration),
    postconfiguration: Some(AuthOidcModule::postconfiguration),
    create_main_conf: Some(AuthOidcModule::create_main_conf),
    init_main_conf: Some(AuthOidcModule::init_main_conf),
    create_srv_conf: None,
    merge_srv_conf: None,
    create_loc_conf: Some(AuthOidcModule::create_loc_conf),
    merge_loc_conf: Some(AuthOidcModule::merge_loc_conf),
};

// A cdylib built outside nginx's build system must export the module table itself.
ngx::ngx_modules!(ngx_http_auth_oidc_module);

#[used]
#[allow(non_upper_case_globals)]
pub static mut ngx_http_auth_oidc_module: ngx_module_t = ngx_module_t {
    ctx: ptr::addr_of!(MODULE_CTX).cast_mut().cast(),
    // SAFETY: only the address of the static command table is taken, never a reference.
    commands: unsafe { ptr::addr_of_mut!(conf::COMMANDS[0]) },
    type_: NGX_HTTP_MODULE as ngx_uint_t,
    init_process: Some(init_process),
    exit_process: Some(exit_process),
    ..ngx_module_t::default()
};

unsafe impl HttpModuleMainConf for AuthOidcModule {
    type MainConf = MainConf;
}

unsafe impl HttpModuleLocationConf for AuthOidcModule {
    type LocationConf = LocConf;
}

impl HttpModule for AuthOidcModule {
    fn module() -> &'static ngx_module_t {
        // SAFETY: nginx writes the module table (ctx_index, index) only while loading the
        // configuration, before any of our code reads it through this reference.
        unsafe { &*ptr::addr_of!(ngx_http_auth_oidc_module) }
    }

    unsafe extern "C" fn init_main_conf(cf: *mut ngx_conf_t, conf: *mut c_void) -> *mut c_char {
        ffi_guard::run("init_main_conf", || conf::init_main_conf(&mut *cf, &mut *conf.cast::<MainConf>()))
            .unwrap_or(ngx::core::NGX_CONF_ERROR)
    }

    unsafe extern "C" fn merge_loc_conf(
        cf: *mut ngx_conf_t,
        prev: *mut c_void,
        conf: *mut c_void,
    ) -> *mut c_char
    where
        Self: HttpModuleLocationConf,
        <Self as HttpModuleLocationConf>::LocationConf: Merge,
    {
        let prev = &*prev.cast::<LocConf>();
        let conf = &mut *conf.cast::<LocConf>();
        ffi_guard::run("merge_loc_conf", || conf::merge_loc_conf(&mut *cf, prev, conf)).unwrap_or(ngx::core::NGX_CONF_ERROR)
    }

    unsafe extern "C" fn preconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
        ffi_guard::run("preconfiguration", || vars::register(&mut *cf).into()).unwrap_or(Status::NGX_ERROR.into())
    }

    unsafe extern "C" fn postconfiguration(cf: *mut ngx_conf_t) -> ngx_int_t {
        ffi_guard::run("postconfiguration", || {
            let cf = &mut *cf;
            conf::keep_used_tokens(cf);
            match handler::register(cf) {
                Status::NGX_OK => spoof_guard::register(cf).into(),
                other => other.into(),
            }
        })
        .unwrap_or(Status::NGX_ERROR.into())
    }
}

guarded! { fn init_process(cycle: *mut ngx_cycle_t) -> ngx_int_t = init_process_body, on_panic Status::NGX_ERROR.into(); }
fn init_process_body(cycle: *mut ngx_cycle_t) -> ngx_int_t {
    // SAFETY: nginx passes a valid cycle to module callbacks.
    let cycle = unsafe { &mut *cycle };
    let Some(mcf) = AuthOidcModule::main_conf(cycle) else {
        return Status::NGX_OK.into();
    };
    if mcf.providers.is_empty() {
        return Status::NGX_OK.into();
    }
    metrics::attach(mcf);
    match bridge::start_worker(cycle, mcf) {
        Ok(()) => Status::NGX_OK.into(),
        Err(err) => {
            ngx_log!(emerg, cycle.log, "auth_oidc: cannot start the worker's runtime: {err}");
            Status::NGX_ERROR.into()
        }
    }
}

guarded! { fn exit_process(_cycle: *mut ngx_cycle_t) = exit_process_body; }
fn exit_process_body(_cycle: *mut ngx_cycle_t) {
    bridge::stop_worker();
}

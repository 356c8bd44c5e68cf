//! Build script of the nginx module.
//!
//! nginx-sys must be a direct dependency for its `DEP_NGINX_*` metadata to reach us
//! (cargo only forwards `links` metadata to direct dependents).
use std::env;
use std::path::{Path, PathBuf};

fn main() {
    forward_nginx_cfgs();
    nginx_version_cfgs();
    link_vendored_nginx_binary();
}

/// `ngx_header_lists`: nginx 1.23.0 made repeated request headers (Cookie, ...) linked
/// lists (`ngx_table_elt_t::next`, `headers_in.cookie`); 1.22 keeps them in arrays
/// (`headers_in.cookies`). The few places that walk them are written for both.
fn nginx_version_cfgs() {
    println!("cargo::rerun-if-env-changed=DEP_NGINX_VERSION_NUMBER");
    println!("cargo::rustc-check-cfg=cfg(ngx_header_lists)");
    let version: u64 = env::var("DEP_NGINX_VERSION_NUMBER").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(u64::MAX);
    if version >= 1_023_000 {
        println!("cargo::rustc-cfg=ngx_header_lists");
    }
}

/// Passes the features nginx was configured with (`ngx_feature`, `ngx_os`) to rustc, as
/// the `ngx` crate's macros expect them.
fn forward_nginx_cfgs() {
    for (var, cfg) in [("DEP_NGINX_FEATURES", "ngx_feature"), ("DEP_NGINX_OS", "ngx_os")] {
        println!("cargo::rerun-if-env-changed={var}");
        println!("cargo::rerun-if-env-changed={var}_CHECK");
        let check = env::var(format!("{var}_CHECK")).unwrap_or_else(|_| "any()".into());
        println!("cargo::rustc-check-cfg=cfg({cfg}, values({check}))");
        if let Ok(values) = env::var(var) {
            for value in values.split(',').map(str::trim).filter(|v| !v.is_empty()) {
                println!("cargo::rustc-cfg={cfg}=\"{value}\"");
            }
        }
    }
}

/// With the `vendored` feature, nginx-sys builds an nginx binary next to the headers it
/// generated bindings from. The test suite needs exactly that binary (a module only loads
/// into the nginx it was built against), so expose it at a stable place:
/// `target/<profile>/nginx`.
fn link_vendored_nginx_binary() {
    println!("cargo::rerun-if-env-changed=DEP_NGINX_BUILD_DIR");
    let Ok(build_dir) = env::var("DEP_NGINX_BUILD_DIR") else { return };
    let binary = Path::new(&build_dir).join("nginx");
    if !binary.is_file() {
        return;
    }
    // OUT_DIR is target/<profile>/build/<crate>-<hash>/out
    let out_dir = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let Some(profile_dir) = out_dir.ancestors().nth(3) else { return };
    let link = profile_dir.join("nginx");
    let _ = std::fs::remove_file(&link);
    #[cfg(unix)]
    if let Err(err) = std::os::unix::fs::symlink(&binary, &link) {
        println!("cargo::warning=cannot link {} to {}: {err}", link.display(), binary.display());
    }
}

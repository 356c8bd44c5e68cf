//! NGINX Plus keeps every session's tokens, so its `$oidc_id_token`,
//! `$oidc_access_token` and `$oidc_userinfo` always have a value. Here a cookie session
//! keeps only what `session_contents` lists, to stay small. So that a configuration
//! written for Plus (`proxy_set_header Authorization "Bearer $oidc_access_token";`)
//! works unchanged, a provider without `session_contents` keeps what the configuration
//! uses; one with `session_contents` keeps what it lists, and a warning says when a used
//! variable will stay empty.
//!
//! "Uses" means the variable is indexed: written in the configuration (`proxy_set_header`,
//! `map`, `log_format`, ...). A name looked up only at run time (Lua's `ngx.var.X`) is
//! not seen: list it in `session_contents`.

use nginx_sys::{ngx_conf_t, ngx_http_variable_t};
use ngx::http::{HttpModuleMainConf, NgxHttpCoreModule};

use crate::ngx_util;

/// Runs in postconfiguration, when every variable the configuration names is indexed.
pub fn keep_used_tokens(cf: &mut ngx_conf_t) {
    let Some(cmcf) = NgxHttpCoreModule::main_conf(cf) else { return };
    let vars = &cmcf.variables;
    let used = |name: &str| -> bool {
        if vars.elts.is_null() {
            return false;
        }
        // SAFETY: cmcf->variables is an array of nelts ngx_http_variable_t during
        // configuration, each with a name nginx copied into the configuration pool.
        unsafe {
            let all = core::slice::from_raw_parts(vars.elts.cast::<ngx_http_variable_t>(), vars.nelts);
            all.iter().any(|v| ngx_util::bytes(&v.name).eq_ignore_ascii_case(name.as_bytes()))
        }
    };
    let (id_token, access_token, userinfo) = (used("oidc_id_token"), used("oidc_access_token"), used("oidc_userinfo"));
    if !(id_token || access_token || userinfo) {
        return;
    }
    let Some(mcf) = crate::AuthOidcModule::main_conf_mut(cf) else { return };
    for p in mcf.providers.iter_mut() {
        if !p.session_contents_set {
            if id_token {
                p.session_keep.id_token = true;
                p.id_token_for_hint_only = false;
            }
            p.session_keep.access_token |= access_token;
            p.session_keep.userinfo |= userinfo && p.userinfo;
            continue;
        }
        let missing: Vec<&str> = [
            (id_token && !p.session_keep.id_token, "$oidc_id_token"),
            (access_token && !p.session_keep.access_token, "$oidc_access_token"),
            (userinfo && !p.session_keep.userinfo, "$oidc_userinfo"),
        ]
        .iter()
        .filter(|(m, _)| *m)
        .map(|(_, n)| *n)
        .collect();
        if !missing.is_empty() {
            conf_warn!(
                cf,
                "oidc_provider \"{}\": {} is used but its \"session_contents\" does not keep it: it is empty for browser sessions of this provider",
                p.name,
                missing.join(", ")
            );
        }
    }
}

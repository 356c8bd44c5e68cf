//! Configuration: directives, the `oidc_provider` block, and merging.

pub mod bearer_conf;
mod commands;
mod location;
mod plus_vars;
mod provider;
mod provider_block;
mod values;
mod zone_conf;
pub mod session_store;

use core::ffi::c_char;

use nginx_sys::{ngx_conf_t, ngx_http_complex_value_t};
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};

pub use commands::COMMANDS;
pub use bearer_conf::{BearerConf, BearerMode, Introspect};
pub use location::{SetHeader, UnauthAction};
pub use plus_vars::keep_used_tokens;
pub use provider::{PkceMode, Provider, ResponseMode};
pub use zone_conf::ZoneConf;

/// http-level configuration: the providers and the shared zone that caches their documents.
#[derive(Default)]
pub struct MainConf {
    pub providers: Vec<Box<Provider>>,
    pub zone: ZoneConf,
    /// The metrics counters' zone (`auth_oidc_metrics`).
    pub metrics: crate::metrics::MetricsConf,
}

impl MainConf {
    pub fn provider_index(&self, name: &str) -> Option<usize> {
        self.providers.iter().position(|p| p.name == name)
    }
}

/// What `auth_oidc` says for a location.
#[derive(Clone, Debug, Default)]
pub enum AuthSetting {
    /// Not set here: inherit.
    #[default]
    Unset,
    Off,
    /// A provider name as written, resolved when merging (providers may be declared
    /// after the locations that use them). Keeps the place it was written for errors.
    Named { name: String, place: String },
    Provider(usize),
    /// `auth_oidc $var;` (NGINX Plus, nginx 1.29.0): the provider is named by the value,
    /// per request (`off` turns authentication off, as in `auth_basic`). Every
    /// `oidc_provider` is set up at start, whichever a request will name.
    Variable(*mut ngx_http_complex_value_t),
}

#[derive(Clone, Debug, Default)]
pub struct LocConf {
    pub auth: AuthSetting,
    pub unauth_action: Option<UnauthAction>,
    /// `auth_oidc_set_header`s; inherited as a whole when a level sets none (like
    /// `proxy_set_header`).
    pub set_headers: Vec<SetHeader>,
    pub set_headers_here: bool,
    pub pass_cookies: Option<bool>,
    /// The provider whose cookies the client's request loses before anything else sees
    /// it: this location's, or under `auth_oidc off` the one of the level above (see
    /// `spoof_guard`). Set when merging.
    pub cookie_provider: Option<usize>,
    pub bearer: BearerConf,
    /// Cache namespace of bearer results (see `BearerConf::cache_namespace`), set when
    /// the provider is resolved.
    pub bearer_ns: String,
    /// A hash of `bearer_ns`, for the worker's own verdict cache.
    pub bearer_ns_key: u64,
    /// With `auth_oidc $var`: `bearer_ns` and its hash for each provider, by index.
    pub bearer_ns_each: Vec<(String, u64)>,
}

impl LocConf {
    pub fn unauth_action(&self) -> UnauthAction {
        self.unauth_action.unwrap_or_default()
    }

    pub fn pass_cookies(&self) -> bool {
        self.pass_cookies.unwrap_or(false)
    }

    /// The bearer-verdict cache namespace (and its hash) for the provider a request uses.
    pub fn bearer_namespace(&self, pidx: usize) -> (&str, u64) {
        match self.bearer_ns_each.get(pidx) {
            Some((ns, key)) => (ns, *key),
            None => (&self.bearer_ns, self.bearer_ns_key),
        }
    }
}

impl ngx::http::Merge for LocConf {
    fn merge(&mut self, prev: &Self) -> Result<(), ngx::http::MergeConfigError> {
        if matches!(self.auth, AuthSetting::Unset) {
            self.auth = prev.auth.clone();
        }
        if self.unauth_action.is_none() {
            self.unauth_action = prev.unauth_action;
        }
        if !self.set_headers_here {
            self.set_headers = prev.set_headers.clone();
        }
        if self.pass_cookies.is_none() {
            self.pass_cookies = prev.pass_cookies;
        }
        self.bearer.merge(&prev.bearer);
        Ok(())
    }
}

pub fn init_main_conf(cf: &mut ngx_conf_t, mcf: &mut MainConf) -> *mut c_char {
    if mcf.providers.is_empty() {
        return NGX_CONF_OK;
    }
    let names = mcf.providers.iter().map(|p| p.name.clone()).collect();
    match mcf.zone.request(cf).and_then(|()| crate::metrics::request(cf, &mut mcf.metrics, names)) {
        Ok(()) => NGX_CONF_OK,
        Err(()) => NGX_CONF_ERROR,
    }
}

pub fn merge_loc_conf(cf: &mut ngx_conf_t, prev: &LocConf, conf: &mut LocConf) -> *mut c_char {
    use ngx::http::{HttpModuleMainConf, Merge};
    let _ = conf.merge(prev);
    if let AuthSetting::Named { name, place } = &conf.auth {
        let Some(mcf) = crate::AuthOidcModule::main_conf(cf) else {
            return NGX_CONF_ERROR;
        };
        match mcf.provider_index(name) {
            Some(idx) => {
                conf.auth = AuthSetting::Provider(idx);
            }
            None => {
                ngx_log!(
                    emerg,
                    cf.log,
                    "auth_oidc: unknown provider \"{name}\" (no oidc_provider block of that name) in {place}"
                );
                return NGX_CONF_ERROR;
            }
        }
    }
    conf.cookie_provider = match conf.auth {
        AuthSetting::Provider(idx) => Some(idx),
        AuthSetting::Off => match &prev.auth {
            AuthSetting::Provider(idx) => Some(*idx),
            // The http level is never merged itself: its name is resolved here.
            AuthSetting::Named { name, .. } => crate::AuthOidcModule::main_conf(cf).and_then(|m| m.provider_index(name)),
            _ => prev.cookie_provider,
        },
        _ => None,
    };
    let Some(mcf) = crate::AuthOidcModule::main_conf(cf) else {
        return NGX_CONF_ERROR;
    };
    match conf.auth {
        AuthSetting::Provider(idx) => {
            conf.bearer_ns = conf.bearer.cache_namespace(&mcf.providers[idx].verdict_identity());
            conf.bearer_ns_key = crate::cache::key_hash(&[conf.bearer_ns.as_bytes()]);
        }
        AuthSetting::Variable(_) if conf.bearer.mode() != BearerMode::Off => {
            conf.bearer_ns_each = mcf
                .providers
                .iter()
                .map(|p| {
                    let ns = conf.bearer.cache_namespace(&p.verdict_identity());
                    let key = crate::cache::key_hash(&[ns.as_bytes()]);
                    (ns, key)
                })
                .collect();
        }
        _ => return NGX_CONF_OK,
    }
    if conf.bearer.mode() != BearerMode::Off && conf.bearer.audiences.is_none() {
        ngx_log!(
            emerg,
            cf.log,
            "auth_oidc: \"auth_oidc_bearer\" needs \"auth_oidc_audience\" (the audience this API accepts, or \"off\" to skip the check) at the same level or above in {}",
            conf.bearer.mode_place.as_deref().unwrap_or("configuration")
        );
        return NGX_CONF_ERROR;
    }
    NGX_CONF_OK
}

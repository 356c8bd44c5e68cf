//! The `oidc_provider NAME { ... }` block: collects its directives into a draft, then
//! validates the whole block at its closing brace, so every mistake is an `[emerg]` that
//! names the provider, the directive and the problem.

use core::ffi::{c_char, c_void};
use core::ptr;
use std::collections::HashSet;

use nginx_sys::{ngx_command_t, ngx_conf_t};
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use oidc_core::cache_policy::CacheBounds;
use oidc_core::cookie_cipher::CookieCipher;
use oidc_core::{auth_request, issuer_url};

use super::provider::*;
use super::values;
use super::MainConf;
use crate::cache::key_hash;

use oidc_core::cookie_cipher::MIN_SECRET_LEN;

#[derive(Default)]
struct Draft {
    name: String,
    seen: HashSet<String>,
    issuer: Option<String>,
    config_url: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    extra_auth_args: Option<String>,
    pkce: Option<bool>,
    allow_http: bool,
    ssl_verify: Option<bool>,
    ssl_trusted_certificate: Option<String>,
    proxy_from_env: bool,
    timeout_ms: Option<u64>,
    max_response_size: Option<usize>,
    cache_ttl_min: Option<u64>,
    cache_ttl_max: Option<u64>,
    cache_stale: Option<u64>,
    jwks_refresh_interval: Option<u64>,
    session_secrets: Vec<Vec<u8>>,
    cookie_name: Option<String>,
    login_timeout: Option<u64>,
}

/// `oidc_provider NAME { ... }` in the http block.
pub extern "C" fn cmd_oidc_provider(
    cf: *mut ngx_conf_t,
    _cmd: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    // SAFETY: nginx passes the parsing context and our main conf.
    let (cf, mcf) = unsafe { (&mut *cf, &mut *conf.cast::<MainConf>()) };
    let args = values::args(cf);
    let name = String::from_utf8_lossy(args[1]).into_owned();
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.') {
        conf_emerg!(cf, "oidc_provider: invalid name \"{name}\" (letters, digits, '_', '-', '.')");
        return NGX_CONF_ERROR;
    }
    if mcf.provider_index(&name).is_some() {
        conf_emerg!(cf, "oidc_provider \"{name}\" is duplicate");
        return NGX_CONF_ERROR;
    }

    let mut draft = Draft { name, ..Default::default() };
    let (saved_handler, saved_conf) = (cf.handler, cf.handler_conf);
    cf.handler = Some(block_line);
    cf.handler_conf = ptr::from_mut(&mut draft).cast();
    // SAFETY: standard nested-block parsing; the handler only runs during this call.
    let rv = unsafe { nginx_sys::ngx_conf_parse(cf, ptr::null_mut()) };
    cf.handler = saved_handler;
    cf.handler_conf = saved_conf;
    if rv != NGX_CONF_OK {
        return rv;
    }

    match draft.finish(cf) {
        Ok(provider) => {
            mcf.providers.push(Box::new(provider));
            NGX_CONF_OK
        }
        Err(msg) => {
            conf_emerg!(cf, "oidc_provider \"{}\": {}", draft.name, msg);
            NGX_CONF_ERROR
        }
    }
}

/// Called by nginx for every directive line inside the block.
unsafe extern "C" fn block_line(
    cf: *mut ngx_conf_t,
    _dummy: *mut ngx_command_t,
    conf: *mut c_void,
) -> *mut c_char {
    let (cf, draft) = (&mut *cf, &mut *conf.cast::<Draft>());
    let args = values::args(cf);
    match draft.set(&args) {
        Ok(()) => NGX_CONF_OK,
        Err(msg) => {
            conf_emerg!(cf, "oidc_provider \"{}\": {}", draft.name, msg);
            NGX_CONF_ERROR
        }
    }
}

fn one<'a>(name: &str, v: &'a [&'a [u8]]) -> Result<&'a [u8], String> {
    match v {
        [x] => Ok(x),
        _ => Err(format!("invalid number of arguments in \"{name}\" directive")),
    }
}

fn text(name: &str, v: &[&[u8]]) -> Result<String, String> {
    let s = values::utf8(one(name, v)?).map_err(|e| format!("\"{name}\" {e}"))?;
    if s.is_empty() {
        return Err(format!("\"{name}\" must not be empty"));
    }
    Ok(s)
}

fn with_name<T>(name: &str, r: Result<T, String>) -> Result<T, String> {
    r.map_err(|e| format!("\"{name}\": {e}"))
}

impl Draft {
    fn set(&mut self, args: &[&[u8]]) -> Result<(), String> {
        let name = String::from_utf8_lossy(args[0]).into_owned();
        let v = &args[1..];
        if !self.seen.insert(name.clone()) && name != "session_secret" {
            return Err(format!("\"{name}\" directive is duplicate"));
        }
        let n = name.as_str();
        match n {
            "issuer" => self.issuer = Some(text(n, v)?),
            "config_url" => self.config_url = Some(text(n, v)?),
            "client_id" => self.client_id = Some(text(n, v)?),
            "client_secret" => self.client_secret = Some(text(n, v)?),
            "redirect_uri" => self.redirect_uri = Some(text(n, v)?),
            "scope" => self.scope = Some(text(n, v)?),
            "extra_auth_args" => self.extra_auth_args = Some(text(n, v)?),
            "pkce" => self.pkce = Some(with_name(n, values::flag(one(n, v)?))?),
            "allow_http" => self.allow_http = with_name(n, values::flag(one(n, v)?))?,
            "ssl_verify" => self.ssl_verify = Some(with_name(n, values::flag(one(n, v)?))?),
            "ssl_trusted_certificate" => self.ssl_trusted_certificate = Some(text(n, v)?),
            "proxy_from_env" => self.proxy_from_env = with_name(n, values::flag(one(n, v)?))?,
            "timeout" => self.timeout_ms = Some(with_name(n, values::millis(one(n, v)?))?),
            "max_response_size" => self.max_response_size = Some(with_name(n, values::size(one(n, v)?))?),
            "cache_ttl_min" => self.cache_ttl_min = Some(with_name(n, values::seconds(one(n, v)?))?),
            "cache_ttl_max" => self.cache_ttl_max = Some(with_name(n, values::seconds(one(n, v)?))?),
            "cache_stale" => self.cache_stale = Some(with_name(n, values::seconds(one(n, v)?))?),
            "jwks_refresh_interval" => {
                self.jwks_refresh_interval = Some(with_name(n, values::seconds(one(n, v)?))?)
            }
            "session_secret" => {
                if v.is_empty() {
                    return Err("invalid number of arguments in \"session_secret\" directive".into());
                }
                for s in v {
                    if s.len() < MIN_SECRET_LEN {
                        // The value itself is never echoed: it is a secret.
                        return Err(format!(
                            "\"session_secret\": a secret is {} bytes long, at least {MIN_SECRET_LEN} are required",
                            s.len()
                        ));
                    }
                    self.session_secrets.push(s.to_vec());
                }
            }
            "cookie_name" => {
                let c = text(n, v)?;
                if !c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
                    return Err(format!("\"cookie_name\": invalid cookie name \"{c}\""));
                }
                self.cookie_name = Some(c)
            }
            "login_timeout" => self.login_timeout = Some(with_name(n, values::seconds(one(n, v)?))?),
            _ => return Err(format!("unknown directive \"{name}\"")),
        }
        Ok(())
    }

    fn finish(&mut self, cf: &mut ngx_conf_t) -> Result<Provider, String> {
        let issuer = self.issuer.clone().ok_or("missing \"issuer\" directive")?;
        issuer_url::check_issuer(&issuer, self.allow_http)
            .map_err(|e| format!("\"issuer\" \"{issuer}\" {e}"))?;
        let client_id = self.client_id.clone().ok_or("missing \"client_id\" directive")?;
        let config_url =
            self.config_url.clone().unwrap_or_else(|| issuer_url::default_config_url(&issuer));
        issuer_url::check_endpoint_url(&config_url, self.allow_http)
            .map_err(|e| format!("\"config_url\" \"{config_url}\" {e}"))?;

        let redirect_uri = self.redirect_uri.clone().unwrap_or_else(|| DEFAULT_REDIRECT_URI.into());
        check_redirect_uri(&redirect_uri)?;

        let scope = self.scope.clone().unwrap_or_else(|| DEFAULT_SCOPE.into());
        if !scope.split(' ').any(|s| s == "openid") {
            return Err(format!("\"scope\" \"{scope}\" must include \"openid\""));
        }
        if let Some(extra) = &self.extra_auth_args {
            auth_request::check_extra_args(extra).map_err(|e| format!("\"extra_auth_args\": {e}"))?;
        }

        let cache = CacheBounds {
            min_ttl: self.cache_ttl_min.unwrap_or(DEFAULT_CACHE_MIN),
            max_ttl: self.cache_ttl_max.unwrap_or(DEFAULT_CACHE_MAX),
        };
        if cache.min_ttl > cache.max_ttl {
            return Err("\"cache_ttl_min\" is greater than \"cache_ttl_max\"".into());
        }
        let timeout_ms = self.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
        if timeout_ms == 0 {
            return Err("\"timeout\" must be greater than zero".into());
        }
        let max_response_size = self.max_response_size.unwrap_or(DEFAULT_MAX_RESPONSE);
        if max_response_size < 1024 {
            return Err("\"max_response_size\" must be at least 1k".into());
        }

        let ssl_verify = self.ssl_verify.unwrap_or(true);
        if !ssl_verify {
            conf_warn!(
                cf,
                "oidc_provider \"{}\": \"ssl_verify off\" disables TLS certificate checks of the OP; use it only for development",
                self.name
            );
        }
        let ssl_trusted_certificate = match &self.ssl_trusted_certificate {
            None => None,
            Some(path) => Some(read_pem_bundle(cf, path)?),
        };

        if self.session_secrets.is_empty() {
            conf_warn!(
                cf,
                "oidc_provider \"{}\": no \"session_secret\" set, using a random one: logins in progress and sessions will not survive a restart or reload",
                self.name
            );
            let random = oidc_core::random::token(48).map_err(|e| format!("cannot generate a session secret: {e}"))?;
            self.session_secrets.push(random.into_bytes());
        }
        let secrets: Vec<&[u8]> = self.session_secrets.iter().map(Vec::as_slice).collect();
        let cipher = CookieCipher::new(&secrets).map_err(|e| format!("\"session_secret\": {e}"))?;

        let discovery_key = key_hash(&[b"discovery", issuer.as_bytes(), config_url.as_bytes()]);
        let jwks_key = key_hash(&[b"jwks", issuer.as_bytes(), config_url.as_bytes()]);

        Ok(Provider {
            name: self.name.clone(),
            issuer,
            config_url,
            client_id,
            client_secret: self.client_secret.take(),
            redirect_uri,
            scope,
            extra_auth_args: self.extra_auth_args.take(),
            pkce: match self.pkce {
                None => PkceMode::Auto,
                Some(true) => PkceMode::On,
                Some(false) => PkceMode::Off,
            },
            allow_http: self.allow_http,
            ssl_verify,
            ssl_trusted_certificate,
            proxy_from_env: self.proxy_from_env,
            timeout_ms,
            max_response_size,
            cache,
            cache_stale: self.cache_stale.unwrap_or(DEFAULT_CACHE_STALE),
            jwks_refresh_interval: self.jwks_refresh_interval.unwrap_or(DEFAULT_JWKS_REFRESH),
            cookie_name: self.cookie_name.take().unwrap_or_else(|| DEFAULT_COOKIE_NAME.into()),
            login_timeout: self.login_timeout.unwrap_or(DEFAULT_LOGIN_TIMEOUT),
            cipher,
            discovery_key,
            jwks_key,
        })
    }
}

fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("\"redirect_uri\" \"{uri}\" {why}"));
    if uri.starts_with('/') {
        if uri.starts_with("//") || uri.contains(['?', '#', ' ']) {
            return bad("must be a plain path (no query or fragment) or an absolute URL");
        }
        return Ok(());
    }
    match reqwest::Url::parse(uri) {
        Ok(u) if (u.scheme() == "https" || u.scheme() == "http") && u.host().is_some() && u.fragment().is_none() => Ok(()),
        _ => bad("must be a path starting with \"/\" or an absolute http(s) URL"),
    }
}

/// Reads `ssl_trusted_certificate` now, so a missing or unreadable file fails `nginx -t`.
fn read_pem_bundle(cf: &ngx_conf_t, path: &str) -> Result<Vec<u8>, String> {
    let full = if path.starts_with('/') {
        path.to_string()
    } else {
        // SAFETY: the cycle and its conf_prefix are valid while parsing.
        let prefix = unsafe { (*cf.cycle).conf_prefix.to_string() };
        format!("{prefix}{path}")
    };
    let pem = std::fs::read(&full)
        .map_err(|e| format!("\"ssl_trusted_certificate\": cannot read \"{full}\": {e}"))?;
    reqwest::Certificate::from_pem_bundle(&pem)
        .ok()
        .filter(|certs| !certs.is_empty())
        .ok_or_else(|| format!("\"ssl_trusted_certificate\": no PEM certificate found in \"{full}\""))?;
    Ok(pem)
}

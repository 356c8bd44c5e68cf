//! The `oidc_provider NAME { ... }` block: collects its directives into a draft, then
//! validates the whole block at its closing brace, so every mistake is an `[emerg]` that
//! names the provider, the directive and the problem.

use core::ffi::{c_char, c_void};
use core::ptr;
use std::collections::HashSet;

use nginx_sys::{ngx_command_t, ngx_conf_t};
use ngx::core::{NGX_CONF_ERROR, NGX_CONF_OK};
use oidc_core::cache_policy::CacheBounds;
use oidc_core::client_auth::{AuthMethod, SigningKey};
use oidc_core::cookie_cipher::CookieCipher;
use oidc_core::jose::verify::SUPPORTED_ALGS;
use oidc_core::conf_check::{self, check_redirect_uri};
use oidc_core::{auth_request, issuer_url, tenant};

use super::provider::*;
use super::session_store::SessionStore;
use super::values;
use super::MainConf;
use crate::cache::key_hash;

use oidc_core::cookie_cipher::MIN_SECRET_LEN;

#[derive(Default)]
struct Draft {
    name: String,
    seen: HashSet<String>,
    issuer: Option<String>,
    issuer_template: bool,
    allowed_tenants: Option<Vec<String>>,
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
    ssl_crl: Option<String>,
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
    response_mode: Option<ResponseMode>,
    client_auth: Option<AuthMethod>,
    client_private_key: Option<String>,
    id_token_algs: Option<Vec<String>>,
    clock_skew: Option<u64>,
    userinfo: bool,
    session_timeout: Option<u64>,
    session_idle_timeout: Option<u64>,
    session_keep: Option<SessionKeep>,
    session_claims: Option<Vec<String>>,
    cookie_path: Option<String>,
    cookie_domain: Option<String>,
    cookie_samesite: Option<String>,
    cookie_secure: Option<CookieSecure>,
    logout_uri: Option<String>,
    post_logout_uri: Option<String>,
    logout_token_hint: bool,
    backchannel_logout_uri: Option<String>,
    frontchannel_logout_uri: Option<String>,
    revoke_tokens: Option<bool>,
    introspection_endpoint: Option<String>,
    token_cache_ttl: Option<u64>,
    token_cache_negative: Option<u64>,
    max_op_calls: Option<usize>,
    access_token_algs: Option<Vec<String>>,
    session_store: Option<SessionStore>,
}

guarded! { pub fn cmd_oidc_provider(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char = cmd_oidc_provider_body, on_panic ngx::core::NGX_CONF_ERROR; }
/// `oidc_provider NAME { ... }` in the http block.
fn cmd_oidc_provider_body(cf: *mut ngx_conf_t, _cmd: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
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

guarded! { fn block_line(cf: *mut ngx_conf_t, _dummy: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char = block_line_body, on_panic ngx::core::NGX_CONF_ERROR; }
/// Called by nginx for every directive line inside the block.
unsafe fn block_line_body(cf: *mut ngx_conf_t, _dummy: *mut ngx_command_t, conf: *mut c_void) -> *mut c_char {
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

/// A list of JWS algorithms we can verify (`id_token_alg`, `access_token_alg`).
fn alg_list(v: &[&[u8]]) -> Result<Vec<String>, String> {
    if v.is_empty() {
        return Err("needs at least one algorithm".into());
    }
    v.iter()
        .map(|a| {
            let a = String::from_utf8_lossy(a).into_owned();
            if SUPPORTED_ALGS.contains(&a.as_str()) {
                Ok(a)
            } else {
                Err(format!("unsupported algorithm \"{a}\" (supported: {})", SUPPORTED_ALGS.join(" ")))
            }
        })
        .collect()
}

fn invalid_choice(name: &str, value: &[u8], choices: &str) -> String {
    format!("\"{name}\": invalid value \"{}\", it must be {choices}", String::from_utf8_lossy(value))
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
            "issuer_template" => self.issuer_template = with_name(n, values::flag(one(n, v)?))?,
            "allowed_tenants" => {
                if v.is_empty() {
                    return Err("invalid number of arguments in \"allowed_tenants\" directive".into());
                }
                self.allowed_tenants = Some(v.iter().map(|t| String::from_utf8_lossy(t).into_owned()).collect());
            }
            "client_id" => self.client_id = Some(text(n, v)?),
            "client_secret" => self.client_secret = Some(text(n, v)?),
            "redirect_uri" => self.redirect_uri = Some(text(n, v)?),
            "scope" => {
                // One or more arguments (NGINX Plus), or one quoted with spaces.
                let args = v.iter().map(|a| values::utf8(a)).collect::<Result<Vec<_>, _>>();
                let args = args.map_err(|e| format!("\"scope\" {e}"))?;
                let refs: Vec<&str> = args.iter().map(String::as_str).collect();
                self.scope = Some(with_name(n, auth_request::scope_from_args(&refs))?);
            }
            "extra_auth_args" => self.extra_auth_args = Some(text(n, v)?),
            "pkce" => self.pkce = Some(with_name(n, values::flag(one(n, v)?))?),
            "allow_http" => self.allow_http = with_name(n, values::flag(one(n, v)?))?,
            "ssl_verify" => self.ssl_verify = Some(with_name(n, values::flag(one(n, v)?))?),
            "ssl_trusted_certificate" => self.ssl_trusted_certificate = Some(text(n, v)?),
            "ssl_crl" => self.ssl_crl = Some(text(n, v)?),
            "proxy_from_env" => self.proxy_from_env = with_name(n, values::flag(one(n, v)?))?,
            "introspection_endpoint" => {
                let u = text(n, v)?;
                self.introspection_endpoint = Some(u);
            }
            "token_cache_ttl" => self.token_cache_ttl = Some(with_name(n, values::seconds(one(n, v)?))?),
            "token_cache_negative" => self.token_cache_negative = Some(with_name(n, values::seconds(one(n, v)?))?),
            "max_op_calls" => {
                let text = one(n, v)?;
                let count = std::str::from_utf8(text).ok().and_then(|t| t.parse::<usize>().ok()).filter(|c| (1..=100_000).contains(c));
                self.max_op_calls = Some(count.ok_or_else(|| invalid_choice(n, text, "a number from 1 to 100000"))?);
            }
            "access_token_alg" => self.access_token_algs = Some(with_name(n, alg_list(v))?),
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
            "response_mode" => {
                self.response_mode = Some(match one(n, v)? {
                    b"query" => ResponseMode::Query,
                    b"form_post" => ResponseMode::FormPost,
                    other => return Err(invalid_choice(n, other, "\"query\" or \"form_post\"")),
                })
            }
            "client_auth_method" => {
                let m = one(n, v)?;
                let name = String::from_utf8_lossy(m);
                self.client_auth = Some(AuthMethod::parse(&name).ok_or_else(|| {
                    invalid_choice(n, m, "client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt or none")
                })?);
            }
            "client_private_key" => self.client_private_key = Some(text(n, v)?),
            "id_token_alg" => self.id_token_algs = Some(with_name(n, alg_list(v))?),
            "clock_skew" => self.clock_skew = Some(with_name(n, values::seconds(one(n, v)?))?),
            "userinfo" => self.userinfo = with_name(n, values::flag(one(n, v)?))?,
            "session_store" => self.session_store = Some(with_name(n, SessionStore::parse(one(n, v)?))?),
            "session_timeout" => self.session_timeout = Some(with_name(n, values::seconds(one(n, v)?))?),
            "session_idle_timeout" => {
                self.session_idle_timeout = Some(with_name(n, values::seconds(one(n, v)?))?)
            }
            "session_contents" => {
                let mut keep = SessionKeep::default();
                for item in v {
                    match *item {
                        b"id_token" => keep.id_token = true,
                        b"access_token" => keep.access_token = true,
                        b"refresh_token" => keep.refresh_token = true,
                        b"userinfo" => keep.userinfo = true,
                        b"claims" => {}
                        other => return Err(invalid_choice(n, other, "claims, id_token, access_token, refresh_token or userinfo")),
                    }
                }
                self.session_keep = Some(keep);
            }
            "session_claims" => {
                if v.is_empty() {
                    return Err("invalid number of arguments in \"session_claims\" directive".into());
                }
                self.session_claims = Some(v.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect());
            }
            "cookie_path" => {
                let p = text(n, v)?;
                if !p.starts_with('/') || p.contains([';', ' ', ',']) {
                    return Err(format!("\"cookie_path\": invalid path \"{p}\""));
                }
                self.cookie_path = Some(p);
            }
            "cookie_domain" => {
                let d = text(n, v)?;
                if !d.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') {
                    return Err(format!("\"cookie_domain\": invalid domain \"{d}\""));
                }
                self.cookie_domain = Some(d);
            }
            "cookie_samesite" => {
                self.cookie_samesite = Some(match one(n, v)? {
                    b"lax" | b"Lax" => "Lax".into(),
                    b"strict" | b"Strict" => "Strict".into(),
                    b"none" | b"None" => "None".into(),
                    other => return Err(invalid_choice(n, other, "Lax, Strict or None")),
                })
            }
            "cookie_secure" => {
                self.cookie_secure = Some(match one(n, v)? {
                    b"auto" => CookieSecure::Auto,
                    b"on" => CookieSecure::On,
                    b"off" => CookieSecure::Off,
                    other => return Err(invalid_choice(n, other, "auto, on or off")),
                })
            }
            "logout_uri" => {
                let p = text(n, v)?;
                conf_check::check_logout_uri(&p)?;
                self.logout_uri = Some(p);
            }
            "post_logout_uri" => {
                let p = text(n, v)?;
                conf_check::check_post_logout_uri(&p)?;
                self.post_logout_uri = Some(p);
            }
            "logout_token_hint" => self.logout_token_hint = with_name(n, values::flag(one(n, v)?))?,
            "backchannel_logout_uri" | "frontchannel_logout_uri" => {
                let p = text(n, v)?;
                conf_check::check_plain_path(n, &p)?;
                if n == "backchannel_logout_uri" {
                    self.backchannel_logout_uri = Some(p);
                } else {
                    self.frontchannel_logout_uri = Some(p);
                }
            }
            "revoke_tokens" => self.revoke_tokens = Some(with_name(n, values::flag(one(n, v)?))?),
            _ => return Err(format!("unknown directive \"{name}\"")),
        }
        Ok(())
    }

    fn finish(&mut self, cf: &mut ngx_conf_t) -> Result<Provider, String> {
        let issuer = self.issuer.clone().ok_or("missing \"issuer\" directive")?;
        let issuer_template = self.issuer_template()?;
        // A template is checked as the URL of one tenant.
        let one_issuer = issuer.replace(tenant::PLACEHOLDER, "tenant");
        issuer_url::check_issuer(&one_issuer, self.allow_http)
            .map_err(|e| format!("\"issuer\" \"{issuer}\" {e}"))?;
        let client_id = self.client_id.clone().ok_or("missing \"client_id\" directive")?;
        if issuer_template.is_some() && self.config_url.is_none() {
            return Err("\"issuer_template on\" needs \"config_url\" (the multi-tenant discovery URL, e.g. https://login.microsoftonline.com/organizations/v2.0/.well-known/openid-configuration)".into());
        }
        let config_url =
            self.config_url.clone().unwrap_or_else(|| issuer_url::default_config_url(&issuer));
        issuer_url::check_endpoint_url(&config_url, self.allow_http)
            .map_err(|e| format!("\"config_url\" \"{config_url}\" {e}"))?;

        if let Some(u) = &self.introspection_endpoint {
            issuer_url::check_endpoint_url(u, self.allow_http)
                .map_err(|e| format!("\"introspection_endpoint\" \"{u}\" {e}"))?;
        }
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

        let ssl_crl = match &self.ssl_crl {
            None => None,
            Some(_) if !ssl_verify => {
                return Err("\"ssl_crl\" has no effect with \"ssl_verify off\"".into());
            }
            Some(path) => Some(read_crl(cf, path)?),
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

        let client_auth = self.client_auth;
        let needs_secret = matches!(
            client_auth,
            Some(AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost | AuthMethod::ClientSecretJwt)
        );
        if needs_secret && self.client_secret.is_none() {
            return Err(format!(
                "\"client_auth_method {}\" needs \"client_secret\"",
                client_auth.map(AuthMethod::name).unwrap_or_default()
            ));
        }
        let client_private_key = match (&self.client_private_key, client_auth) {
            (Some(path), _) => {
                let full = full_path(cf, path);
                let pem = std::fs::read(&full)
                    .map_err(|e| format!("\"client_private_key\": cannot read \"{full}\": {e}"))?;
                Some(SigningKey::from_pem(&pem).map_err(|e| format!("\"client_private_key\" \"{full}\": {e}"))?)
            }
            (None, Some(AuthMethod::PrivateKeyJwt)) => {
                return Err("\"client_auth_method private_key_jwt\" needs \"client_private_key\"".into())
            }
            (None, _) => None,
        };
        let response_mode = self.response_mode.unwrap_or(ResponseMode::Query);
        let mut cookie_secure = self.cookie_secure.unwrap_or(CookieSecure::Auto);
        if self.cookie_name.as_deref().is_some_and(|n| n.starts_with("__Host-")) {
            // Browsers accept a __Host- cookie only when it is Secure, has Path=/ and no
            // Domain: it then cannot be set or overwritten by a sibling subdomain.
            if self.cookie_domain.is_some() {
                return Err("\"cookie_name\" with the __Host- prefix cannot be used with \"cookie_domain\"".into());
            }
            if self.cookie_path.as_deref().is_some_and(|p| p != "/") {
                return Err("\"cookie_name\" with the __Host- prefix needs \"cookie_path /\"".into());
            }
            if cookie_secure == CookieSecure::Off {
                return Err("\"cookie_name\" with the __Host- prefix cannot be used with \"cookie_secure off\"".into());
            }
            cookie_secure = CookieSecure::On;
        }
        let cookie_samesite = self.cookie_samesite.clone().unwrap_or_else(|| "Lax".into());
        if cookie_samesite == "None" && cookie_secure == CookieSecure::Off {
            return Err("\"cookie_samesite None\" needs Secure cookies (browsers drop the cookie otherwise)".into());
        }
        let session_timeout = self.session_timeout.unwrap_or(DEFAULT_SESSION_TIMEOUT);
        if session_timeout == 0 {
            return Err("\"session_timeout\" must be greater than zero".into());
        }
        let mut session_keep = self.session_keep.unwrap_or_default();
        let id_token_for_hint_only = self.logout_token_hint && !session_keep.id_token;
        if self.logout_token_hint {
            // The hint is the ID token: it must be in the session to be sent.
            session_keep.id_token = true;
        }
        if self.post_logout_uri.is_some() && self.logout_uri.is_none() {
            return Err("\"post_logout_uri\" is set but \"logout_uri\" is not".into());
        }
        if let Some(l) = &self.logout_uri {
            if l == conf_check::path_of(&redirect_uri) {
                return Err("\"logout_uri\" and \"redirect_uri\" must differ".into());
            }
        }
        // Each URI the module answers itself is its own: the OP's logout calls must not
        // land on the login callback or the user's logout page.
        let own = [
            ("redirect_uri", Some(conf_check::path_of(&redirect_uri).to_owned())),
            ("logout_uri", self.logout_uri.clone()),
            ("backchannel_logout_uri", self.backchannel_logout_uri.clone()),
            ("frontchannel_logout_uri", self.frontchannel_logout_uri.clone()),
        ];
        for (i, (a, pa)) in own.iter().enumerate() {
            for (b, pb) in &own[i + 1..] {
                if pa.is_some() && pa == pb {
                    return Err(format!("\"{a}\" and \"{b}\" must differ"));
                }
            }
        }

        let mut session_store = self.session_store.take().unwrap_or(SessionStore::Cookie);
        session_store.request_zone(cf).map_err(|e| format!("\"session_store\": {e}"))?;
        let session_purpose = format!("session\n{issuer}\n{client_id}").into_bytes();
        // The TLS trust a document was fetched under is part of its cache key: a provider
        // with `ssl_verify off`, or without the `ssl_crl` that refuses the OP's certificate,
        // must not fill the cache (or its failure record) of one with stricter settings.
        let verify: &[u8] = if ssl_verify { b"verify" } else { b"no-verify" };
        let trusted = ssl_trusted_certificate.as_deref().unwrap_or_default();
        let crl = ssl_crl.as_deref().unwrap_or_default();
        let discovery_key = key_hash(&[b"discovery", issuer.as_bytes(), config_url.as_bytes(), verify, trusted, crl]);
        let jwks_key = key_hash(&[b"jwks", issuer.as_bytes(), config_url.as_bytes(), verify, trusted, crl]);

        let provider = Provider {
            name: self.name.clone(),
            issuer,
            issuer_template,
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
            ssl_crl,
            proxy_from_env: self.proxy_from_env,
            timeout_ms,
            max_response_size,
            cache,
            cache_stale: self.cache_stale.unwrap_or(DEFAULT_CACHE_STALE),
            jwks_refresh_interval: self.jwks_refresh_interval.unwrap_or(DEFAULT_JWKS_REFRESH),
            cookie_name: self.cookie_name.take().unwrap_or_else(|| DEFAULT_COOKIE_NAME.into()),
            login_timeout: self.login_timeout.unwrap_or(DEFAULT_LOGIN_TIMEOUT),
            cipher,
            response_mode,
            client_auth,
            client_private_key,
            id_token_algs: self.id_token_algs.take(),
            clock_skew: self.clock_skew.unwrap_or(DEFAULT_CLOCK_SKEW),
            userinfo: self.userinfo,
            session_timeout,
            session_idle_timeout: self.session_idle_timeout.unwrap_or(0),
            session_keep,
            session_contents_set: self.session_keep.is_some(),
            session_claims: self.session_claims.take(),
            cookie_path: self.cookie_path.take().unwrap_or_else(|| "/".into()),
            cookie_domain: self.cookie_domain.take(),
            cookie_samesite,
            cookie_secure,
            logout_uri: self.logout_uri.take(),
            post_logout_uri: self.post_logout_uri.take(),
            logout_token_hint: self.logout_token_hint,
            backchannel_logout_uri: self.backchannel_logout_uri.take(),
            frontchannel_logout_uri: self.frontchannel_logout_uri.take(),
            // Default: on when the session keeps a token to revoke (and the OP announces
            // a revocation_endpoint, checked at logout).
            revoke_tokens: self.revoke_tokens.unwrap_or(session_keep.access_token || session_keep.refresh_token),
            id_token_for_hint_only,
            session_purpose,
            session_store,
            introspection_endpoint: self.introspection_endpoint.take(),
            token_cache_ttl: self.token_cache_ttl.unwrap_or(DEFAULT_TOKEN_CACHE_TTL),
            token_cache_negative: self.token_cache_negative.unwrap_or(DEFAULT_TOKEN_CACHE_NEGATIVE),
            max_op_calls: self.max_op_calls.unwrap_or(DEFAULT_MAX_OP_CALLS),
            access_token_algs: self.access_token_algs.take(),
            discovery_key,
            jwks_key,
        };
        if provider.ssl_crl.is_some() {
            // The CRLs are parsed (and their issuers matched) only when the TLS verifier
            // is built: build one now, so a broken CRL fails `nginx -t`, not every login.
            crate::bridge::check_client(&provider).map_err(|e| format!("\"ssl_crl\": {e}"))?;
        }
        Ok(provider)
    }
}

/// Reads `ssl_trusted_certificate` now, so a missing or unreadable file fails `nginx -t`.
/// A configured file path: relative paths are relative to the configuration prefix.
fn full_path(cf: &ngx_conf_t, path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        // SAFETY: the cycle and its conf_prefix are valid while parsing.
        let prefix = unsafe { (*cf.cycle).conf_prefix.to_string() };
        format!("{prefix}{path}")
    }
}

/// Reads `ssl_crl` now: a missing file or one without a PEM CRL fails `nginx -t`.
fn read_crl(cf: &ngx_conf_t, path: &str) -> Result<Vec<u8>, String> {
    let full = full_path(cf, path);
    let pem = std::fs::read(&full).map_err(|e| format!("\"ssl_crl\": cannot read \"{full}\": {e}"))?;
    match reqwest::tls::CertificateRevocationList::from_pem_bundle(&pem) {
        Ok(crls) if !crls.is_empty() => Ok(pem),
        Ok(_) => Err(format!("\"ssl_crl\": no PEM CRL (\"BEGIN X509 CRL\") found in \"{full}\"")),
        Err(e) => Err(format!("\"ssl_crl\" \"{full}\": {e}")),
    }
}

fn read_pem_bundle(cf: &ngx_conf_t, path: &str) -> Result<Vec<u8>, String> {
    let full = full_path(cf, path);
    let pem = std::fs::read(&full)
        .map_err(|e| format!("\"ssl_trusted_certificate\": cannot read \"{full}\": {e}"))?;
    reqwest::Certificate::from_pem_bundle(&pem)
        .ok()
        .filter(|certs| !certs.is_empty())
        .ok_or_else(|| format!("\"ssl_trusted_certificate\": no PEM certificate found in \"{full}\""))?;
    Ok(pem)
}

impl Draft {
    /// `issuer_template on`: the issuer must hold `{tenantid}`; without it, an issuer that
    /// holds it is a mistake (Entra's multi-tenant documents say so literally).
    fn issuer_template(&self) -> Result<Option<tenant::IssuerTemplate>, String> {
        let issuer = self.issuer.as_deref().unwrap_or_default();
        let has = issuer.contains(tenant::PLACEHOLDER);
        match (self.issuer_template, has) {
            (false, true) => Err(format!(
                "\"issuer\" \"{issuer}\" contains {}: a multi-tenant issuer needs \"issuer_template on\"",
                tenant::PLACEHOLDER
            )),
            (false, false) if self.allowed_tenants.is_some() => {
                Err("\"allowed_tenants\" needs \"issuer_template on\"".into())
            }
            (false, false) => Ok(None),
            (true, _) => tenant::IssuerTemplate::new(issuer, self.allowed_tenants.clone().unwrap_or_default())
                .map(Some)
                .map_err(|e| format!("\"issuer_template on\": \"issuer\" {e}")),
        }
    }
}

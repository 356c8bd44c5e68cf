//! One `oidc_provider` block: its settings after parsing and validation.

use oidc_core::cache_policy::CacheBounds;
use oidc_core::cookie_cipher::CookieCipher;

/// `pkce on|off`; unset means "on when the OP advertises S256".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PkceMode {
    Auto,
    On,
    Off,
}

pub struct Provider {
    pub name: String,
    pub issuer: String,
    pub config_url: String,
    pub client_id: String,
    /// Never logged.
    pub client_secret: Option<String>,
    /// A path (made absolute from the request's scheme and Host) or an absolute URL.
    pub redirect_uri: String,
    pub scope: String,
    pub extra_auth_args: Option<String>,
    pub pkce: PkceMode,
    /// Permit plain-http issuers and endpoints on non-loopback hosts.
    pub allow_http: bool,
    pub ssl_verify: bool,
    /// PEM bundle read at configuration time; when set it replaces the system roots.
    pub ssl_trusted_certificate: Option<Vec<u8>>,
    /// Honour HTTP(S)_PROXY / NO_PROXY for requests to the OP.
    pub proxy_from_env: bool,
    /// Limit for one request to the OP (connect, send, whole response).
    pub timeout_ms: u64,
    pub max_response_size: usize,
    pub cache: CacheBounds,
    /// How long past its expiry a document is still served while it cannot be refreshed.
    pub cache_stale: u64,
    /// At most one JWKS refresh per this interval when a token names an unknown key.
    pub jwks_refresh_interval: u64,
    pub cookie_name: String,
    /// Lifetime of a login attempt (the state cookie) in seconds.
    pub login_timeout: u64,
    pub cipher: CookieCipher,
    /// Where the documents of this provider live in the shared zone.
    pub discovery_key: u64,
    pub jwks_key: u64,
}

impl Provider {
    /// The prefix of this provider's per-attempt state cookies.
    pub fn state_cookie_prefix(&self) -> String {
        format!("{}_state", self.cookie_name)
    }
}

pub const DEFAULT_REDIRECT_URI: &str = "/oidc_callback";
pub const DEFAULT_SCOPE: &str = "openid";
pub const DEFAULT_COOKIE_NAME: &str = "NGX_OIDC_SESSION";
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_MAX_RESPONSE: usize = 256 * 1024;
pub const DEFAULT_CACHE_MIN: u64 = 60;
pub const DEFAULT_CACHE_MAX: u64 = 24 * 3600;
pub const DEFAULT_CACHE_STALE: u64 = 3600;
pub const DEFAULT_JWKS_REFRESH: u64 = 60;
pub const DEFAULT_LOGIN_TIMEOUT: u64 = 600;

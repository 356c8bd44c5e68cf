//! One `oidc_provider` block: its settings after parsing and validation.

use oidc_core::cache_policy::CacheBounds;
use oidc_core::client_auth::{AuthMethod, ClientAuth, ClientCredentials, SigningKey};
use oidc_core::cookie_cipher::CookieCipher;

/// `pkce on|off`; unset means "on when the OP advertises S256".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PkceMode {
    Auto,
    On,
    Off,
}

/// How the OP returns the authorization response (`response_mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    FormPost,
}

/// `cookie_secure auto|on|off`: auto sets `Secure` when the browser came over https.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CookieSecure {
    Auto,
    On,
    Off,
}

/// What a session keeps besides the identity (`session_contents`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionKeep {
    pub id_token: bool,
    pub access_token: bool,
    pub refresh_token: bool,
    pub userinfo: bool,
}

pub struct Provider {
    pub name: String,
    /// With `issuer_template on`, a template containing `{tenantid}`.
    pub issuer: String,
    /// `issuer_template on` (and `allowed_tenants`): tokens' `iss` is checked against
    /// the template with their `tid`.
    pub issuer_template: Option<oidc_core::tenant::IssuerTemplate>,
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
    /// `ssl_crl`: PEM CRLs read at configuration time; the OP's certificate chain is
    /// checked against them.
    pub ssl_crl: Option<Vec<u8>>,
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
    pub response_mode: ResponseMode,
    /// None: `client_secret_basic` with a secret, `none` without.
    pub client_auth: Option<AuthMethod>,
    /// For `private_key_jwt`, read at configuration time.
    pub client_private_key: Option<SigningKey>,
    /// ID token algorithms accepted; None: what the OP announces.
    pub id_token_algs: Option<Vec<String>>,
    /// Seconds of tolerance for token times.
    pub clock_skew: u64,
    /// Fetch the userinfo endpoint at login.
    pub userinfo: bool,
    pub session_timeout: u64,
    /// 0: no idle timeout.
    pub session_idle_timeout: u64,
    pub session_keep: SessionKeep,
    /// `session_contents` was written: what it lists is kept, nothing more (see
    /// `plus_vars`).
    pub session_contents_set: bool,
    /// Claims kept in the session; None: every claim that is not protocol bookkeeping.
    pub session_claims: Option<Vec<String>>,
    pub cookie_path: String,
    pub cookie_domain: Option<String>,
    pub cookie_samesite: String,
    pub cookie_secure: CookieSecure,
    /// The path (on any host) that logs out.
    pub logout_uri: Option<String>,
    /// Where to go after logout: a local path or an absolute URL registered at the OP.
    pub post_logout_uri: Option<String>,
    /// Send `id_token_hint` to the end_session_endpoint (keeps the ID token in the session).
    pub logout_token_hint: bool,
    /// `backchannel_logout_uri`: where the OP POSTs logout tokens (Back-Channel Logout 1.0).
    pub backchannel_logout_uri: Option<String>,
    /// `frontchannel_logout_uri`: the page the OP frames at logout (Front-Channel Logout 1.0).
    pub frontchannel_logout_uri: Option<String>,
    /// `revoke_tokens`: revoke the session's refresh and access tokens at logout (RFC 7009).
    pub revoke_tokens: bool,
    /// The ID token is in the session only for `logout_token_hint` (not asked for in
    /// `session_contents`): it may be left out when the session would be too large.
    pub id_token_for_hint_only: bool,
    /// Where the documents of this provider live in the shared zone.
    /// RFC 7662 endpoint; None: the discovered one.
    pub introspection_endpoint: Option<String>,
    /// Longest a validated token's result is cached (0: no cache).
    pub token_cache_ttl: u64,
    /// How long a refused token's result is cached (0: not cached).
    pub token_cache_negative: u64,
    /// Requests to the OP on behalf of clients (token, refresh, userinfo, introspection)
    /// that one worker may have in flight for this provider; more answer 503 at once.
    pub max_op_calls: usize,
    /// JWT access token algorithms; None: as for ID tokens.
    pub access_token_algs: Option<Vec<String>>,
    /// Binds sealed sessions to this provider and client (see `SessionCookies`).
    pub session_purpose: Vec<u8>,
    /// Where sessions live (`session_store`).
    pub session_store: super::session_store::SessionStore,
    pub discovery_key: u64,
    pub jwks_key: u64,
}

impl Provider {
    /// The prefix of this provider's per-attempt state cookies.
    pub fn state_cookie_prefix(&self) -> String {
        format!("{}_state", self.cookie_name)
    }

    /// What a cached token verdict depends on in this provider's configuration: the
    /// token cache's namespace is keyed by it, not by the name alone, so a reload that
    /// changes the issuer, the client or the accepted algorithms does not inherit the
    /// verdicts in the shared zone that the old configuration reached.
    pub fn verdict_identity(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{:?}\n{:?}\n{:?}\n{}",
            self.name,
            self.issuer,
            self.config_url,
            self.client_id,
            self.access_token_algs,
            self.id_token_algs,
            self.introspection_endpoint,
            self.clock_skew
        )
    }

    /// The client authentication method at the token endpoint.
    pub fn auth_method(&self) -> AuthMethod {
        self.client_auth.unwrap_or(if self.client_secret.is_some() {
            AuthMethod::ClientSecretBasic
        } else {
            AuthMethod::None
        })
    }

    /// Client authentication for a request to `endpoint` (token, introspection): the form
    /// fields and header the configured method needs.
    pub fn client_credentials(&self, endpoint: &str, now: i64) -> Result<ClientCredentials, String> {
        ClientAuth {
            method: self.auth_method(),
            client_id: &self.client_id,
            client_secret: self.client_secret.as_deref(),
            private_key: self.client_private_key.as_ref(),
            token_endpoint: endpoint,
            now: now as u64,
        }
        .credentials()
    }

    /// The path part of `redirect_uri`, which the callback is recognised by.
    pub fn redirect_path(&self) -> &str {
        oidc_core::conf_check::path_of(&self.redirect_uri)
    }

    pub fn cookie_secure(&self, https: bool) -> bool {
        match self.cookie_secure {
            CookieSecure::Auto => https,
            CookieSecure::On => true,
            CookieSecure::Off => false,
        }
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
pub const DEFAULT_CLOCK_SKEW: u64 = 60;
pub const DEFAULT_SESSION_TIMEOUT: u64 = 8 * 3600;
pub const DEFAULT_TOKEN_CACHE_TTL: u64 = 300;
/// Refusals are remembered briefly by default, so a flood of one bad token costs one
/// introspection per this interval, not one per request.
pub const DEFAULT_TOKEN_CACHE_NEGATIVE: u64 = 10;
pub const DEFAULT_MAX_OP_CALLS: usize = 64;

impl Provider {
    /// Whether the OP can end this provider's sessions (back- or front-channel logout):
    /// sessions are then indexed by their `sid` and `sub`.
    pub fn ended_by_op(&self) -> bool {
        self.backchannel_logout_uri.is_some() || self.frontchannel_logout_uri.is_some()
    }

    /// The tags a logout started by the OP finds a session of this provider by.
    pub fn session_tags(&self, s: &oidc_core::session::Session) -> oidc_core::session_tags::SessionTags {
        oidc_core::session_tags::SessionTags::of(s, &self.session_purpose, &self.issuer)
    }
}

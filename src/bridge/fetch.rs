//! HTTP requests to the OP, run on the runtime thread with reqwest.
//!
//! Names are resolved here, on the runtime thread, with the system resolver (getaddrinfo
//! via tokio's blocking pool): no `resolver` directive is needed and nginx never blocks.
//!
//! Redirects: a POST (token, refresh, introspection) follows none, so the code, the
//! refresh token or the client secret can never be re-sent to a host the configuration
//! does not name; a 3xx answer is a failure. A GET (discovery, JWKS, userinfo) follows at
//! most `MAX_REDIRECTS`, each hop checked against the same rules as a configured endpoint
//! (`issuer_url::check_endpoint_url`: https, or plain http on loopback or with
//! `allow_http`), so a redirect cannot downgrade a key set to plain http.

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};

use oidc_core::issuer_url;

use crate::conf::Provider;

/// Hops a GET to the OP may take.
const MAX_REDIRECTS: usize = 3;

/// The per-provider network settings, copied out of the configuration so they can
/// cross to the runtime thread.
#[derive(Clone)]
pub struct ClientSettings {
    pub ssl_verify: bool,
    pub trusted_pem: Option<Vec<u8>>,
    pub crl_pem: Option<Vec<u8>>,
    pub proxy_from_env: bool,
    pub timeout: Duration,
    pub max_response_size: usize,
    pub allow_http: bool,
}

impl ClientSettings {
    pub fn from_provider(p: &Provider) -> Self {
        ClientSettings {
            ssl_verify: p.ssl_verify,
            trusted_pem: p.ssl_trusted_certificate.clone(),
            crl_pem: p.ssl_crl.clone(),
            proxy_from_env: p.proxy_from_env,
            timeout: Duration::from_millis(p.timeout_ms),
            max_response_size: p.max_response_size,
            allow_http: p.allow_http,
        }
    }
}

/// A successful response: the body and what is needed to cache it.
pub struct Fetched {
    pub body: Vec<u8>,
    pub cache_control: Option<String>,
}

/// A request to one of the OP's endpoints. Headers and body may carry secrets (client
/// credentials, codes, tokens): they are never formatted into errors or logs.
pub struct OpCall {
    pub post: bool,
    pub url: String,
    pub authorization: Option<String>,
    /// `application/x-www-form-urlencoded` body of a POST.
    pub form: Option<String>,
    /// Which endpoint this is, for the metrics.
    pub endpoint: crate::metrics::Endpoint,
}

/// The OP's answer, whatever its status.
pub struct OpAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One provider's HTTP clients: reqwest has one redirect policy per client.
struct ProviderClients {
    /// Follows checked redirects (GET).
    get: Result<reqwest::Client, String>,
    /// Follows none (POST).
    post: Result<reqwest::Client, String>,
    max: usize,
}

pub struct Clients {
    clients: Vec<ProviderClients>,
}

impl Clients {
    pub fn new(settings: Vec<ClientSettings>) -> Self {
        let clients = settings
            .iter()
            .map(|s| ProviderClients { get: build(s, true), post: build(s, false), max: s.max_response_size })
            .collect();
        Clients { clients }
    }

    fn client(&self, provider: usize, post: bool) -> Result<(&reqwest::Client, usize), String> {
        let c = self.clients.get(provider).ok_or("no such provider")?;
        let client = if post { &c.post } else { &c.get };
        Ok((client.as_ref().map_err(Clone::clone)?, c.max))
    }

    pub async fn get(&self, provider: usize, url: &str) -> Result<Fetched, String> {
        let (client, max) = self.client(provider, false)?;
        let mut resp = client
            .get(url)
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("the OP answered HTTP {}", status.as_u16()));
        }
        let cache_control =
            resp.headers().get(CACHE_CONTROL).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = read_body(&mut resp, max).await?;
        Ok(Fetched { body, cache_control })
    }
}

impl Clients {
    pub async fn call(&self, provider: usize, call: OpCall) -> Result<OpAnswer, String> {
        let (client, max) = self.client(provider, call.post)?;
        let mut req = if call.post { client.post(&call.url) } else { client.get(&call.url) };
        req = req.header(ACCEPT, "application/json");
        if let Some(a) = call.authorization {
            req = req.header(AUTHORIZATION, a);
        }
        if let Some(form) = call.form {
            req = req.header(CONTENT_TYPE, "application/x-www-form-urlencoded").body(form);
        }
        let mut resp = req.send().await.map_err(|e| describe(&e))?;
        let status = resp.status().as_u16();
        if resp.status().is_redirection() {
            // Only a POST gets here (a GET's hops were followed or refused by the policy).
            return Err(format!("redirect_refused: the OP answered HTTP {status} (a redirect, not followed for a POST)"));
        }
        let body = read_body(&mut resp, max).await?;
        Ok(OpAnswer { status, body })
    }
}

async fn read_body(resp: &mut reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(format!("response larger than max_response_size ({max} bytes)"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| describe(&e))? {
        if body.len() + chunk.len() > max {
            return Err(format!("response larger than max_response_size ({max} bytes)"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The redirect policy of GETs: at most `MAX_REDIRECTS` hops, each to a URL the
/// configuration would accept as an endpoint.
fn checked_redirects(allow_http: bool) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(format!("redirect_refused: more than {MAX_REDIRECTS} redirects"));
        }
        match issuer_url::check_endpoint_url(attempt.url().as_str(), allow_http) {
            Ok(_) => attempt.follow(),
            Err(why) => attempt.error(format!("redirect_refused: the redirect target {why}")),
        }
    })
}

fn build(s: &ClientSettings, follow: bool) -> Result<reqwest::Client, String> {
    let policy = if follow { checked_redirects(s.allow_http) } else { reqwest::redirect::Policy::none() };
    let mut b = reqwest::Client::builder()
        .timeout(s.timeout)
        .connect_timeout(s.timeout)
        .redirect(policy)
        .user_agent(concat!("ngx_http_auth_oidc_module/", env!("CARGO_PKG_VERSION")));
    if !s.proxy_from_env {
        // reqwest reads HTTP(S)_PROXY by default; a module inside nginx must not pick up
        // whatever the environment holds unless the operator asked for it.
        b = b.no_proxy();
    }
    if let Some(pem) = &s.trusted_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("ssl_trusted_certificate: {e}"))?;
        b = b.tls_built_in_root_certs(false);
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    if let Some(pem) = &s.crl_pem {
        // rustls then checks every certificate of the OP's chain against the CRLs and
        // refuses one whose issuer has no CRL in the file, as nginx's own `ssl_crl` does
        // (OpenSSL's CRL_CHECK_ALL).
        let crls = reqwest::tls::CertificateRevocationList::from_pem_bundle(pem).map_err(|e| format!("ssl_crl: {e}"))?;
        b = b.add_crls(crls);
    }
    if !s.ssl_verify {
        b = b.danger_accept_invalid_certs(true);
    }
    b.build().map_err(|e| format!("cannot build the HTTP client: {}", describe(&e)))
}

/// Builds a client from the settings once and drops it: the configuration check of
/// what only the TLS layer parses (CRLs).
pub fn check(s: &ClientSettings) -> Result<(), String> {
    build(s, false).map(drop)
}

/// The error and its causes on one line ("error sending request: ... : Connection refused"),
/// which is what an operator needs in the log. reqwest errors carry the URL, never a body.
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        src = cause.source();
    }
    s
}

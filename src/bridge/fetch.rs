//! HTTP requests to the OP, run on the runtime thread with reqwest.
//!
//! Names are resolved here, on the runtime thread, with the system resolver (getaddrinfo
//! via tokio's blocking pool): no `resolver` directive is needed and nginx never blocks.

use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};

use crate::conf::Provider;

/// The per-provider network settings, copied out of the configuration so they can
/// cross to the runtime thread.
#[derive(Clone)]
pub struct ClientSettings {
    pub ssl_verify: bool,
    pub trusted_pem: Option<Vec<u8>>,
    pub proxy_from_env: bool,
    pub timeout: Duration,
    pub max_response_size: usize,
}

impl ClientSettings {
    pub fn from_provider(p: &Provider) -> Self {
        ClientSettings {
            ssl_verify: p.ssl_verify,
            trusted_pem: p.ssl_trusted_certificate.clone(),
            proxy_from_env: p.proxy_from_env,
            timeout: Duration::from_millis(p.timeout_ms),
            max_response_size: p.max_response_size,
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
}

/// The OP's answer, whatever its status.
pub struct OpAnswer {
    pub status: u16,
    pub body: Vec<u8>,
}

pub struct Clients {
    clients: Vec<(Result<reqwest::Client, String>, usize)>,
}

impl Clients {
    pub fn new(settings: Vec<ClientSettings>) -> Self {
        Clients { clients: settings.iter().map(|s| (build(s), s.max_response_size)).collect() }
    }

    pub async fn get(&self, provider: usize, url: &str) -> Result<Fetched, String> {
        let (client, max) = self.clients.get(provider).ok_or("no such provider")?;
        let client = client.as_ref().map_err(Clone::clone)?;
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
        let body = read_body(&mut resp, *max).await?;
        Ok(Fetched { body, cache_control })
    }
}

impl Clients {
    pub async fn call(&self, provider: usize, call: OpCall) -> Result<OpAnswer, String> {
        let (client, max) = self.clients.get(provider).ok_or("no such provider")?;
        let client = client.as_ref().map_err(Clone::clone)?;
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
        let body = read_body(&mut resp, *max).await?;
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

fn build(s: &ClientSettings) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .timeout(s.timeout)
        .connect_timeout(s.timeout)
        .redirect(reqwest::redirect::Policy::limited(3))
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
    if !s.ssl_verify {
        b = b.danger_accept_invalid_certs(true);
    }
    b.build().map_err(|e| format!("cannot build the HTTP client: {}", describe(&e)))
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

//! The OP's discovery document (OpenID Connect Discovery 1.0, section 3), checked once
//! when fetched: valid JSON, the issuer exactly the configured one (section 4.3), the
//! endpoints we will call are URLs we accept.

use serde::Deserialize;
use std::fmt;

use crate::issuer_url::check_endpoint_url;

#[derive(Clone, Debug, Deserialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    #[serde(default)]
    pub token_endpoint: Option<String>,
    pub jwks_uri: String,
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub introspection_endpoint: Option<String>,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
    #[serde(default)]
    pub response_types_supported: Vec<String>,
    #[serde(default)]
    pub response_modes_supported: Option<Vec<String>>,
    #[serde(default)]
    pub code_challenge_methods_supported: Vec<String>,
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    pub id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
    #[serde(default)]
    pub scopes_supported: Option<Vec<String>>,
}

impl ProviderMetadata {
    /// Whether the OP announces PKCE with S256 (RFC 8414 section 2).
    pub fn supports_pkce_s256(&self) -> bool {
        self.code_challenge_methods_supported.iter().any(|m| m == "S256")
    }

    /// The token endpoint authentication methods the OP accepts; the spec's default when
    /// it does not say is `client_secret_basic` (Discovery section 3).
    pub fn token_auth_methods(&self) -> Vec<&str> {
        match &self.token_endpoint_auth_methods_supported {
            Some(m) => m.iter().map(String::as_str).collect(),
            None => vec!["client_secret_basic"],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryError {
    InvalidJson(String),
    IssuerMismatch { expected: String, found: String },
    BadEndpoint { field: &'static str, url: String, problem: String },
    MissingCapability(&'static str),
}

impl DiscoveryError {
    /// The stable word the error log uses for this failure.
    pub fn reason(&self) -> &'static str {
        match self {
            DiscoveryError::IssuerMismatch { .. } => "issuer_mismatch",
            _ => "discovery_invalid",
        }
    }
}

impl fmt::Display for DiscoveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiscoveryError::InvalidJson(e) => write!(f, "the discovery document is not valid: {e}"),
            DiscoveryError::IssuerMismatch { expected, found } => write!(
                f,
                "the discovery document names issuer \"{found}\", but the configured issuer is \"{expected}\" (they must be equal, character for character)"
            ),
            DiscoveryError::BadEndpoint { field, url, problem } => {
                write!(f, "the discovery document's \"{field}\" \"{url}\" {problem}")
            }
            DiscoveryError::MissingCapability(what) => write!(f, "the discovery document {what}"),
        }
    }
}

impl std::error::Error for DiscoveryError {}

/// Parses and checks a discovery document fetched for `expected_issuer`.
pub fn parse(body: &[u8], expected_issuer: &str, allow_http: bool) -> Result<ProviderMetadata, DiscoveryError> {
    let meta: ProviderMetadata =
        serde_json::from_slice(body).map_err(|e| DiscoveryError::InvalidJson(e.to_string()))?;
    if meta.issuer != expected_issuer {
        return Err(DiscoveryError::IssuerMismatch { expected: expected_issuer.into(), found: meta.issuer });
    }
    let mut endpoints: Vec<(&'static str, &str)> =
        vec![("authorization_endpoint", &meta.authorization_endpoint), ("jwks_uri", &meta.jwks_uri)];
    let optional = [
        ("token_endpoint", &meta.token_endpoint),
        ("userinfo_endpoint", &meta.userinfo_endpoint),
        ("end_session_endpoint", &meta.end_session_endpoint),
        ("introspection_endpoint", &meta.introspection_endpoint),
        ("revocation_endpoint", &meta.revocation_endpoint),
    ];
    endpoints.extend(optional.iter().filter_map(|(f, u)| u.as_deref().map(|u| (*f, u))));
    for (field, url) in endpoints {
        check_endpoint_url(url, allow_http).map_err(|problem| DiscoveryError::BadEndpoint {
            field,
            url: url.into(),
            problem,
        })?;
    }
    if !meta.response_types_supported.is_empty() && !meta.response_types_supported.iter().any(|t| t == "code") {
        return Err(DiscoveryError::MissingCapability("does not list response type \"code\""));
    }
    Ok(meta)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(issuer: &str, extra: &str) -> Vec<u8> {
        format!(
            r#"{{"issuer":"{issuer}","authorization_endpoint":"https://op.example/auth",
               "token_endpoint":"https://op.example/token","jwks_uri":"https://op.example/jwks",
               "response_types_supported":["code","id_token"],
               "code_challenge_methods_supported":["plain","S256"],
               "id_token_signing_alg_values_supported":["RS256"]{extra}}}"#
        )
        .into_bytes()
    }

    #[test]
    fn parses_a_valid_document() {
        let m = parse(&doc("https://op.example", ""), "https://op.example", false).unwrap();
        assert!(m.supports_pkce_s256());
        assert_eq!(m.token_auth_methods(), vec!["client_secret_basic"]);
        assert!(!m.authorization_response_iss_parameter_supported);
        assert_eq!(m.jwks_uri, "https://op.example/jwks");
    }

    #[test]
    fn issuer_must_match_exactly() {
        let e = parse(&doc("https://op.example/", ""), "https://op.example", false).unwrap_err();
        assert_eq!(e.reason(), "issuer_mismatch");
        assert!(e.to_string().contains("https://op.example/"));
    }

    #[test]
    fn garbage_and_missing_fields_are_invalid() {
        let e = parse(b"not json{", "https://op.example", false).unwrap_err();
        assert_eq!(e.reason(), "discovery_invalid");
        let e = parse(br#"{"issuer":"https://op.example"}"#, "https://op.example", false).unwrap_err();
        assert!(e.to_string().contains("authorization_endpoint"), "{e}");
    }

    #[test]
    fn plain_http_endpoints_refused_off_loopback() {
        let body = doc("https://op.example", r#","userinfo_endpoint":"http://op.example/userinfo""#);
        let e = parse(&body, "https://op.example", false).unwrap_err();
        assert!(matches!(e, DiscoveryError::BadEndpoint { field: "userinfo_endpoint", .. }));
        assert!(parse(&body, "https://op.example", true).is_ok());
    }

    #[test]
    fn code_flow_must_be_supported() {
        let body = br#"{"issuer":"https://op.example","authorization_endpoint":"https://op.example/a",
            "jwks_uri":"https://op.example/j","response_types_supported":["id_token"]}"#;
        assert!(parse(body, "https://op.example", false).is_err());
    }
}

//! The token request of the code flow (RFC 6749 4.1.3 with RFC 7636's verifier) and the
//! refresh request (RFC 6749 section 6), and reading the token endpoint's answer.

use serde::Deserialize;
use std::fmt;

use crate::client_auth::{form_encode, ClientCredentials};

/// A POST to the token endpoint, ready to send.
pub struct TokenRequest {
    pub body: String,
    pub authorization: Option<String>,
}

pub fn code_request(code: &str, redirect_uri: &str, verifier: Option<&str>, creds: ClientCredentials) -> TokenRequest {
    let mut form: Vec<(&str, String)> =
        vec![("grant_type", "authorization_code".into()), ("code", code.into()), ("redirect_uri", redirect_uri.into())];
    if let Some(v) = verifier {
        form.push(("code_verifier", v.into()));
    }
    build(form, creds)
}

pub fn refresh_request(refresh_token: &str, scope: Option<&str>, creds: ClientCredentials) -> TokenRequest {
    let mut form: Vec<(&str, String)> =
        vec![("grant_type", "refresh_token".into()), ("refresh_token", refresh_token.into())];
    if let Some(s) = scope {
        form.push(("scope", s.into()));
    }
    build(form, creds)
}

/// A token revocation request (RFC 7009 section 2.1): the token and its type as a hint.
pub fn revocation_request(token: &str, hint: &str, creds: ClientCredentials) -> TokenRequest {
    build(vec![("token", token.to_owned()), ("token_type_hint", hint.to_owned())], creds)
}

/// A form POST to one of the OP's endpoints (token, introspection): the request's own
/// fields, then the client's credentials.
pub fn build(mut form: Vec<(&str, String)>, creds: ClientCredentials) -> TokenRequest {
    form.extend(creds.form);
    let body = form.iter().map(|(k, v)| format!("{k}={}", form_encode(v))).collect::<Vec<_>>().join("&");
    TokenRequest { body, authorization: creds.authorization }
}

#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    #[serde(default)]
    pub id_token: Option<String>,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<serde_json::Value>,
    #[serde(default)]
    pub scope: Option<String>,
}

impl TokenResponse {
    /// `expires_in` in seconds; some OPs send it as a string.
    pub fn expires_in(&self) -> Option<u64> {
        match &self.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        }
    }

    /// When the access token expires, `now + expires_in`; 0 when the OP did not say.
    /// Saturating: a huge `expires_in` from the OP means "does not expire", never an
    /// overflow (which aborts a debug build and wraps to the past in a release build).
    pub fn access_expires_at(&self, now: u64) -> u64 {
        self.expires_in().map_or(0, |e| now.saturating_add(e))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenEndpointError {
    /// The OP refused: `error` and `error_description` from its answer (RFC 6749 5.2).
    Refused { status: u16, error: String, description: Option<String> },
    Invalid(String),
}

impl TokenEndpointError {
    pub fn reason(&self) -> &'static str {
        match self {
            TokenEndpointError::Refused { .. } => "token_request_refused",
            TokenEndpointError::Invalid(_) => "token_response_invalid",
        }
    }
}

impl fmt::Display for TokenEndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenEndpointError::Refused { status, error, description } => {
                write!(f, "the token endpoint answered HTTP {status} error=\"{}\"", sanitize(error))?;
                if let Some(d) = description {
                    write!(f, " ({})", sanitize(d))?;
                }
                Ok(())
            }
            TokenEndpointError::Invalid(e) => write!(f, "the token response is not valid: {e}"),
        }
    }
}

/// Text from the OP goes into the error log: printable ASCII only, bounded.
pub fn sanitize(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').take(200).collect()
}

/// An OAuth error answer (RFC 6749 5.2), which the introspection endpoint sends too.
#[derive(Deserialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: String,
    #[serde(default)]
    pub(crate) error_description: Option<String>,
}

/// Reads the token endpoint's answer (status and body).
pub fn parse_response(status: u16, body: &[u8]) -> Result<TokenResponse, TokenEndpointError> {
    if !(200..300).contains(&status) {
        return Err(match serde_json::from_slice::<ErrorBody>(body) {
            Ok(e) => TokenEndpointError::Refused { status, error: e.error, description: e.error_description },
            Err(_) => TokenEndpointError::Refused { status, error: "(no OAuth error in the body)".into(), description: None },
        });
    }
    let r: TokenResponse = serde_json::from_slice(body).map_err(|e| TokenEndpointError::Invalid(e.to_string()))?;
    if !r.token_type.eq_ignore_ascii_case("bearer") && !r.token_type.eq_ignore_ascii_case("dpop") {
        return Err(TokenEndpointError::Invalid(format!("token_type \"{}\" is not Bearer", sanitize(&r.token_type))));
    }
    if r.access_token.is_empty() {
        return Err(TokenEndpointError::Invalid("empty access_token".into()));
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> ClientCredentials {
        ClientCredentials { form: vec![("client_id", "c".into())], authorization: None }
    }

    #[test]
    fn code_request_body() {
        let r = code_request("a b&c", "https://app/cb", Some("ver"), creds());
        assert_eq!(r.body, "grant_type=authorization_code&code=a+b%26c&redirect_uri=https%3A%2F%2Fapp%2Fcb&code_verifier=ver&client_id=c");
        let r = refresh_request("rt", None, creds());
        assert_eq!(r.body, "grant_type=refresh_token&refresh_token=rt&client_id=c");
    }

    #[test]
    fn responses() {
        let ok = parse_response(200, br#"{"access_token":"at","token_type":"bearer","id_token":"x","expires_in":"300"}"#).unwrap();
        assert_eq!(ok.expires_in(), Some(300));
        assert_eq!(ok.access_expires_at(1000), 1300);
        let e = parse_response(400, br#"{"error":"invalid_grant","error_description":"code expired"}"#).unwrap_err();
        assert_eq!(e.to_string(), "the token endpoint answered HTTP 400 error=\"invalid_grant\" (code expired)");
        assert!(parse_response(200, br#"{"access_token":"at","token_type":"mac"}"#).is_err());
        assert!(parse_response(200, b"<html>").is_err());
        assert_eq!(parse_response(502, b"bad gateway").unwrap_err().reason(), "token_request_refused");
    }
}

#[cfg(test)]
mod expiry_tests {
    use super::*;

    // Issue 10, item 10: `now + expires_in` overflowed for a huge expires_in.
    #[test]
    fn huge_expires_in_saturates() {
        let t = parse_response(200, br#"{"access_token":"at","token_type":"Bearer","expires_in":18446744073709551615}"#).unwrap();
        assert_eq!(t.access_expires_at(1_700_000_000), u64::MAX);
        let t = parse_response(200, br#"{"access_token":"at","token_type":"Bearer"}"#).unwrap();
        assert_eq!(t.access_expires_at(1_700_000_000), 0);
    }
}

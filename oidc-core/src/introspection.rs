//! Token introspection (RFC 7662) for opaque access tokens: the request to the OP's
//! `introspection_endpoint`, authenticated like a token request, and the reading of its
//! answer. Only `"active": true` (the JSON boolean) means active. The answer's `iss`,
//! `aud`, `exp` and `nbf`, when present, are checked as a JWT's would be: an OP that
//! serves several resource servers may vouch for a token meant for another one.

use std::fmt;

use crate::client_auth::ClientCredentials;
use crate::token::{access_token, checks, Claims, TokenError};
use crate::token_exchange::{self, sanitize, ErrorBody, TokenRequest};

/// Answers longer than this are refused: an introspection result is a handful of claims.
pub const MAX_RESPONSE_LEN: usize = 64 * 1024;

/// The POST to the introspection endpoint (RFC 7662 section 2.1). `creds` come from
/// [`crate::client_auth::ClientAuth::credentials`], with the introspection endpoint as
/// the assertion audience for the JWT methods.
pub fn request(token: &str, creds: ClientCredentials) -> TokenRequest {
    token_exchange::build(vec![("token", token.into()), ("token_type_hint", "access_token".into())], creds)
}

/// What the answer is checked against, besides `active`.
pub struct IntrospectionRules<'a> {
    /// When the answer has `iss`, it must be this, exactly.
    pub issuer: &'a str,
    /// When the answer has `aud` and this is not empty, `aud` must include one of these.
    pub audiences: &'a [String],
    pub now: u64,
    pub clock_skew: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntrospectionError {
    /// The endpoint answered with an error status (bad client credentials, OP trouble):
    /// nothing is known about the token. (A 400 `unsupported_token_type` or
    /// `invalid_token`/`invalid_request` is about the token, see `concerns_token`.)
    Refused { status: u16, error: Option<String> },
    /// The answer is not a JSON object, or too long: nothing is known about the token.
    Invalid(String),
    /// The token is not active: revoked, expired, unknown, or `active` is not `true`.
    Inactive(String),
    /// Active, but the answer's claims rule it out here (another issuer or audience).
    Rejected(TokenError),
}

impl IntrospectionError {
    /// The stable word for the error log.
    pub fn reason(&self) -> &'static str {
        match self {
            IntrospectionError::Refused { .. } => "introspection_refused",
            IntrospectionError::Invalid(_) => "introspection_invalid",
            IntrospectionError::Inactive(_) => "token_inactive",
            IntrospectionError::Rejected(e) => e.reason(),
        }
    }

    /// Whether this is a verdict on the token (answer `401 invalid_token`, and it may be
    /// cached as a refusal) rather than a failure to get one (answer 5xx, do not cache).
    pub fn concerns_token(&self) -> bool {
        match self {
            IntrospectionError::Inactive(_) | IntrospectionError::Rejected(_) => true,
            // The OP could not make sense of the token itself (some OPs answer so for
            // a token format they do not introspect, where RFC 7662 says active=false).
            IntrospectionError::Refused { status: 400, error: Some(e) } => {
                matches!(e.as_str(), "unsupported_token_type" | "invalid_token" | "invalid_request")
            }
            _ => false,
        }
    }
}

impl fmt::Display for IntrospectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntrospectionError::Refused { status, error } => {
                write!(f, "the introspection endpoint answered HTTP {status}")?;
                match error {
                    Some(e) => write!(f, " error=\"{e}\""),
                    None => Ok(()),
                }
            }
            IntrospectionError::Invalid(e) => write!(f, "the introspection response is not valid: {e}"),
            IntrospectionError::Inactive(why) => write!(f, "the token is not active: {why}"),
            IntrospectionError::Rejected(e) => write!(f, "the introspected token is refused: {e}"),
        }
    }
}

impl std::error::Error for IntrospectionError {}

/// Reads the endpoint's answer (status and body) and returns the token's claims when it
/// is active (`scope`, `client_id`, `username`, `sub`, `aud`, `iss`, `exp`, ...).
pub fn parse_response(status: u16, body: &[u8]) -> Result<Claims, IntrospectionError> {
    if !(200..300).contains(&status) {
        let error = serde_json::from_slice::<ErrorBody>(body).ok().map(|e| sanitize(&e.error));
        return Err(IntrospectionError::Refused { status, error });
    }
    if body.len() > MAX_RESPONSE_LEN {
        return Err(IntrospectionError::Invalid(format!("longer than {MAX_RESPONSE_LEN} bytes")));
    }
    let claims: Claims = serde_json::from_slice(body)
        .map_err(|e| IntrospectionError::Invalid(format!("not a JSON object: {e}")))?;
    let why = match claims.get("active") {
        Some(serde_json::Value::Bool(true)) => return Ok(claims),
        Some(serde_json::Value::Bool(false)) => "the OP says it is not active",
        Some(_) => "\"active\" is not the boolean true",
        None => "the answer has no \"active\"",
    };
    Err(IntrospectionError::Inactive(why.into()))
}

/// The checks applied to an active answer. RFC 7662 makes all but `active` optional,
/// so a missing `iss` is not held against the token; a missing `aud` is, when audiences
/// are configured: otherwise any token the OP issued to any client (another app's login,
/// say) would open an API that names its audience.
pub fn check_claims(claims: &Claims, rules: &IntrospectionRules<'_>) -> Result<(), IntrospectionError> {
    if claims.contains_key("iss") {
        checks::check_issuer(claims, rules.issuer).map_err(IntrospectionError::Rejected)?;
    }
    if claims.contains_key("aud") || !rules.audiences.is_empty() {
        access_token::check_audiences(claims, rules.audiences).map_err(IntrospectionError::Rejected)?;
    }
    checks::check_times(claims, rules.now, rules.clock_skew, false).map_err(|e| match e {
        TokenError::Expired { .. } | TokenError::NotYetValid { .. } => IntrospectionError::Inactive(e.to_string()),
        other => IntrospectionError::Rejected(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: u64 = 1_700_000_000;

    fn rules(audiences: &[String]) -> IntrospectionRules<'_> {
        IntrospectionRules { issuer: "https://op.example", audiences, now: NOW, clock_skew: 60 }
    }

    fn active(extra: serde_json::Value) -> Vec<u8> {
        let mut v = json!({"active": true, "scope": "read write", "client_id": "app", "username": "alice",
                           "sub": "u1", "exp": NOW + 300});
        v.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        v.to_string().into_bytes()
    }

    fn checked(body: &[u8], audiences: &[String]) -> Result<Claims, IntrospectionError> {
        let c = parse_response(200, body)?;
        check_claims(&c, &rules(audiences))?;
        Ok(c)
    }

    #[test]
    fn request_body() {
        let creds =
            ClientCredentials { form: vec![("client_id", "c".into())], authorization: Some("Basic eA==".into()) };
        let r = request("a+b/c=", creds);
        assert_eq!(r.body, "token=a%2Bb%2Fc%3D&token_type_hint=access_token&client_id=c");
        assert_eq!(r.authorization.as_deref(), Some("Basic eA=="));
    }

    #[test]
    fn active_token() {
        let c = checked(&active(json!({})), &[]).unwrap();
        assert_eq!(c["scope"], "read write");
        assert_eq!(c["username"], "alice");
        assert!(checked(br#"{"active":true}"#, &[]).is_ok(), "only active is required without audiences");
    }

    #[test]
    fn active_must_be_the_boolean_true() {
        for body in [
            &br#"{"active":false}"#[..],
            br#"{"active":false,"sub":"u1","exp":99999999999}"#,
            br#"{"active":"true"}"#,
            br#"{"active":1}"#,
            br#"{"active":null}"#,
            br#"{"active":[true]}"#,
            br#"{"sub":"u1"}"#,
            br#"{}"#,
        ] {
            let e = parse_response(200, body).unwrap_err();
            assert_eq!(e.reason(), "token_inactive", "{}", String::from_utf8_lossy(body));
            assert!(e.concerns_token());
        }
    }

    #[test]
    fn refused_and_invalid_answers() {
        let e = parse_response(401, br#"{"error":"invalid_client","error_description":"bad secret"}"#).unwrap_err();
        assert_eq!(e, IntrospectionError::Refused { status: 401, error: Some("invalid_client".into()) });
        assert_eq!(e.reason(), "introspection_refused");
        assert!(!e.concerns_token(), "our problem, not the token's");
        assert_eq!(e.to_string(), "the introspection endpoint answered HTTP 401 error=\"invalid_client\"");
        let e = parse_response(503, b"<html>down</html>").unwrap_err();
        assert_eq!(e, IntrospectionError::Refused { status: 503, error: None });
        for body in [&b"<html>"[..], b"[true]", b"\"active\"", b"true", b""] {
            let e = parse_response(200, body).unwrap_err();
            assert_eq!(e.reason(), "introspection_invalid");
            assert!(!e.concerns_token());
        }
        let mut huge = active(json!({})).to_vec();
        huge.splice(1..1, std::iter::repeat_n(b' ', MAX_RESPONSE_LEN));
        assert_eq!(parse_response(200, &huge).unwrap_err().reason(), "introspection_invalid");
    }

    #[test]
    fn issuer_when_present() {
        assert!(checked(&active(json!({"iss": "https://op.example"})), &[]).is_ok());
        let e = checked(&active(json!({"iss": "https://evil.example"})), &[]).unwrap_err();
        assert_eq!(e.reason(), "wrong_issuer");
        assert!(e.concerns_token());
        assert_eq!(checked(&active(json!({"iss": 7})), &[]).unwrap_err().reason(), "missing_claim");
    }

    #[test]
    fn audience_when_present_and_configured() {
        let api = vec!["https://api.example".to_string()];
        assert!(checked(&active(json!({"aud": "https://api.example"})), &api).is_ok());
        assert!(checked(&active(json!({"aud": ["x", "https://api.example"]})), &api).is_ok());
        assert_eq!(
            checked(&active(json!({})), &api).unwrap_err().reason(),
            "missing_claim",
            "no aud in the answer while an audience is required"
        );
        assert!(checked(&active(json!({})), &[]).is_ok(), "no aud and none required");
        assert!(checked(&active(json!({"aud": "other"})), &[]).is_ok(), "no audiences configured");
        assert_eq!(checked(&active(json!({"aud": "other"})), &api).unwrap_err().reason(), "wrong_audience");
        assert_eq!(checked(&active(json!({"aud": ["a", "b"]})), &api).unwrap_err().reason(), "wrong_audience");
    }

    #[test]
    fn times_when_present() {
        let e = checked(&active(json!({"exp": NOW - 61})), &[]).unwrap_err();
        assert_eq!(e.reason(), "token_inactive");
        assert!(checked(&active(json!({"exp": NOW - 30})), &[]).is_ok(), "within skew");
        assert!(checked(br#"{"active":true,"sub":"u1"}"#, &[]).is_ok(), "exp is optional");
        assert_eq!(checked(&active(json!({"nbf": NOW + 120})), &[]).unwrap_err().reason(), "token_inactive");
        assert_eq!(checked(&active(json!({"exp": "later"})), &[]).unwrap_err().reason(), "missing_claim");
    }

    #[test]
    fn op_error_text_is_sanitized() {
        let e = parse_response(400, "{\"error\":\"bad\\n\\u0007x\"}".as_bytes()).unwrap_err();
        assert_eq!(e, IntrospectionError::Refused { status: 400, error: Some("badx".into()) });
    }
}

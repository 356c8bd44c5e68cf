//! Splitting and decoding a compact JWS: `header.payload.signature`, each base64url.

use serde::Deserialize;
use std::fmt;

/// Tokens longer than this are refused before any decoding: no honest OP issues them,
/// and every size that comes from outside is bounded.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

#[derive(Debug, Clone, Deserialize)]
pub struct Header {
    pub alg: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default)]
    pub typ: Option<String>,
    /// Extensions the verifier must understand (RFC 7515 4.1.11); we understand none.
    #[serde(default)]
    pub crit: Option<serde_json::Value>,
}

#[derive(Debug)]
pub struct Jws<'a> {
    pub header: Header,
    /// `BASE64URL(header) . BASE64URL(payload)`: what the signature covers.
    pub signing_input: &'a str,
    pub payload: Vec<u8>,
    pub signature: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    TooLong,
    Encrypted,
    NotCompact,
    BadEncoding(&'static str),
    BadHeader(String),
    CriticalExtension,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::TooLong => write!(f, "the token is longer than {MAX_TOKEN_LEN} bytes"),
            ParseError::Encrypted => f.write_str("the token is encrypted (JWE), which is not supported"),
            ParseError::NotCompact => f.write_str("the token is not a compact JWS (three dot-separated parts)"),
            ParseError::BadEncoding(part) => write!(f, "the token's {part} is not base64url"),
            ParseError::BadHeader(e) => write!(f, "the token's header is not valid: {e}"),
            ParseError::CriticalExtension => f.write_str("the token's header has a \"crit\" extension"),
        }
    }
}

impl std::error::Error for ParseError {}

pub fn parse(token: &str) -> Result<Jws<'_>, ParseError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(ParseError::TooLong);
    }
    // Split in place: no vector of parts for every token.
    let mut split = token.split('.');
    let (Some(h), Some(p), Some(s)) = (split.next(), split.next(), split.next()) else {
        return Err(ParseError::NotCompact);
    };
    match split.count() {
        0 => {}
        2 => return Err(ParseError::Encrypted),
        _ => return Err(ParseError::NotCompact),
    }
    let parts = [h, p, s];
    let header_bytes = crate::b64::decode(parts[0]).ok_or(ParseError::BadEncoding("header"))?;
    let payload = crate::b64::decode(parts[1]).ok_or(ParseError::BadEncoding("payload"))?;
    let signature = crate::b64::decode(parts[2]).ok_or(ParseError::BadEncoding("signature"))?;
    let header: Header = serde_json::from_slice(&header_bytes).map_err(|e| ParseError::BadHeader(e.to_string()))?;
    if header.crit.is_some() {
        return Err(ParseError::CriticalExtension);
    }
    let signing_input = &token[..parts[0].len() + 1 + parts[1].len()];
    Ok(Jws { header, signing_input, payload, signature })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::b64::encode;

    fn token(header: &str, payload: &str, sig: &[u8]) -> String {
        format!("{}.{}.{}", encode(header.as_bytes()), encode(payload.as_bytes()), encode(sig))
    }

    #[test]
    fn parses_parts() {
        let t = token(r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#, r#"{"sub":"a"}"#, b"sig");
        let j = parse(&t).unwrap();
        assert_eq!(j.header.alg, "RS256");
        assert_eq!(j.header.kid.as_deref(), Some("k1"));
        assert_eq!(j.payload, br#"{"sub":"a"}"#);
        assert_eq!(j.signature, b"sig");
        assert_eq!(j.signing_input, t.rsplit_once('.').unwrap().0);
    }

    #[test]
    fn refuses_malformed() {
        assert_eq!(parse("a.b").unwrap_err(), ParseError::NotCompact);
        assert_eq!(parse("a.b.c.d.e").unwrap_err(), ParseError::Encrypted);
        assert_eq!(parse("a+.b.c").unwrap_err(), ParseError::BadEncoding("header"));
        let no_alg = token(r#"{"kid":"x"}"#, "{}", b"s");
        assert!(matches!(parse(&no_alg).unwrap_err(), ParseError::BadHeader(_)));
        let crit = token(r#"{"alg":"RS256","crit":["exp"]}"#, "{}", b"s");
        assert_eq!(parse(&crit).unwrap_err(), ParseError::CriticalExtension);
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        assert_eq!(parse(&long).unwrap_err(), ParseError::TooLong);
    }
}

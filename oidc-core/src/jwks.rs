//! The OP's JSON Web Key Set (RFC 7517) and the choice of the key that verifies a token.
//! Keys are kept as published; turning them into verifying keys belongs to token
//! validation. Entries this module cannot use (unknown `kty`, encryption keys) are
//! skipped rather than failing the whole set, as RFC 7517 section 5 asks.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub struct Jwk {
    pub kty: String,
    pub kid: Option<String>,
    /// The `use` member: `sig`, `enc`, or absent.
    pub use_: Option<String>,
    pub alg: Option<String>,
    /// Every member of the key as published (n, e, crv, x, y, ...).
    pub params: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksError(String);

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the key set is not valid: {}", self.0)
    }
}

impl std::error::Error for JwksError {}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<Value>,
}

/// Parses a key set; it must hold at least one signing key of a known type.
pub fn parse(body: &[u8]) -> Result<Jwks, JwksError> {
    let raw: RawSet = serde_json::from_slice(body).map_err(|e| JwksError(e.to_string()))?;
    let keys: Vec<Jwk> = raw.keys.into_iter().filter_map(key_from_value).collect();
    if keys.is_empty() {
        return Err(JwksError("it holds no usable signing key".into()));
    }
    Ok(Jwks { keys })
}

fn key_from_value(v: Value) -> Option<Jwk> {
    let params = match v {
        Value::Object(m) => m,
        _ => return None,
    };
    let text = |name: &str| params.get(name).and_then(Value::as_str).map(str::to_owned);
    let kty = text("kty")?;
    if !matches!(kty.as_str(), "RSA" | "EC" | "OKP" | "oct") {
        return None;
    }
    let use_ = text("use");
    if use_.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    if let Some(ops) = params.get("key_ops").and_then(Value::as_array) {
        if !ops.iter().any(|o| o.as_str() == Some("verify")) {
            return None;
        }
    }
    Some(Jwk { kid: text("kid"), alg: text("alg"), use_, kty, params })
}

/// The key type a JWS algorithm needs (RFC 7518 section 3.1, RFC 8037 for EdDSA).
pub fn kty_for_alg(alg: &str) -> Option<&'static str> {
    match alg {
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => Some("RSA"),
        "ES256" | "ES384" | "ES512" => Some("EC"),
        "EdDSA" => Some("OKP"),
        "HS256" | "HS384" | "HS512" => Some("oct"),
        _ => None,
    }
}

#[derive(Debug, PartialEq)]
pub enum KeyLookup<'a> {
    Found(&'a Jwk),
    /// The token names a `kid` the set does not have: refresh the set (rate-limited).
    UnknownKid,
    /// No `kid` in the token and no single key fits.
    NoSuitableKey,
    Ambiguous,
}

impl Jwks {
    /// The key for a token signed with `alg`, chosen by `kid` when the token has one, or
    /// the only key of the right type otherwise. A key that declares another `alg` is
    /// never used, which is half of the defence against algorithm confusion.
    pub fn find(&self, kid: Option<&str>, alg: &str) -> KeyLookup<'_> {
        let kty = match kty_for_alg(alg) {
            Some(k) => k,
            None => return KeyLookup::NoSuitableKey,
        };
        let fits = |k: &&Jwk| k.kty == kty && k.alg.as_deref().is_none_or(|a| a == alg);
        match kid {
            Some(kid) => {
                let mut named = self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid)).peekable();
                if named.peek().is_none() {
                    return KeyLookup::UnknownKid;
                }
                named.find(fits).map_or(KeyLookup::NoSuitableKey, KeyLookup::Found)
            }
            None => {
                let mut fitting = self.keys.iter().filter(fits);
                match (fitting.next(), fitting.next()) {
                    (Some(k), None) => KeyLookup::Found(k),
                    (None, _) => KeyLookup::NoSuitableKey,
                    (Some(_), Some(_)) => KeyLookup::Ambiguous,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: &[u8] = br#"{"keys":[
        {"kty":"RSA","kid":"r1","use":"sig","alg":"RS256","n":"AQAB","e":"AQAB"},
        {"kty":"EC","kid":"e1","crv":"P-256","x":"AA","y":"AA"},
        {"kty":"RSA","kid":"enc1","use":"enc","n":"AQAB","e":"AQAB"},
        {"kty":"XYZ","kid":"weird"},
        "not an object"
    ]}"#;

    #[test]
    fn skips_unusable_keys() {
        let s = parse(SET).unwrap();
        let kids: Vec<_> = s.keys.iter().filter_map(|k| k.kid.as_deref()).collect();
        assert_eq!(kids, vec!["r1", "e1"]);
        assert_eq!(s.keys[0].params.get("n").and_then(Value::as_str), Some("AQAB"));
    }

    #[test]
    fn refuses_sets_without_keys() {
        assert!(parse(br#"{"keys":[]}"#).is_err());
        assert!(parse(br#"{"keys":[{"kty":"RSA","use":"enc"}]}"#).is_err());
        assert!(parse(b"<html>").is_err());
    }

    #[test]
    fn finds_by_kid_and_alg() {
        let s = parse(SET).unwrap();
        assert!(matches!(s.find(Some("r1"), "RS256"), KeyLookup::Found(k) if k.kid.as_deref() == Some("r1")));
        assert_eq!(s.find(Some("r1"), "RS384"), KeyLookup::NoSuitableKey);
        assert_eq!(s.find(Some("r1"), "HS256"), KeyLookup::NoSuitableKey);
        assert_eq!(s.find(Some("nope"), "RS256"), KeyLookup::UnknownKid);
        assert_eq!(s.find(Some("r1"), "none"), KeyLookup::NoSuitableKey);
    }

    #[test]
    fn without_kid_only_a_single_fitting_key() {
        let s = parse(SET).unwrap();
        assert!(matches!(s.find(None, "ES256"), KeyLookup::Found(k) if k.kid.as_deref() == Some("e1")));
        let two = parse(br#"{"keys":[{"kty":"EC","crv":"P-256"},{"kty":"EC","crv":"P-256"}]}"#).unwrap();
        assert_eq!(two.find(None, "ES256"), KeyLookup::Ambiguous);
        assert_eq!(two.find(None, "RS256"), KeyLookup::NoSuitableKey);
    }
}

//! The OP's JSON Web Key Set (RFC 7517) and the choice of the key that verifies a token.
//! Each key is decoded into a verifying key once, when the set is parsed. Entries this
//! module cannot use (unknown `kty` or curve, encryption keys, weak RSA, symmetric keys)
//! are skipped rather than failing the whole set, as RFC 7517 section 5 asks.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::fmt;

use crate::jose::VerifyingKey;

#[derive(Clone, Debug)]
pub struct Jwk {
    pub kty: String,
    pub kid: Option<String>,
    /// The `use` member: `sig`, `enc`, or absent.
    pub use_: Option<String>,
    pub alg: Option<String>,
    /// Every member of the key as published (n, e, crv, x, y, ...).
    pub params: Map<String, Value>,
    /// The decoded public key.
    pub key: VerifyingKey,
}

#[derive(Clone, Debug, Default)]
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
    let use_ = text("use");
    if use_.as_deref().is_some_and(|u| u != "sig") {
        return None;
    }
    if let Some(ops) = params.get("key_ops").and_then(Value::as_array) {
        if !ops.iter().any(|o| o.as_str() == Some("verify")) {
            return None;
        }
    }
    let mut jwk = Jwk { kid: text("kid"), alg: text("alg"), use_, kty, params, key: VerifyingKey::Hmac(Vec::new()) };
    jwk.key = VerifyingKey::from_jwk(&jwk).ok()?;
    Some(jwk)
}

#[derive(Debug)]
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
        let fits = |k: &&Jwk| k.key.suits(alg) && k.alg.as_deref().is_none_or(|a| a == alg);
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
    use crate::b64::encode;
    use serde_json::json;

    fn set() -> Vec<u8> {
        let n = encode(&[0xc5; 256]);
        let c = encode(&[1; 32]);
        json!({"keys": [
            {"kty": "RSA", "kid": "r1", "use": "sig", "alg": "RS256", "n": n, "e": "AQAB"},
            {"kty": "EC", "kid": "e1", "crv": "P-256", "x": c, "y": c},
            {"kty": "RSA", "kid": "enc1", "use": "enc", "n": n, "e": "AQAB"},
            {"kty": "RSA", "kid": "ops", "key_ops": ["encrypt"], "n": n, "e": "AQAB"},
            {"kty": "XYZ", "kid": "weird"},
            "not an object"
        ]})
        .to_string()
        .into_bytes()
    }

    fn kid<'a>(l: &KeyLookup<'a>) -> Option<&'a str> {
        match l {
            KeyLookup::Found(k) => k.kid.as_deref(),
            _ => None,
        }
    }

    #[test]
    fn skips_unusable_keys() {
        let s = parse(&set()).unwrap();
        let kids: Vec<_> = s.keys.iter().filter_map(|k| k.kid.as_deref()).collect();
        assert_eq!(kids, vec!["r1", "e1"]);
        assert!(matches!(s.keys[0].key, VerifyingKey::Rsa { .. }));
        assert!(matches!(s.keys[1].key, VerifyingKey::P256(_)));
    }

    #[test]
    fn refuses_sets_without_keys() {
        assert!(parse(br#"{"keys":[]}"#).is_err());
        assert!(parse(br#"{"keys":[{"kty":"RSA","use":"enc"}]}"#).is_err());
        assert!(parse(b"<html>").is_err());
    }

    #[test]
    fn finds_by_kid_and_alg() {
        let s = parse(&set()).unwrap();
        assert_eq!(kid(&s.find(Some("r1"), "RS256")), Some("r1"));
        assert!(matches!(s.find(Some("r1"), "RS384"), KeyLookup::NoSuitableKey), "key pinned to RS256");
        assert!(matches!(s.find(Some("r1"), "HS256"), KeyLookup::NoSuitableKey));
        assert!(matches!(s.find(Some("nope"), "RS256"), KeyLookup::UnknownKid));
        assert!(matches!(s.find(Some("r1"), "none"), KeyLookup::NoSuitableKey));
    }

    #[test]
    fn without_kid_only_a_single_fitting_key() {
        let s = parse(&set()).unwrap();
        assert_eq!(kid(&s.find(None, "ES256")), Some("e1"));
        let c = encode(&[1; 32]);
        let two = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": c, "y": c}, {"kty": "EC", "crv": "P-256", "x": c, "y": c}]});
        let two = parse(two.to_string().as_bytes()).unwrap();
        assert!(matches!(two.find(None, "ES256"), KeyLookup::Ambiguous));
        assert!(matches!(two.find(None, "RS256"), KeyLookup::NoSuitableKey));
    }
}

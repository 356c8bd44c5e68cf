//! One test per rule: a token that breaks it is refused with its reason.

use ring::rand::SystemRandom;
use ring::signature::{self as sig, KeyPair};
use serde_json::{json, Value};

use super::*;
use crate::b64::encode;
use crate::jwks;

pub(crate) struct Op {
    pub(crate) kp: sig::EcdsaKeyPair,
    pub(crate) jwks: Jwks,
}

pub(crate) fn op() -> Op {
    let rng = SystemRandom::new();
    let alg = &sig::ECDSA_P256_SHA256_FIXED_SIGNING;
    let pk8 = sig::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    let kp = sig::EcdsaKeyPair::from_pkcs8(alg, pk8.as_ref(), &rng).unwrap();
    let p = kp.public_key().as_ref();
    let set = json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "x": encode(&p[1..33]), "y": encode(&p[33..])}]});
    Op { kp, jwks: jwks::parse(set.to_string().as_bytes()).unwrap() }
}

impl Op {
    pub(crate) fn sign(&self, header: Value, claims: &Value) -> String {
        let input = format!("{}.{}", encode(header.to_string().as_bytes()), encode(claims.to_string().as_bytes()));
        let s = self.kp.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
        format!("{input}.{}", encode(s.as_ref()))
    }
    pub(crate) fn token(&self, claims: &Value) -> String {
        self.sign(json!({"alg": "ES256", "kid": "k1"}), claims)
    }
}

const NOW: u64 = 1_700_000_000;

fn claims() -> Value {
    json!({"iss": "https://op.example", "aud": "client", "sub": "alice", "nonce": "n-1",
           "iat": NOW - 10, "exp": NOW + 300})
}

fn algs() -> Vec<String> {
    vec!["ES256".into(), "HS256".into()]
}

fn check(token: &str, jwks: &Jwks, access_token: Option<&str>) -> Result<Claims, TokenError> {
    let algs = algs();
    let rules = IdTokenRules {
        issuer: "https://op.example",
        issuer_template: None,
        client_id: "client",
        signature: SignatureRules { allowed_algs: &algs, client_secret: Some(b"client-secret-0123456789abcdef01") },
        nonce: "n-1",
        now: NOW,
        clock_skew: 60,
        access_token,
    };
    validate(token, &rules, jwks)
}

fn with(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut c = claims();
    f(c.as_object_mut().unwrap());
    c
}

fn reason(op: &Op, c: Value) -> &'static str {
    check(&op.token(&c), &op.jwks, None).unwrap_err().reason()
}

#[test]
fn valid_token_passes() {
    let op = op();
    let c = check(&op.token(&claims()), &op.jwks, None).unwrap();
    assert_eq!(c["sub"], "alice");
}

#[test]
fn each_claim_rule() {
    let op = op();
    assert_eq!(reason(&op, with(|c| { c.insert("iss".into(), json!("https://evil.example")); })), "wrong_issuer");
    assert_eq!(reason(&op, with(|c| { c.remove("iss"); })), "missing_claim");
    assert_eq!(reason(&op, with(|c| { c.insert("aud".into(), json!("other")); })), "wrong_audience");
    assert_eq!(reason(&op, with(|c| { c.remove("aud"); })), "missing_claim");
    assert!(check(&op.token(&with(|c| { c.insert("aud".into(), json!(["other", "client"])); c.insert("azp".into(), json!("client")); })), &op.jwks, None).is_ok());
    assert_eq!(reason(&op, with(|c| { c.insert("aud".into(), json!(["other", "client"])); })), "wrong_azp");
    assert_eq!(reason(&op, with(|c| { c.insert("azp".into(), json!("other")); })), "wrong_azp");
    assert_eq!(reason(&op, with(|c| { c.insert("exp".into(), json!(NOW - 61)); })), "expired");
    assert!(check(&op.token(&with(|c| { c.insert("exp".into(), json!(NOW - 30)); })), &op.jwks, None).is_ok(), "within skew");
    assert_eq!(reason(&op, with(|c| { c.remove("exp"); })), "missing_claim");
    assert_eq!(reason(&op, with(|c| { c.insert("exp".into(), json!("tomorrow")); })), "missing_claim");
    assert_eq!(reason(&op, with(|c| { c.insert("nbf".into(), json!(NOW + 120)); })), "not_yet_valid");
    assert_eq!(reason(&op, with(|c| { c.insert("iat".into(), json!(NOW + 120)); })), "issued_in_future");
    assert_eq!(reason(&op, with(|c| { c.remove("iat"); })), "missing_claim");
    assert_eq!(reason(&op, with(|c| { c.remove("sub"); })), "missing_claim");
    assert_eq!(reason(&op, with(|c| { c.insert("nonce".into(), json!("n-2")); })), "nonce_mismatch");
    assert_eq!(reason(&op, with(|c| { c.remove("nonce"); })), "nonce_mismatch");
}

#[test]
fn at_hash() {
    let op = op();
    let good = token_hash("ES256", "access-token-1");
    let t = op.token(&with(|c| { c.insert("at_hash".into(), json!(good)); }));
    assert!(check(&t, &op.jwks, Some("access-token-1")).is_ok());
    assert_eq!(check(&t, &op.jwks, Some("access-token-2")).unwrap_err().reason(), "at_hash_mismatch");
}

#[test]
fn signature_rules() {
    let op = op();
    let t = op.token(&claims());
    // Tampered claims.
    let (h, rest) = t.split_once('.').unwrap();
    let (_, s) = rest.split_once('.').unwrap();
    let forged = format!("{h}.{}.{s}", encode(with(|c| { c.insert("sub".into(), json!("admin")); }).to_string().as_bytes()));
    assert_eq!(check(&forged, &op.jwks, None).unwrap_err().reason(), "bad_signature");
    // Unknown kid: the caller refreshes the key set.
    let t = op.sign(json!({"alg": "ES256", "kid": "k2"}), &claims());
    assert_eq!(check(&t, &op.jwks, None).unwrap_err().reason(), "unknown_kid");
    // alg none, unsigned.
    let none = format!("{}.{}.", encode(br#"{"alg":"none"}"#), encode(claims().to_string().as_bytes()));
    assert_eq!(check(&none, &op.jwks, None).unwrap_err().reason(), "alg_not_allowed");
    // An algorithm the OP does not announce.
    let t = op.sign(json!({"alg": "RS256", "kid": "k1"}), &claims());
    assert_eq!(check(&t, &op.jwks, None).unwrap_err().reason(), "alg_not_allowed");
    // Another OP's key.
    let other = self::op();
    assert_eq!(check(&other.token(&claims()), &op.jwks, None).unwrap_err().reason(), "bad_signature");
    assert_eq!(check("garbage", &op.jwks, None).unwrap_err().reason(), "malformed");
}

#[test]
fn hs256_with_client_secret_only() {
    let op = op();
    let input = format!("{}.{}", encode(br#"{"alg":"HS256"}"#), encode(claims().to_string().as_bytes()));
    let sign = |key: &[u8]| {
        let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), input.as_bytes());
        format!("{input}.{}", encode(tag.as_ref()))
    };
    assert!(check(&sign(b"client-secret-0123456789abcdef01"), &op.jwks, None).is_ok());
    assert_eq!(check(&sign(b"wrong-secret"), &op.jwks, None).unwrap_err().reason(), "bad_signature");
    // The confusion attack: HMAC keyed with the OP's public key bytes.
    let point = op.kp.public_key().as_ref().to_vec();
    assert_eq!(check(&sign(&point), &op.jwks, None).unwrap_err().reason(), "bad_signature");
}

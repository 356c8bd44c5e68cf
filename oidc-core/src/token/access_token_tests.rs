//! One test per rule of RFC 9068 section 4 as applied here: a token that breaks it is
//! refused with its reason. Tokens are minted with the ID token tests' OP (P-256) and the
//! JOSE tests' RSA key.

use ring::signature as sig;
use serde_json::{json, Value};

use super::*;
use crate::b64::encode;
use crate::jose::tests::{rsa_jwk, rsa_sign};
use crate::jwks;
use crate::token::id_token::tests::{op, Op};

const NOW: u64 = 1_700_000_000;
const ISSUER: &str = "https://op.example";
const SECRET: &[u8] = b"client-secret-0123456789abcdef01";

fn claims() -> Value {
    json!({"iss": ISSUER, "aud": ["https://api.example", "other"], "sub": "alice", "client_id": "app",
           "scope": "read write", "iat": NOW - 10, "exp": NOW + 300, "jti": "j1"})
}

fn with(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut c = claims();
    f(c.as_object_mut().unwrap());
    c
}

fn at_jwt(op: &Op, claims: &Value) -> String {
    op.sign(json!({"alg": "ES256", "kid": "k1", "typ": "at+jwt"}), claims)
}

struct Rules {
    audiences: Vec<String>,
    algs: Vec<String>,
    secret: Option<&'static [u8]>,
    require_typ: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            audiences: vec!["https://api.example".into()],
            algs: vec!["ES256".into(), "RS256".into()],
            secret: None,
            require_typ: true,
        }
    }
}

impl Rules {
    fn check(&self, token: &str, jwks: &Jwks) -> Result<Claims, TokenError> {
        let rules = AccessTokenRules {
            issuer: ISSUER,
            issuer_template: None,
            audiences: &self.audiences,
            signature: SignatureRules { allowed_algs: &self.algs, client_secret: self.secret },
            now: NOW,
            clock_skew: 60,
            require_typ_at_jwt: self.require_typ,
        };
        validate(token, &rules, jwks)
    }
}

fn reason(op: &Op, c: Value) -> &'static str {
    Rules::default().check(&at_jwt(op, &c), &op.jwks).unwrap_err().reason()
}

#[test]
fn valid_token_passes() {
    let op = op();
    let c = Rules::default().check(&at_jwt(&op, &claims()), &op.jwks).unwrap();
    assert_eq!(c["sub"], "alice");
    assert_eq!(c["scope"], "read write");
}

#[test]
fn times() {
    let op = op();
    assert_eq!(reason(&op, with(|c| { c.insert("exp".into(), json!(NOW - 61)); })), "expired");
    let within_skew = at_jwt(&op, &with(|c| { c.insert("exp".into(), json!(NOW - 30)); }));
    assert!(Rules::default().check(&within_skew, &op.jwks).is_ok());
    assert_eq!(reason(&op, with(|c| { c.remove("exp"); })), "missing_claim", "exp is required");
    assert_eq!(reason(&op, with(|c| { c.insert("exp".into(), json!("soon")); })), "missing_claim");
    assert_eq!(reason(&op, with(|c| { c.insert("nbf".into(), json!(NOW + 120)); })), "not_yet_valid");
    assert_eq!(reason(&op, with(|c| { c.insert("iat".into(), json!(NOW + 120)); })), "issued_in_future");
}

#[test]
fn issuer() {
    let op = op();
    assert_eq!(reason(&op, with(|c| { c.insert("iss".into(), json!("https://evil.example")); })), "wrong_issuer");
    assert_eq!(reason(&op, with(|c| { c.insert("iss".into(), json!("https://op.example/")); })), "wrong_issuer");
    assert_eq!(reason(&op, with(|c| { c.remove("iss"); })), "missing_claim");
}

#[test]
fn audience() {
    let op = op();
    assert_eq!(reason(&op, with(|c| { c.insert("aud".into(), json!("https://other-api.example")); })), "wrong_audience");
    assert_eq!(reason(&op, with(|c| { c.insert("aud".into(), json!([])); })), "wrong_audience");
    assert_eq!(reason(&op, with(|c| { c.remove("aud"); })), "missing_claim");
    assert_eq!(reason(&op, with(|c| { c.insert("aud".into(), json!([1])); })), "missing_claim");
    let single = at_jwt(&op, &with(|c| { c.insert("aud".into(), json!("https://api.example")); }));
    assert!(Rules::default().check(&single, &op.jwks).is_ok(), "aud as a string");
    // Any one of several accepted audiences.
    let two = Rules { audiences: vec!["nope".into(), "other".into()], ..Rules::default() };
    assert!(two.check(&at_jwt(&op, &claims()), &op.jwks).is_ok());
    // No accepted audiences: no check at all, even without aud.
    let none = Rules { audiences: vec![], ..Rules::default() };
    assert!(none.check(&at_jwt(&op, &with(|c| { c.remove("aud"); })), &op.jwks).is_ok());
}

#[test]
fn typ_at_jwt() {
    let op = op();
    let typ = |t: Option<&str>| {
        let header = match t {
            Some(t) => json!({"alg": "ES256", "kid": "k1", "typ": t}),
            None => json!({"alg": "ES256", "kid": "k1"}),
        };
        op.sign(header, &claims())
    };
    for ok in ["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT"] {
        assert!(Rules::default().check(&typ(Some(ok)), &op.jwks).is_ok(), "{ok}");
    }
    for bad in [Some("JWT"), Some("application/jwt"), Some("at+jwt+x"), Some("application/"), Some("xapplication/at+jwt"), None] {
        let e = Rules::default().check(&typ(bad), &op.jwks).unwrap_err();
        assert_eq!(e.reason(), "wrong_type", "{bad:?}");
    }
    // An ID token (typ JWT) replayed as an access token is caught by typ.
    let e = Rules::default().check(&typ(Some("JWT")), &op.jwks).unwrap_err();
    assert_eq!(e, TokenError::WrongType("JWT".into()));
    // Not required: any typ passes.
    let lax = Rules { require_typ: false, ..Rules::default() };
    assert!(lax.check(&typ(Some("JWT")), &op.jwks).is_ok());
    assert!(lax.check(&typ(None), &op.jwks).is_ok());
}

#[test]
fn typ_in_the_error_is_sanitized() {
    let op = op();
    let t = op.sign(json!({"alg": "ES256", "kid": "k1", "typ": "x\"\n\u{7f}y"}), &claims());
    assert_eq!(Rules::default().check(&t, &op.jwks).unwrap_err(), TokenError::WrongType("x\"y".into()));
}

#[test]
fn signature() {
    let op = op();
    let t = at_jwt(&op, &claims());
    // Tampered claims.
    let (h, rest) = t.split_once('.').unwrap();
    let (_, s) = rest.split_once('.').unwrap();
    let forged = format!("{h}.{}.{s}", encode(with(|c| { c.insert("scope".into(), json!("admin")); }).to_string().as_bytes()));
    assert_eq!(Rules::default().check(&forged, &op.jwks).unwrap_err().reason(), "bad_signature");
    // Another OP's key under the same kid.
    let other = self::op();
    assert_eq!(Rules::default().check(&at_jwt(&other, &claims()), &op.jwks).unwrap_err().reason(), "bad_signature");
    // Unknown kid: the caller refreshes the key set.
    let t = op.sign(json!({"alg": "ES256", "kid": "k2", "typ": "at+jwt"}), &claims());
    assert_eq!(Rules::default().check(&t, &op.jwks).unwrap_err().reason(), "unknown_kid");
    // An algorithm outside the allow-list.
    let es_only = Rules { algs: vec!["RS256".into()], ..Rules::default() };
    assert_eq!(es_only.check(&at_jwt(&op, &claims()), &op.jwks).unwrap_err().reason(), "alg_not_allowed");
    assert_eq!(Rules::default().check("garbage", &op.jwks).unwrap_err().reason(), "malformed");
}

#[test]
fn alg_none_refused() {
    let op = op();
    let allow_none = Rules { algs: vec!["none".into(), "ES256".into()], ..Rules::default() };
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "typ": "at+jwt"}).to_string();
        let t = format!("{}.{}.", encode(header.as_bytes()), encode(claims().to_string().as_bytes()));
        assert!(looks_like_jwt(&t), "it goes the JWT way, to be refused there");
        assert_eq!(allow_none.check(&t, &op.jwks).unwrap_err().reason(), "alg_not_allowed", "{alg}");
    }
}

fn rsa_set() -> Jwks {
    jwks::parse(json!({"keys": [rsa_jwk()]}).to_string().as_bytes()).unwrap()
}

fn rsa_token(claims: &Value) -> String {
    let header = json!({"alg": "RS256", "kid": "rsa1", "typ": "at+jwt"});
    let input = format!("{}.{}", encode(header.to_string().as_bytes()), encode(claims.to_string().as_bytes()));
    format!("{input}.{}", encode(&rsa_sign(&sig::RSA_PKCS1_SHA256, input.as_bytes())))
}

#[test]
fn rs256_token_passes() {
    let c = Rules::default().check(&rsa_token(&claims()), &rsa_set()).unwrap();
    assert_eq!(c["client_id"], "app");
}

#[test]
fn hs256_keyed_with_the_rsa_public_key_refused() {
    let set = rsa_set();
    let public = rsa_jwk();
    let n = crate::b64::decode(public["n"].as_str().unwrap()).unwrap();
    let header = encode(json!({"alg": "HS256", "kid": "rsa1", "typ": "at+jwt"}).to_string().as_bytes());
    let input = format!("{header}.{}", encode(claims().to_string().as_bytes()));
    let hmac = |key: &[u8]| {
        let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), input.as_bytes());
        format!("{input}.{}", encode(tag.as_ref()))
    };
    // Every form of the public key an attacker could use as the HMAC secret.
    let forgeries = [hmac(&n), hmac(public.to_string().as_bytes()), hmac(crate::jose::tests::RSA_DER)];
    let with_hs = with_hs_rules();
    let with_secret = Rules { secret: Some(SECRET), ..with_hs_rules() };
    for t in &forgeries {
        // HS256 not allowed (the usual access token configuration).
        assert_eq!(Rules::default().check(t, &set).unwrap_err().reason(), "alg_not_allowed");
        // Allowed, but without a client secret there is no HMAC key at all.
        assert_eq!(with_hs.check(t, &set).unwrap_err().reason(), "no_key");
        // Allowed with a client secret: the public key is never the secret.
        assert_eq!(with_secret.check(t, &set).unwrap_err().reason(), "bad_signature");
    }
    assert!(with_secret.check(&hmac(SECRET), &set).is_ok(), "the client secret itself verifies");
}

fn with_hs_rules() -> Rules {
    Rules { algs: vec!["RS256".into(), "HS256".into()], ..Rules::default() }
}

#[test]
fn jwt_or_opaque() {
    let op = op();
    assert!(looks_like_jwt(&at_jwt(&op, &claims())));
    assert!(!looks_like_jwt("2YotnFZFEjr1zCsicMWpAA"), "an opaque token");
    assert!(!looks_like_jwt("a.b.c"), "dots but no JSON header");
    assert!(!looks_like_jwt(&format!("{}.e30.sig", encode(br#"{"kid":"k"}"#))), "a header without alg");
    assert!(!looks_like_jwt(&format!("{}.e30.sig", encode(b"[1]"))));
    assert!(!looks_like_jwt(&format!("{}..sig", encode(br#"{"alg":"RS256"}"#))), "no payload");
    assert!(!looks_like_jwt(&format!("{}.e30.s.x.y", encode(br#"{"alg":"RS256"}"#))), "five parts: JWE");
    assert!(looks_like_jwt(&format!("{}.e30.sig", encode(br#"{"alg":"RS256"}"#))));
    assert!(!looks_like_jwt(""));
}

#[test]
fn public_descriptions_hold_no_claim_values() {
    let op = op();
    let e = Rules::default().check(&at_jwt(&op, &with(|c| { c.insert("iss".into(), json!("https://evil.example")); })), &op.jwks).unwrap_err();
    assert!(!public_description(&e).contains("evil"));
    assert_eq!(public_description(&TokenError::Expired { exp: 1, now: 2 }), "the access token expired");
}

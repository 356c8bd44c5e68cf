//! Sign with real keys, verify through the JWK path, and check every refusal.

use ring::rand::SystemRandom;
use ring::signature::{self as sig, KeyPair};
use serde_json::json;

use super::*;
use crate::b64::encode;
use crate::jwks::{self, KeyLookup};

/// A 2048-bit test key (PKCS#1 DER), made for these tests only.
pub(crate) const RSA_DER: &[u8] = include_bytes!("testdata/rsa2048.der");

pub(crate) fn rsa_jwk() -> serde_json::Value {
    let kp = sig::RsaKeyPair::from_der(RSA_DER).unwrap();
    let c = sig::RsaPublicKeyComponents::<Vec<u8>>::from(kp.public());
    json!({"kty": "RSA", "kid": "rsa1", "n": encode(&c.n), "e": encode(&c.e)})
}

pub(crate) fn rsa_sign(alg: &'static dyn sig::RsaEncoding, input: &[u8]) -> Vec<u8> {
    let kp = sig::RsaKeyPair::from_der(RSA_DER).unwrap();
    let mut out = vec![0; kp.public().modulus_len()];
    kp.sign(alg, &SystemRandom::new(), input, &mut out).unwrap();
    out
}

fn ec_pair(alg: &'static sig::EcdsaSigningAlgorithm) -> sig::EcdsaKeyPair {
    let rng = SystemRandom::new();
    let pk8 = sig::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
    sig::EcdsaKeyPair::from_pkcs8(alg, pk8.as_ref(), &rng).unwrap()
}

fn ec_jwk(crv: &str, point: &[u8]) -> serde_json::Value {
    let size = (point.len() - 1) / 2;
    json!({"kty": "EC", "crv": crv, "kid": crv, "x": encode(&point[1..1 + size]), "y": encode(&point[1 + size..])})
}

fn key(v: serde_json::Value) -> VerifyingKey {
    let set = jwks::parse(json!({"keys": [v]}).to_string().as_bytes()).unwrap();
    set.keys[0].key.clone()
}

fn check(alg: &str, k: &VerifyingKey, input: &[u8], s: &[u8]) {
    verify(alg, k, input, s).unwrap_or_else(|e| panic!("{alg}: {e}"));
    let mut bad = s.to_vec();
    bad[s.len() / 2] ^= 1;
    assert_eq!(verify(alg, k, input, &bad).unwrap_err(), VerifyError::BadSignature, "{alg} tampered sig");
    assert_eq!(verify(alg, k, b"other input", s).unwrap_err(), VerifyError::BadSignature, "{alg} other input");
}

#[test]
fn rsa_pkcs1_and_pss() {
    let k = key(rsa_jwk());
    for (alg, enc) in [
        ("RS256", &sig::RSA_PKCS1_SHA256 as &dyn sig::RsaEncoding),
        ("RS384", &sig::RSA_PKCS1_SHA384),
        ("RS512", &sig::RSA_PKCS1_SHA512),
        ("PS256", &sig::RSA_PSS_SHA256),
        ("PS384", &sig::RSA_PSS_SHA384),
        ("PS512", &sig::RSA_PSS_SHA512),
    ] {
        check(alg, &k, b"input", &rsa_sign(enc, b"input"));
    }
    // PKCS#1 v1.5 signature presented as PSS: refused.
    assert!(verify("PS256", &k, b"input", &rsa_sign(&sig::RSA_PKCS1_SHA256, b"input")).is_err());
}

#[test]
fn ecdsa_p256_p384() {
    for (alg, crv, signing) in [
        ("ES256", "P-256", &sig::ECDSA_P256_SHA256_FIXED_SIGNING),
        ("ES384", "P-384", &sig::ECDSA_P384_SHA384_FIXED_SIGNING),
    ] {
        let kp = ec_pair(signing);
        let k = key(ec_jwk(crv, kp.public_key().as_ref()));
        let s = kp.sign(&SystemRandom::new(), b"input").unwrap();
        check(alg, &k, b"input", s.as_ref());
    }
}

#[test]
fn ecdsa_p521() {
    use p521::ecdsa::signature::RandomizedSigner;
    let sk = p521::ecdsa::SigningKey::from_slice(&[[0u8].as_slice(), &[7u8; 65]].concat()).unwrap();
    let point = p521::ecdsa::VerifyingKey::from(&sk).to_encoded_point(false);
    let k = key(ec_jwk("P-521", point.as_bytes()));
    let s: p521::ecdsa::Signature = sk.sign_with_rng(&mut rand_core::OsRng, b"input");
    check("ES512", &k, b"input", &s.to_bytes());
}

#[test]
fn eddsa() {
    let pk8 = sig::Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
    let kp = sig::Ed25519KeyPair::from_pkcs8(pk8.as_ref()).unwrap();
    let k = key(json!({"kty": "OKP", "crv": "Ed25519", "x": encode(kp.public_key().as_ref())}));
    check("EdDSA", &k, b"input", kp.sign(b"input").as_ref());
}

#[test]
fn hmac_with_client_secret() {
    let secret = b"client-secret-0123456789".to_vec();
    let k = VerifyingKey::Hmac(secret.clone());
    for (alg, a) in [("HS256", ring::hmac::HMAC_SHA256), ("HS384", ring::hmac::HMAC_SHA384), ("HS512", ring::hmac::HMAC_SHA512)] {
        let tag = ring::hmac::sign(&ring::hmac::Key::new(a, &secret), b"input");
        check(alg, &k, b"input", tag.as_ref());
    }
}

#[test]
fn none_and_confusion_refused() {
    let rsa = key(rsa_jwk());
    assert!(matches!(verify("none", &rsa, b"x", b"").unwrap_err(), VerifyError::UnsupportedAlg(_)));
    assert!(matches!(verify("None", &rsa, b"x", b"").unwrap_err(), VerifyError::UnsupportedAlg(_)));
    // The forgery: HMAC over the input keyed with the RSA public key's bytes.
    let VerifyingKey::Rsa { n, .. } = &rsa else { unreachable!() };
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, n), b"x");
    assert!(matches!(verify("HS256", &rsa, b"x", tag.as_ref()).unwrap_err(), VerifyError::KeyMismatch { .. }));
    let ec = key(ec_jwk("P-256", ec_pair(&sig::ECDSA_P256_SHA256_FIXED_SIGNING).public_key().as_ref()));
    assert!(matches!(verify("RS256", &ec, b"x", b"s").unwrap_err(), VerifyError::KeyMismatch { .. }));
    assert!(matches!(verify("ES384", &ec, b"x", b"s").unwrap_err(), VerifyError::KeyMismatch { .. }));
}

#[test]
fn weak_and_malformed_keys_skipped() {
    let weak = json!({"keys": [{"kty": "RSA", "n": encode(&[0xff; 128]), "e": "AQAB"}]});
    assert!(jwks::parse(weak.to_string().as_bytes()).is_err(), "1024-bit RSA");
    let bad_point = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": encode(&[1; 31]), "y": encode(&[1; 32])}]});
    assert!(jwks::parse(bad_point.to_string().as_bytes()).is_err());
    let oct = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}]});
    assert!(jwks::parse(oct.to_string().as_bytes()).is_err(), "symmetric keys in a JWKS are never used");
    let set = jwks::parse(json!({"keys": [rsa_jwk(), {"kty": "EC", "crv": "P-999", "x": "AA", "y": "AA"}]}).to_string().as_bytes()).unwrap();
    assert_eq!(set.keys.len(), 1);
    assert!(matches!(set.find(Some("rsa1"), "RS256"), KeyLookup::Found(_)));
}

// Issue 10, item 10: an empty (or all-zero) modulus underflowed `0 * 8 - 8`: a panic in a
// debug build, and in a release build a wrapped "huge" key that passed the size check.
#[test]
fn empty_rsa_modulus_refused() {
    for n in ["", "AA", "AAAA"] {
        let set = json!({"keys": [{"kty": "RSA", "n": n, "e": "AQAB"}]});
        assert!(jwks::parse(set.to_string().as_bytes()).is_err(), "n={n:?} must not give a key");
    }
}

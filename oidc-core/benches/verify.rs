//! Signature verification with an already parsed key, per library and algorithm: ring (as
//! `jose::verify` used it before aws-lc-rs took RSA over), aws-lc-rs, and OpenSSL's libcrypto through the `openssl` crate
//! (the libcrypto nginx itself links); plus `jose::verify` as it is now, and the whole
//! first-seen bearer path (extract, is-it-a-JWT, parse, base64url, JSON, key lookup,
//! verify, claim checks). `scripts/crypto-bench` runs this with `openssl speed` and
//! prints one table; `cargo bench -p oidc-core --bench verify` runs it alone.
//!
//! Times are the benchmark thread's CPU time (see `ThreadCpu`).
//!
//! Every library verifies the same signature over the same 900-byte JWS signing input,
//! made once here with OpenSSL, so the figures differ by the library only.

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{criterion_group, criterion_main, Criterion};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Signer, Verifier};
use serde_json::json;

use oidc_core::b64::encode;
use oidc_core::bearer::{self, BearerToken};
use oidc_core::jose::{self, VerifyingKey};
use oidc_core::jwks::{self, Jwks};
use oidc_core::token::access_token::{self, AccessTokenRules};
use oidc_core::token::signature::SignatureRules;

/// The JOSE tests' 2048-bit RSA key (PKCS#1 DER).
const RSA_DER: &[u8] = include_bytes!("../src/jose/testdata/rsa2048.der");
const ALGS: [&str; 4] = ["RS256", "PS256", "ES256", "EdDSA"];
const NOW: u64 = 1_700_000_000;
const ISSUER: &str = "https://op.example.org/realms/main";
const API: &str = "https://api.example.org";

struct Keys {
    rsa: PKey<Private>,
    ec: PKey<Private>,
    ed: PKey<Private>,
}

impl Keys {
    fn new() -> Keys {
        let rsa = PKey::from_rsa(Rsa::private_key_from_der(RSA_DER).unwrap()).unwrap();
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let ec = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let ed = PKey::generate_ed25519().unwrap();
        Keys { rsa, ec, ed }
    }

    /// A JWS signature as the token carries it (ES256: r || s, 32 bytes each).
    fn sign(&self, alg: &str, input: &[u8]) -> Vec<u8> {
        match alg {
            "RS256" | "PS256" => {
                let mut s = Signer::new(MessageDigest::sha256(), &self.rsa).unwrap();
                if alg == "PS256" {
                    s.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
                    s.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH).unwrap();
                    s.set_rsa_mgf1_md(MessageDigest::sha256()).unwrap();
                }
                s.sign_oneshot_to_vec(input).unwrap()
            }
            "ES256" => {
                let digest = openssl::sha::sha256(input);
                let sig = EcdsaSig::sign(&digest, &self.ec.ec_key().unwrap()).unwrap();
                let mut out = sig.r().to_vec_padded(32).unwrap();
                out.extend(sig.s().to_vec_padded(32).unwrap());
                out
            }
            "EdDSA" => Signer::new_without_digest(&self.ed).unwrap().sign_oneshot_to_vec(input).unwrap(),
            _ => unreachable!(),
        }
    }

    /// The public keys as an OP publishes them, parsed once as the module does.
    fn jwks(&self) -> Jwks {
        let rsa = self.rsa.rsa().unwrap();
        let ec = self.ec.ec_key().unwrap();
        let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
        let mut ctx = openssl::bn::BigNumContext::new().unwrap();
        ec.public_key().affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx).unwrap();
        let set = json!({"keys": [
            {"kty": "RSA", "kid": "rsa1", "use": "sig", "n": encode(&rsa.n().to_vec()), "e": encode(&rsa.e().to_vec())},
            {"kty": "EC", "kid": "ec1", "use": "sig", "crv": "P-256",
             "x": encode(&x.to_vec_padded(32).unwrap()), "y": encode(&y.to_vec_padded(32).unwrap())},
            {"kty": "OKP", "kid": "ed1", "use": "sig", "crv": "Ed25519", "x": encode(&self.ed.raw_public_key().unwrap())}
        ]});
        jwks::parse(set.to_string().as_bytes()).unwrap()
    }
}

fn kid(alg: &str) -> &'static str {
    match alg {
        "RS256" | "PS256" => "rsa1",
        "ES256" => "ec1",
        _ => "ed1",
    }
}

fn key<'a>(set: &'a Jwks, alg: &str) -> &'a VerifyingKey {
    match set.find(Some(kid(alg)), alg) {
        jwks::KeyLookup::Found(k) => &k.key,
        other => panic!("no key for {alg}: {other:?}"),
    }
}

/// RFC 9068 claims of a typical access token (about 900 bytes signed with RS256).
fn access_claims() -> serde_json::Value {
    json!({
        "iss": ISSUER, "aud": [API, "account"], "sub": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
        "client_id": "webapp", "iat": NOW - 10, "exp": NOW + 300,
        "jti": "6a4c2e0b-9a47-4d1f-8f0b-3c1e2d9b7a55", "scope": "openid profile email api.read api.write",
        "preferred_username": "alice", "email": "alice.liddell@example.org", "groups": ["staff", "engineering"]
    })
}

fn token(keys: &Keys, alg: &str) -> String {
    let header = json!({"alg": alg, "kid": kid(alg), "typ": "at+jwt"});
    let input = format!("{}.{}", encode(header.to_string().as_bytes()), encode(access_claims().to_string().as_bytes()));
    let sig = keys.sign(alg, input.as_bytes());
    format!("{input}.{}", encode(&sig))
}

/// A verifier of one library with its key parsed once: `verify(input, signature)`.
type Check = Box<dyn Fn(&[u8], &[u8]) -> bool>;

fn ring_check(alg: &str, k: &VerifyingKey) -> Check {
    use ring::signature as s;
    // ring has no parsed RSA public key type: this is what jose::verify did.
    match (alg, k.clone()) {
        ("RS256" | "PS256", VerifyingKey::Rsa { n, e, .. }) => {
            let p: &'static s::RsaParameters =
                if alg == "RS256" { &s::RSA_PKCS1_2048_8192_SHA256 } else { &s::RSA_PSS_2048_8192_SHA256 };
            Box::new(move |m, sig| s::RsaPublicKeyComponents { n: &n, e: &e }.verify(p, m, sig).is_ok())
        }
        ("ES256", VerifyingKey::P256(pt)) => {
            Box::new(move |m, sig| s::UnparsedPublicKey::new(&s::ECDSA_P256_SHA256_FIXED, &pt).verify(m, sig).is_ok())
        }
        ("EdDSA", VerifyingKey::Ed25519(x)) => {
            Box::new(move |m, sig| s::UnparsedPublicKey::new(&s::ED25519, &x).verify(m, sig).is_ok())
        }
        _ => unreachable!(),
    }
}

fn aws_lc_check(alg: &str, k: &VerifyingKey, keys: &Keys) -> Check {
    use aws_lc_rs::signature as s;
    let (a, bytes): (&'static dyn s::VerificationAlgorithm, Vec<u8>) = match (alg, k) {
        ("RS256", _) => (&s::RSA_PKCS1_2048_8192_SHA256, keys.rsa.rsa().unwrap().public_key_to_der_pkcs1().unwrap()),
        ("PS256", _) => (&s::RSA_PSS_2048_8192_SHA256, keys.rsa.rsa().unwrap().public_key_to_der_pkcs1().unwrap()),
        ("ES256", VerifyingKey::P256(pt)) => (&s::ECDSA_P256_SHA256_FIXED, pt.clone()),
        ("EdDSA", VerifyingKey::Ed25519(x)) => (&s::ED25519, x.clone()),
        _ => unreachable!(),
    };
    let parsed = s::ParsedPublicKey::new(a, bytes).unwrap();
    Box::new(move |m, sig| parsed.verify_sig(m, sig).is_ok())
}

fn openssl_check(alg: &str, keys: &Keys) -> Check {
    let public = |k: &PKey<Private>| -> PKey<Public> { PKey::public_key_from_der(&k.public_key_to_der().unwrap()).unwrap() };
    match alg {
        "RS256" | "PS256" => {
            let pk = public(&keys.rsa);
            let pss = alg == "PS256";
            Box::new(move |m, sig| {
                let mut v = Verifier::new(MessageDigest::sha256(), &pk).unwrap();
                if pss {
                    v.set_rsa_padding(Padding::PKCS1_PSS).unwrap();
                    v.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH).unwrap();
                    v.set_rsa_mgf1_md(MessageDigest::sha256()).unwrap();
                }
                v.verify_oneshot(sig, m).unwrap_or(false)
            })
        }
        "ES256" => {
            let ec = public(&keys.ec).ec_key().unwrap();
            Box::new(move |m, sig| {
                let r = BigNum::from_slice(&sig[..32]).unwrap();
                let s = BigNum::from_slice(&sig[32..]).unwrap();
                let es = EcdsaSig::from_private_components(r, s).unwrap();
                es.verify(&openssl::sha::sha256(m), &ec).unwrap_or(false)
            })
        }
        "EdDSA" => {
            let pk = PKey::public_key_from_raw_bytes(&keys.ed.raw_public_key().unwrap(), Id::ED25519).unwrap();
            Box::new(move |m, sig| Verifier::new_without_digest(&pk).unwrap().verify_oneshot(sig, m).unwrap_or(false))
        }
        _ => unreachable!(),
    }
}

/// The benchmark thread's CPU time rather than wall time: on a machine shared with other
/// jobs, time spent waiting for a core is not counted (cache and frequency effects still are).
struct ThreadCpu(WallTime);

fn thread_cpu_now() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Measurement for ThreadCpu {
    type Intermediate = Duration;
    type Value = Duration;
    fn start(&self) -> Duration {
        thread_cpu_now()
    }
    fn end(&self, started: Duration) -> Duration {
        thread_cpu_now().saturating_sub(started)
    }
    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }
    fn zero(&self) -> Duration {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Duration) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.0.formatter()
    }
}

/// OpenSSL's raw RSA public operation (RSA_public_decrypt, no padding) with the PKCS#1
/// v1.5 encoding compared here: skips OpenSSL 3's per-call EVP fetches and contexts.
fn openssl_raw_rs256(keys: &Keys) -> Check {
    let rsa = Rsa::from_public_components(keys.rsa.rsa().unwrap().n().to_owned().unwrap(), keys.rsa.rsa().unwrap().e().to_owned().unwrap()).unwrap();
    const PREFIX: [u8; 19] = [0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20];
    Box::new(move |m, sig| {
        let mut em = vec![0; rsa.size() as usize];
        if sig.len() != em.len() || rsa.public_decrypt(sig, &mut em, Padding::NONE).is_err() {
            return false;
        }
        let h = openssl::sha::sha256(m);
        let pad = em.len() - 3 - PREFIX.len() - 32;
        em[0] == 0 && em[1] == 1 && em[2..2 + pad].iter().all(|&b| b == 0xff) && em[2 + pad] == 0
            && em[3 + pad..3 + pad + 19] == PREFIX && em[3 + pad + 19..] == h
    })
}

/// EVP_PKEY_verify on the digest with a fresh EVP_PKEY_CTX: no EVP_MD_CTX.
fn openssl_pkeyctx_rs256(keys: &Keys) -> Check {
    let pk = PKey::public_key_from_der(&keys.rsa.public_key_to_der().unwrap()).unwrap();
    Box::new(move |m, sig| {
        let mut ctx = openssl::pkey_ctx::PkeyCtx::new(&pk).unwrap();
        ctx.verify_init().unwrap();
        ctx.set_rsa_padding(Padding::PKCS1).unwrap();
        ctx.set_signature_md(openssl::md::Md::sha256()).unwrap();
        ctx.verify(&openssl::sha::sha256(m), sig).unwrap_or(false)
    })
}

fn fast() -> Criterion<ThreadCpu> {
    Criterion::default()
        .with_measurement(ThreadCpu(WallTime))
        .without_plots()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

fn signature(c: &mut Criterion<ThreadCpu>) {
    let keys = Keys::new();
    let set = keys.jwks();
    let mut g = c.benchmark_group("verify");
    for alg in ALGS {
        let t = token(&keys, alg);
        let (input, sig) = t.rsplit_once('.').unwrap();
        let (input, sig) = (input.as_bytes().to_vec(), oidc_core::b64::decode(sig).unwrap());
        let k = key(&set, alg);
        let mut libs: Vec<(&str, Check)> =
            vec![("ring", ring_check(alg, k)), ("aws-lc-rs", aws_lc_check(alg, k, &keys)), ("openssl", openssl_check(alg, &keys))];
        if alg == "RS256" {
            libs.push(("openssl-raw", openssl_raw_rs256(&keys)));
            libs.push(("openssl-pkeyctx", openssl_pkeyctx_rs256(&keys)));
        }
        for (lib, check) in libs {
            assert!(check(&input, &sig), "{lib} {alg} verifies");
            let mut bad = sig.clone();
            bad[5] ^= 1;
            assert!(!check(&input, &bad), "{lib} {alg} refuses a changed signature");
            g.bench_function(format!("{lib}/{alg}"), |b| b.iter(|| check(black_box(&input), black_box(&sig))));
        }
        // What the crate's verify API costs now, whatever library it uses.
        jose::verify(alg, k, &input, &sig).unwrap();
        g.bench_function(format!("jose/{alg}"), |b| b.iter(|| jose::verify(alg, k, black_box(&input), black_box(&sig))));
    }
    g.finish();
}

/// The module's work for a bearer JWT it has not seen (token_cache_ttl 0, as in the D
/// setups): extract from the header, decide it is a JWT, then access_token::validate.
fn first_seen(c: &mut Criterion<ThreadCpu>) {
    let keys = Keys::new();
    let set = keys.jwks();
    let audiences = vec![API.to_string()];
    let algs: Vec<String> = ALGS.iter().map(|a| a.to_string()).collect();
    let rules = AccessTokenRules {
        issuer: ISSUER,
        issuer_template: None,
        audiences: &audiences,
        signature: SignatureRules { allowed_algs: &algs, client_secret: None },
        now: NOW,
        clock_skew: 60,
        require_typ_at_jwt: true,
    };
    let mut g = c.benchmark_group("first_seen");
    for alg in ALGS {
        let header = format!("Bearer {}", token(&keys, alg)).into_bytes();
        let run = || {
            let BearerToken::Token(t) = bearer::extract(&[black_box(&header)], None) else { unreachable!() };
            assert!(access_token::looks_like_jwt(t));
            access_token::validate(t, &rules, &set).unwrap()
        };
        run();
        g.bench_function(alg, |b| b.iter(run));
        // The same without the signature: what the rest of the path costs.
        let BearerToken::Token(t) = bearer::extract(&[&header], None) else { unreachable!() };
        let (input, sig) = t.rsplit_once('.').unwrap();
        let sig = oidc_core::b64::decode(sig).unwrap();
        let k = key(&set, alg);
        g.bench_function(format!("{alg}/signature_only"), |b| {
            b.iter(|| jose::verify(alg, k, black_box(input.as_bytes()), black_box(&sig)))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = fast();
    targets = signature, first_seen
}
criterion_main!(benches);

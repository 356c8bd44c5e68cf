//! Microbenchmarks of the per-request work the module does, without nginx: the session
//! cookie (parse, join, open, decode, seal), a JWT access token checked with a parsed
//! key set, the bearer cache key and entry, claim extraction for `$oidc_claim_*`, and
//! reading the `Authorization` header. Run with `cargo bench -p oidc-core`.
//!
//! Keys and tokens are made here (benches cannot use the crate's `#[cfg(test)]`
//! helpers): the RSA key is the JOSE tests' data file, the P-256 key is generated.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use ring::rand::SystemRandom;
use ring::signature::{self as sig, KeyPair};
use serde_json::{json, Value};

use oidc_core::b64::encode;
use oidc_core::bearer::{self, BearerToken};
use oidc_core::claims_view;
use oidc_core::cookie_cipher::CookieCipher;
use oidc_core::jwks::{self, Jwks};
use oidc_core::session::Session;
use oidc_core::session_cookie::{CookieJar, Loaded, Sealed, SessionCookies};
use oidc_core::token::access_token::{self, AccessTokenRules};
use oidc_core::token::signature::SignatureRules;
use oidc_core::token::Claims;
use oidc_core::token_cache::{self, CachedResult, TokenCacheKey};

/// The JOSE tests' 2048-bit RSA key (PKCS#1 DER).
const RSA_DER: &[u8] = include_bytes!("../src/jose/testdata/rsa2048.der");

const NOW: u64 = 1_700_000_000;
const ISSUER: &str = "https://op.example.org/realms/main";
const API: &str = "https://api.example.org";
const COOKIE: &str = "NGX_OIDC_SESSION";
const SECRET: &[u8] = b"bench-session-secret-0123456789abcdef0123";
/// As the module builds it: `session\n{issuer}\n{client_id}`.
const PURPOSE: &[u8] = b"session\nhttps://op.example.org/realms/main\nwebapp";
/// Ten seconds after login: valid, not yet due for an idle re-issue.
const OPEN_AT: u64 = NOW + 10;
const IDLE: u64 = 1800;

fn claims(v: Value) -> Claims {
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// The claims a typical login keeps (ID token and userinfo, bookkeeping dropped).
fn typical_claims() -> Claims {
    claims(json!({
        "name": "Alice Margaret Liddell-Hargreaves",
        "preferred_username": "alice.liddell-hargreaves",
        "email": "alice.liddell-hargreaves@wonderland.example.org",
        "email_verified": true,
        "groups": ["/departments/engineering/platform", "/applications/webapp/administrators"],
        "acr": "http://schemas.openid.net/pape/policies/2007/06/multi-factor",
        "sid": "0e6f1c7a-3b9d-4c59-9a61-2f6f0d5b8c41",
        "auth_time": NOW - 5,
    }))
}

fn session(claims: Claims) -> Session {
    Session {
        sub: "f47ac10b-58cc-4372-a567-0e02b2c3d479".into(),
        claims,
        id_token: None,
        access_token: None,
        refresh_token: None,
        access_expires_at: 0,
        userinfo: None,
        created_at: NOW,
        expires_at: NOW + 8 * 3600,
        last_seen: NOW,
        sid: None,
        iss: None,
    }
}

/// A session that needs three cookies: all tokens kept, userinfo kept, many groups.
fn large_session(id_token: &str, access_token: &str) -> Session {
    let mut c = typical_claims();
    let groups: Vec<Value> = (0..75).map(|i| json!(format!("/org/department-{i:03}/team"))).collect();
    c.insert("groups".into(), Value::Array(groups.clone()));
    let userinfo = json!({"sub": "f47ac10b-58cc-4372-a567-0e02b2c3d479", "name": "Alice Liddell",
                          "email": "alice.liddell@example.org", "groups": groups});
    Session {
        id_token: Some(id_token.into()),
        access_token: Some(access_token.into()),
        refresh_token: Some(encode(&[0x5a; 600])),
        access_expires_at: NOW + 300,
        userinfo: Some(userinfo.to_string()),
        ..session(c)
    }
}

/// A `Cookie` header as a browser sends it: analytics and preference cookies around ours.
fn cookie_header(ours: &[(String, String)]) -> Vec<u8> {
    let mut pairs = vec!["_ga=GA1.2.1384729562.1699990000".to_string()];
    pairs.extend(ours.iter().map(|(n, v)| format!("{n}={v}")));
    pairs.push("lang=en-GB".into());
    pairs.join("; ").into_bytes()
}

struct Signer {
    rsa: sig::RsaKeyPair,
    ec: sig::EcdsaKeyPair,
    jwks: Jwks,
}

impl Signer {
    fn new() -> Signer {
        let rng = SystemRandom::new();
        let rsa = sig::RsaKeyPair::from_der(RSA_DER).unwrap();
        let alg = &sig::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pk8 = sig::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let ec = sig::EcdsaKeyPair::from_pkcs8(alg, pk8.as_ref(), &rng).unwrap();
        let rc = sig::RsaPublicKeyComponents::<Vec<u8>>::from(rsa.public());
        let p = ec.public_key().as_ref();
        // An OP's key set as published: one RSA and one EC signing key; parsed once, as
        // the module keeps it.
        let set = json!({"keys": [
            {"kty": "RSA", "kid": "rsa1", "use": "sig", "alg": "RS256", "n": encode(&rc.n), "e": encode(&rc.e)},
            {"kty": "EC", "kid": "ec1", "use": "sig", "alg": "ES256", "crv": "P-256",
             "x": encode(&p[1..33]), "y": encode(&p[33..])}
        ]});
        let jwks = jwks::parse(set.to_string().as_bytes()).unwrap();
        Signer { rsa, ec, jwks }
    }

    fn sign(&self, alg: &str, kid: &str, claims: &Value) -> String {
        let header = json!({"alg": alg, "kid": kid, "typ": "at+jwt"});
        let input = format!("{}.{}", encode(header.to_string().as_bytes()), encode(claims.to_string().as_bytes()));
        let signature = match alg {
            "RS256" => {
                let mut out = vec![0; self.rsa.public().modulus_len()];
                self.rsa.sign(&sig::RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut out).unwrap();
                out
            }
            "ES256" => self.ec.sign(&SystemRandom::new(), input.as_bytes()).unwrap().as_ref().to_vec(),
            _ => unreachable!(),
        };
        format!("{input}.{}", encode(&signature))
    }
}

/// RFC 9068 claims of a typical access token (about 900 bytes signed with RS256).
fn access_claims() -> Value {
    json!({
        "iss": ISSUER, "aud": [API, "account"], "sub": "f47ac10b-58cc-4372-a567-0e02b2c3d479",
        "client_id": "webapp", "iat": NOW - 10, "exp": NOW + 300,
        "jti": "6a4c2e0b-9a47-4d1f-8f0b-3c1e2d9b7a55", "scope": "openid profile email api.read api.write",
        "preferred_username": "alice", "email": "alice.liddell@example.org", "groups": ["staff", "engineering"]
    })
}

fn fast() -> Criterion {
    Criterion::default()
        .without_plots()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

fn session_cookie(c: &mut Criterion) {
    let signer = Signer::new();
    let cipher = CookieCipher::new(&[SECRET]).unwrap();
    let sc = SessionCookies { cipher: &cipher, purpose: PURPOSE, name: COOKIE, idle_timeout: IDLE };
    let empty = CookieJar::parse(&[]);

    let typical = session(typical_claims());
    let (cookies, _) = sc.seal(&typical, &empty).unwrap();
    assert_eq!(cookies.len(), 1);
    assert!((650..750).contains(&cookies[0].1.len()), "typical session sealed in {} bytes", cookies[0].1.len());
    let typical_header = cookie_header(&cookies);

    let id_token = signer.sign("RS256", "rsa1", &access_claims());
    let large = large_session(&id_token, &signer.sign("RS256", "rsa1", &access_claims()));
    let (chunks, _) = sc.seal(&large, &empty).unwrap();
    assert_eq!(chunks.len(), 3, "the large session takes three cookies ({} bytes)", chunks.iter().map(|c| c.1.len()).sum::<usize>());
    let large_header = cookie_header(&chunks);

    let mut g = c.benchmark_group("session_cookie");
    for (label, header) in [("typical", &typical_header), ("large_3_chunks", &large_header)] {
        let h = header.as_slice();
        let jar = CookieJar::parse(&[h]);
        let Sealed::Value(sealed) = sc.sealed(&jar) else { unreachable!() };
        assert!(matches!(sc.open(&sealed, OPEN_AT), Loaded::Valid { touch: false, .. }));
        g.bench_function(format!("parse_jar/{label}"), |b| b.iter(|| CookieJar::parse(&[black_box(h)])));
        g.bench_function(format!("join_chunks/{label}"), |b| {
            b.iter(|| match sc.sealed(black_box(&jar)) {
                Sealed::Value(v) => v.len(),
                _ => unreachable!(),
            })
        });
        g.bench_function(format!("open_decode/{label}"), |b| b.iter(|| sc.open(black_box(&sealed), OPEN_AT)));
        // The two halves of open_decode: base64 + AES-256-GCM, then the JSON of the session.
        let plain = cipher.open(PURPOSE, &sealed).unwrap();
        g.bench_function(format!("decrypt/{label}"), |b| b.iter(|| cipher.open(PURPOSE, black_box(&sealed)).unwrap()));
        g.bench_function(format!("decode/{label}"), |b| b.iter(|| Session::decode(black_box(&plain)).unwrap()));
        // What a request with a session pays in all: parse, join, decrypt, decode, check.
        g.bench_function(format!("load/{label}"), |b| {
            b.iter(|| sc.load(&CookieJar::parse(&[black_box(h)]), OPEN_AT))
        });
    }
    // Login and idle re-issue: encode, seal with a fresh nonce, split, find stale chunks.
    let jar = CookieJar::parse(&[typical_header.as_slice()]);
    g.bench_function("seal/typical", |b| b.iter(|| sc.seal(black_box(&typical), &jar).unwrap()));
    let jar = CookieJar::parse(&[large_header.as_slice()]);
    g.bench_function("seal/large_3_chunks", |b| b.iter(|| sc.seal(black_box(&large), &jar).unwrap()));
    g.finish();
}

fn jwt_verify(c: &mut Criterion) {
    let signer = Signer::new();
    let audiences = vec![API.to_string()];
    let algs = vec!["RS256".to_string(), "ES256".to_string()];
    let rules = AccessTokenRules {
        issuer: ISSUER,
        issuer_template: None,
        audiences: &audiences,
        signature: SignatureRules { allowed_algs: &algs, client_secret: None },
        now: NOW,
        clock_skew: 60,
        require_typ_at_jwt: true,
    };
    let mut g = c.benchmark_group("jwt_verify");
    for (alg, kid) in [("RS256", "rsa1"), ("ES256", "ec1")] {
        let token = signer.sign(alg, kid, &access_claims());
        access_token::validate(&token, &rules, &signer.jwks).unwrap();
        g.bench_function(format!("access_token/{alg}"), |b| {
            b.iter(|| access_token::validate(black_box(&token), &rules, &signer.jwks).unwrap())
        });
    }
    g.finish();
}

fn token_cache(c: &mut Criterion) {
    let signer = Signer::new();
    let token = signer.sign("RS256", "rsa1", &access_claims());
    assert!((850..=950).contains(&token.len()), "token of {} bytes", token.len());
    // As the module builds it: provider, audiences, introspection, at+jwt.
    let namespace = format!("main\n{:?}\n{:?}\n{:?}", [API], false, true);
    let entry = token_cache::encode_valid(Some(NOW + 300), &claims(access_claims())).unwrap();
    assert!(matches!(token_cache::decode(&entry), Some(CachedResult::Valid { .. })));

    let mut g = c.benchmark_group("token_cache");
    g.bench_function("key_sha256/900B_token", |b| b.iter(|| TokenCacheKey::new(&namespace, black_box(&token))));
    g.bench_function("decode_entry", |b| b.iter(|| token_cache::decode(black_box(&entry)).unwrap()));
    g.bench_function("encode_entry", |b| {
        let c = claims(access_claims());
        b.iter(|| token_cache::encode_valid(Some(NOW + 300), black_box(&c)).unwrap())
    });
    g.finish();
}

fn claim_extraction(c: &mut Criterion) {
    let mut claims = typical_claims();
    claims.insert("address".into(), json!({"street_address": "1 Rabbit Hole", "locality": "Oxford", "country": "GB"}));
    let mut g = c.benchmark_group("claim_extraction");
    for (label, name, want) in [
        ("string", "email", "alice.liddell-hargreaves@wonderland.example.org"),
        ("array_joined", "groups", "/departments/engineering/platform,/applications/webapp/administrators"),
        ("nested", "address__country", "GB"),
    ] {
        let shown = claims_view::lookup(&claims, name).and_then(claims_view::display).unwrap();
        assert_eq!(shown, want);
        g.bench_function(label, |b| {
            b.iter(|| claims_view::lookup(black_box(&claims), black_box(name)).and_then(claims_view::display).map(|v| v.len()))
        });
    }
    g.finish();
}

fn bearer_extract(c: &mut Criterion) {
    let token = Signer::new().sign("RS256", "rsa1", &access_claims());
    let header = format!("Bearer {token}").into_bytes();
    assert!(matches!(bearer::extract(&[&header], None), BearerToken::Token(t) if t == token));
    let mut g = c.benchmark_group("bearer");
    g.bench_function("extract/authorization_900B", |b| b.iter(|| bearer::extract(&[black_box(&header)], None)));
    g.finish();
}

criterion_group! {
    name = benches;
    config = fast();
    targets = session_cookie, jwt_verify, token_cache, claim_extraction, bearer_extract
}
criterion_main!(benches);

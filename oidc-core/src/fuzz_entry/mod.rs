//! Entry points of the fuzz targets (oidc-core/fuzz): one function per kind of input
//! that comes from outside (a browser, a client, the OP, the configuration), each
//! calling the real parsers in the order the module does. The targets are one line each,
//! and the unit test below replays the committed corpus through the same functions, so
//! `cargo test` catches a regression on any input the fuzzer ever kept.
//!
//! Inputs that are signed or sealed are checked against `fixture.json`: the test OP's
//! key set and a session secret, captured together with the seeds by
//! `oidc-core/fuzz/collect-seeds.pl`, so the seeds reach past signature and decryption.
//! Besides "no panic", a few targets assert properties (a return URL judged local stays
//! on this origin; a sealed session survives chunking).

use std::sync::OnceLock;

use serde::Deserialize;

use crate::auth_request::{self, AuthorizationRequest};
use crate::authz_rules::{self, ClaimRule, Requirements};
use crate::bearer::{self, BearerToken};
use crate::client_auth::{AuthMethod, SigningKey};
use crate::cookie_chunks;
use crate::cookie_cipher::CookieCipher;
use crate::jose::verify::SUPPORTED_ALGS;
use crate::jwks::{self, Jwks};
use crate::login_state::{self, LoginState};
use crate::session::Session;
use crate::session_cookie::{CookieJar, Loaded, SessionCookies};
use crate::session_ref::{self, SessionRef, StoredSessions};
use crate::session_tags;
use crate::token::access_token::{self, AccessTokenRules};
use crate::token::id_token::{self, IdTokenRules};
use crate::token::logout_token::{self, LogoutTokenRules};
use crate::token::signature::SignatureRules;
use crate::token::{checks, Claims};
use crate::{cache_policy, callback_params, claims_view, conf_check, discovery};
use crate::{introspection, issuer_url, jose, return_to, token_exchange};

#[cfg(test)]
mod replay;

const COOKIE_NAME: &str = "NGX_OIDC_SESSION";

#[derive(Deserialize)]
struct Raw {
    issuer: String,
    now: u64,
    session_secret: String,
    client_id: String,
    client_secret: String,
    nonce: String,
    audience: String,
    jwks: serde_json::Value,
}

struct Fixture {
    raw: Raw,
    jwks: Jwks,
    cipher: CookieCipher,
    /// As the module binds sessions: `session\n<issuer>\n<client_id>`.
    purpose: Vec<u8>,
    algs: Vec<String>,
    audiences: Vec<String>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let raw: Raw = serde_json::from_str(include_str!("fixture.json")).expect("fixture.json");
        let jwks = jwks::parse(raw.jwks.to_string().as_bytes()).expect("the fixture's key set");
        let cipher = CookieCipher::new(&[raw.session_secret.as_bytes()]).expect("the fixture's secret");
        let purpose = format!("session\n{}\n{}", raw.issuer, raw.client_id).into_bytes();
        let algs = SUPPORTED_ALGS.iter().map(|a| a.to_string()).collect();
        let audiences = vec![raw.audience.clone()];
        Fixture { raw, jwks, cipher, purpose, algs, audiences }
    })
}

/// The time the seeds were captured (a little after, so their tokens and sessions are
/// valid).
fn now() -> u64 {
    fixture().raw.now + 5
}

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// `Cookie` request headers, one per line: the jar, and the state cookies' names.
pub fn cookie_header(data: &[u8]) {
    let headers: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    let jar = CookieJar::parse(&headers);
    for (name, _) in jar.pairs() {
        assert!(jar.get(name).is_some());
        let _ = login_state::is_state_cookie_name("NGX_OIDC_SESSION_state", name);
    }
    let _ = cookie_chunks::count_present(COOKIE_NAME, |n| jar.get(n));
}

/// The first byte picks the input: even, `Cookie` headers (one per line) from which the
/// session (chunks joined, opened with the fixture's secret, lifetimes checked) and the
/// login state cookies are read; odd, the plaintext of a session, sealed, chunked,
/// carried in a Cookie header and read back, which must give what opening it directly
/// gives.
pub fn session_cookie(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let f = fixture();
    let sc = SessionCookies { cipher: &f.cipher, purpose: &f.purpose, name: COOKIE_NAME, idle_timeout: 3600 };
    if mode % 2 == 0 {
        let headers: Vec<&[u8]> = rest.split(|&b| b == b'\n').collect();
        let jar = CookieJar::parse(&headers);
        if let Loaded::Valid { session, .. } = sc.load(&jar, now()) {
            let _ = session.times().refresh_due(now());
            let _ = sc.seal(&session, &jar);
        }
        let _ = sc.stale_chunks(1, &jar);
        let prefix = format!("{COOKIE_NAME}_state");
        for (name, value) in jar.pairs().filter(|(n, _)| login_state::is_state_cookie_name(&prefix, n)) {
            if let Some(s) = f.cipher.open(name.as_bytes(), value).ok().and_then(|b| LoginState::decode(&b).ok()) {
                let _ = s.is_expired(now(), 600);
                let _ = return_to::is_safe_local_target(&s.return_to);
            }
        }
        return;
    }
    let Ok(sealed) = f.cipher.seal(&f.purpose, rest) else { return };
    let direct = sc.open(&sealed, now());
    // Larger than the chunks can hold (only with a raised -max_len): never written.
    let Some(cookies) = cookie_chunks::split(COOKIE_NAME, &sealed) else { return };
    let header = cookies.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ");
    let jar = CookieJar::parse(&[header.as_bytes()]);
    let loaded = sc.load(&jar, now());
    assert_eq!(format!("{direct:?}"), format!("{loaded:?}"), "chunking changed the session");
    if let Ok(s) = Session::decode(rest) {
        let _ = s.state(now(), 600);
    }
}

/// A compact JWS as an ID token and as a JWT access token, checked against the fixture's
/// key set and rules (every supported algorithm allowed).
pub fn jws(data: &[u8]) {
    let Some(token) = text(data) else { return };
    let f = fixture();
    let _ = jose::parse(token);
    let signature = || SignatureRules { allowed_algs: &f.algs, client_secret: Some(f.raw.client_secret.as_bytes()) };
    let id = IdTokenRules {
        issuer: &f.raw.issuer,
        issuer_template: None,
        client_id: &f.raw.client_id,
        signature: signature(),
        nonce: &f.raw.nonce,
        now: now(),
        clock_skew: 60,
        access_token: Some("an access token"),
    };
    let _ = id_token::validate(token, &id, &f.jwks);
    let at = AccessTokenRules {
        issuer: &f.raw.issuer,
        issuer_template: None,
        audiences: &f.audiences,
        signature: signature(),
        now: now(),
        clock_skew: 60,
        require_typ_at_jwt: true,
    };
    if let Err(e) = access_token::validate(token, &at, &f.jwks) {
        let _ = (e.reason(), access_token::public_description(&e));
    }
    let _ = access_token::looks_like_jwt(token);
    let logout = LogoutTokenRules {
        issuer: &f.raw.issuer,
        issuer_template: None,
        client_id: &f.raw.client_id,
        signature: signature(),
        now: now(),
        clock_skew: 60,
    };
    if let Err(e) = logout_token::validate(token, &logout, &f.jwks) {
        let _ = (e.reason(), e.unknown_kid(), e.to_string());
    }
}

/// What a server-side store and a reference cookie hold. Byte 0 even: the rest is split
/// at NUL bytes into a reference cookie's value, a stored value and a store id (as a
/// session index of the store lists it), each opened with the fixture's secret as the
/// module does; odd: the plaintext of a session, stored under a fresh reference and read
/// back through its cookie, which must give the session that the plaintext decodes to.
pub fn stored_session(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let f = fixture();
    let stored = StoredSessions { cipher: &f.cipher, purpose: &f.purpose };
    if mode % 2 == 0 {
        let mut parts = rest.splitn(3, |&b| b == 0);
        let cookie = parts.next().unwrap_or_default();
        let value = parts.next().unwrap_or_default();
        let store_id = parts.next().unwrap_or_default();
        if let Some(r) = text(cookie).and_then(|c| stored.open_ref(c).ok()) {
            if let Ok(s) = stored.open_value(&r, value) {
                let _ = s.state(now(), 600);
            }
        }
        if let Some(binding) = text(store_id).and_then(session_ref::binding_of_store_id) {
            if let Ok(s) = stored.open_value_bound(&binding, value) {
                let _ = session_tags::SessionTags::of(&s, &f.purpose, &f.raw.issuer);
            }
        }
        return;
    }
    let Ok(session) = Session::decode(rest) else { return };
    let Ok(r) = SessionRef::random() else { return };
    let cookie = stored.seal_ref(&r).expect("a reference seals");
    let value = stored.seal_value(&r, &session).expect("a session seals");
    let back = stored.open_ref(&cookie).expect("a sealed reference opens");
    assert_eq!(back, r, "the cookie gave another reference");
    let opened = stored.open_value(&back, &value).expect("a stored value opens");
    assert_eq!(opened.encode(), session.encode(), "storing changed the session");
    let bound = session_ref::binding_of_store_id(&r.store_id(&f.purpose)).expect("a store id parses");
    assert!(stored.open_value_bound(&bound, &value).is_ok(), "a value opens by its store id");
}

/// The OP's key set (and so each JWK in it): every key found by kid and algorithm, and
/// asked to verify a signature.
pub fn jwks(data: &[u8]) {
    let Ok(set) = jwks::parse(data) else { return };
    for key in &set.keys {
        for alg in SUPPORTED_ALGS {
            let _ = set.find(key.kid.as_deref(), alg);
            let _ = set.find(None, alg);
            if key.key.suits(alg) {
                let _ = jose::verify(alg, &key.key, b"header.payload", &[0u8; 64]);
            }
        }
    }
}

/// The discovery document, checked for the fixture's issuer (with and without
/// `allow_http`), and the authorization request built on its endpoint.
pub fn discovery(data: &[u8]) {
    let f = fixture();
    for allow_http in [false, true] {
        let Ok(meta) = discovery::parse(data, &f.raw.issuer, allow_http) else { continue };
        let _ = (meta.supports_pkce_s256(), meta.token_auth_methods());
        let _ = AuthorizationRequest {
            endpoint: &meta.authorization_endpoint,
            client_id: &f.raw.client_id,
            redirect_uri: "https://app.example/oidc_callback",
            scope: "openid",
            state: "s",
            nonce: "n",
            code_challenge: Some("c"),
            response_mode: Some("form_post"),
            extra_args: Some("prompt=login"),
        }
        .to_url();
    }
}

/// The OP's answer at the redirect URI: a query string or a form_post body, and the
/// request line as it is masked for the logs.
pub fn callback(data: &[u8]) {
    if let Ok(p) = callback_params::parse(data) {
        if let Some(e) = &p.error {
            let _ = token_exchange::sanitize(e);
        }
    }
    if let Some(line) = text(data) {
        let _ = callback_params::mask_request_line(line);
    }
}

/// The token endpoint's answer, as a success and as an error status.
pub fn token_response(data: &[u8]) {
    for status in [200, 400] {
        match token_exchange::parse_response(status, data) {
            Ok(r) => {
                let _ = r.expires_in();
            }
            Err(e) => {
                let _ = (e.reason(), e.to_string());
            }
        }
    }
}

/// The introspection endpoint's answer, and claims from the OP in general (userinfo,
/// a token's payload): checked against the fixture's rules, read as `$oidc_claim_*`
/// values, and matched against claim and scope requirements.
pub fn introspection(data: &[u8]) {
    let f = fixture();
    for status in [200, 401] {
        match introspection::parse_response(status, data) {
            Ok(claims) => {
                let rules = introspection::IntrospectionRules {
                    issuer: &f.raw.issuer,
                    audiences: &f.audiences,
                    now: now(),
                    clock_skew: 60,
                };
                let _ = introspection::check_claims(&claims, &rules);
            }
            Err(e) => {
                let _ = (e.reason(), e.concerns_token(), e.to_string());
            }
        }
    }
    let Ok(claims) = serde_json::from_slice::<Claims>(data) else { return };
    let kept = claims_view::session_claims(&claims, Some(&claims), None);
    for name in claims.keys().map(String::as_str).chain(["address__country", "realm_access__roles"]) {
        if let Some(v) = claims_view::lookup(&kept, name) {
            let _ = claims_view::display(v);
        }
    }
    let _ = (checks::numeric_date(&claims, "exp"), checks::audiences(&claims));
    let req = Requirements {
        scopes: vec!["movies:read".into()],
        claims: vec![ClaimRule::parse(&["groups", "contains", "admin"]).expect("a valid rule")],
    };
    let _ = req.check(&claims);
    let _ = authz_rules::granted_scopes(&claims);
}

/// `Authorization` headers and the other configured token source: the header values
/// one per line, then, after a NUL byte, the other source's value.
pub fn authorization(data: &[u8]) {
    let (auth, alt) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], Some(&data[i + 1..])),
        None => (data, None),
    };
    let headers: Vec<&[u8]> = if auth.is_empty() { Vec::new() } else { auth.split(|&b| b == b'\n').collect() };
    match bearer::extract(&headers, alt) {
        BearerToken::Token(t) => {
            assert!(!t.is_empty() && t.len() <= bearer::MAX_BEARER_TOKEN_LEN);
            assert!(t.bytes().all(|b| b.is_ascii_graphic()), "a token is b64token");
            let _ = access_token::looks_like_jwt(t);
        }
        BearerToken::Malformed(m) => {
            let _ = (m.reason(), m.description());
        }
        BearerToken::None => {}
    }
}

/// The URL the user asked for, which the module sends the browser back to after login:
/// the target chosen must be short and, as a browser resolves it, on this origin.
pub fn return_url(data: &[u8]) {
    let requested = String::from_utf8_lossy(data);
    let target = return_to::return_target(&requested);
    assert!(target.len() <= return_to::MAX_RETURN_URL);
    assert!(return_to::is_safe_local_target(target), "{target:?}");
    let base = url::Url::parse("https://rp.example/some/page").expect("a valid base");
    if let Ok(u) = base.join(target) {
        assert_eq!(u.origin(), base.origin(), "{target:?} leaves the origin");
    }
}

/// Configuration values that need no nginx parser (times and sizes use nginx's own):
/// the first byte picks the directive, the rest is its value.
pub fn conf_values(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else { return };
    if which % 16 == 10 {
        // `client_private_key`: the file's bytes.
        if let Ok(k) = SigningKey::from_pem(rest) {
            let _ = k.alg();
        }
        return;
    }
    let Some(v) = text(rest) else { return };
    match which % 16 {
        0 => drop(authz_rules::parse_scopes(v)),
        1 => drop(ClaimRule::parse(&v.split(' ').collect::<Vec<_>>())),
        2 => drop(AuthMethod::parse(v)),
        3 => {
            let _ = issuer_url::check_issuer(v, false);
            let _ = issuer_url::check_endpoint_url(&issuer_url::default_config_url(v), false);
        }
        4 => drop(issuer_url::check_endpoint_url(v, true)),
        5 => drop(cache_policy::max_age(v)),
        6 => {
            if auth_request::check_extra_args(v).is_ok() {
                let url = AuthorizationRequest {
                    endpoint: "https://op.example/auth",
                    client_id: "c",
                    redirect_uri: "https://app.example/cb",
                    scope: "openid",
                    state: "s",
                    nonce: "n",
                    code_challenge: None,
                    response_mode: None,
                    extra_args: Some(v),
                }
                .to_url()
                .expect("a valid endpoint");
                let u = url::Url::parse(&url).expect("the request is a URL");
                let states = u.query_pairs().filter(|(k, _)| k == "state").count();
                assert_eq!(states, 1, "extra_auth_args {v:?} overrides state");
            }
        }
        7 => {
            let _ = conf_check::check_redirect_uri(v);
            let _ = conf_check::path_of(v);
        }
        8 => drop(conf_check::check_logout_uri(v)),
        9 => drop(conf_check::check_post_logout_uri(v)),
        _ => {}
    }
}

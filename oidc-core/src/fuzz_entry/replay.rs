//! Replays the committed fuzz corpus (and the collected seeds) through the entry points:
//! every input the fuzzer ever kept, including those of fixed crashes, on every
//! `cargo test`, without cargo-fuzz or a nightly compiler.

use std::path::Path;

type Entry = fn(&[u8]);

pub(super) const TARGETS: &[(&str, Entry)] = &[
    ("cookie_header", super::cookie_header),
    ("session_cookie", super::session_cookie),
    ("jws", super::jws),
    ("jwks", super::jwks),
    ("discovery", super::discovery),
    ("callback", super::callback),
    ("token_response", super::token_response),
    ("introspection", super::introspection),
    ("authorization", super::authorization),
    ("return_url", super::return_url),
    ("conf_values", super::conf_values),
    ("stored_session", super::stored_session),
];

fn run_dir(dir: &Path, entry: Entry) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    let mut n = 0;
    for file in rd {
        let path = file.expect("a corpus directory entry").path();
        let data = std::fs::read(&path).expect("a corpus file");
        let r = std::panic::catch_unwind(|| entry(&data));
        assert!(r.is_ok(), "{} panics", path.display());
        n += 1;
    }
    n
}

#[test]
fn corpus_replays_without_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for (name, entry) in TARGETS {
        let n = run_dir(&root.join("corpus").join(name), *entry) + run_dir(&root.join("seeds").join(name), *entry);
        assert!(n > 0, "no corpus for the fuzz target {name}");
    }
}

fn seeds(name: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds").join(name);
    let mut files: Vec<_> = std::fs::read_dir(dir).expect("the seeds").map(|f| f.expect("a seed").path()).collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).expect("a seed")).collect()
}

/// The seeds are real and match the fixture: sessions open, tokens verify. Without
/// this, a re-collected fixture that no longer fits the seeds would leave the fuzzer
/// stuck at the signature and decryption checks.
#[test]
fn seeds_reach_past_signatures_and_sealing() {
    use super::*;
    let f = fixture();
    let sc = SessionCookies { cipher: &f.cipher, purpose: &f.purpose, name: COOKIE_NAME, idle_timeout: 3600 };
    let valid = seeds("session_cookie")
        .iter()
        .filter(|s| {
            let jar = CookieJar::parse(&[&s[1..]]);
            matches!(sc.load(&jar, now()), Loaded::Valid { .. })
        })
        .count();
    assert_eq!(valid, 2, "alice's session and carol's chunked one");

    let rules = |token: &str| {
        let signature = SignatureRules { allowed_algs: &f.algs, client_secret: Some(f.raw.client_secret.as_bytes()) };
        let id = IdTokenRules {
            issuer: &f.raw.issuer,
            issuer_template: None,
            client_id: &f.raw.client_id,
            signature,
            nonce: &f.raw.nonce,
            now: now(),
            clock_skew: 60,
            access_token: None,
        };
        id_token::validate(token, &id, &f.jwks).is_ok()
    };
    let tokens = seeds("jws");
    let ok = tokens.iter().filter(|t| rules(std::str::from_utf8(t).expect("a token"))).count();
    assert_eq!(ok, 3, "the ID tokens signed RS256, ES256 and HS256");
}

/// The stored-session seed (a reference cookie, its value and its store id, sealed with
/// the fixture's secret) opens, so the fuzzer starts past the AES-GCM check.
#[test]
fn stored_session_seed_opens() {
    use super::*;
    let f = fixture();
    let stored = StoredSessions { cipher: &f.cipher, purpose: &f.purpose };
    let even: Vec<_> = seeds("stored_session").into_iter().filter(|s| s[0] % 2 == 0).collect();
    assert!(!even.is_empty());
    for s in even {
        let parts: Vec<&[u8]> = s[1..].splitn(3, |&b| b == 0).collect();
        let r = stored.open_ref(std::str::from_utf8(parts[0]).unwrap()).expect("the seed's reference opens");
        assert!(stored.open_value(&r, parts[1]).is_ok(), "the seed's value opens");
        let binding = session_ref::binding_of_store_id(std::str::from_utf8(parts[2]).unwrap()).unwrap();
        assert!(stored.open_value_bound(&binding, parts[1]).is_ok(), "and by its store id");
    }
}

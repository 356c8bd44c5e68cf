//! One test per rule of Back-Channel Logout 1.0 section 2.6.

use serde_json::{json, Value};

use super::*;
use crate::token::id_token::tests::op;

const NOW: u64 = 1_700_000_000;

fn claims() -> Value {
    json!({"iss": "https://op.example", "aud": "client", "iat": NOW - 5, "jti": "j-1", "sid": "s-1",
           "events": {BACKCHANNEL_LOGOUT_EVENT: {}}})
}

fn check(token: &str) -> Result<LogoutRequest, LogoutTokenError> {
    let algs = vec!["ES256".to_string()];
    let rules = LogoutTokenRules {
        issuer: "https://op.example",
        issuer_template: None,
        client_id: "client",
        signature: SignatureRules { allowed_algs: &algs, client_secret: None },
        now: NOW,
        clock_skew: 60,
    };
    validate(token, &rules, &op_keys().jwks)
}

thread_local! {
    static OP: std::rc::Rc<crate::token::id_token::tests::Op> = std::rc::Rc::new(op());
}

fn op_keys() -> std::rc::Rc<crate::token::id_token::tests::Op> {
    OP.with(|o| o.clone())
}

fn with(f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut c = claims();
    f(c.as_object_mut().unwrap());
    op_keys().token(&c)
}

fn reason(token: &str) -> &'static str {
    check(token).unwrap_err().reason()
}

#[test]
fn a_valid_token_names_the_session() {
    let r = check(&op_keys().token(&claims())).unwrap();
    assert_eq!(r.sid.as_deref(), Some("s-1"));
    assert_eq!(r.sub, None);
    assert_eq!(r.jti, "j-1");
    assert_eq!(r.iss, "https://op.example");
    assert!(r.replay_until >= NOW + 55, "remembered while it could be accepted");
}

#[test]
fn sub_only_and_sid_only_are_accepted() {
    let t = with(|c| {
        c.remove("sid");
        c.insert("sub".into(), json!("alice"));
    });
    let r = check(&t).unwrap();
    assert_eq!((r.sid, r.sub.as_deref()), (None, Some("alice")));
}

#[test]
fn each_rule_refuses() {
    let o = op_keys();
    let c = claims();
    assert_eq!(reason(&o.sign(json!({"alg": "none"}), &c)), "alg_not_allowed");
    assert_eq!(reason(&o.sign(json!({"alg": "HS256", "kid": "k1"}), &c)), "alg_not_allowed");
    // A character in the middle of the signature changed (the last one may carry only
    // padding bits a decoder ignores).
    let token = o.token(&c);
    let sig_start = token.rfind('.').unwrap() + 1;
    let mid = sig_start + (token.len() - sig_start) / 2;
    let flipped = if &token[mid..mid + 1] == "A" { "B" } else { "A" };
    let forged = format!("{}{}{}", &token[..mid], flipped, &token[mid + 1..]);
    assert_eq!(reason(&forged), "bad_signature");
    assert_eq!(reason(&with(|c| { c.insert("iss".into(), json!("https://evil.example")); })), "wrong_issuer");
    assert_eq!(reason(&with(|c| { c.insert("aud".into(), json!("other")); })), "wrong_audience");
    assert_eq!(reason(&with(|c| { c.remove("iat"); })), "missing_claim");
    assert_eq!(reason(&with(|c| { c.insert("iat".into(), json!(NOW + 600)); })), "issued_in_future");
    assert_eq!(reason(&with(|c| { c.insert("iat".into(), json!(NOW - 600)); })), "iat_too_old");
    assert_eq!(reason(&with(|c| { c.insert("exp".into(), json!(NOW - 120)); })), "expired");
    assert_eq!(reason(&with(|c| { c.remove("jti"); })), "jti_missing");
    assert_eq!(reason(&with(|c| { c.remove("events"); })), "event_missing");
    assert_eq!(reason(&with(|c| { c.insert("events".into(), json!({"http://example/other": {}})); })), "event_missing");
    assert_eq!(reason(&with(|c| { c.insert("events".into(), json!({BACKCHANNEL_LOGOUT_EVENT: "x"})); })), "event_missing");
    assert_eq!(reason(&with(|c| { c.insert("nonce".into(), json!("n")); })), "nonce_present");
    assert_eq!(reason(&with(|c| { c.remove("sid"); })), "sid_and_sub_missing");
    assert_eq!(reason(&with(|c| { c.insert("sid".into(), json!(7)); })), "sid_and_sub_missing");
    assert_eq!(reason(&o.sign(json!({"alg": "ES256", "kid": "k1", "typ": "at+jwt"}), &c)), "wrong_type");
    assert!(check(&o.sign(json!({"alg": "ES256", "kid": "k1", "typ": "logout+jwt"}), &c)).is_ok());
    assert_eq!(reason(&o.sign(json!({"alg": "ES256", "kid": "nope"}), &c)), "unknown_kid");
}

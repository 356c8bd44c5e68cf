use std::collections::HashSet;

use super::op_error::{classify, from_status, OpErrorKind};
use super::*;
use crate::tenant::TenantError;
use crate::token::TokenError;

fn every_provider_slot() -> Vec<usize> {
    let mut v = vec![slot::login_redirect(), slot::login(), slot::session_renewal()];
    v.extend(reasons::LOGIN.iter().map(|r| slot::login_failure(r)));
    v.extend(SessionSource::ALL.iter().map(|&s| slot::session_served(s)));
    v.extend(RefreshOutcome::ALL.iter().map(|&o| slot::refresh_grant(o)));
    v.extend(LogoutKind::ALL.iter().map(|&k| slot::logout(k)));
    v.extend(BearerOutcome::ALL.iter().map(|&o| slot::bearer_verdict(o)));
    v.extend(reasons::BEARER.iter().map(|r| slot::bearer_rejection(r)));
    v.extend(TokenCacheResult::ALL.iter().map(|&r| slot::token_cache(r)));
    for &e in Endpoint::ALL {
        v.push(slot::op_request(e));
        v.extend(BUCKETS_US.iter().map(|&b| slot::op_duration_bucket(e, b)));
        v.push(slot::op_duration_bucket(e, u64::MAX));
        v.push(slot::op_duration_sum(e));
        v.extend(OpErrorKind::ALL.iter().map(|&k| slot::op_error(e, k)));
    }
    for &d in Document::ALL {
        v.extend(FetchOutcome::ALL.iter().map(|&o| slot::document_refresh(d, o)));
        v.push(slot::stale_document(d));
    }
    for &s in StoreKind::ALL {
        for &op in StoreOp::ALL {
            v.push(slot::store_call(s, op));
            v.push(slot::store_error(s, op));
        }
    }
    v
}

#[test]
fn every_event_has_its_own_slot_and_every_slot_an_event() {
    let slots = every_provider_slot();
    let unique: HashSet<usize> = slots.iter().copied().collect();
    assert_eq!(unique.len(), slots.len(), "two events share a slot");
    assert_eq!(slots.len(), PROVIDER_SLOTS, "a slot no event uses, or an event outside the layout");
    assert!(slots.iter().all(|&s| s < PROVIDER_SLOTS));
    let global: HashSet<usize> = ZoneTable::ALL.iter().map(|&t| slot::zone_eviction(t)).collect();
    assert_eq!(global.len(), GLOBAL_SLOTS);
}

#[test]
fn family_indices_name_their_families() {
    let by_index = [
        (LOGIN_REDIRECTS, "auth_oidc_login_redirects_total"),
        (LOGINS, "auth_oidc_logins_total"),
        (LOGIN_FAILURES, "auth_oidc_login_failures_total"),
        (SESSIONS_SERVED, "auth_oidc_sessions_served_total"),
        (SESSION_RENEWALS, "auth_oidc_session_renewals_total"),
        (REFRESH_GRANTS, "auth_oidc_refresh_grants_total"),
        (LOGOUTS, "auth_oidc_logouts_total"),
        (BEARER_VERDICTS, "auth_oidc_bearer_verdicts_total"),
        (BEARER_REJECTIONS, "auth_oidc_bearer_rejections_total"),
        (TOKEN_CACHE, "auth_oidc_token_cache_lookups_total"),
        (OP_REQUESTS, "auth_oidc_op_requests_total"),
        (OP_DURATION, "auth_oidc_op_request_duration_seconds"),
        (OP_ERRORS, "auth_oidc_op_errors_total"),
        (DOCUMENT_REFRESHES, "auth_oidc_document_refreshes_total"),
        (STALE_DOCUMENTS, "auth_oidc_stale_documents_served_total"),
        (STORE_CALLS, "auth_oidc_session_store_calls_total"),
        (STORE_ERRORS, "auth_oidc_session_store_errors_total"),
    ];
    assert_eq!(by_index.len(), PROVIDER_FAMILIES.len());
    for (i, name) in by_index {
        assert_eq!(PROVIDER_FAMILIES[i].name, name);
    }
    assert_eq!(GLOBAL_FAMILIES[ZONE_EVICTIONS].name, "auth_oidc_zone_evictions_total");
}

#[test]
fn names_and_words_are_valid_and_fixed() {
    let name_ok = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    for f in PROVIDER_FAMILIES.iter().chain(GLOBAL_FAMILIES) {
        assert!(name_ok(f.name), "{}", f.name);
        assert_eq!(f.kind == Kind::Counter, f.name.ends_with("_total"), "{}", f.name);
        assert!(!f.help.contains('\n') && !f.help.contains('\\'));
        for l in f.labels {
            assert!(name_ok(l.name) && l.name != "provider" && l.name != "le");
            let distinct: HashSet<_> = l.values.iter().collect();
            assert_eq!(distinct.len(), l.values.len(), "{}: duplicate value", f.name);
            assert!(l.values.iter().all(|v| name_ok(v)), "{}", f.name);
        }
    }
    assert_eq!(LogoutKind::Backchannel.word(), "backchannel");
    assert_eq!(LogoutKind::Frontchannel.word(), "frontchannel");
    assert_eq!(LogoutKind::RpInitiated.word(), "rp_initiated");
}

#[test]
fn unknown_reasons_count_as_other() {
    assert_eq!(reasons::LOGIN[reasons::login_index("state_mismatch")], "state_mismatch");
    assert_eq!(reasons::LOGIN[reasons::login_index("<script>")], "other");
    assert_eq!(reasons::BEARER[reasons::bearer_index("bearer_expired")], "bearer_expired");
    assert_eq!(reasons::BEARER[reasons::bearer_index("")], "other");
}

#[test]
fn every_token_error_has_its_reason_word() {
    let errors = [
        TokenError::Malformed(String::new()),
        TokenError::AlgNotAllowed(String::new()),
        TokenError::UnknownKid(String::new()),
        TokenError::NoKey(String::new()),
        TokenError::BadSignature(String::new()),
        TokenError::WrongIssuer { expected: String::new(), found: String::new() },
        TokenError::WrongAudience(String::new()),
        TokenError::WrongAzp(String::new()),
        TokenError::Expired { exp: 0, now: 0 },
        TokenError::NotYetValid { nbf: 0, now: 0 },
        TokenError::IssuedInFuture { iat: 0, now: 0 },
        TokenError::MissingClaim("sub"),
        TokenError::NonceMismatch,
        TokenError::AtHashMismatch,
        TokenError::WrongType(String::new()),
        TokenError::Tenant(TenantError::Missing),
        TokenError::Tenant(TenantError::Invalid),
        TokenError::Tenant(TenantError::NotAllowed(String::new())),
    ];
    for e in &errors {
        let login = e.log_reason("id_token");
        assert_ne!(reasons::LOGIN[reasons::login_index(&login)], "other", "{login}");
        let bearer = e.log_reason("bearer");
        assert_ne!(reasons::BEARER[reasons::bearer_index(&bearer)], "other", "{bearer}");
    }
}

#[test]
fn buckets() {
    assert_eq!(bucket_of(0), 0);
    assert_eq!(bucket_of(5_000), 0);
    assert_eq!(bucket_of(5_001), 1);
    assert_eq!(bucket_of(10_000_000), BUCKETS_US.len() - 1);
    assert_eq!(bucket_of(10_000_001), BUCKETS_US.len());
}

#[test]
fn op_error_kinds() {
    let refused = "error sending request for url (http://127.0.0.1:1/token): client error (Connect): tcp connect error: Connection refused (os error 111)";
    assert_eq!(classify(refused), OpErrorKind::Connect);
    let slow = "error sending request for url (https://tls.example.org/x): operation timed out";
    assert_eq!(classify(slow), OpErrorKind::Timeout);
    let cert = "error sending request for url (https://op.example/x): client error (Connect): invalid peer certificate: UnknownIssuer";
    assert_eq!(classify(cert), OpErrorKind::Tls);
    assert_eq!(classify("the OP answered HTTP 503"), OpErrorKind::Http5xx);
    assert_eq!(classify("the OP answered HTTP 404"), OpErrorKind::Http4xx);
    assert_eq!(classify("redirect_refused: the OP answered HTTP 307 (a redirect, not followed for a POST)"), OpErrorKind::RedirectRefused);
    assert_eq!(classify("response larger than max_response_size (10 bytes)"), OpErrorKind::TooLarge);
    assert_eq!(classify("error sending request for url (https://connect.example/): something odd"), OpErrorKind::Other);
    assert_eq!(from_status(200), None);
    assert_eq!(from_status(302), None);
    assert_eq!(from_status(400), Some(OpErrorKind::Http4xx));
}

fn line<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no line {prefix}\n{text}"))
}

#[test]
fn render_counters_histograms_and_gauges() {
    let mut a = vec![0u64; PROVIDER_SLOTS];
    a[slot::login()] = 3;
    a[slot::login_failure("state_mismatch")] = 2;
    a[slot::op_error(Endpoint::Token, OpErrorKind::Timeout)] = 1;
    a[slot::op_duration_bucket(Endpoint::Jwks, 4_000)] += 1;
    a[slot::op_duration_bucket(Endpoint::Jwks, 300_000)] += 1;
    a[slot::op_duration_bucket(Endpoint::Jwks, 60_000_000)] += 1;
    a[slot::op_duration_sum(Endpoint::Jwks)] = 60_304_000;
    let b = vec![0u64; PROVIDER_SLOTS];
    let mut g = vec![0u64; GLOBAL_SLOTS];
    g[slot::zone_eviction(ZoneTable::Tokens)] = 7;
    let snap = Snapshot {
        providers: vec![ProviderCounters { name: "idp", values: &a }, ProviderCounters { name: "we\"ird\\", values: &b }],
        global: Some(&g),
        zone: Some(ZoneUsage { name: "oidc", used: 4096, size: 1 << 20 }),
    };
    let text = render(&snap);
    assert!(text.contains("# TYPE auth_oidc_logins_total counter\n"));
    assert_eq!(line(&text, "auth_oidc_logins_total{provider=\"idp\"}"), "auth_oidc_logins_total{provider=\"idp\"} 3");
    assert_eq!(line(&text, "auth_oidc_logins_total{provider=\"we\\\"ird\\\\\"}"), "auth_oidc_logins_total{provider=\"we\\\"ird\\\\\"} 0");
    assert!(text.contains("auth_oidc_login_failures_total{provider=\"idp\",reason=\"state_mismatch\"} 2\n"));
    assert!(text.contains("auth_oidc_op_errors_total{provider=\"idp\",endpoint=\"token\",kind=\"timeout\"} 1\n"));
    assert!(text.contains("auth_oidc_op_errors_total{provider=\"idp\",endpoint=\"jwks\",kind=\"timeout\"} 0\n"));
    let h = "auth_oidc_op_request_duration_seconds";
    assert!(text.contains(&format!("# TYPE {h} histogram\n")));
    assert!(text.contains(&format!("{h}_bucket{{provider=\"idp\",endpoint=\"jwks\",le=\"0.005\"}} 1\n")));
    assert!(text.contains(&format!("{h}_bucket{{provider=\"idp\",endpoint=\"jwks\",le=\"0.25\"}} 1\n")));
    assert!(text.contains(&format!("{h}_bucket{{provider=\"idp\",endpoint=\"jwks\",le=\"0.5\"}} 2\n")));
    assert!(text.contains(&format!("{h}_bucket{{provider=\"idp\",endpoint=\"jwks\",le=\"10\"}} 2\n")));
    assert!(text.contains(&format!("{h}_bucket{{provider=\"idp\",endpoint=\"jwks\",le=\"+Inf\"}} 3\n")));
    assert!(text.contains(&format!("{h}_sum{{provider=\"idp\",endpoint=\"jwks\"}} 60.304\n")));
    assert!(text.contains(&format!("{h}_count{{provider=\"idp\",endpoint=\"jwks\"}} 3\n")));
    assert!(text.contains("auth_oidc_zone_evictions_total{table=\"tokens\"} 7\n"));
    assert!(text.contains("auth_oidc_zone_used_bytes{zone=\"oidc\"} 4096\n"));
    assert!(text.contains("auth_oidc_zone_size_bytes{zone=\"oidc\"} 1048576\n"));
    // Each family's HELP and TYPE once, before its samples.
    for f in PROVIDER_FAMILIES {
        assert_eq!(text.matches(&format!("# TYPE {} ", f.name)).count(), 1);
    }
    assert!(text.ends_with('\n'));
}

#[test]
fn render_without_zone() {
    let text = render(&Snapshot { providers: vec![], global: None, zone: None });
    assert!(!text.contains("auth_oidc_zone_"));
    assert!(!text.lines().any(|l| !l.starts_with('#')), "no samples without providers");
}

#[test]
fn layout_hash_is_stable() {
    assert_eq!(layout_hash(), layout_hash());
    assert_ne!(layout_hash(), 0);
}

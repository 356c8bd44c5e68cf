//! The reason words a failure counter may carry: the module's stable log words. A word
//! that is not listed (a new one added without updating this table) is counted as
//! `other`, so a label can never carry anything but these.

/// Reasons of a failed login at the redirect URI (see the README's callback table).
pub const LOGIN: &[&str] = &[
    "bad_callback",
    "state_missing",
    "state_mismatch",
    "state_expired",
    "state_replayed",
    "iss_mismatch",
    "iss_missing",
    "op_error",
    "code_missing",
    "discovery_unavailable",
    "discovery_invalid",
    "issuer_mismatch",
    "jwks_unavailable",
    "jwks_invalid",
    "client_auth_failed",
    "token_request_refused",
    "token_response_invalid",
    "op_unavailable",
    "id_token_malformed",
    "id_token_alg_not_allowed",
    "id_token_unknown_kid",
    "id_token_no_key",
    "id_token_bad_signature",
    "id_token_wrong_issuer",
    "id_token_wrong_audience",
    "id_token_wrong_azp",
    "id_token_expired",
    "id_token_not_yet_valid",
    "id_token_issued_in_future",
    "id_token_missing_claim",
    "id_token_nonce_mismatch",
    "id_token_at_hash_mismatch",
    "id_token_wrong_type",
    "id_token_tenant_missing",
    "id_token_tenant_invalid",
    "tenant_not_allowed",
    "userinfo_unavailable",
    "userinfo_invalid",
    "userinfo_sub_mismatch",
    "session_too_large",
    "session_store_unavailable",
    "no_runtime",
    "out_of_memory",
    "internal",
    "other",
];

/// Reasons of a refused bearer token.
pub const BEARER: &[&str] = &[
    "bearer_malformed",
    "bearer_alg_not_allowed",
    "bearer_unknown_kid",
    "bearer_no_key",
    "bearer_bad_signature",
    "bearer_wrong_issuer",
    "bearer_wrong_audience",
    "bearer_wrong_azp",
    "bearer_expired",
    "bearer_not_yet_valid",
    "bearer_issued_in_future",
    "bearer_missing_claim",
    "bearer_nonce_mismatch",
    "bearer_at_hash_mismatch",
    "bearer_wrong_type",
    "bearer_tenant_missing",
    "bearer_tenant_invalid",
    "tenant_not_allowed",
    "bearer_not_jwt",
    "token_inactive",
    "insufficient_scope",
    "other",
];

fn index(table: &[&str], reason: &str) -> usize {
    table.iter().position(|w| *w == reason).unwrap_or(table.len() - 1)
}

/// The label index of a login failure reason (`other` when unknown).
pub fn login_index(reason: &str) -> usize {
    index(LOGIN, reason)
}

/// The label index of a bearer rejection reason (`other` when unknown).
pub fn bearer_index(reason: &str) -> usize {
    index(BEARER, reason)
}

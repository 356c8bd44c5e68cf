//! The families, their labels, and the slot of each event.

use super::{bucket_of, reasons, Family, Kind, Label, GLOBAL_OFFSETS, HISTOGRAM_SLOTS, PROVIDER_OFFSETS};


words!(
    /// Where a session that let a request through came from.
    SessionSource { WorkerCache = "worker_cache", FullOpen = "full_open" }
);
words!(
    /// How a refresh grant sent to the OP ended.
    RefreshOutcome { Renewed = "renewed", Refused = "refused", Unavailable = "unavailable" }
);
words!(
    /// How a session ended by logout.
    LogoutKind { Local = "local", RpInitiated = "rp_initiated", Backchannel = "backchannel", Frontchannel = "frontchannel" }
);
words!(
    /// What a bearer token got.
    BearerOutcome { Accepted = "accepted", Rejected = "rejected", Unavailable = "unavailable" }
);
words!(
    /// Where a bearer token's verdict was found.
    TokenCacheResult { WorkerHit = "worker_hit", SharedHit = "shared_hit", Miss = "miss" }
);
words!(
    /// The OP's endpoints the module calls.
    Endpoint {
        Discovery = "discovery",
        Jwks = "jwks",
        Token = "token",
        Introspection = "introspection",
        Userinfo = "userinfo",
        Revocation = "revocation",
    }
);
words!(
    /// Documents cached from the OP.
    Document { Discovery = "discovery", Jwks = "jwks" }
);
words!(
    /// How a document refresh ended.
    FetchOutcome { Ok = "ok", Failed = "failed" }
);
words!(
    /// Server-side session stores.
    StoreKind { Zone = "zone", Redis = "redis" }
);
words!(
    /// Session store operations.
    StoreOp { Get = "get", Check = "check", Put = "put", Touch = "touch", Remove = "remove", Lock = "lock" }
);
words!(
    /// The shared zone's tables whose entries are evicted to make room.
    ZoneTable { Documents = "documents", Tokens = "tokens", Sessions = "sessions" }
);

const fn label(name: &'static str, values: &'static [&'static str]) -> Label {
    Label { name, values }
}

const fn counter(name: &'static str, help: &'static str, labels: &'static [Label]) -> Family {
    Family { name, help, kind: Kind::Counter, labels }
}

// Family indices in PROVIDER_FAMILIES.
pub const LOGIN_REDIRECTS: usize = 0;
pub const LOGINS: usize = 1;
pub const LOGIN_FAILURES: usize = 2;
pub const SESSIONS_SERVED: usize = 3;
pub const SESSION_RENEWALS: usize = 4;
pub const REFRESH_GRANTS: usize = 5;
pub const LOGOUTS: usize = 6;
pub const BEARER_VERDICTS: usize = 7;
pub const BEARER_REJECTIONS: usize = 8;
pub const TOKEN_CACHE: usize = 9;
pub const OP_REQUESTS: usize = 10;
pub const OP_DURATION: usize = 11;
pub const OP_ERRORS: usize = 12;
pub const DOCUMENT_REFRESHES: usize = 13;
pub const STALE_DOCUMENTS: usize = 14;
pub const STORE_CALLS: usize = 15;
pub const STORE_ERRORS: usize = 16;

/// Families counted per provider (label `provider`: the `oidc_provider` block's name).
pub const PROVIDER_FAMILIES: &[Family] = &[
    counter("auth_oidc_login_redirects_total", "Browsers sent to the OP to log in.", &[]),
    counter("auth_oidc_logins_total", "Logins completed: a session was created at the redirect URI.", &[]),
    counter(
        "auth_oidc_login_failures_total",
        "Callbacks at the redirect URI that did not log in, by the log's reason word.",
        &[label("reason", reasons::LOGIN)],
    ),
    counter(
        "auth_oidc_sessions_served_total",
        "Requests that came with a valid session: found in the worker's cache of sessions already opened, or opened in full.",
        &[label("source", SessionSource::WORDS)],
    ),
    counter("auth_oidc_session_renewals_total", "Sessions whose access token was renewed with the refresh token.", &[]),
    counter(
        "auth_oidc_refresh_grants_total",
        "Refresh token grants sent to the OP, by outcome (refused: invalid_grant, the session ended).",
        &[label("outcome", RefreshOutcome::WORDS)],
    ),
    counter("auth_oidc_logouts_total", "Sessions ended by logout, by kind.", &[label("kind", LogoutKind::WORDS)]),
    counter(
        "auth_oidc_bearer_verdicts_total",
        "Requests with a bearer token, by outcome (unavailable: the OP or its keys could not be reached, 503).",
        &[label("outcome", BearerOutcome::WORDS)],
    ),
    counter(
        "auth_oidc_bearer_rejections_total",
        "Bearer tokens refused, by the log's reason word.",
        &[label("reason", reasons::BEARER)],
    ),
    counter(
        "auth_oidc_token_cache_lookups_total",
        "Bearer token verdicts looked up: found in the worker's cache, in the shared zone, or missed (checked afresh).",
        &[label("result", TokenCacheResult::WORDS)],
    ),
    counter("auth_oidc_op_requests_total", "Requests sent to the OP, by endpoint.", &[label("endpoint", Endpoint::WORDS)]),
    Family {
        name: "auth_oidc_op_request_duration_seconds",
        help: "Time from sending a request to the OP to its answer (or failure), by endpoint.",
        kind: Kind::Histogram,
        labels: &[label("endpoint", Endpoint::WORDS)],
    },
    counter(
        "auth_oidc_op_errors_total",
        "Requests to the OP that failed, by endpoint and kind (http_4xx / http_5xx: the OP answered with that status).",
        &[label("endpoint", Endpoint::WORDS), label("kind", super::op_error::OpErrorKind::WORDS)],
    ),
    counter(
        "auth_oidc_document_refreshes_total",
        "Fetches of the OP's discovery document and key set, by outcome.",
        &[label("document", Document::WORDS), label("outcome", FetchOutcome::WORDS)],
    ),
    counter(
        "auth_oidc_stale_documents_served_total",
        "Uses of a cached document past its expiry (within cache_stale) while it is refreshed or the OP is down.",
        &[label("document", Document::WORDS)],
    ),
    counter(
        "auth_oidc_session_store_calls_total",
        "Server-side session store operations, by store and operation.",
        &[label("store", StoreKind::WORDS), label("op", StoreOp::WORDS)],
    ),
    counter(
        "auth_oidc_session_store_errors_total",
        "Server-side session store operations that failed (store down, slow, or full).",
        &[label("store", StoreKind::WORDS), label("op", StoreOp::WORDS)],
    ),
];

// Family indices in GLOBAL_FAMILIES.
pub const ZONE_EVICTIONS: usize = 0;

/// Families of the whole shared zone (no `provider` label).
pub const GLOBAL_FAMILIES: &[Family] = &[counter(
    "auth_oidc_zone_evictions_total",
    "Entries of oidc_shared_zone dropped before their expiry to make room, by table.",
    &[label("table", ZoneTable::WORDS)],
)];

/// Slots of provider events.
pub mod slot {
    use super::*;
    use crate::metrics::op_error::OpErrorKind;

    pub const fn login_redirect() -> usize {
        PROVIDER_OFFSETS[LOGIN_REDIRECTS]
    }
    pub const fn login() -> usize {
        PROVIDER_OFFSETS[LOGINS]
    }
    /// A failed login; a reason word not in `reasons::LOGIN` counts as `other`.
    pub fn login_failure(reason: &str) -> usize {
        PROVIDER_OFFSETS[LOGIN_FAILURES] + reasons::login_index(reason)
    }
    pub const fn session_served(s: SessionSource) -> usize {
        PROVIDER_OFFSETS[SESSIONS_SERVED] + s as usize
    }
    pub const fn session_renewal() -> usize {
        PROVIDER_OFFSETS[SESSION_RENEWALS]
    }
    pub const fn refresh_grant(o: RefreshOutcome) -> usize {
        PROVIDER_OFFSETS[REFRESH_GRANTS] + o as usize
    }
    pub const fn logout(k: LogoutKind) -> usize {
        PROVIDER_OFFSETS[LOGOUTS] + k as usize
    }
    pub const fn bearer_verdict(o: BearerOutcome) -> usize {
        PROVIDER_OFFSETS[BEARER_VERDICTS] + o as usize
    }
    /// A refused bearer token; a reason word not in `reasons::BEARER` counts as `other`.
    pub fn bearer_rejection(reason: &str) -> usize {
        PROVIDER_OFFSETS[BEARER_REJECTIONS] + reasons::bearer_index(reason)
    }
    pub const fn token_cache(r: TokenCacheResult) -> usize {
        PROVIDER_OFFSETS[TOKEN_CACHE] + r as usize
    }
    pub const fn op_request(e: Endpoint) -> usize {
        PROVIDER_OFFSETS[OP_REQUESTS] + e as usize
    }
    /// The bucket slot of one observed duration.
    pub fn op_duration_bucket(e: Endpoint, micros: u64) -> usize {
        PROVIDER_OFFSETS[OP_DURATION] + e as usize * HISTOGRAM_SLOTS + bucket_of(micros)
    }
    /// The slot summing the durations (microseconds).
    pub const fn op_duration_sum(e: Endpoint) -> usize {
        PROVIDER_OFFSETS[OP_DURATION] + e as usize * HISTOGRAM_SLOTS + HISTOGRAM_SLOTS - 1
    }
    pub const fn op_error(e: Endpoint, k: OpErrorKind) -> usize {
        PROVIDER_OFFSETS[OP_ERRORS] + e as usize * OpErrorKind::WORDS.len() + k as usize
    }
    pub const fn document_refresh(d: Document, o: FetchOutcome) -> usize {
        PROVIDER_OFFSETS[DOCUMENT_REFRESHES] + d as usize * FetchOutcome::WORDS.len() + o as usize
    }
    pub const fn stale_document(d: Document) -> usize {
        PROVIDER_OFFSETS[STALE_DOCUMENTS] + d as usize
    }
    pub const fn store_call(s: StoreKind, op: StoreOp) -> usize {
        PROVIDER_OFFSETS[STORE_CALLS] + s as usize * StoreOp::WORDS.len() + op as usize
    }
    pub const fn store_error(s: StoreKind, op: StoreOp) -> usize {
        PROVIDER_OFFSETS[STORE_ERRORS] + s as usize * StoreOp::WORDS.len() + op as usize
    }

    /// Zone-wide: an eviction.
    pub const fn zone_eviction(t: ZoneTable) -> usize {
        GLOBAL_OFFSETS[ZONE_EVICTIONS] + t as usize
    }
}

//! Names of a provider's entries in a Redis store. Every name carries a hash of the
//! provider's issuer and client, so providers sharing a store never meet, and only
//! hashes: the store never learns a cookie's reference or a token.

use oidc_core::session_ref::{hex, SessionRef};

/// Keys of sessions start with this: it is the prefix Redis client tracking watches.
pub const SESSION_PREFIX: &str = "oidc:s:";

fn provider_tag(purpose: &[u8]) -> String {
    hex(&crate::cache::key_hash(&[purpose]).to_be_bytes())
}

/// A session's key.
pub fn session(purpose: &[u8], r: &SessionRef) -> String {
    format!("{SESSION_PREFIX}{}:{}", provider_tag(purpose), r.store_id(purpose))
}

/// The single-flight lock of a refresh (by the hash of the refresh token).
pub fn refresh_lock(purpose: &[u8], refresh_key: &[u8; 32]) -> String {
    format!("oidc:l:{}:{}", provider_tag(purpose), hex(&refresh_key[..16]))
}

/// The grace entry of a finished refresh (by the hash of the old refresh token).
pub fn refresh_grace(purpose: &[u8], refresh_key: &[u8; 32]) -> String {
    format!("oidc:g:{}:{}", provider_tag(purpose), hex(&refresh_key[..16]))
}

/// The index set of a provider's sessions with one `sid` or `sub` tag (see
/// `oidc_core::session_tags`): what a logout started by the OP ends.
pub fn index(purpose: &[u8], kind: oidc_core::session_tags::TagKind, tag: u64) -> String {
    format!("oidc:i:{}:{}:{tag:016x}", provider_tag(purpose), kind.word())
}

/// The session id (hex) at the end of a session key.
pub fn store_id_of(key: &str) -> Option<&str> {
    key.strip_prefix(SESSION_PREFIX)?.rsplit(':').next()
}

/// A logout token's `jti`, remembered while the token could be replayed.
pub fn logout_jti(purpose: &[u8], jti_hash: &[u8; 32]) -> String {
    format!("oidc:j:{}:{}", provider_tag(purpose), hex(&jti_hash[..16]))
}

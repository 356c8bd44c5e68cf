//! Caching what a bearer token was found to be, so a token seen again costs a lookup
//! instead of a signature check or an introspection round trip. The key is a hash of
//! the token, never the token: the shared-memory zone can be dumped, and a cache entry
//! must not be usable as a credential. The entry is bytes the glue stores as they are.

use sha2::{Digest, Sha256};

use crate::token::{Claims, TokenError};

/// The SHA-256 of a token within a namespace.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenCacheKey(pub [u8; 32]);

impl TokenCacheKey {
    /// `namespace` separates results that depend on configuration: the provider, and
    /// whatever validation rules differ between the places that share the zone
    /// (accepted audiences, `at+jwt` required). Per-location authorization rules are not
    /// part of it; they run on the cached claims.
    pub fn new(namespace: &str, token: &str) -> TokenCacheKey {
        let mut h = Sha256::new();
        // Length-prefixed, so no namespace/token split can collide with another.
        h.update((namespace.len() as u64).to_be_bytes());
        h.update(namespace.as_bytes());
        h.update(token.as_bytes());
        TokenCacheKey(h.finalize().into())
    }

    /// The first 8 bytes, for a red-black tree node key; compare the full key on a hit.
    pub fn short(&self) -> u64 {
        let mut first = [0; 8];
        first.copy_from_slice(&self.0[..8]);
        u64::from_be_bytes(first)
    }
}

impl std::fmt::Debug for TokenCacheKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenCacheKey({:016x}..)", self.short())
    }
}

/// How long results are kept, in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheLifetimes {
    /// The upper bound for a valid token: a revoked token stays accepted this long.
    pub max_ttl: u64,
    /// For a valid token without `exp` (introspection answers may have none); 0 keeps
    /// such results out of the cache.
    pub default_ttl: u64,
    /// For a refused token: short, so a client that retries while its token is being
    /// reissued does not hammer us, and a mistake on the OP side heals quickly.
    pub refused_ttl: u64,
}

impl CacheLifetimes {
    /// How long a valid result may be used: until the token expires, at most `max_ttl`.
    pub fn valid_for(&self, exp: Option<u64>, now: u64) -> u64 {
        match exp {
            Some(exp) => exp.saturating_sub(now).min(self.max_ttl),
            None => self.default_ttl.min(self.max_ttl),
        }
    }

    pub fn refused_for(&self) -> u64 {
        self.refused_ttl
    }
}

/// Whether a refusal is a fact about the token that the next request would find again.
/// An unknown key or a missing one is not: the key set may be refreshed meanwhile.
pub fn refusal_is_cacheable(e: &TokenError) -> bool {
    !matches!(e, TokenError::UnknownKid(_) | TokenError::NoKey(_))
}

/// Claims larger than this are not cached (the token is still accepted): the zone is
/// shared by every token and document.
pub const MAX_CACHED_CLAIMS_LEN: usize = 16 * 1024;

/// Longest reason word and description kept with a refusal.
const MAX_REFUSAL_TEXT: usize = 200;

// The first byte of an entry says what it is and in which layout. A new layout takes a
// new tag, so an entry written by another build of the module reads as a miss.
const TAG_VALID: u8 = 1;
const TAG_REFUSED: u8 = 2;

#[derive(Debug, Clone, PartialEq)]
pub enum CachedResult {
    /// The token was accepted with these claims; `exp` as the token said.
    Valid { exp: Option<u64>, claims: Claims },
    /// The token was refused: the log's reason word and the `error_description`.
    Refused { reason: String, description: String },
}

/// `[TAG_VALID, has_exp, exp (8 bytes, big-endian), claims JSON...]`; `None` when the
/// claims are too large to cache.
pub fn encode_valid(exp: Option<u64>, claims: &Claims) -> Option<Vec<u8>> {
    let json = serde_json::to_vec(claims).ok()?;
    if json.len() > MAX_CACHED_CLAIMS_LEN {
        return None;
    }
    let mut out = Vec::with_capacity(10 + json.len());
    out.push(TAG_VALID);
    out.push(exp.is_some() as u8);
    out.extend_from_slice(&exp.unwrap_or(0).to_be_bytes());
    out.extend_from_slice(&json);
    Some(out)
}

/// `[TAG_REFUSED, reason length, reason..., description...]`, both printable ASCII and
/// bounded (they come from our own messages, but may quote the OP).
pub fn encode_refused(reason: &str, description: &str) -> Vec<u8> {
    let reason = printable(reason);
    let description = printable(description);
    let mut out = Vec::with_capacity(2 + reason.len() + description.len());
    out.push(TAG_REFUSED);
    out.push(reason.len() as u8);
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(description.as_bytes());
    out
}

fn printable(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_graphic() || *c == ' ').take(MAX_REFUSAL_TEXT).collect()
}

/// Reads an entry back; `None` for anything this build did not write (a miss).
pub fn decode(entry: &[u8]) -> Option<CachedResult> {
    match entry.split_first()? {
        (&TAG_VALID, rest) if rest.len() >= 9 => {
            let exp = u64::from_be_bytes(rest[1..9].try_into().ok()?);
            let exp = match rest[0] {
                0 => None,
                1 => Some(exp),
                _ => return None,
            };
            let claims = serde_json::from_slice(&rest[9..]).ok()?;
            Some(CachedResult::Valid { exp, claims })
        }
        (&TAG_REFUSED, rest) => {
            let (&len, rest) = rest.split_first()?;
            let reason = std::str::from_utf8(rest.get(..len as usize)?).ok()?;
            let description = std::str::from_utf8(&rest[len as usize..]).ok()?;
            Some(CachedResult::Refused { reason: reason.into(), description: description.into() })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: serde_json::Value) -> Claims {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn key_is_a_hash_of_namespace_and_token() {
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln";
        let k = TokenCacheKey::new("op1", token);
        assert_eq!(k, TokenCacheKey::new("op1", token), "stable");
        assert_ne!(k, TokenCacheKey::new("op2", token), "per namespace");
        assert_ne!(k, TokenCacheKey::new("op1", "other"));
        assert_ne!(TokenCacheKey::new("ab", "c"), TokenCacheKey::new("a", "bc"), "no split collisions");
        // SHA-256 of (8-byte length, namespace, token).
        let mut input = 3u64.to_be_bytes().to_vec();
        input.extend_from_slice(b"op1");
        input.extend_from_slice(token.as_bytes());
        assert_eq!(k.0, <[u8; 32]>::from(Sha256::digest(&input)));
        assert_eq!(k.short().to_be_bytes(), k.0[..8]);
    }

    #[test]
    fn key_never_shows_the_token() {
        let token = "abcdefgh";
        let k = TokenCacheKey::new("", token);
        assert!(!k.0.windows(token.len()).any(|w| w == token.as_bytes()));
        assert!(!format!("{k:?}").contains(token));
    }

    #[test]
    fn lifetimes() {
        let l = CacheLifetimes { max_ttl: 300, default_ttl: 0, refused_ttl: 10 };
        assert_eq!(l.valid_for(Some(1100), 1000), 100, "until exp");
        assert_eq!(l.valid_for(Some(9000), 1000), 300, "at most max_ttl");
        assert_eq!(l.valid_for(Some(999), 1000), 0, "already expired (accepted within skew)");
        assert_eq!(l.valid_for(None, 1000), 0, "no exp and no default: not cached");
        let with_default = CacheLifetimes { default_ttl: 60, ..l };
        assert_eq!(with_default.valid_for(None, 1000), 60);
        assert_eq!(CacheLifetimes { default_ttl: 600, ..l }.valid_for(None, 1000), 300);
        assert_eq!(l.refused_for(), 10);
    }

    #[test]
    fn which_refusals_are_cached() {
        assert!(refusal_is_cacheable(&TokenError::Expired { exp: 1, now: 2 }));
        assert!(refusal_is_cacheable(&TokenError::BadSignature("x".into())));
        assert!(!refusal_is_cacheable(&TokenError::UnknownKid("k".into())), "key rotation");
        assert!(!refusal_is_cacheable(&TokenError::NoKey("x".into())));
    }

    #[test]
    fn valid_round_trip() {
        let c = claims(json!({"sub": "alice", "scope": "read", "groups": ["a", "b"], "exp": 1234}));
        let bytes = encode_valid(Some(1234), &c).unwrap();
        assert_eq!(decode(&bytes), Some(CachedResult::Valid { exp: Some(1234), claims: c.clone() }));
        let bytes = encode_valid(None, &c).unwrap();
        assert_eq!(decode(&bytes), Some(CachedResult::Valid { exp: None, claims: c }));
        let empty = encode_valid(None, &Claims::new()).unwrap();
        assert_eq!(decode(&empty), Some(CachedResult::Valid { exp: None, claims: Claims::new() }));
    }

    #[test]
    fn large_claims_are_not_cached() {
        let c = claims(json!({"blob": "x".repeat(MAX_CACHED_CLAIMS_LEN)}));
        assert_eq!(encode_valid(Some(1), &c), None);
    }

    #[test]
    fn refused_round_trip() {
        let bytes = encode_refused("expired", "the access token expired");
        let want = CachedResult::Refused { reason: "expired".into(), description: "the access token expired".into() };
        assert_eq!(decode(&bytes), Some(want));
        let bytes = encode_refused("x\n", &"d\u{0}é".repeat(500));
        let Some(CachedResult::Refused { reason, description }) = decode(&bytes) else { panic!() };
        assert_eq!(reason, "x");
        assert_eq!(description, "d".repeat(MAX_REFUSAL_TEXT));
    }

    #[test]
    fn foreign_entries_are_misses() {
        assert_eq!(decode(b""), None);
        assert_eq!(decode(&[9, 0, 0]), None, "unknown tag");
        assert_eq!(decode(&[TAG_VALID, 0, 0]), None, "truncated");
        assert_eq!(decode(&[TAG_VALID, 2, 0, 0, 0, 0, 0, 0, 0, 0, b'{', b'}']), None, "bad flag");
        assert_eq!(decode(&[TAG_VALID, 0, 0, 0, 0, 0, 0, 0, 0, 0, b'[', b']']), None, "claims not an object");
        assert_eq!(decode(&[TAG_REFUSED]), None);
        assert_eq!(decode(&[TAG_REFUSED, 5, b'a']), None, "reason longer than the entry");
    }
}

//! Server-side sessions (`session_store zone | redis...`): the cookie carries only a
//! reference, 128 random bits sealed with AES-GCM (so it cannot be forged or guessed),
//! and the session itself lives in the store, sealed with the same keys.
//!
//! - The store key is a hash of the reference, never the reference: a dump of the store
//!   (or a log of its commands) gives nothing that opens a session.
//! - The stored value is sealed for "this provider and this reference", so a value copied
//!   to another key, or to another provider's store, does not open.

use sha2::{Digest, Sha256};

use crate::cookie_cipher::{CipherError, CookieCipher};
use crate::random;
use crate::session::Session;

pub const REF_LEN: usize = 16;

/// The random reference a session cookie holds.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SessionRef([u8; REF_LEN]);

impl std::fmt::Debug for SessionRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A reference is as good as the cookie: never printed.
        f.write_str("SessionRef(..)")
    }
}

/// Why a reference cookie or a stored value did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefError {
    Cipher(CipherError),
    /// Opened, but not a reference (e.g. a cookie session sent to a store provider).
    NotARef,
    /// The stored value opened but is not a session.
    Invalid,
}

impl RefError {
    pub fn reason(&self) -> &'static str {
        match self {
            RefError::Cipher(e) => e.reason(),
            RefError::NotARef => "session_not_a_reference",
            RefError::Invalid => "session_invalid",
        }
    }
}

/// A provider's view of its store: the cipher and the binding of values to it.
pub struct StoredSessions<'a> {
    pub cipher: &'a CookieCipher,
    /// The provider's session purpose (issuer and client).
    pub purpose: &'a [u8],
}

const REF_TAG: &[u8] = b"\nref";
const VALUE_TAG: &[u8] = b"\nstored\n";
/// Marks the plaintext of a reference cookie (a cookie session never starts with it: its
/// plaintext is JSON).
const REF_MAGIC: u8 = 0xa5;

impl SessionRef {
    pub fn random() -> Result<SessionRef, random::RandomError> {
        let mut id = [0u8; REF_LEN];
        random::fill(&mut id)?;
        Ok(SessionRef(id))
    }

    /// A hash of the reference, in hex, unique per provider: the store key's tail (the
    /// first half of `zone_key`).
    pub fn store_id(&self, provider_purpose: &[u8]) -> String {
        hex(&self.zone_key(provider_purpose)[..STORE_ID_LEN])
    }

    /// The 32-byte hash of the reference the stores know a session by (the shared
    /// zone's table key; its first half names the Redis key and binds the value).
    pub fn zone_key(&self, provider_purpose: &[u8]) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"oidc session store key\n");
        h.update(provider_purpose);
        h.update([0]);
        h.update(self.0);
        h.finalize().into()
    }

    /// What a stored value is bound to.
    pub fn store_binding(&self, provider_purpose: &[u8]) -> [u8; STORE_ID_LEN] {
        let mut b = [0u8; STORE_ID_LEN];
        b.copy_from_slice(&self.zone_key(provider_purpose)[..STORE_ID_LEN]);
        b
    }
}

/// Bytes of the store id (the hash naming a session in a store).
pub const STORE_ID_LEN: usize = 16;

/// The binding of a value found in a store by its name alone (a session ended by a
/// logout the OP started, whose reference is not known): the zone table key's first
/// half, or the Redis key's hex tail.
pub fn binding_of_zone_key(key: &[u8; 32]) -> [u8; STORE_ID_LEN] {
    let mut b = [0u8; STORE_ID_LEN];
    b.copy_from_slice(&key[..STORE_ID_LEN]);
    b
}

pub fn binding_of_store_id(hex_id: &str) -> Option<[u8; STORE_ID_LEN]> {
    if hex_id.len() != 2 * STORE_ID_LEN {
        return None;
    }
    let mut b = [0u8; STORE_ID_LEN];
    for (i, chunk) in hex_id.as_bytes().chunks(2).enumerate() {
        let s = std::str::from_utf8(chunk).ok()?;
        b[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(b)
}

impl StoredSessions<'_> {
    fn ref_purpose(&self) -> Vec<u8> {
        [self.purpose, REF_TAG].concat()
    }

    /// Values are bound to the store id rather than to the reference itself, so that a
    /// logout the OP starts (which knows no cookie) can still open the sessions it ends
    /// to revoke their tokens; a value moved to another key still does not open.
    fn value_purpose(&self, binding: &[u8; STORE_ID_LEN]) -> Vec<u8> {
        [self.purpose, VALUE_TAG, binding].concat()
    }

    /// The cookie value for a reference.
    pub fn seal_ref(&self, r: &SessionRef) -> Result<String, CipherError> {
        let mut plain = [0u8; REF_LEN + 1];
        plain[0] = REF_MAGIC;
        plain[1..].copy_from_slice(&r.0);
        self.cipher.seal(&self.ref_purpose(), &plain)
    }

    /// The reference a cookie holds.
    pub fn open_ref(&self, sealed: &str) -> Result<SessionRef, RefError> {
        let plain = self.cipher.open(&self.ref_purpose(), sealed).map_err(RefError::Cipher)?;
        if plain.len() != REF_LEN + 1 || plain[0] != REF_MAGIC {
            return Err(RefError::NotARef);
        }
        let mut id = [0u8; REF_LEN];
        id.copy_from_slice(&plain[1..]);
        Ok(SessionRef(id))
    }

    /// The value stored for a session.
    pub fn seal_value(&self, r: &SessionRef, session: &Session) -> Result<Vec<u8>, CipherError> {
        self.cipher.seal(&self.value_purpose(&r.store_binding(self.purpose)), &session.encode()).map(String::into_bytes)
    }

    /// The session a stored value holds.
    pub fn open_value(&self, r: &SessionRef, value: &[u8]) -> Result<Session, RefError> {
        self.open_value_bound(&r.store_binding(self.purpose), value)
    }

    /// The session a stored value holds, found by its store name (see `binding_of_*`).
    pub fn open_value_bound(&self, binding: &[u8; STORE_ID_LEN], value: &[u8]) -> Result<Session, RefError> {
        let text = std::str::from_utf8(value).map_err(|_| RefError::Cipher(CipherError::Malformed))?;
        let plain = self.cipher.open(&self.value_purpose(binding), text).map_err(RefError::Cipher)?;
        Session::decode(&plain).map_err(|_| RefError::Invalid)
    }
}

/// A hash of a refresh token for the single-flight refresh tables (lease and grace map):
/// the token itself is never a key.
pub fn refresh_key(provider_purpose: &[u8], refresh_token: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"oidc refresh single-flight\n");
    h.update(provider_purpose);
    h.update([0]);
    h.update(refresh_token.as_bytes());
    h.finalize().into()
}

pub fn hex(bytes: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(D[(b >> 4) as usize] as char);
        s.push(D[(b & 15) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Claims;

    fn session() -> Session {
        Session {
            sub: "alice".into(),
            claims: Claims::new(),
            id_token: None,
            access_token: Some("secret-access-token".into()),
            refresh_token: None,
            access_expires_at: 0,
            userinfo: None,
            created_at: 1,
            expires_at: 2,
            last_seen: 1,
            sid: Some("sid-1".into()),
            iss: None,
        }
    }

    #[test]
    fn reference_round_trip_and_binding() {
        let c = CookieCipher::new(&[&[3u8; 32]]).unwrap();
        let s = StoredSessions { cipher: &c, purpose: b"p1" };
        let r = SessionRef::random().unwrap();
        let cookie = s.seal_ref(&r).unwrap();
        assert!(cookie.len() < 80, "a small cookie: {}", cookie.len());
        assert_eq!(s.open_ref(&cookie).unwrap(), r);
        let other = StoredSessions { cipher: &c, purpose: b"p2" };
        assert!(other.open_ref(&cookie).is_err(), "bound to its provider");
        assert_ne!(r.store_id(b"p1"), r.store_id(b"p2"));
        assert_eq!(r.store_id(b"p1").len(), 32);
        // A cookie session sealed for the same provider is not a reference.
        let not_ref = c.seal(&[b"p1".as_slice(), REF_TAG].concat(), b"{\"s\":\"x\"}").unwrap();
        assert_eq!(s.open_ref(&not_ref), Err(RefError::NotARef));
    }

    #[test]
    fn stored_values_are_sealed_and_bound_to_their_reference() {
        let c = CookieCipher::new(&[&[3u8; 32]]).unwrap();
        let s = StoredSessions { cipher: &c, purpose: b"p1" };
        let (r1, r2) = (SessionRef::random().unwrap(), SessionRef::random().unwrap());
        let v = s.seal_value(&r1, &session()).unwrap();
        let text = String::from_utf8(v.clone()).unwrap();
        assert!(!text.contains("secret-access-token") && !text.contains("alice"), "nothing in clear");
        assert_eq!(s.open_value(&r1, &v).unwrap(), session());
        assert!(s.open_value(&r2, &v).is_err(), "a value moved to another key does not open");
        assert!(s.open_value(&r1, b"\xff\xfe").is_err());
        // Found by its name alone (an OP-started logout): the zone key or the Redis id.
        let by_zone = binding_of_zone_key(&r1.zone_key(b"p1"));
        assert_eq!(s.open_value_bound(&by_zone, &v).unwrap(), session());
        let by_id = binding_of_store_id(&r1.store_id(b"p1")).unwrap();
        assert_eq!(s.open_value_bound(&by_id, &v).unwrap(), session());
        assert!(s.open_value_bound(&binding_of_zone_key(&r2.zone_key(b"p1")), &v).is_err());
        assert_eq!(binding_of_store_id("zz"), None);
    }
}

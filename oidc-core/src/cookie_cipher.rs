//! Authenticated encryption of cookie values (login state now, sessions later):
//! AES-256-GCM with keys derived by HKDF-SHA256 from the configured secrets. The first
//! secret seals; every secret opens, so a secret can be rotated without logging anyone
//! out. The cookie's purpose (its name) is bound in as associated data, so a value
//! cannot be moved from one cookie to another.
//!
//! Sealed layout, then base64url: version (1 byte) | key id (4) | nonce (12) | ciphertext+tag.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use std::fmt;

/// Secrets shorter than this are refused: they would be guessable offline from any cookie.
pub const MIN_SECRET_LEN: usize = 32;
const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;
const HKDF_INFO: &[u8] = b"ngx_http_auth_oidc_module cookie v1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherError {
    SecretTooShort,
    NoSecret,
    Random,
    /// Not base64url, too short, or an unknown version.
    Malformed,
    /// Sealed with a key we do not have (a removed secret, another deployment).
    UnknownKey,
    /// Authentication failed: tampered, truncated, or sealed for another purpose.
    Forged,
}

impl CipherError {
    /// The stable word for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            CipherError::SecretTooShort | CipherError::NoSecret => "bad_secret",
            CipherError::Random => "random_failed",
            CipherError::Malformed => "cookie_malformed",
            CipherError::UnknownKey => "cookie_unknown_key",
            CipherError::Forged => "cookie_forged",
        }
    }
}

impl fmt::Display for CipherError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CipherError::SecretTooShort => "every secret must be at least 32 bytes long",
            CipherError::NoSecret => "at least one secret is needed",
            CipherError::Random => "the system random number generator failed",
            CipherError::Malformed => "the value is not a sealed cookie",
            CipherError::UnknownKey => "the value was sealed with a key that is not configured",
            CipherError::Forged => "the value failed authentication",
        })
    }
}

impl std::error::Error for CipherError {}

struct Key {
    id: [u8; KEY_ID_LEN],
    aead: Aes256Gcm,
}

pub struct CookieCipher {
    /// keys[0] seals.
    keys: Vec<Key>,
}

impl fmt::Debug for CookieCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        write!(f, "CookieCipher({} keys)", self.keys.len())
    }
}

impl CookieCipher {
    pub fn new(secrets: &[&[u8]]) -> Result<Self, CipherError> {
        if secrets.is_empty() {
            return Err(CipherError::NoSecret);
        }
        let keys = secrets
            .iter()
            .map(|s| {
                if s.len() < MIN_SECRET_LEN {
                    return Err(CipherError::SecretTooShort);
                }
                let mut key = [0u8; 32];
                Hkdf::<Sha256>::new(None, s).expand(HKDF_INFO, &mut key).map_err(|_| CipherError::NoSecret)?;
                // The id tells which secret sealed a value without revealing anything
                // about the key: a hash of the derived key, truncated.
                let digest = Sha256::digest(key);
                let mut id = [0u8; KEY_ID_LEN];
                id.copy_from_slice(&digest[..KEY_ID_LEN]);
                let aead = Aes256Gcm::new_from_slice(&key).map_err(|_| CipherError::NoSecret)?;
                Ok(Key { id, aead })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(CookieCipher { keys })
    }

    /// Encrypts `plaintext` for a cookie used as `purpose`, with a fresh random nonce.
    pub fn seal(&self, purpose: &[u8], plaintext: &[u8]) -> Result<String, CipherError> {
        let key = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        crate::random::fill(&mut nonce).map_err(|_| CipherError::Random)?;
        let aad = aad(&key.id, &nonce, purpose);
        let sealed = key
            .aead
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plaintext, aad: &aad })
            .map_err(|_| CipherError::Malformed)?;
        let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&key.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(crate::b64::encode(&out))
    }

    /// Decrypts a value sealed for `purpose` by any configured secret.
    pub fn open(&self, purpose: &[u8], value: &str) -> Result<Vec<u8>, CipherError> {
        let raw = crate::b64::decode(value).ok_or(CipherError::Malformed)?;
        if raw.len() < HEADER_LEN + TAG_LEN || raw[0] != VERSION {
            return Err(CipherError::Malformed);
        }
        let (id, rest) = raw[1..].split_at(KEY_ID_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let key = self.keys.iter().find(|k| k.id == id).ok_or(CipherError::UnknownKey)?;
        let aad = aad(&key.id, nonce, purpose);
        key.aead
            .decrypt(Nonce::from_slice(nonce), Payload { msg: sealed, aad: &aad })
            .map_err(|_| CipherError::Forged)
    }
}

/// Associated data: the header (so version and key id cannot be altered) and the purpose.
fn aad(id: &[u8], nonce: &[u8], purpose: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(HEADER_LEN + purpose.len());
    aad.push(VERSION);
    aad.extend_from_slice(id);
    aad.extend_from_slice(nonce);
    aad.extend_from_slice(purpose);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    const S1: &[u8] = b"first-secret-0123456789abcdef0123456789";
    const S2: &[u8] = b"second-secret-0123456789abcdef012345678";

    #[test]
    fn round_trip() {
        let c = CookieCipher::new(&[S1]).unwrap();
        let v = c.seal(b"cookie", b"hello").unwrap();
        assert_eq!(c.open(b"cookie", &v).unwrap(), b"hello");
        assert_ne!(c.seal(b"cookie", b"hello").unwrap(), v, "nonces must differ");
    }

    #[test]
    fn short_or_missing_secrets_refused() {
        assert_eq!(CookieCipher::new(&[b"short"]).unwrap_err(), CipherError::SecretTooShort);
        assert_eq!(CookieCipher::new(&[]).unwrap_err(), CipherError::NoSecret);
    }

    #[test]
    fn rotation_first_seals_all_open() {
        let old = CookieCipher::new(&[S1]).unwrap();
        let rotated = CookieCipher::new(&[S2, S1]).unwrap();
        let v = old.seal(b"p", b"data").unwrap();
        assert_eq!(rotated.open(b"p", &v).unwrap(), b"data");
        let w = rotated.seal(b"p", b"data").unwrap();
        assert_eq!(old.open(b"p", &w).unwrap_err(), CipherError::UnknownKey);
    }

    #[test]
    fn purpose_is_bound() {
        let c = CookieCipher::new(&[S1]).unwrap();
        let v = c.seal(b"state_a", b"x").unwrap();
        assert_eq!(c.open(b"state_b", &v).unwrap_err(), CipherError::Forged);
    }

    #[test]
    fn every_tampering_and_truncation_is_refused() {
        let c = CookieCipher::new(&[S1]).unwrap();
        let v = c.seal(b"p", b"some session data").unwrap();
        let raw = crate::b64::decode(&v).unwrap();
        for i in 0..raw.len() {
            for bit in [0x01u8, 0x80] {
                let mut t = raw.clone();
                t[i] ^= bit;
                assert!(c.open(b"p", &crate::b64::encode(&t)).is_err(), "flip at {i}");
            }
        }
        for len in 0..raw.len() {
            assert!(c.open(b"p", &crate::b64::encode(&raw[..len])).is_err(), "truncated to {len}");
        }
        assert_eq!(c.open(b"p", "!!!").unwrap_err(), CipherError::Malformed);
        assert_eq!(c.open(b"p", "").unwrap_err(), CipherError::Malformed);
    }
}

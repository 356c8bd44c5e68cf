//! What one login attempt must remember between the redirect to the OP and the
//! callback: state, nonce, PKCE verifier and the URL the user asked for. It travels in
//! its own sealed cookie named after the state, so several tabs can log in at once.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::pkce::{self, Pkce};
use crate::random::{self, RandomError};

/// Characters of the state hash in the cookie name (72 bits: collisions between a
/// browser's few concurrent attempts are out of the question).
const NAME_ID_LEN: usize = 12;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginState {
    #[serde(rename = "s")]
    pub state: String,
    #[serde(rename = "n")]
    pub nonce: String,
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    pub code_verifier: Option<String>,
    #[serde(rename = "r")]
    pub return_to: String,
    #[serde(rename = "t")]
    pub issued_at: u64,
}

impl LoginState {
    /// A new attempt with fresh random state and nonce (256 bits each), and a PKCE pair
    /// when `pkce` is set.
    pub fn new(return_to: &str, pkce: bool, now: u64) -> Result<(LoginState, Option<Pkce>), RandomError> {
        let pkce = if pkce { Some(pkce::generate()?) } else { None };
        let state = LoginState {
            state: random::token(32)?,
            nonce: random::token(32)?,
            code_verifier: pkce.as_ref().map(|p| p.verifier.clone()),
            return_to: return_to.to_owned(),
            issued_at: now,
        };
        Ok((state, pkce))
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a struct of strings always serializes")
    }

    pub fn decode(bytes: &[u8]) -> Result<LoginState, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Whether the attempt is older than `ttl` seconds (or claims to come from the future,
    /// which only a clock step or a forged value can cause).
    pub fn is_expired(&self, now: u64, ttl: u64) -> bool {
        self.issued_at > now.saturating_add(60) || now >= self.issued_at.saturating_add(ttl)
    }
}

/// The name of the state cookie for `state`: `<prefix>_<hash>`.
pub fn cookie_name(prefix: &str, state: &str) -> String {
    let digest = Sha256::digest(state.as_bytes());
    let mut id = crate::b64::encode(&digest);
    id.truncate(NAME_ID_LEN);
    format!("{prefix}_{id}")
}

/// Whether `name` is one of our state cookies under `prefix`.
pub fn is_state_cookie_name(prefix: &str, name: &str) -> bool {
    name.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|id| id.len() == NAME_ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode() {
        let (s, p) = LoginState::new("/app?x=1", true, 1000).unwrap();
        assert_eq!(s.code_verifier.as_deref(), p.as_ref().map(|p| p.verifier.as_str()));
        assert_eq!(LoginState::decode(&s.encode()).unwrap(), s);
        let (s, p) = LoginState::new("/", false, 1000).unwrap();
        assert!(p.is_none() && s.code_verifier.is_none());
        assert_eq!(LoginState::decode(&s.encode()).unwrap(), s);
        assert!(LoginState::decode(b"{}").is_err());
    }

    #[test]
    fn fresh_values_each_time() {
        let (a, _) = LoginState::new("/", true, 0).unwrap();
        let (b, _) = LoginState::new("/", true, 0).unwrap();
        assert_ne!(a.state, b.state);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.code_verifier, b.code_verifier);
    }

    #[test]
    fn expiry() {
        let (s, _) = LoginState::new("/", false, 1000).unwrap();
        assert!(!s.is_expired(1000, 600));
        assert!(!s.is_expired(1599, 600));
        assert!(s.is_expired(1600, 600));
        assert!(s.is_expired(900, 600), "issued in the future");
    }

    #[test]
    fn cookie_names() {
        let n = cookie_name("NGX_OIDC_SESSION_state", "abc");
        assert!(is_state_cookie_name("NGX_OIDC_SESSION_state", &n));
        assert_ne!(n, cookie_name("NGX_OIDC_SESSION_state", "abd"));
        assert!(!is_state_cookie_name("NGX_OIDC_SESSION_state", "NGX_OIDC_SESSION"));
        assert!(!is_state_cookie_name("NGX_OIDC_SESSION_state", "NGX_OIDC_SESSION_state_x"));
        assert!(!is_state_cookie_name("NGX_OIDC_SESSION_state", "other"));
    }
}

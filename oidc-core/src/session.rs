//! What a browser session holds, and its lifetimes. It travels sealed in cookies (see
//! `cookie_cipher` and `cookie_chunks`), so it is kept small: the identity and only
//! the tokens and claims the configuration asks for.

use serde::{Deserialize, Serialize};

use crate::token::Claims;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// Subject (the `sub` claim).
    #[serde(rename = "s")]
    pub sub: String,
    /// The claims kept for `$oidc_claim_*` (a configured subset of the ID token's and
    /// userinfo's claims).
    #[serde(rename = "c", default)]
    pub claims: Claims,
    #[serde(rename = "i", default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(rename = "a", default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(rename = "r", default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// When the access token expires (0: unknown).
    #[serde(rename = "ae", default)]
    pub access_expires_at: u64,
    /// The userinfo response, as JSON text, when kept.
    #[serde(rename = "u", default, skip_serializing_if = "Option::is_none")]
    pub userinfo: Option<String>,
    /// Login time.
    #[serde(rename = "t")]
    pub created_at: u64,
    /// Absolute end of the session.
    #[serde(rename = "e")]
    pub expires_at: u64,
    /// Last time the cookie was re-issued; the idle timeout counts from here.
    #[serde(rename = "l")]
    pub last_seen: u64,
    /// The OP's session id (`sid` of the ID token), for logout started by the OP.
    #[serde(rename = "sid", default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The ID token's issuer, when it is not the provider's one (multi-tenant OPs).
    #[serde(rename = "iss", default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionState {
    Valid,
    /// Valid, but old enough that the cookie should be re-issued to move the idle clock.
    ValidTouch,
    Expired,
    Idle,
}

impl Session {
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a session always serializes")
    }

    pub fn decode(bytes: &[u8]) -> Result<Session, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Checks the absolute and idle lifetimes (`idle` 0 = no idle timeout). The idle
    /// clock is moved by re-issuing the cookie, which is done at most once per tenth of
    /// the idle timeout (and per minute), not on every request.
    pub fn state(&self, now: u64, idle: u64) -> SessionState {
        self.times().state(now, idle)
    }

    pub fn times(&self) -> SessionTimes {
        let renewable = self.refresh_token.is_some() && self.access_token.is_some() && self.access_expires_at != 0;
        SessionTimes {
            created_at: self.created_at,
            expires_at: self.expires_at,
            last_seen: self.last_seen,
            // Renew a little before the access token expires, so the upstream never
            // receives one that dies in flight.
            refresh_at: if renewable { self.access_expires_at.saturating_sub(REFRESH_AHEAD) } else { 0 },
        }
    }
}

/// The lifetimes of a session, which is all a cached, already decoded session needs to
/// be checked again.
/// Seconds before the access token's expiry when it is renewed.
pub const REFRESH_AHEAD: u64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimes {
    pub created_at: u64,
    pub expires_at: u64,
    pub last_seen: u64,
    /// When the kept access token should be renewed with the refresh token (0: never).
    pub refresh_at: u64,
}

impl SessionTimes {
    pub fn refresh_due(&self, now: u64) -> bool {
        self.refresh_at != 0 && now >= self.refresh_at
    }

    pub fn state(&self, now: u64, idle: u64) -> SessionState {
        if now >= self.expires_at || self.created_at > now.saturating_add(60) {
            return SessionState::Expired;
        }
        if idle > 0 {
            if now >= self.last_seen.saturating_add(idle) {
                return SessionState::Idle;
            }
            if now >= self.last_seen.saturating_add((idle / 10).max(60).min(idle / 2)) {
                return SessionState::ValidTouch;
            }
        }
        SessionState::Valid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn session() -> Session {
        let mut claims = Claims::new();
        claims.insert("email".into(), json!("alice@example.org"));
        Session {
            sub: "alice".into(),
            claims,
            id_token: Some("x.y.z".into()),
            access_token: None,
            refresh_token: None,
            access_expires_at: 0,
            userinfo: None,
            created_at: 1000,
            expires_at: 1000 + 8 * 3600,
            last_seen: 1000,
            sid: None,
            iss: None,
        }
    }

    /// A claim's number survives storing and reading back exactly, however many digits
    /// it has (found by fuzzing: without serde_json's float_roundtrip, 1.79623544222222222e53
    /// came back one unit of the last place off, so a stored session differed from the
    /// one written).
    #[test]
    fn numbers_in_claims_round_trip_exactly() {
        let mut s = session();
        s.claims.insert("t".into(), serde_json::from_str("179623544222222222222222222222222222222222222222222221").unwrap());
        s.claims.insert("f".into(), json!(0.1 + 0.2));
        let once = Session::decode(&s.encode()).unwrap();
        assert_eq!(once.encode(), s.encode());
        assert_eq!(once, s);
    }

    #[test]
    fn round_trip_and_compact() {
        let s = session();
        let bytes = s.encode();
        assert_eq!(Session::decode(&bytes).unwrap(), s);
        assert!(!String::from_utf8(bytes).unwrap().contains("access"), "absent tokens take no room");
    }

    #[test]
    fn lifetimes() {
        let s = session();
        assert_eq!(s.state(1000, 0), SessionState::Valid);
        assert_eq!(s.state(1000 + 8 * 3600, 0), SessionState::Expired);
        assert_eq!(s.state(1000 + 1799, 1800), SessionState::ValidTouch);
        assert_eq!(s.state(1000 + 100, 1800), SessionState::Valid);
        assert_eq!(s.state(1000 + 180, 1800), SessionState::ValidTouch);
        assert_eq!(s.state(1000 + 1800, 1800), SessionState::Idle);
        assert_eq!(s.state(800, 0), SessionState::Expired, "created in the future");
    }

    #[test]
    fn refresh_when_a_kept_access_token_nears_expiry() {
        let mut s = session();
        assert!(!s.times().refresh_due(u64::MAX - 1), "nothing to refresh");
        s.access_token = Some("at".into());
        s.refresh_token = Some("rt".into());
        s.access_expires_at = 1300;
        assert!(!s.times().refresh_due(1200));
        assert!(s.times().refresh_due(1300 - REFRESH_AHEAD));
        s.refresh_token = None;
        assert!(!s.times().refresh_due(2000), "no refresh token: nothing to do");
    }
}

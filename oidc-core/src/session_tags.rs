//! What a logout started by the OP names a session by: its `sid`, or its subject (`sub`),
//! each unique per issuer. Stores index sessions by hashes of these (never the values),
//! and the revocation list of cookie sessions holds the same hashes.

use sha2::{Digest, Sha256};

use crate::session::Session;

/// A session's tags: the hash of its `sid` (0: none) and of its `sub`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionTags {
    pub sid: u64,
    pub sub: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TagKind {
    Sid,
    Sub,
}

impl TagKind {
    pub fn word(self) -> &'static str {
        match self {
            TagKind::Sid => "sid",
            TagKind::Sub => "sub",
        }
    }
}

/// The hash of one tag, for `purpose` (the provider) and `issuer` (the token's issuer).
/// Never 0, which means "none" in the tables.
///
/// A `sub` is unique per issuer only (a multi-tenant provider's tenants are issuers), so
/// its tag holds the issuer. A `sid` is the OP's random session id and its tag does not:
/// Microsoft Entra ID calls the front-channel URI with `sid` and no `iss`.
pub fn tag(purpose: &[u8], issuer: &str, kind: TagKind, value: &str) -> u64 {
    let mut h = Sha256::new();
    h.update(b"oidc session tag\n");
    h.update(purpose);
    h.update([0]);
    if kind == TagKind::Sub {
        h.update(issuer.as_bytes());
    }
    h.update([0]);
    h.update(kind.word().as_bytes());
    h.update([0]);
    h.update(value.as_bytes());
    let d = h.finalize();
    u64::from_le_bytes(d[..8].try_into().expect("8 bytes")).max(1)
}

impl SessionTags {
    /// The tags of a session of the provider whose issuer is `issuer` (a multi-tenant
    /// session keeps its own issuer).
    pub fn of(session: &Session, purpose: &[u8], issuer: &str) -> SessionTags {
        let iss = session.iss.as_deref().unwrap_or(issuer);
        SessionTags {
            sid: session.sid.as_deref().map_or(0, |s| tag(purpose, iss, TagKind::Sid, s)),
            sub: tag(purpose, iss, TagKind::Sub, &session.sub),
        }
    }

    pub fn matches(&self, kind: TagKind, t: u64) -> bool {
        t != 0
            && match kind {
                TagKind::Sid => self.sid == t,
                TagKind::Sub => self.sub == t,
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_bound_to_provider_issuer_and_kind() {
        let a = tag(b"p", "https://op", TagKind::Sid, "x");
        assert_ne!(a, 0);
        assert_eq!(a, tag(b"p", "https://op", TagKind::Sid, "x"));
        assert_ne!(a, tag(b"q", "https://op", TagKind::Sid, "x"));
        assert_eq!(a, tag(b"p", "https://other", TagKind::Sid, "x"), "a sid does not depend on the issuer");
        assert_ne!(tag(b"p", "https://op", TagKind::Sub, "x"), tag(b"p", "https://other", TagKind::Sub, "x"));
        assert_ne!(a, tag(b"p", "https://op", TagKind::Sub, "x"));
        let t = SessionTags { sid: a, sub: 5 };
        assert!(t.matches(TagKind::Sid, a) && !t.matches(TagKind::Sub, a) && !t.matches(TagKind::Sid, 0));
    }
}

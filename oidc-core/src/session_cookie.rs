//! A browser session as cookies: read from the request's `Cookie` headers (reassembling
//! chunks, decrypting, checking lifetimes) and written back as `Set-Cookie` values
//! (sealing, splitting, clearing chunks a smaller session no longer uses).
//!
//! Anything wrong with a cookie (tampered, truncated, sealed with a key we no longer
//! have, expired) makes it "no session", with a reason for the log; never an error page.

use crate::cookie_chunks;
use crate::cookie_cipher::CookieCipher;
use crate::cookie_header;
use crate::session::{Session, SessionState};

/// The cookies a request carries, from all of its `Cookie` headers. The first
/// occurrence of a name wins, as browsers send the most specific cookie first.
pub struct CookieJar<'a> {
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> CookieJar<'a> {
    pub fn parse(headers: &[&'a [u8]]) -> Self {
        CookieJar { pairs: headers.iter().flat_map(|h| cookie_header::iter_cookies(h)).collect() }
    }

    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    pub fn names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.pairs.iter().map(|(n, _)| *n)
    }

    pub fn pairs(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        self.pairs.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// The session cookie's settings for one provider.
pub struct SessionCookies<'a> {
    pub cipher: &'a CookieCipher,
    /// Binds sealed sessions to one provider: a session made for another provider or
    /// client (with the same cookie name and secret) does not open.
    pub purpose: &'a [u8],
    pub name: &'a str,
    /// Seconds; 0: no idle timeout.
    pub idle_timeout: u64,
}

pub enum Sealed<'a> {
    Absent,
    /// The first cookie names chunks the browser did not send.
    Incomplete,
    Value(std::borrow::Cow<'a, str>),
}

#[derive(Debug)]
pub enum Loaded {
    /// No session cookie at all.
    Absent,
    /// A valid session; `touch`: re-issue the cookie to move the idle clock.
    Valid { session: Session, touch: bool },
    /// A cookie that is not (or no longer) a valid session, and why.
    Refused(&'static str),
}

impl SessionCookies<'_> {
    pub fn load(&self, jar: &CookieJar<'_>, now: u64) -> Loaded {
        match self.sealed(jar) {
            Sealed::Absent => Loaded::Absent,
            Sealed::Incomplete => Loaded::Refused("session_chunk_missing"),
            Sealed::Value(v) => self.open(&v, now),
        }
    }

    /// The sealed session as the browser sent it (chunks reassembled).
    pub fn sealed<'a>(&self, jar: &CookieJar<'a>) -> Sealed<'a> {
        if jar.get(self.name).is_none() {
            return Sealed::Absent;
        }
        match cookie_chunks::join(self.name, |n| jar.get(n)) {
            Some(v) => Sealed::Value(v),
            None => Sealed::Incomplete,
        }
    }

    /// Opens a sealed session and checks its lifetimes.
    pub fn open(&self, sealed: &str, now: u64) -> Loaded {
        let plain = match self.cipher.open(self.purpose, sealed) {
            Ok(p) => p,
            Err(e) => return Loaded::Refused(e.reason()),
        };
        let Ok(session) = Session::decode(&plain) else { return Loaded::Refused("session_invalid") };
        match session.state(now, self.idle_timeout) {
            SessionState::Valid => Loaded::Valid { session, touch: false },
            SessionState::ValidTouch => Loaded::Valid { session, touch: true },
            SessionState::Expired => Loaded::Refused("session_expired"),
            SessionState::Idle => Loaded::Refused("session_idle"),
        }
    }

    /// The `(name, value)` cookies that hold `session`, then the names of chunks the
    /// browser has that are no longer used (to clear). None: too large for cookies.
    pub fn seal(&self, session: &Session, jar: &CookieJar<'_>) -> Result<(Vec<(String, String)>, Vec<String>), String> {
        let sealed = self.cipher.seal(self.purpose, &session.encode()).map_err(|e| e.to_string())?;
        let cookies = cookie_chunks::split(self.name, &sealed).ok_or_else(|| {
            format!(
                "the session is {} bytes sealed, more than {} cookies can hold; keep less in it (session_contents, session_claims)",
                sealed.len(),
                cookie_chunks::MAX_CHUNKS
            )
        })?;
        let stale = self.stale_chunks(cookies.len(), jar);
        Ok((cookies, stale))
    }

    /// Names of the session's cookies the browser has beyond the first `keep`.
    pub fn stale_chunks(&self, keep: usize, jar: &CookieJar<'_>) -> Vec<String> {
        (keep + 1..=cookie_chunks::MAX_CHUNKS)
            .map(|i| cookie_chunks::chunk_name(self.name, i))
            .filter(|n| jar.get(n).is_some())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Claims;

    fn cipher(secret: &[u8]) -> CookieCipher {
        CookieCipher::new(&[secret]).unwrap()
    }

    fn session(now: u64, claims: Claims) -> Session {
        Session {
            sub: "alice".into(),
            claims,
            id_token: None,
            access_token: None,
            refresh_token: None,
            access_expires_at: 0,
            userinfo: None,
            created_at: now,
            expires_at: now + 3600,
            last_seen: now,
            sid: None,
            iss: None,
        }
    }

    fn header(cookies: &[(String, String)]) -> Vec<u8> {
        cookies.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ").into_bytes()
    }

    #[test]
    fn round_trip_small_and_chunked() {
        let c = cipher(&[7u8; 32]);
        let sc = SessionCookies { cipher: &c, purpose: b"p", name: "S", idle_timeout: 0 };
        let empty = CookieJar::parse(&[]);
        let (cookies, stale) = sc.seal(&session(1000, Claims::new()), &empty).unwrap();
        assert_eq!(cookies.len(), 1);
        assert!(stale.is_empty());
        let h = header(&cookies);
        let jar = CookieJar::parse(&[h.as_slice()]);
        assert!(matches!(sc.load(&jar, 1001), Loaded::Valid { touch: false, .. }));

        let mut big = Claims::new();
        for i in 0..300 {
            big.insert(format!("claim_{i}"), serde_json::json!(format!("value number {i} of a large session")));
        }
        let (cookies, _) = sc.seal(&session(1000, big.clone()), &empty).unwrap();
        assert!(cookies.len() >= 3, "{}", cookies.len());
        let h = header(&cookies);
        let jar = CookieJar::parse(&[h.as_slice()]);
        match sc.load(&jar, 1001) {
            Loaded::Valid { session, .. } => assert_eq!(session.claims, big),
            other => panic!("{other:?}"),
        }
        // A smaller session later clears the chunks it no longer needs.
        let (_, stale) = sc.seal(&session(1000, Claims::new()), &jar).unwrap();
        assert_eq!(stale.len(), cookies.len() - 1);
        assert_eq!(stale[0], "S_2");
    }

    #[test]
    fn refuses_what_is_not_a_valid_session() {
        let c = cipher(&[7u8; 32]);
        let sc = SessionCookies { cipher: &c, purpose: b"p", name: "S", idle_timeout: 600 };
        let jar = CookieJar::parse(&[b"other=1".as_slice()]);
        assert!(matches!(sc.load(&jar, 0), Loaded::Absent));
        let (cookies, _) = sc.seal(&session(1000, Claims::new()), &jar).unwrap();
        let v = &cookies[0].1;

        let tampered = format!("S={}A", &v[..v.len() - 1]);
        let jar = CookieJar::parse(&[tampered.as_bytes()]);
        assert!(matches!(sc.load(&jar, 1001), Loaded::Refused(_)));

        let truncated = format!("S={}", &v[..v.len() / 2]);
        let jar = CookieJar::parse(&[truncated.as_bytes()]);
        assert!(matches!(sc.load(&jar, 1001), Loaded::Refused(_)));

        let good = format!("S={v}");
        let jar = CookieJar::parse(&[good.as_bytes()]);
        let other_key = cipher(&[8u8; 32]);
        let foreign = SessionCookies { cipher: &other_key, ..sc };
        assert!(matches!(foreign.load(&jar, 1001), Loaded::Refused(_)));
        let sc = SessionCookies { cipher: &c, purpose: b"other provider", name: "S", idle_timeout: 600 };
        assert!(matches!(sc.load(&jar, 1001), Loaded::Refused(_)), "bound to its provider");
        let sc = SessionCookies { cipher: &c, purpose: b"p", name: "S", idle_timeout: 600 };
        assert!(matches!(sc.load(&jar, 1000 + 3600), Loaded::Refused("session_expired")));
        assert!(matches!(sc.load(&jar, 1000 + 600), Loaded::Refused("session_idle")));
        assert!(matches!(sc.load(&jar, 1000 + 300), Loaded::Valid { touch: true, .. }));
    }

    #[test]
    fn rotation_opens_old_sessions() {
        let old = cipher(&[1u8; 32]);
        let sc = SessionCookies { cipher: &old, purpose: b"p", name: "S", idle_timeout: 0 };
        let (cookies, _) = sc.seal(&session(1000, Claims::new()), &CookieJar::parse(&[])).unwrap();
        let h = header(&cookies);
        let jar = CookieJar::parse(&[h.as_slice()]);
        let rotated = CookieCipher::new(&[&[2u8; 32], &[1u8; 32]]).unwrap();
        let sc = SessionCookies { cipher: &rotated, ..sc };
        assert!(matches!(sc.load(&jar, 1001), Loaded::Valid { .. }));
    }
}

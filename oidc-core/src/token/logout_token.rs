//! Logout token validation, OpenID Connect Back-Channel Logout 1.0 section 2.6: a JWS
//! checked like an ID token (the provider's keys and ID-token algorithms, never `none`),
//! `iss`, `aud`, `iat`, `exp` when present, a `jti` (the caller keeps the replay cache),
//! the back-channel logout event, `sid` or `sub`, and no `nonce`.

use serde_json::Value;

use super::checks::{self, string};
use super::signature::{self, SignatureRules};
use super::TokenError;
use crate::jwks::Jwks;

/// The member of `events` that makes a JWT a logout token.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

pub struct LogoutTokenRules<'a> {
    pub issuer: &'a str,
    pub issuer_template: Option<&'a crate::tenant::IssuerTemplate>,
    pub client_id: &'a str,
    pub signature: SignatureRules<'a>,
    pub now: u64,
    /// `iat` must be within this many seconds of now, either way.
    pub clock_skew: u64,
}

/// What a valid logout token says.
#[derive(Debug, PartialEq, Eq)]
pub struct LogoutRequest {
    /// The token's issuer (with `issuer_template`, the tenant's).
    pub iss: String,
    pub sid: Option<String>,
    pub sub: Option<String>,
    pub jti: String,
    /// Until when the `jti` must be remembered: the token is valid no longer.
    pub replay_until: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutTokenError {
    Token(TokenError),
    /// `iat` is older than `clock_skew`.
    TooOld { iat: u64, now: u64 },
    NoEvent,
    NoncePresent,
    NoSubject,
    NoJti,
}

impl LogoutTokenError {
    /// The check that failed, as a stable word for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            LogoutTokenError::Token(e) => e.reason(),
            LogoutTokenError::TooOld { .. } => "iat_too_old",
            LogoutTokenError::NoEvent => "event_missing",
            LogoutTokenError::NoncePresent => "nonce_present",
            LogoutTokenError::NoSubject => "sid_and_sub_missing",
            LogoutTokenError::NoJti => "jti_missing",
        }
    }

    /// The token named a key the cached set does not have (refresh it once, retry).
    pub fn unknown_kid(&self) -> Option<&str> {
        match self {
            LogoutTokenError::Token(TokenError::UnknownKid(k)) => Some(k),
            _ => None,
        }
    }
}

impl std::fmt::Display for LogoutTokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LogoutTokenError::Token(e) => write!(f, "{e}"),
            LogoutTokenError::TooOld { iat, now } => write!(f, "issued at {iat}, more than clock_skew before now ({now})"),
            LogoutTokenError::NoEvent => write!(f, "\"events\" has no member \"{BACKCHANNEL_LOGOUT_EVENT}\""),
            LogoutTokenError::NoncePresent => f.write_str("a logout token must not contain a nonce"),
            LogoutTokenError::NoSubject => f.write_str("the token has neither sid nor sub"),
            LogoutTokenError::NoJti => f.write_str("the jti claim is missing or invalid"),
        }
    }
}

impl From<TokenError> for LogoutTokenError {
    fn from(e: TokenError) -> Self {
        LogoutTokenError::Token(e)
    }
}

/// Longest `sid`, `sub` and `jti` accepted (an honest one is far shorter).
const MAX_CLAIM_LEN: usize = 255;

pub fn validate(token: &str, rules: &LogoutTokenRules<'_>, jwks: &Jwks) -> Result<LogoutRequest, LogoutTokenError> {
    let verified = signature::verify(token, &rules.signature, jwks)?;
    // Explicit typing (section 2.4): a token typed as something else (an access token,
    // an ID token of a profile that types them) is never a logout token.
    if let Some(typ) = verified.typ.as_deref() {
        let t = typ.to_ascii_lowercase();
        if !matches!(t.as_str(), "jwt" | "logout+jwt" | "application/logout+jwt") {
            return Err(TokenError::WrongType(typ.chars().take(40).collect()).into());
        }
    }
    let claims = verified.claims;
    checks::check_issuer_rule(&claims, rules.issuer, rules.issuer_template)?;
    checks::check_audience(&claims, rules.client_id)?;
    checks::check_times(&claims, rules.now, rules.clock_skew, false)?;
    let iat = checks::numeric_date(&claims, "iat").ok_or(TokenError::MissingClaim("iat"))?;
    if iat.saturating_add(rules.clock_skew) < rules.now {
        return Err(LogoutTokenError::TooOld { iat, now: rules.now });
    }
    match claims.get("events") {
        Some(Value::Object(events)) if events.get(BACKCHANNEL_LOGOUT_EVENT).is_some_and(Value::is_object) => {}
        _ => return Err(LogoutTokenError::NoEvent),
    }
    if claims.contains_key("nonce") {
        return Err(LogoutTokenError::NoncePresent);
    }
    let short = |name: &str| string(&claims, name).filter(|v| !v.is_empty() && v.len() <= MAX_CLAIM_LEN).map(str::to_owned);
    let (sid, sub) = (short("sid"), short("sub"));
    if (claims.contains_key("sid") && sid.is_none()) || (claims.contains_key("sub") && sub.is_none()) {
        return Err(LogoutTokenError::NoSubject);
    }
    if sid.is_none() && sub.is_none() {
        return Err(LogoutTokenError::NoSubject);
    }
    let jti = short("jti").ok_or(LogoutTokenError::NoJti)?;
    let exp = checks::numeric_date(&claims, "exp");
    // Refused from now + skew on by the iat rule; remembered until then (and the exp).
    let replay_until = exp.unwrap_or(0).max(iat.saturating_add(rules.clock_skew)).saturating_add(rules.clock_skew);
    let iss = string(&claims, "iss").unwrap_or(rules.issuer).to_owned();
    Ok(LogoutRequest { iss, sid, sub, jti, replay_until })
}

#[cfg(test)]
#[path = "logout_token_tests.rs"]
mod tests;

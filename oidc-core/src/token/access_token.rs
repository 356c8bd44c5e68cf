//! JWT access tokens at a resource server (RFC 9068 section 4): the signature with an
//! allowed algorithm and the OP's key, `iss`, `aud`, `exp` (required), `nbf`, `iat`, and
//! optionally the `at+jwt` type. Unlike lua-resty-openidc's `bearer_jwt_verify`, issuer
//! and audience are checked by default: a token minted by the same OP for another API
//! must not open this one.

use super::checks;
use super::signature::{self, SignatureRules};
use super::{Claims, TokenError};
use crate::jwks::Jwks;

pub struct AccessTokenRules<'a> {
    /// The issuer the token must name, exactly.
    pub issuer: &'a str,
    /// `issuer_template`: `issuer` is a template, checked with the token's `tid`.
    pub issuer_template: Option<&'a crate::tenant::IssuerTemplate>,
    /// The token's `aud` must include at least one of these. Empty means no audience
    /// check; the glue decides when that is allowed (it should be an explicit choice).
    pub audiences: &'a [String],
    pub signature: SignatureRules<'a>,
    pub now: u64,
    /// Seconds of tolerance for `exp`, `nbf`, `iat`.
    pub clock_skew: u64,
    /// Require the `typ` header of RFC 9068 (`at+jwt`), which keeps ID tokens and other
    /// JWTs from the same OP from being replayed as access tokens.
    pub require_typ_at_jwt: bool,
}

/// Validates a JWT access token and returns its claims.
pub fn validate(token: &str, rules: &AccessTokenRules<'_>, jwks: &Jwks) -> Result<Claims, TokenError> {
    let verified = signature::verify(token, &rules.signature, jwks)?;
    if rules.require_typ_at_jwt && !is_at_jwt(verified.typ.as_deref()) {
        let typ = verified.typ.as_deref().map(crate::token_exchange::sanitize).unwrap_or_default();
        return Err(TokenError::WrongType(typ));
    }
    let claims = verified.claims;
    checks::check_issuer_rule(&claims, rules.issuer, rules.issuer_template)?;
    check_audiences(&claims, rules.audiences)?;
    checks::check_times(&claims, rules.now, rules.clock_skew, true)?;
    Ok(claims)
}

/// RFC 9068 section 4: `at+jwt` or `application/at+jwt`, compared case-insensitively
/// (media types are; RFC 7515 4.1.9 allows the prefix to be left out).
fn is_at_jwt(typ: Option<&str>) -> bool {
    let Some(typ) = typ else { return false };
    let typ = match typ.get(..12) {
        Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &typ[12..],
        _ => typ,
    };
    typ.eq_ignore_ascii_case("at+jwt")
}

/// The token's `aud` (a string or an array) must include at least one accepted audience;
/// no accepted audiences means no check. Shared with introspection results.
pub fn check_audiences(claims: &Claims, accepted: &[String]) -> Result<(), TokenError> {
    if accepted.is_empty() {
        return Ok(());
    }
    let auds = checks::audiences(claims)?;
    if accepted.iter().any(|a| auds.contains(&a.as_str())) {
        Ok(())
    } else {
        Err(TokenError::WrongAudience(format!("audience {auds:?} includes none of the accepted audiences")))
    }
}

/// Whether a bearer token is a JWS (to validate locally) rather than an opaque token
/// (to introspect): three base64url parts whose first decodes to a JSON header with an
/// `alg`. Cheap, and decides nothing about validity: `alg: none` still looks like a JWT,
/// so it is refused by [`validate`] rather than sent to the OP.
pub fn looks_like_jwt(token: &str) -> bool {
    if token.len() > crate::jose::compact::MAX_TOKEN_LEN {
        return false;
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(_signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if payload.is_empty() {
        return false;
    }
    crate::b64::decode(header)
        .and_then(|bytes| serde_json::from_slice::<crate::jose::Header>(&bytes).ok())
        .is_some()
}

/// A short, fixed sentence for `error_description` in the `invalid_token` challenge:
/// tells the client what to do (get a new token) without echoing what the token holds.
pub fn public_description(e: &TokenError) -> &'static str {
    match e {
        TokenError::Expired { .. } => "the access token expired",
        TokenError::NotYetValid { .. } | TokenError::IssuedInFuture { .. } => "the access token is not valid yet",
        TokenError::WrongIssuer { .. } => "the access token is from another issuer",
        TokenError::WrongAudience(_) => "the access token is not meant for this resource",
        TokenError::WrongType(_) => "the token is not an access token",
        TokenError::Malformed(_) => "the access token is malformed",
        _ => "the access token is not valid",
    }
}

#[cfg(test)]
#[path = "access_token_tests.rs"]
mod tests;

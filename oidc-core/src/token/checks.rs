//! Checks of registered claims (RFC 7519 section 4.1) shared by ID and access tokens.

use serde_json::Value;

use super::{Claims, TokenError};

/// A NumericDate claim; fractional seconds are accepted and truncated.
pub fn numeric_date(claims: &Claims, name: &str) -> Option<u64> {
    match claims.get(name)? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
        _ => None,
    }
}

pub fn string<'a>(claims: &'a Claims, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

pub fn check_issuer(claims: &Claims, expected: &str) -> Result<(), TokenError> {
    match string(claims, "iss") {
        Some(iss) if iss == expected => Ok(()),
        Some(iss) => Err(TokenError::WrongIssuer { expected: expected.into(), found: iss.into() }),
        None => Err(TokenError::MissingClaim("iss")),
    }
}

/// `iss`: equal to the provider's issuer, or with `issuer_template` the template with
/// the token's own `tid` (and that tenant allowed).
pub fn check_issuer_rule(
    claims: &Claims,
    expected: &str,
    template: Option<&crate::tenant::IssuerTemplate>,
) -> Result<(), TokenError> {
    match template {
        None => check_issuer(claims, expected),
        Some(t) => t.check(claims).map(drop).map_err(TokenError::Tenant),
    }
}

/// The `aud` claim as a list (a string or an array of strings).
pub fn audiences(claims: &Claims) -> Result<Vec<&str>, TokenError> {
    match claims.get("aud") {
        Some(Value::String(s)) => Ok(vec![s.as_str()]),
        Some(Value::Array(a)) => a.iter().map(|v| v.as_str().ok_or(TokenError::MissingClaim("aud"))).collect(),
        _ => Err(TokenError::MissingClaim("aud")),
    }
}

pub fn check_audience(claims: &Claims, expected: &str) -> Result<(), TokenError> {
    let auds = audiences(claims)?;
    if auds.contains(&expected) {
        Ok(())
    } else {
        Err(TokenError::WrongAudience(format!("audience {auds:?} does not include \"{expected}\"")))
    }
}

/// `exp` (required when `require_exp`), `nbf` and `iat`, each with `skew` seconds of
/// tolerance for clocks that disagree.
pub fn check_times(claims: &Claims, now: u64, skew: u64, require_exp: bool) -> Result<(), TokenError> {
    match numeric_date(claims, "exp") {
        Some(exp) if now >= exp.saturating_add(skew) => return Err(TokenError::Expired { exp, now }),
        Some(_) => {}
        None if require_exp || claims.contains_key("exp") => return Err(TokenError::MissingClaim("exp")),
        None => {}
    }
    if let Some(nbf) = numeric_date(claims, "nbf") {
        if nbf > now.saturating_add(skew) {
            return Err(TokenError::NotYetValid { nbf, now });
        }
    } else if claims.contains_key("nbf") {
        return Err(TokenError::MissingClaim("nbf"));
    }
    if let Some(iat) = numeric_date(claims, "iat") {
        if iat > now.saturating_add(skew) {
            return Err(TokenError::IssuedInFuture { iat, now });
        }
    } else if claims.contains_key("iat") {
        return Err(TokenError::MissingClaim("iat"));
    }
    Ok(())
}

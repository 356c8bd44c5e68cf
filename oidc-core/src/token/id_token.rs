//! ID token validation, OpenID Connect Core 3.1.3.7 (code flow), all of it: signature
//! with an allowed algorithm and the right key, `iss`, `aud`, `azp`, `exp`, `iat`, `nbf`,
//! `nonce`, `sub`, and `at_hash` when present.

use sha2::{Digest, Sha256, Sha384, Sha512};

use super::checks::{self, string};
use super::signature::{self, SignatureRules};
use super::{Claims, TokenError};
use crate::jwks::Jwks;

pub struct IdTokenRules<'a> {
    pub issuer: &'a str,
    /// `issuer_template`: `issuer` is a template, checked with the token's `tid`.
    pub issuer_template: Option<&'a crate::tenant::IssuerTemplate>,
    pub client_id: &'a str,
    pub signature: SignatureRules<'a>,
    /// The nonce sent in this login's authorization request.
    pub nonce: &'a str,
    pub now: u64,
    /// Seconds of tolerance for `exp`, `nbf`, `iat`.
    pub clock_skew: u64,
    /// The access token issued with it, to check `at_hash` against.
    pub access_token: Option<&'a str>,
}

pub fn validate(token: &str, rules: &IdTokenRules<'_>, jwks: &Jwks) -> Result<Claims, TokenError> {
    let verified = signature::verify(token, &rules.signature, jwks)?;
    let claims = verified.claims;
    checks::check_issuer_rule(&claims, rules.issuer, rules.issuer_template)?;
    let auds = checks::audiences(&claims)?;
    if !auds.contains(&rules.client_id) {
        return Err(TokenError::WrongAudience(format!("audience {auds:?} does not include the client")));
    }
    match string(&claims, "azp") {
        Some(azp) if azp != rules.client_id => {
            return Err(TokenError::WrongAzp(format!("azp \"{azp}\" is not the client")));
        }
        None if auds.len() > 1 => {
            return Err(TokenError::WrongAzp("several audiences and no azp".into()));
        }
        _ => {}
    }
    checks::check_times(&claims, rules.now, rules.clock_skew, true)?;
    if checks::numeric_date(&claims, "iat").is_none() {
        return Err(TokenError::MissingClaim("iat"));
    }
    match string(&claims, "sub") {
        Some(s) if !s.is_empty() && s.len() <= 255 => {}
        _ => return Err(TokenError::MissingClaim("sub")),
    }
    match string(&claims, "nonce") {
        Some(n) if constant_time_eq(n.as_bytes(), rules.nonce.as_bytes()) => {}
        _ => return Err(TokenError::NonceMismatch),
    }
    if let (Some(at_hash), Some(access_token)) = (string(&claims, "at_hash"), rules.access_token) {
        if at_hash != token_hash(&verified.alg, access_token) {
            return Err(TokenError::AtHashMismatch);
        }
    }
    Ok(claims)
}

/// The left half of the hash of a token, with the hash of the signing algorithm
/// (OIDC Core 3.1.3.6; EdDSA with Ed25519 uses SHA-512).
pub fn token_hash(alg: &str, token: &str) -> String {
    let digest: Vec<u8> = if alg.ends_with("384") {
        Sha384::digest(token.as_bytes()).to_vec()
    } else if alg.ends_with("512") || alg == "EdDSA" {
        Sha512::digest(token.as_bytes()).to_vec()
    } else {
        Sha256::digest(token.as_bytes()).to_vec()
    };
    crate::b64::encode(&digest[..digest.len() / 2])
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
#[path = "id_token_tests.rs"]
pub(crate) mod tests;

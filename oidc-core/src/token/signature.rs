//! The signature step: the algorithm must be one the caller allows, the key is chosen
//! from the OP's key set by `kid` (or is the client secret for HS*), and the signature
//! must verify. Returns the parsed JWS so the caller can read its claims.

use super::{Claims, TokenError};
use crate::jose::{self, VerifyingKey};
use crate::jwks::{Jwks, KeyLookup};

pub struct SignatureRules<'a> {
    /// Algorithms accepted for this token (never contains `none`).
    pub allowed_algs: &'a [String],
    /// The client secret, which verifies HS* tokens (OIDC Core 10.1).
    pub client_secret: Option<&'a [u8]>,
}

pub struct Verified {
    pub alg: String,
    pub typ: Option<String>,
    pub claims: Claims,
}

pub fn verify(token: &str, rules: &SignatureRules<'_>, jwks: &Jwks) -> Result<Verified, TokenError> {
    let jws = jose::parse(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
    let alg = jws.header.alg.as_str();
    if alg.eq_ignore_ascii_case("none") || !rules.allowed_algs.iter().any(|a| a == alg) {
        return Err(TokenError::AlgNotAllowed(alg.into()));
    }
    let input = jws.signing_input.as_bytes();
    if alg.starts_with("HS") {
        let secret = rules.client_secret.ok_or_else(|| TokenError::NoKey("HS* needs a client secret".into()))?;
        jose::verify(alg, &VerifyingKey::Hmac(secret.to_vec()), input, &jws.signature)
            .map_err(|e| TokenError::BadSignature(e.to_string()))?;
    } else {
        let key = match jwks.find(jws.header.kid.as_deref(), alg) {
            KeyLookup::Found(k) => &k.key,
            KeyLookup::UnknownKid => return Err(TokenError::UnknownKid(jws.header.kid.clone().unwrap_or_default())),
            KeyLookup::NoSuitableKey => return Err(TokenError::NoKey(format!("no {alg} key in the OP's key set"))),
            KeyLookup::Ambiguous => {
                return Err(TokenError::NoKey("the token names no kid and several keys fit".into()))
            }
        };
        jose::verify(alg, key, input, &jws.signature).map_err(|e| TokenError::BadSignature(e.to_string()))?;
    }
    let claims: Claims = serde_json::from_slice(&jws.payload)
        .map_err(|e| TokenError::Malformed(format!("the claims are not a JSON object: {e}")))?;
    // The header is ours: moved out, not copied.
    Ok(Verified { alg: jws.header.alg, typ: jws.header.typ, claims })
}

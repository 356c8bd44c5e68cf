//! Proof Key for Code Exchange (RFC 7636) with the S256 method only: `plain` gives no
//! protection when the authorization request leaks, so it is never offered.

use sha2::{Digest, Sha256};

use crate::random::{self, RandomError};

pub struct Pkce {
    /// Sent to the token endpoint with the code; kept secret until then.
    pub verifier: String,
    /// Sent in the authorization request with `code_challenge_method=S256`.
    pub challenge: String,
}

/// A fresh verifier of 43 characters (32 random bytes, the RFC's recommendation) and its
/// challenge.
pub fn generate() -> Result<Pkce, RandomError> {
    let verifier = random::token(32)?;
    let challenge = s256_challenge(&verifier);
    Ok(Pkce { verifier, challenge })
}

/// BASE64URL(SHA256(ASCII(verifier))), RFC 7636 section 4.2.
pub fn s256_challenge(verifier: &str) -> String {
    crate::b64::encode(&Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn generated_verifier_is_valid() {
        let p = generate().unwrap();
        // RFC 7636 4.1: 43..128 characters of the unreserved set.
        assert!((43..=128).contains(&p.verifier.len()));
        assert!(p.verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)));
        assert_eq!(p.challenge, s256_challenge(&p.verifier));
    }
}

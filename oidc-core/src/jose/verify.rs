//! Checking a signature with a key, for one algorithm. The algorithm must match the
//! key's type exactly: an HS256 token is never checked with an RSA public key used as
//! an HMAC secret (the classic algorithm-confusion forgery), and `none` never verifies.

use ring::{hmac, signature as sig};
use std::fmt;

use super::keys::VerifyingKey;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// `none`, or an algorithm we do not implement.
    UnsupportedAlg(String),
    /// The key cannot be used with this algorithm (algorithm confusion).
    KeyMismatch { alg: String, key: String },
    BadSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::UnsupportedAlg(a) => write!(f, "the signature algorithm \"{a}\" is not accepted"),
            VerifyError::KeyMismatch { alg, key } => write!(f, "a {key} key cannot verify a {alg} signature"),
            VerifyError::BadSignature => f.write_str("the signature does not verify"),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Every algorithm this module can verify (OIDC Core 3.1.3.7 and RFC 9068 ask for these).
pub const SUPPORTED_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384",
    "HS512",
];

pub fn verify(alg: &str, key: &VerifyingKey, input: &[u8], signature: &[u8]) -> Result<(), VerifyError> {
    let mismatch = || VerifyError::KeyMismatch { alg: alg.into(), key: format!("{key:?}") };
    let bad = |_| VerifyError::BadSignature;
    match (alg, key) {
        // aws-lc-rs (jose/rsa.rs): the fastest RSA here; ring for the rest.
        ("RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512", VerifyingKey::Rsa { parsed, .. }) => {
            parsed.verify(alg, input, signature).then_some(()).ok_or(VerifyError::BadSignature)
        }
        ("ES256", VerifyingKey::P256(point)) => {
            sig::UnparsedPublicKey::new(&sig::ECDSA_P256_SHA256_FIXED, point).verify(input, signature).map_err(bad)
        }
        ("ES384", VerifyingKey::P384(point)) => {
            sig::UnparsedPublicKey::new(&sig::ECDSA_P384_SHA384_FIXED, point).verify(input, signature).map_err(bad)
        }
        ("ES512", VerifyingKey::P521(k)) => {
            use p521::ecdsa::signature::Verifier;
            let s = p521::ecdsa::Signature::from_slice(signature).map_err(|_| VerifyError::BadSignature)?;
            k.verify(input, &s).map_err(|_| VerifyError::BadSignature)
        }
        ("EdDSA", VerifyingKey::Ed25519(x)) => {
            sig::UnparsedPublicKey::new(&sig::ED25519, x).verify(input, signature).map_err(bad)
        }
        ("HS256" | "HS384" | "HS512", VerifyingKey::Hmac(secret)) => {
            let a = match alg {
                "HS256" => hmac::HMAC_SHA256,
                "HS384" => hmac::HMAC_SHA384,
                _ => hmac::HMAC_SHA512,
            };
            // Constant-time comparison inside ring.
            hmac::verify(&hmac::Key::new(a, secret), input, signature).map_err(bad)
        }
        (a, _) if SUPPORTED_ALGS.contains(&a) => Err(mismatch()),
        (a, _) => Err(VerifyError::UnsupportedAlg(a.into())),
    }
}

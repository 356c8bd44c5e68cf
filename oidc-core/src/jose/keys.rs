//! Public keys from a JWK, decoded once (when the key set is parsed) into the form the
//! verifier needs, so no request pays for base64 or point decoding.

use crate::jwks::Jwk;
use serde_json::Value;

#[derive(Clone)]
pub enum VerifyingKey {
    /// Modulus and exponent, big-endian, without leading zeros, and the key as aws-lc
    /// parsed it (which is what verifies).
    Rsa { n: Vec<u8>, e: Vec<u8>, parsed: super::rsa::Parsed },
    /// Uncompressed SEC1 point (0x04 || x || y).
    P256(Vec<u8>),
    P384(Vec<u8>),
    P521(Box<p521::ecdsa::VerifyingKey>),
    Ed25519(Vec<u8>),
    /// A shared secret (HS*): the client secret, never a key from the OP's key set.
    Hmac(Vec<u8>),
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            VerifyingKey::Rsa { .. } => "RSA",
            VerifyingKey::P256(_) => "P-256",
            VerifyingKey::P384(_) => "P-384",
            VerifyingKey::P521(_) => "P-521",
            VerifyingKey::Ed25519(_) => "Ed25519",
            VerifyingKey::Hmac(_) => "HMAC",
        })
    }
}

/// RSA keys below this size are refused (ring's floor, and NIST's).
const MIN_RSA_BITS: usize = 2048;

fn member(jwk: &Jwk, name: &str) -> Result<Vec<u8>, String> {
    let text = jwk.params.get(name).and_then(Value::as_str).ok_or_else(|| format!("has no \"{name}\""))?;
    crate::b64::decode(text).ok_or_else(|| format!("\"{name}\" is not base64url"))
}

fn strip_zeros(mut v: Vec<u8>) -> Vec<u8> {
    let lead = v.iter().take_while(|&&b| b == 0).count();
    v.drain(..lead);
    v
}

impl VerifyingKey {
    /// Whether this key can verify signatures made with `alg` (curve included).
    pub fn suits(&self, alg: &str) -> bool {
        matches!(
            (self, alg),
            (VerifyingKey::Rsa { .. }, "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512")
                | (VerifyingKey::P256(_), "ES256")
                | (VerifyingKey::P384(_), "ES384")
                | (VerifyingKey::P521(_), "ES512")
                | (VerifyingKey::Ed25519(_), "EdDSA")
                | (VerifyingKey::Hmac(_), "HS256" | "HS384" | "HS512")
        )
    }

    /// The verifying key of a signing JWK from the OP's key set.
    pub fn from_jwk(jwk: &Jwk) -> Result<VerifyingKey, String> {
        match jwk.kty.as_str() {
            "RSA" => {
                let n = strip_zeros(member(jwk, "n")?);
                let e = strip_zeros(member(jwk, "e")?);
                // Checked: an empty modulus ("n": "") must be refused, not wrap around
                // to a huge size (and abort a debug build).
                let bits = n
                    .first()
                    .and_then(|b| n.len().checked_mul(8)?.checked_sub(b.leading_zeros() as usize))
                    .unwrap_or(0);
                if bits < MIN_RSA_BITS {
                    return Err(format!("RSA key of {bits} bits (at least {MIN_RSA_BITS} required)"));
                }
                if e.is_empty() || e.len() > 4 {
                    return Err("RSA exponent out of range".into());
                }
                let parsed = super::rsa::Parsed::new(&n, &e);
                Ok(VerifyingKey::Rsa { n, e, parsed })
            }
            "EC" => {
                let crv = jwk.params.get("crv").and_then(Value::as_str).unwrap_or("");
                let size = match crv {
                    "P-256" => 32,
                    "P-384" => 48,
                    "P-521" => 66,
                    _ => return Err(format!("unsupported curve \"{crv}\"")),
                };
                let (x, y) = (member(jwk, "x")?, member(jwk, "y")?);
                if x.len() != size || y.len() != size {
                    return Err(format!("coordinates of the wrong length for {crv}"));
                }
                let mut point = Vec::with_capacity(1 + 2 * size);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                match crv {
                    "P-256" => Ok(VerifyingKey::P256(point)),
                    "P-384" => Ok(VerifyingKey::P384(point)),
                    _ => p521::ecdsa::VerifyingKey::from_sec1_bytes(&point)
                        .map(|k| VerifyingKey::P521(Box::new(k)))
                        .map_err(|_| "P-521 point not on the curve".into()),
                }
            }
            "OKP" => {
                let crv = jwk.params.get("crv").and_then(Value::as_str).unwrap_or("");
                if crv != "Ed25519" {
                    return Err(format!("unsupported curve \"{crv}\""));
                }
                let x = member(jwk, "x")?;
                if x.len() != 32 {
                    return Err("Ed25519 key of the wrong length".into());
                }
                Ok(VerifyingKey::Ed25519(x))
            }
            // A symmetric key published in a key set would be known to everyone who can
            // fetch the set: never a verifying key.
            other => Err(format!("key type \"{other}\" cannot verify signatures from the OP")),
        }
    }
}

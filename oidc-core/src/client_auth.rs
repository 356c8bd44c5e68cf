//! How the client authenticates at the token endpoint (OIDC Core section 9, RFC 6749
//! section 2.3.1, RFC 7523): `client_secret_basic` (default), `client_secret_post`,
//! `client_secret_jwt`, `private_key_jwt`, or `none` for public clients.

use ring::rand::SystemRandom;
use ring::signature::{self as sig, EcdsaKeyPair, RsaKeyPair};
use serde_json::json;

use crate::b64;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    ClientSecretJwt,
    PrivateKeyJwt,
    None,
}

impl AuthMethod {
    pub fn parse(name: &str) -> Option<AuthMethod> {
        Some(match name {
            "client_secret_basic" => AuthMethod::ClientSecretBasic,
            "client_secret_post" => AuthMethod::ClientSecretPost,
            "client_secret_jwt" => AuthMethod::ClientSecretJwt,
            "private_key_jwt" => AuthMethod::PrivateKeyJwt,
            "none" => AuthMethod::None,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::ClientSecretJwt => "client_secret_jwt",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::None => "none",
        }
    }
}

/// A private key for `private_key_jwt`, loaded once from a PEM file.
pub enum SigningKey {
    Rsa(RsaKeyPair),
    P256(EcdsaKeyPair),
    P384(EcdsaKeyPair),
}

impl SigningKey {
    /// Reads a PKCS#8 (`PRIVATE KEY`) RSA or EC key, or a PKCS#1 (`RSA PRIVATE KEY`) one.
    pub fn from_pem(pem: &[u8]) -> Result<SigningKey, String> {
        let text = std::str::from_utf8(pem).map_err(|_| "the key file is not PEM text")?;
        let (label, der) = pem_block(text).ok_or("the key file holds no PEM block")?;
        let rng = SystemRandom::new();
        match label.as_str() {
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der).map(SigningKey::Rsa).map_err(|e| format!("RSA key: {e}")),
            "PRIVATE KEY" => {
                if let Ok(k) = RsaKeyPair::from_pkcs8(&der) {
                    return Ok(SigningKey::Rsa(k));
                }
                if let Ok(k) = EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng) {
                    return Ok(SigningKey::P256(k));
                }
                EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P384_SHA384_FIXED_SIGNING, &der, &rng)
                    .map(SigningKey::P384)
                    .map_err(|_| "not an RSA (2048+ bits), P-256 or P-384 private key".to_string())
            }
            "EC PRIVATE KEY" => Err("SEC1 EC keys are not supported; convert with `openssl pkcs8 -topk8 -nocrypt`".into()),
            "ENCRYPTED PRIVATE KEY" => Err("the key is encrypted; store it unencrypted with restricted file permissions".into()),
            other => Err(format!("unexpected PEM block \"{other}\"")),
        }
    }

    pub fn alg(&self) -> &'static str {
        match self {
            SigningKey::Rsa(_) => "RS256",
            SigningKey::P256(_) => "ES256",
            SigningKey::P384(_) => "ES384",
        }
    }

    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, String> {
        let rng = SystemRandom::new();
        match self {
            SigningKey::Rsa(k) => {
                let mut out = vec![0; k.public().modulus_len()];
                k.sign(&sig::RSA_PKCS1_SHA256, &rng, input, &mut out).map_err(|_| "RSA signing failed")?;
                Ok(out)
            }
            SigningKey::P256(k) | SigningKey::P384(k) => {
                k.sign(&rng, input).map(|s| s.as_ref().to_vec()).map_err(|_| "ECDSA signing failed".into())
            }
        }
    }
}

fn pem_block(text: &str) -> Option<(String, Vec<u8>)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + 11..];
    let label_end = rest.find("-----")?;
    let label = rest[..label_end].to_owned();
    let body = &rest[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    // Looked for after the BEGIN line only: the END marker may share its dashes.
    let body_end = body.find(&end_marker)?;
    let b64: String = body[..body_end].chars().filter(|c| !c.is_whitespace()).collect();
    use base64::Engine;
    let der = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    Some((label, der))
}

/// The credentials one token request carries: extra form fields and maybe a header.
pub struct ClientCredentials {
    pub form: Vec<(&'static str, String)>,
    pub authorization: Option<String>,
}

pub struct ClientAuth<'a> {
    pub method: AuthMethod,
    pub client_id: &'a str,
    pub client_secret: Option<&'a str>,
    pub private_key: Option<&'a SigningKey>,
    /// Where the request goes: the `aud` of a client assertion.
    pub token_endpoint: &'a str,
    pub now: u64,
}

impl ClientAuth<'_> {
    pub fn credentials(&self) -> Result<ClientCredentials, String> {
        let secret = || self.client_secret.ok_or_else(|| format!("{} needs a client_secret", self.method.name()));
        let mut form = Vec::new();
        let mut authorization = None;
        match self.method {
            AuthMethod::ClientSecretBasic => {
                // RFC 6749 2.3.1: both parts form-urlencoded before base64.
                let user = form_encode(self.client_id);
                let pass = form_encode(secret()?);
                use base64::Engine;
                let b = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
                authorization = Some(format!("Basic {b}"));
            }
            AuthMethod::ClientSecretPost => {
                form.push(("client_id", self.client_id.to_owned()));
                form.push(("client_secret", secret()?.to_owned()));
            }
            AuthMethod::ClientSecretJwt | AuthMethod::PrivateKeyJwt => {
                let jwt = self.assertion()?;
                form.push(("client_id", self.client_id.to_owned()));
                form.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into()));
                form.push(("client_assertion", jwt));
            }
            AuthMethod::None => form.push(("client_id", self.client_id.to_owned())),
        }
        Ok(ClientCredentials { form, authorization })
    }

    /// A short-lived, single-use client assertion (RFC 7523 section 3).
    fn assertion(&self) -> Result<String, String> {
        let secret = || self.client_secret.ok_or_else(|| "client_secret_jwt needs a client_secret".to_string());
        let jti = crate::random::token(16).map_err(|e| e.to_string())?;
        let claims = json!({
            "iss": self.client_id, "sub": self.client_id, "aud": self.token_endpoint,
            "jti": jti, "iat": self.now, "exp": self.now + 60,
        });
        let alg = match self.method {
            AuthMethod::ClientSecretJwt => "HS256",
            _ => self.private_key.ok_or("private_key_jwt needs a client_private_key")?.alg(),
        };
        let header = json!({"alg": alg, "typ": "JWT"});
        let input = format!("{}.{}", b64::encode(header.to_string().as_bytes()), b64::encode(claims.to_string().as_bytes()));
        let signature = match self.method {
            AuthMethod::ClientSecretJwt => {
                let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret()?.as_bytes());
                ring::hmac::sign(&key, input.as_bytes()).as_ref().to_vec()
            }
            _ => self.private_key.ok_or("no private key")?.sign(input.as_bytes())?,
        };
        Ok(format!("{input}.{}", b64::encode(&signature)))
    }
}

/// application/x-www-form-urlencoded encoding of one value.
pub fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwks;
    use crate::token::signature::{verify, SignatureRules};

    fn auth(method: AuthMethod) -> ClientAuth<'static> {
        ClientAuth {
            method,
            client_id: "my client",
            client_secret: Some("s3cr:t&"),
            private_key: None,
            token_endpoint: "https://op.example/token",
            now: 1000,
        }
    }

    #[test]
    fn basic_encodes_before_base64() {
        let c = auth(AuthMethod::ClientSecretBasic).credentials().unwrap();
        use base64::Engine;
        let h = c.authorization.unwrap();
        let decoded = base64::engine::general_purpose::STANDARD.decode(h.strip_prefix("Basic ").unwrap()).unwrap();
        assert_eq!(decoded, b"my+client:s3cr%3At%26");
        assert!(c.form.is_empty());
    }

    #[test]
    fn post_and_none() {
        let c = auth(AuthMethod::ClientSecretPost).credentials().unwrap();
        assert_eq!(c.form, vec![("client_id", "my client".into()), ("client_secret", "s3cr:t&".into())]);
        let c = auth(AuthMethod::None).credentials().unwrap();
        assert_eq!(c.form, vec![("client_id", "my client".into())]);
        assert!(c.authorization.is_none());
        let mut a = auth(AuthMethod::ClientSecretPost);
        a.client_secret = None;
        assert!(a.credentials().is_err());
    }

    #[test]
    fn client_secret_jwt_verifies_with_the_secret() {
        let c = auth(AuthMethod::ClientSecretJwt).credentials().unwrap();
        let jwt = &c.form.iter().find(|(k, _)| *k == "client_assertion").unwrap().1;
        let algs = vec!["HS256".to_string()];
        let v = verify(jwt, &SignatureRules { allowed_algs: &algs, client_secret: Some(b"s3cr:t&") }, &jwks::Jwks::default()).unwrap();
        assert_eq!(v.claims["aud"], "https://op.example/token");
        assert_eq!(v.claims["iss"], "my client");
        assert_eq!(v.claims["exp"], 1060);
    }

    #[test]
    fn private_key_jwt_with_a_pem_key() {
        let rng = SystemRandom::new();
        let pk8 = EcdsaKeyPair::generate_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        use base64::Engine;
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(pk8.as_ref())
        );
        let key = SigningKey::from_pem(pem.as_bytes()).unwrap();
        assert_eq!(key.alg(), "ES256");
        let mut a = auth(AuthMethod::PrivateKeyJwt);
        a.private_key = Some(Box::leak(Box::new(key)));
        let c = a.credentials().unwrap();
        let jwt = &c.form.iter().find(|(k, _)| *k == "client_assertion").unwrap().1;
        assert_eq!(jwt.split('.').count(), 3);
        assert!(SigningKey::from_pem(b"-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----").is_err());
        assert!(SigningKey::from_pem(b"junk").is_err());
    }

    /// Found by the conf_values fuzz target: an END marker that shares the BEGIN line's
    /// dashes made the body slice run backwards (a panic while nginx reads its
    /// configuration, so `nginx -t` crashed instead of naming the directive).
    #[test]
    fn pem_with_overlapping_markers_is_an_error() {
        for pem in [&b"\n-----BEGIN PRIVATE KEY-----END PRIVATE KEY-----\n"[..], b"-----BEGIN X-----END X-----", b"-----BEGIN -----"] {
            assert!(SigningKey::from_pem(pem).is_err(), "{}", String::from_utf8_lossy(pem));
        }
    }
}

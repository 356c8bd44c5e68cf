//! Validation of signed tokens from the OP: the signature step shared by ID tokens and
//! JWT access tokens, the registered-claim checks, the ID token rules of OpenID Connect
//! Core 3.1.3.7 and the JWT access token rules of RFC 9068.

pub mod access_token;
pub mod checks;
pub mod error;
pub mod id_token;
pub mod logout_token;
pub mod signature;

pub use error::TokenError;

/// A token's claims as the OP sent them.
pub type Claims = serde_json::Map<String, serde_json::Value>;

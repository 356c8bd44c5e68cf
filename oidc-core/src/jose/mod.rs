//! JSON Web Signature (RFC 7515) verification for the compact serialization: ID tokens
//! and JWT access tokens. Only what a relying party needs: parse, pick the key, verify.
//! `alg: none` and algorithm confusion are refused here, whatever the caller allows.

pub mod compact;
pub mod keys;
mod rsa;
pub mod verify;

pub use compact::{parse, Header, Jws};
pub use keys::VerifyingKey;
pub use verify::{verify, VerifyError};

#[cfg(test)]
pub(crate) mod tests;

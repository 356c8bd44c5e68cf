//! Unpredictable values (state, nonce, PKCE verifier, generated secrets) from the
//! operating system's CSPRNG.

use std::fmt;

#[derive(Debug)]
pub struct RandomError(getrandom::Error);

impl fmt::Display for RandomError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the system random number generator failed: {}", self.0)
    }
}

impl std::error::Error for RandomError {}

/// Fills `buf` with random bytes.
pub fn fill(buf: &mut [u8]) -> Result<(), RandomError> {
    getrandom::getrandom(buf).map_err(RandomError)
}

/// `bytes` random bytes as base64url (so 32 bytes give 43 characters, 256 bits).
pub fn token(bytes: usize) -> Result<String, RandomError> {
    let mut buf = vec![0u8; bytes];
    fill(&mut buf)?;
    Ok(crate::b64::encode(&buf))
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_distinct_and_sized() {
        let a = super::token(32).unwrap();
        let b = super::token(32).unwrap();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }
}

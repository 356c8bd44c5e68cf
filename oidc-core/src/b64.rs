//! base64url without padding, the encoding of every token, state and cookie value here
//! (RFC 7515 section 2, RFC 7636 section 3): safe in URLs and cookie values as is.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url; padding and the standard alphabet are refused, as the specs
/// that use base64url require.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        let data = [0u8, 0xfb, 0xff, 0x10];
        let e = encode(&data);
        assert!(!e.contains('=') && !e.contains('+') && !e.contains('/'));
        assert_eq!(decode(&e).unwrap(), data);
        assert!(decode("a+b/").is_none());
        assert!(decode("AA==").is_none());
    }
}

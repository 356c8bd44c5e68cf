//! RSA signature checks with aws-lc-rs rather than ring: about 20% less CPU per RSA-2048
//! verification (scripts/crypto-bench; README "Signature checks"), with the key parsed
//! once, when the key set is, instead of on every token as ring's API does.
//!
//! aws-lc is a second libcrypto next to the OpenSSL that nginx links, but one that cannot
//! clash with it: every one of its symbols carries the `aws_lc_<version>_` prefix, it is
//! linked statically and the module exports none of them, and it keeps no state shared
//! with OpenSSL (the way ring, with its own `ring_core_` prefix, already lives here).

use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaParameters};

/// The six RSA JWS algorithms, in the order of [`Parsed::keys`].
const ALGS: [(&str, &RsaParameters); 6] = [
    ("RS256", &sig::RSA_PKCS1_2048_8192_SHA256),
    ("RS384", &sig::RSA_PKCS1_2048_8192_SHA384),
    ("RS512", &sig::RSA_PKCS1_2048_8192_SHA512),
    ("PS256", &sig::RSA_PSS_2048_8192_SHA256),
    ("PS384", &sig::RSA_PSS_2048_8192_SHA384),
    ("PS512", &sig::RSA_PSS_2048_8192_SHA512),
];

/// One public key, parsed for each RSA algorithm (aws-lc-rs binds a parsed key to its
/// algorithm); `None` when aws-lc refuses the key, which then verifies nothing.
#[derive(Clone)]
pub struct Parsed {
    keys: Option<Box<[ParsedPublicKey; 6]>>,
}

impl Parsed {
    /// `n` and `e` big-endian without leading zeros, as `VerifyingKey::Rsa` holds them.
    pub fn new(n: &[u8], e: &[u8]) -> Parsed {
        let der = rsa_public_key_der(n, e);
        let parse = |(_, params): &(&str, &'static RsaParameters)| ParsedPublicKey::new(*params, &der).ok();
        let keys: Option<Vec<ParsedPublicKey>> = ALGS.iter().map(parse).collect();
        Parsed { keys: keys.and_then(|k| <[ParsedPublicKey; 6]>::try_from(k).ok()).map(Box::new) }
    }

    /// Whether `signature` is a valid `alg` signature of `input`. Key sizes outside
    /// 2048..=8192 bits are refused here, as ring refused them.
    pub fn verify(&self, alg: &str, input: &[u8], signature: &[u8]) -> bool {
        let (Some(keys), Some(i)) = (&self.keys, ALGS.iter().position(|(a, _)| *a == alg)) else { return false };
        keys[i].verify_sig(input, signature).is_ok()
    }
}

/// DER of RFC 8017's `RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }`.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(n.len() + e.len() + 16);
    der_unsigned(&mut body, n);
    der_unsigned(&mut body, e);
    let mut out = Vec::with_capacity(body.len() + 4);
    der_header(&mut out, 0x30, body.len());
    out.extend_from_slice(&body);
    out
}

/// A positive INTEGER: a leading zero byte when the high bit is set, so it is not negative.
fn der_unsigned(out: &mut Vec<u8>, bytes: &[u8]) {
    let pad = bytes.first().is_none_or(|b| b & 0x80 != 0);
    der_header(out, 0x02, bytes.len() + pad as usize);
    if pad {
        out.push(0);
    }
    out.extend_from_slice(bytes);
}

fn der_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let be = len.to_be_bytes();
        let skip = be.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (be.len() - skip) as u8);
        out.extend_from_slice(&be[skip..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_of_small_key() {
        // n = 0x80 needs the zero byte, e = 3 does not.
        assert_eq!(rsa_public_key_der(&[0x80], &[3]), [0x30, 7, 2, 2, 0, 0x80, 2, 1, 3]);
        let long = rsa_public_key_der(&[0x7f; 256], &[1, 0, 1]);
        assert_eq!(&long[..8], &[0x30, 0x82, 1, 9, 2, 0x82, 1, 0]); // 260 + 5 body bytes
    }

    #[test]
    fn refuses_unparsable_key_and_unknown_alg() {
        let p = Parsed::new(&[], &[]);
        assert!(!p.verify("RS256", b"x", &[0; 256]));
        assert!(!p.verify("HS256", b"x", &[0; 256]));
    }
}

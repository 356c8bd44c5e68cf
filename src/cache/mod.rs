//! Documents fetched from the OP (discovery, JWKS): shared by all workers through one
//! shared-memory zone, parsed at most once per worker per version.

pub mod bounded_map;
pub mod documents;
pub mod revocations;
pub mod fast_hash;
pub mod session_local;
pub mod token_local;
pub mod token_table;
pub mod zone;
pub mod zone_sessions;

/// A stable 64-bit key for an entry of the shared zone (FNV-1a over the parts, with a
/// separator so ("ab","c") and ("a","bc") differ). It must be the same in every worker
/// and across reloads, so std's randomly seeded hasher will not do.
pub fn key_hash(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in part.iter().chain(&[0xffu8]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h | 1 // never 0: 0 marks a free slot
}

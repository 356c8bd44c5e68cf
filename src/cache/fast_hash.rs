//! The hasher of the per-worker caches. Their keys are already unpredictable bytes (the
//! tail of a GCM tag, of a JWT signature) and every hit compares the whole cookie or
//! token, so SipHash's protection against chosen keys buys nothing on this hot path;
//! a multiply-and-rotate over 8-byte words is enough.

use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default)]
pub struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(last));
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl WordHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

pub type BuildWordHasher = BuildHasherDefault<WordHasher>;

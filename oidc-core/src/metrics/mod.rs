//! Prometheus metrics: what is counted, under which names and labels, and how a
//! snapshot of the counters is written in the text exposition format (0.0.4).
//!
//! The nginx side keeps one fixed-layout array of `u64` counters per provider (and one
//! for the whole zone) in shared memory and only adds to slots; everything that gives a
//! slot its meaning lives here, so it is tested without nginx. A slot is
//! `PROVIDER_OFFSETS[family] + label index`, where the label index of a family with
//! two labels is `first * second.len() + second`. Every label value is a fixed word
//! from the tables below: a request can never put text of its own into a label.

/// An enum of label values and their words, in order.
macro_rules! words {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name { $($variant),+ }
        impl $name {
            /// The label values, in the order of the variants.
            pub const WORDS: &'static [&'static str] = &[$($word),+];
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const fn word(self) -> &'static str {
                Self::WORDS[self as usize]
            }
        }
    };
}

mod families;
pub mod op_error;
pub mod reasons;
mod render;
#[cfg(test)]
mod tests;

pub use families::*;
pub use render::{render, ProviderCounters, Snapshot, ZoneUsage};

/// What kind of Prometheus metric a family is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    /// A histogram of durations in seconds, kept as counts per bucket and a sum in
    /// microseconds (see `BUCKETS`).
    Histogram,
}

/// A label and the only values it can take.
pub struct Label {
    pub name: &'static str,
    pub values: &'static [&'static str],
}

/// A metric family: one name, one HELP text, zero to two labels besides `provider`.
pub struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub labels: &'static [Label],
}

impl Family {
    /// Label combinations (1 without labels).
    pub const fn series(&self) -> usize {
        let mut n = 1;
        let mut i = 0;
        while i < self.labels.len() {
            n *= self.labels[i].values.len();
            i += 1;
        }
        n
    }

    /// Slots one provider needs for this family.
    pub const fn slots(&self) -> usize {
        match self.kind {
            Kind::Counter => self.series(),
            Kind::Histogram => self.series() * HISTOGRAM_SLOTS,
        }
    }
}

/// Upper bounds of the OP latency buckets, in microseconds (5 ms to 10 s, then +Inf).
pub const BUCKETS_US: [u64; 11] = [5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000];
/// Per label combination of a histogram: one count per bucket, one for above the last
/// bound, and the sum of the observed durations in microseconds.
pub const HISTOGRAM_SLOTS: usize = BUCKETS_US.len() + 2;

/// The bucket an observation falls into (`BUCKETS_US.len()` above the last bound).
pub fn bucket_of(micros: u64) -> usize {
    BUCKETS_US.iter().position(|&b| micros <= b).unwrap_or(BUCKETS_US.len())
}

const fn offsets<const N: usize>(families: &[Family]) -> [usize; N] {
    let mut out = [0; N];
    let mut at = 0;
    let mut i = 0;
    while i < N {
        out[i] = at;
        at += families[i].slots();
        i += 1;
    }
    out
}

const fn total(families: &[Family]) -> usize {
    let mut at = 0;
    let mut i = 0;
    while i < families.len() {
        at += families[i].slots();
        i += 1;
    }
    at
}

/// Where each provider family starts in a provider's slots.
pub const PROVIDER_OFFSETS: [usize; PROVIDER_FAMILIES.len()] = offsets(PROVIDER_FAMILIES);
/// Slots per provider.
pub const PROVIDER_SLOTS: usize = total(PROVIDER_FAMILIES);
/// Where each zone-wide family starts.
pub const GLOBAL_OFFSETS: [usize; GLOBAL_FAMILIES.len()] = offsets(GLOBAL_FAMILIES);
/// Zone-wide slots.
pub const GLOBAL_SLOTS: usize = total(GLOBAL_FAMILIES);

/// A fingerprint of the layout (names, labels, values, buckets): shared memory laid out
/// by another build of the module is never read as this one's.
pub fn layout_hash() -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |b: &[u8]| {
        for &x in b.iter().chain(b"\0") {
            h ^= u64::from(x);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for f in PROVIDER_FAMILIES.iter().chain(GLOBAL_FAMILIES) {
        eat(f.name.as_bytes());
        for l in f.labels {
            eat(l.name.as_bytes());
            for v in l.values {
                eat(v.as_bytes());
            }
        }
    }
    for b in BUCKETS_US {
        eat(&b.to_le_bytes());
    }
    h
}

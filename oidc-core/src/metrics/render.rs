//! The text exposition format (version 0.0.4) of a snapshot of the counters.

use std::fmt::Write;

use super::{Family, Kind, BUCKETS_US, GLOBAL_FAMILIES, GLOBAL_OFFSETS, HISTOGRAM_SLOTS, PROVIDER_FAMILIES, PROVIDER_OFFSETS};

/// One provider's counters, read from shared memory.
pub struct ProviderCounters<'a> {
    /// The `oidc_provider` block's name, from the configuration.
    pub name: &'a str,
    /// `PROVIDER_SLOTS` values.
    pub values: &'a [u64],
}

/// The shared zone's pages in use and its size.
pub struct ZoneUsage<'a> {
    pub name: &'a str,
    pub used: u64,
    pub size: u64,
}

/// Everything one scrape shows.
pub struct Snapshot<'a> {
    pub providers: Vec<ProviderCounters<'a>>,
    /// `GLOBAL_SLOTS` values (None: no zone, nothing to show).
    pub global: Option<&'a [u64]>,
    pub zone: Option<ZoneUsage<'a>>,
}

/// The response body of a scrape.
pub fn render(s: &Snapshot<'_>) -> String {
    let mut out = String::with_capacity(16 * 1024 + s.providers.len() * 32 * 1024);
    for (i, f) in PROVIDER_FAMILIES.iter().enumerate() {
        header(&mut out, f);
        for p in &s.providers {
            let provider = format!("provider=\"{}\"", escape(p.name));
            family(&mut out, f, &provider, &p.values[PROVIDER_OFFSETS[i]..PROVIDER_OFFSETS[i] + f.slots()]);
        }
    }
    if let Some(g) = s.global {
        for (i, f) in GLOBAL_FAMILIES.iter().enumerate() {
            header(&mut out, f);
            family(&mut out, f, "", &g[GLOBAL_OFFSETS[i]..GLOBAL_OFFSETS[i] + f.slots()]);
        }
    }
    if let Some(z) = &s.zone {
        let zone = escape(z.name);
        for (name, help, v) in [
            ("auth_oidc_zone_used_bytes", "Bytes of oidc_shared_zone in use (whole pages of its slab allocator).", z.used),
            ("auth_oidc_zone_size_bytes", "Size of oidc_shared_zone.", z.size),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{zone=\"{zone}\"}} {v}");
        }
    }
    out
}

fn header(out: &mut String, f: &Family) {
    let kind = match f.kind {
        Kind::Counter => "counter",
        Kind::Histogram => "histogram",
    };
    let _ = writeln!(out, "# HELP {} {}\n# TYPE {} {kind}", f.name, f.help, f.name);
}

/// Every series of one family, with `base` (the provider label, or nothing) first.
fn family(out: &mut String, f: &Family, base: &str, values: &[u64]) {
    for series in 0..f.series() {
        let labels = labels(f, base, series);
        match f.kind {
            Kind::Counter => {
                let _ = writeln!(out, "{}{} {}", f.name, braces(&labels), values[series]);
            }
            Kind::Histogram => histogram(out, f.name, &labels, &values[series * HISTOGRAM_SLOTS..(series + 1) * HISTOGRAM_SLOTS]),
        }
    }
}

/// `base` and the label values of series number `series` (the last label varies fastest).
fn labels(f: &Family, base: &str, mut series: usize) -> String {
    let mut parts: Vec<String> = Vec::with_capacity(f.labels.len() + 1);
    for l in f.labels.iter().rev() {
        let n = l.values.len();
        parts.push(format!("{}=\"{}\"", l.name, l.values[series % n]));
        series /= n;
    }
    if !base.is_empty() {
        parts.push(base.to_owned());
    }
    parts.reverse();
    parts.join(",")
}

fn braces(labels: &str) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    }
}

fn histogram(out: &mut String, name: &str, labels: &str, slots: &[u64]) {
    let sep = if labels.is_empty() { "" } else { "," };
    let mut cumulative = 0u64;
    for (i, bound) in BUCKETS_US.iter().enumerate() {
        cumulative += slots[i];
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{}\"}} {cumulative}", seconds(*bound));
    }
    cumulative += slots[BUCKETS_US.len()];
    let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cumulative}");
    let _ = writeln!(out, "{name}_sum{} {}", braces(labels), seconds(slots[HISTOGRAM_SLOTS - 1]));
    let _ = writeln!(out, "{name}_count{} {cumulative}", braces(labels));
}

/// Microseconds as seconds, without float noise ("0.005", "2.5", "10").
fn seconds(micros: u64) -> String {
    let (s, us) = (micros / 1_000_000, micros % 1_000_000);
    if us == 0 {
        return s.to_string();
    }
    let frac = format!("{us:06}");
    format!("{s}.{}", frac.trim_end_matches('0'))
}

/// A label value as the format wants it: backslash, double quote and newline escaped.
pub(super) fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

//! How long a fetched document (discovery, JWKS) is used: the OP's `Cache-Control`
//! max-age bounded by configured limits, then a stale period during which the old copy
//! is still served while it is refreshed or while the OP is unreachable.

/// Lower and upper bounds, in seconds, on how long a document is considered fresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheBounds {
    pub min_ttl: u64,
    pub max_ttl: u64,
}

/// The `max-age` of a `Cache-Control` header value; `no-store` and `no-cache` count as 0
/// (the minimum bound then applies, so an OP cannot make us fetch on every request).
pub fn max_age(cache_control: &str) -> Option<u64> {
    let mut age = None;
    for directive in cache_control.split(',') {
        let directive = directive.trim();
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (directive, None),
        };
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(0);
        }
        if name.eq_ignore_ascii_case("max-age") {
            // RFC 9111 5.2.1.1: an invalid value is treated as stale.
            age = Some(value.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0));
        }
    }
    age
}

/// Seconds a freshly fetched document stays fresh. Without a max-age the upper bound is
/// used: discovery documents and key sets change rarely, and an unknown `kid` triggers
/// its own refresh.
pub fn ttl(cache_control: Option<&str>, bounds: &CacheBounds) -> u64 {
    match cache_control.and_then(max_age) {
        Some(age) => age.clamp(bounds.min_ttl, bounds.max_ttl.max(bounds.min_ttl)),
        None => bounds.max_ttl.max(bounds.min_ttl),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Use it.
    Fresh,
    /// Use it, and refresh it in the background.
    Stale,
    /// Do not use it; a new copy is needed.
    Expired,
}

pub fn freshness(now: u64, expires_at: u64, stale_for: u64) -> Freshness {
    if now < expires_at {
        Freshness::Fresh
    } else if now < expires_at.saturating_add(stale_for) {
        Freshness::Stale
    } else {
        Freshness::Expired
    }
}

/// Whether a forced refresh (an unknown `kid`) may run now, at most one per `interval`.
pub fn may_refresh(now: u64, last_forced: u64, interval: u64) -> bool {
    last_forced == 0 || now >= last_forced.saturating_add(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: CacheBounds = CacheBounds { min_ttl: 60, max_ttl: 86400 };

    #[test]
    fn max_age_parsing() {
        assert_eq!(max_age("public, max-age=3600"), Some(3600));
        assert_eq!(max_age("MAX-AGE=\"5\""), Some(5));
        assert_eq!(max_age("max-age=abc"), Some(0));
        assert_eq!(max_age("no-cache, max-age=100"), Some(0));
        assert_eq!(max_age("public"), None);
    }

    #[test]
    fn ttl_is_bounded() {
        assert_eq!(ttl(Some("max-age=5"), &B), 60);
        assert_eq!(ttl(Some("max-age=600"), &B), 600);
        assert_eq!(ttl(Some("max-age=999999999"), &B), 86400);
        assert_eq!(ttl(Some("no-store"), &B), 60);
        assert_eq!(ttl(None, &B), 86400);
    }

    #[test]
    fn freshness_windows() {
        assert_eq!(freshness(99, 100, 10), Freshness::Fresh);
        assert_eq!(freshness(100, 100, 10), Freshness::Stale);
        assert_eq!(freshness(109, 100, 10), Freshness::Stale);
        assert_eq!(freshness(110, 100, 10), Freshness::Expired);
        assert_eq!(freshness(110, 100, 0), Freshness::Expired);
    }

    #[test]
    fn forced_refresh_rate_limit() {
        assert!(may_refresh(1000, 0, 60));
        assert!(!may_refresh(1059, 1000, 60));
        assert!(may_refresh(1060, 1000, 60));
    }
}

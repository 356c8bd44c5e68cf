//! Which URLs the module may send a browser back to after login: only paths on this
//! site. Anything that a browser could read as another origin (`//evil`, `/\evil`,
//! a scheme, control characters) is refused, which closes the open-redirect hole.

/// The longest URL kept to return to after login. It travels in the state cookie, and a
/// browser holds a few of those at once: an attacker's page that sends a browser to
/// long URLs must not be able to push its `Cookie` header past what nginx accepts
/// (nginx would answer 400 to every request of that browser, logout included).
pub const MAX_RETURN_URL: usize = 1024;

/// Where to send the browser after login, from the URL it asked for (path and query as
/// sent): that URL when it is a safe local target of at most `MAX_RETURN_URL` bytes,
/// else its path alone when that is, else `/`.
pub fn return_target(requested: &str) -> &str {
    let fits = |t: &str| t.len() <= MAX_RETURN_URL && is_safe_local_target(t);
    if fits(requested) {
        return requested;
    }
    let path = requested.split_once('?').map_or(requested, |(path, _)| path);
    if fits(path) {
        path
    } else {
        "/"
    }
}

/// Whether `target` is a local absolute path (with an optional query) that every
/// browser resolves to this origin.
pub fn is_safe_local_target(target: &str) -> bool {
    let bytes = target.as_bytes();
    if bytes.first() != Some(&b'/') || target.len() > 4096 {
        return false;
    }
    // "//host" and "/\host" are network-path references to browsers.
    if matches!(bytes.get(1), Some(b'/') | Some(b'\\')) {
        return false;
    }
    // Browsers drop tabs and newlines inside URLs, so "/\t/evil" would become "//evil".
    !bytes.iter().any(|&b| b.is_ascii_control() || b == b' ' || b == b'\\')
}

#[cfg(test)]
mod tests {
    use super::is_safe_local_target as ok;

    #[test]
    fn local_paths_pass() {
        assert!(ok("/"));
        assert!(ok("/app/page?x=1&y=%2F%2Fz"));
        assert!(ok("/a//b"));
    }

    #[test]
    fn long_urls_shortened() {
        use super::{return_target, MAX_RETURN_URL};
        assert_eq!(return_target("/app/page?x=1"), "/app/page?x=1");
        let long_query = format!("/app/page?x={}", "a".repeat(MAX_RETURN_URL));
        assert_eq!(return_target(&long_query), "/app/page");
        let at_limit = format!("/{}", "a".repeat(MAX_RETURN_URL - 1));
        assert_eq!(return_target(&at_limit), at_limit);
        let long_path = format!("/{}?x=1", "a".repeat(MAX_RETURN_URL));
        assert_eq!(return_target(&long_path), "/");
        assert_eq!(return_target("//evil.example/?x=1"), "/");
        assert_eq!(return_target(&format!("//evil.example?{}", "a".repeat(2000))), "/");
    }

    #[test]
    fn other_origins_refused() {
        for t in ["", "app", "https://evil.example/", "//evil.example", "/\\evil.example", "/\t/evil", "/a\nb", "/a b", "javascript:alert(1)"] {
            assert!(!ok(t), "{t:?}");
        }
    }
}

//! Which URLs the module may send a browser back to after login: only paths on this
//! site. Anything that a browser could read as another origin (`//evil`, `/\evil`,
//! a scheme, control characters) is refused, which closes the open-redirect hole.

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
    fn other_origins_refused() {
        for t in ["", "app", "https://evil.example/", "//evil.example", "/\\evil.example", "/\t/evil", "/a\nb", "/a b", "javascript:alert(1)"] {
            assert!(!ok(t), "{t:?}");
        }
    }
}

//! Checks of configured URLs and paths (`redirect_uri`, `logout_uri`, `post_logout_uri`)
//! that need no nginx pointer. They live here rather than in the module's `conf` so the
//! fuzz targets and unit tests reach them; the directive handlers call them.

use url::Url;

/// The path of a configured path-or-URL (`redirect_uri`), which the callback is
/// recognised by.
pub fn path_of(uri: &str) -> &str {
    match uri.find("://") {
        None => uri,
        Some(i) => {
            let rest = &uri[i + 3..];
            let path = rest.find('/').map_or("/", |j| &rest[j..]);
            path.split(['?', '#']).next().unwrap_or("/")
        }
    }
}

/// `redirect_uri`: a plain path (joined to the request's scheme and Host) or an
/// absolute http(s) URL without a fragment.
pub fn check_redirect_uri(uri: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("\"redirect_uri\" \"{uri}\" {why}"));
    if uri.starts_with('/') {
        if uri.starts_with("//") || uri.contains(['?', '#', ' ']) {
            return bad("must be a plain path (no query or fragment) or an absolute URL");
        }
        return Ok(());
    }
    match Url::parse(uri) {
        Ok(u) if (u.scheme() == "https" || u.scheme() == "http") && u.host().is_some() && u.fragment().is_none() => Ok(()),
        _ => bad("must be a path starting with \"/\" or an absolute http(s) URL"),
    }
}

/// `logout_uri`: a plain path (no query, fragment or space).
pub fn check_logout_uri(p: &str) -> Result<(), String> {
    check_plain_path("logout_uri", p)
}

/// `logout_uri`, `backchannel_logout_uri`, `frontchannel_logout_uri`: a plain path.
pub fn check_plain_path(directive: &str, p: &str) -> Result<(), String> {
    if !p.starts_with('/') || p.starts_with("//") || p.contains(['?', '#', ' ']) {
        return Err(format!("\"{directive}\" \"{p}\" must be a plain path"));
    }
    Ok(())
}

/// `post_logout_uri`: a local path, or an absolute http(s) URL registered at the OP.
pub fn check_post_logout_uri(p: &str) -> Result<(), String> {
    let local = crate::return_to::is_safe_local_target(p);
    let absolute = Url::parse(p).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
    if !local && !absolute {
        return Err(format!("\"post_logout_uri\" \"{p}\" must be a local path or an absolute http(s) URL"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_configured_uris() {
        assert_eq!(path_of("/oidc_callback"), "/oidc_callback");
        assert_eq!(path_of("https://app.example/cb?x=1#f"), "/cb");
        assert_eq!(path_of("https://app.example"), "/");
    }

    #[test]
    fn redirect_uri_rules() {
        assert!(check_redirect_uri("/cb").is_ok());
        assert!(check_redirect_uri("https://app.example/cb").is_ok());
        for bad in ["//evil/cb", "/cb?x", "cb", "ftp://app.example/cb", "https://app.example/cb#f", "https://"] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn logout_uri_rules() {
        assert!(check_logout_uri("/logout").is_ok());
        assert!(check_logout_uri("//x").is_err());
        assert!(check_logout_uri("/a?b").is_err());
        assert!(check_post_logout_uri("/bye").is_ok());
        assert!(check_post_logout_uri("https://app.example/bye").is_ok());
        assert!(check_post_logout_uri("javascript:alert(1)").is_err());
        assert!(check_post_logout_uri("//evil").is_err());
    }
}

//! Whether a request without a session is a browser navigation (send it to the OP to
//! log in) or a script (XHR / fetch / API client: a redirect to a login page is useless
//! to it, and for non-GET requests would lose the body; answer 401).

/// The request headers that tell, as the client sent them.
#[derive(Default)]
pub struct RequestHints<'a> {
    pub method: &'a [u8],
    pub sec_fetch_mode: Option<&'a [u8]>,
    pub sec_fetch_dest: Option<&'a [u8]>,
    pub accept: Option<&'a [u8]>,
    pub x_requested_with: Option<&'a [u8]>,
}

pub fn is_navigation(h: &RequestHints<'_>) -> bool {
    if h.method != b"GET" && h.method != b"HEAD" {
        return false;
    }
    if h.x_requested_with.is_some() {
        return false;
    }
    // Fetch metadata (all current browsers) says it directly.
    if let Some(mode) = h.sec_fetch_mode {
        if !mode.eq_ignore_ascii_case(b"navigate") {
            return false;
        }
    }
    if let Some(dest) = h.sec_fetch_dest {
        let page = [&b"document"[..], b"iframe", b"frame"].iter().any(|d| dest.eq_ignore_ascii_case(d));
        if !page {
            return false;
        }
    }
    // Without fetch metadata: a client that asks for JSON and not HTML is an API client.
    if let Some(accept) = h.accept {
        let a = String::from_utf8_lossy(accept).to_ascii_lowercase();
        let html = a.contains("text/html") || a.contains("application/xhtml+xml");
        if !html && (a.contains("application/json") || a.contains("+json")) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hints(method: &'static str) -> RequestHints<'static> {
        RequestHints { method: method.as_bytes(), ..Default::default() }
    }

    #[test]
    fn navigations() {
        assert!(is_navigation(&hints("GET")));
        assert!(is_navigation(&hints("HEAD")));
        let browser = RequestHints {
            sec_fetch_mode: Some(b"navigate"),
            sec_fetch_dest: Some(b"document"),
            accept: Some(b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
            ..hints("GET")
        };
        assert!(is_navigation(&browser));
        let curl = RequestHints { accept: Some(b"*/*"), ..hints("GET") };
        assert!(is_navigation(&curl));
    }

    #[test]
    fn scripts_and_apis() {
        assert!(!is_navigation(&hints("POST")));
        assert!(!is_navigation(&hints("DELETE")));
        assert!(!is_navigation(&RequestHints { sec_fetch_mode: Some(b"cors"), ..hints("GET") }));
        assert!(!is_navigation(&RequestHints { sec_fetch_mode: Some(b"no-cors"), sec_fetch_dest: Some(b"image"), ..hints("GET") }));
        assert!(!is_navigation(&RequestHints { x_requested_with: Some(b"XMLHttpRequest"), ..hints("GET") }));
        assert!(!is_navigation(&RequestHints { accept: Some(b"application/json"), ..hints("GET") }));
        assert!(!is_navigation(&RequestHints { accept: Some(b"application/problem+json"), ..hints("GET") }));
        assert!(is_navigation(&RequestHints { accept: Some(b"text/html, application/json"), ..hints("GET") }));
    }
}

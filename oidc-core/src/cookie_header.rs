//! Reading `Cookie` request headers and writing `Set-Cookie` values (RFC 6265).

/// The `name=value` pairs of one `Cookie` header, in order. Pairs without `=` are
/// skipped; surrounding whitespace and double quotes around the value are removed.
/// Works on bytes (this runs on every request of a logged-in user): only a pair's name
/// and value are checked to be UTF-8.
pub fn iter_cookies(header: &[u8]) -> impl Iterator<Item = (&str, &str)> {
    header.split(|&b| b == b';').filter_map(|pair| {
        let eq = pair.iter().position(|&b| b == b'=')?;
        let name = pair[..eq].trim_ascii();
        if name.is_empty() {
            return None;
        }
        let value = pair[eq + 1..].trim_ascii();
        let value = match value {
            [b'"', inner @ .., b'"'] => inner,
            v => v,
        };
        Some((std::str::from_utf8(name).ok()?, std::str::from_utf8(value).ok()?))
    })
}

pub struct SetCookieAttrs<'a> {
    pub path: &'a str,
    pub domain: Option<&'a str>,
    /// Seconds; Some(0) deletes the cookie; None makes a browser-session cookie.
    pub max_age: Option<i64>,
    pub secure: bool,
    pub http_only: bool,
    /// `Lax`, `Strict` or `None`.
    pub same_site: &'a str,
}

/// A `Set-Cookie` header value. Values are base64url here, so need no quoting.
pub fn set_cookie(name: &str, value: &str, a: &SetCookieAttrs<'_>) -> String {
    let mut s = format!("{name}={value}; Path={}", a.path);
    if let Some(d) = a.domain {
        s.push_str("; Domain=");
        s.push_str(d);
    }
    if let Some(age) = a.max_age {
        s.push_str(&format!("; Max-Age={}", age.max(0)));
        if age <= 0 {
            // Old browsers ignore Max-Age=0 without an Expires in the past.
            s.push_str("; Expires=Thu, 01 Jan 1970 00:00:00 GMT");
        }
    }
    if a.secure {
        s.push_str("; Secure");
    }
    if a.http_only {
        s.push_str("; HttpOnly");
    }
    s.push_str("; SameSite=");
    s.push_str(a.same_site);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cookie_header() {
        let v: Vec<_> = iter_cookies(b"a=1; b = \"two\" ;junk; c=x=y;=bad").collect();
        assert_eq!(v, vec![("a", "1"), ("b", "two"), ("c", "x=y")]);
        assert_eq!(iter_cookies(b"").count(), 0);
        assert_eq!(iter_cookies(b"a=\xff; b=2").collect::<Vec<_>>(), vec![("b", "2")]);
    }

    #[test]
    fn formats_set_cookie() {
        let a = SetCookieAttrs { path: "/", domain: None, max_age: Some(600), secure: true, http_only: true, same_site: "Lax" };
        assert_eq!(set_cookie("n", "v", &a), "n=v; Path=/; Max-Age=600; Secure; HttpOnly; SameSite=Lax");
        let d = SetCookieAttrs { max_age: Some(0), secure: false, domain: Some("example.org"), ..a };
        assert_eq!(
            set_cookie("n", "", &d),
            "n=; Path=/; Domain=example.org; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Lax"
        );
    }
}

//! Finding the access token in a request (RFC 6750 section 2.1): the `Authorization`
//! header with the `Bearer` scheme, or one other place the configuration names (a header
//! or a cookie). Anything ambiguous is refused rather than guessed at: a request that
//! could be read as carrying two different tokens would let the one we check differ from
//! the one the upstream acts on.

use std::fmt;

/// The longest token accepted. Real access tokens are a few KiB at most (a JWT with many
/// group claims); the bound keeps what we hash, parse and cache small.
pub const MAX_BEARER_TOKEN_LEN: usize = 16 * 1024;

/// What the request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerToken<'a> {
    /// No bearer token at all (no `Authorization` header, or another scheme such as
    /// `Basic`): the caller may fall back to a browser session or send a bare challenge.
    None,
    /// A token in b64token syntax, at most [`MAX_BEARER_TOKEN_LEN`] bytes.
    Token(&'a str),
    /// A bearer token was attempted but is not well formed: `400 invalid_request`.
    Malformed(Malformed),
}

/// Why a bearer token could not be read. The descriptions are safe for an
/// `error_description`: they never quote the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    MultipleAuthorizationHeaders,
    /// Two tokens in one header (`Bearer a b`).
    MultipleTokens,
    /// A token in the `Authorization` header and in the other configured place
    /// (RFC 6750 section 2: one method per request).
    MultipleMethods,
    /// `Bearer` without a token.
    MissingToken,
    /// The scheme is not followed by a space (`Bearer\tabc`).
    BadSeparator,
    /// A byte outside the b64token alphabet, or `=` before the end.
    BadCharacter,
    /// Spaces after the token.
    TrailingWhitespace,
    TooLong,
}

impl Malformed {
    /// The stable word for the error log.
    pub fn reason(self) -> &'static str {
        match self {
            Malformed::MultipleAuthorizationHeaders => "multiple_authorization_headers",
            Malformed::MultipleTokens => "multiple_tokens",
            Malformed::MultipleMethods => "multiple_token_methods",
            Malformed::MissingToken => "missing_token",
            Malformed::BadSeparator => "bad_separator",
            Malformed::BadCharacter => "bad_token_syntax",
            Malformed::TrailingWhitespace => "trailing_whitespace",
            Malformed::TooLong => "token_too_long",
        }
    }

    /// A short sentence for `error_description` (printable ASCII, no quotes).
    pub fn description(self) -> &'static str {
        match self {
            Malformed::MultipleAuthorizationHeaders => "more than one Authorization header",
            Malformed::MultipleTokens => "more than one token in the Authorization header",
            Malformed::MultipleMethods => "the access token was sent in more than one way",
            Malformed::MissingToken => "the Bearer scheme without a token",
            Malformed::BadSeparator => "the Bearer scheme must be followed by a space",
            Malformed::BadCharacter => "the bearer token is not in b64token syntax",
            Malformed::TrailingWhitespace => "whitespace after the bearer token",
            Malformed::TooLong => "the bearer token is too long",
        }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// Reads the bearer token of a request. `authorization` holds the value of every
/// `Authorization` header (a singleton field: more than one is an error, whatever the
/// schemes). `alternative` is the value of the other configured source, a header or a
/// cookie: either the bare token or `Bearer <token>`; empty counts as absent.
pub fn extract<'a>(authorization: &[&'a [u8]], alternative: Option<&'a [u8]>) -> BearerToken<'a> {
    let from_header = match authorization {
        [] => BearerToken::None,
        [one] => from_authorization(one),
        _ => return BearerToken::Malformed(Malformed::MultipleAuthorizationHeaders),
    };
    let from_alternative = match alternative {
        None | Some(b"") => BearerToken::None,
        Some(v) if has_bearer_scheme(v) => from_authorization(v),
        Some(v) => token(v),
    };
    match (from_header, from_alternative) {
        (m @ BearerToken::Malformed(_), _) | (_, m @ BearerToken::Malformed(_)) => m,
        (BearerToken::Token(_), BearerToken::Token(_)) => BearerToken::Malformed(Malformed::MultipleMethods),
        (BearerToken::None, other) | (other, BearerToken::None) => other,
    }
}

/// One `Authorization` value: `Bearer 1*SP b64token` (RFC 6750 section 2.1). Another
/// scheme means "no bearer token", not an error.
fn from_authorization(value: &[u8]) -> BearerToken<'_> {
    let scheme_len = value.iter().take_while(|b| is_tchar(**b)).count();
    if !value[..scheme_len].eq_ignore_ascii_case(b"bearer") {
        return BearerToken::None;
    }
    let rest = &value[scheme_len..];
    match rest.first() {
        None => return BearerToken::Malformed(Malformed::MissingToken),
        Some(b' ') => {}
        Some(_) => return BearerToken::Malformed(Malformed::BadSeparator),
    }
    let spaces = rest.iter().take_while(|b| **b == b' ').count();
    if spaces == rest.len() {
        return BearerToken::Malformed(Malformed::MissingToken);
    }
    token(&rest[spaces..])
}

fn has_bearer_scheme(value: &[u8]) -> bool {
    value.len() > 6 && value[..6].eq_ignore_ascii_case(b"bearer") && value[6] == b' '
}

/// A bare token: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
fn token(value: &[u8]) -> BearerToken<'_> {
    if value.len() > MAX_BEARER_TOKEN_LEN {
        return BearerToken::Malformed(Malformed::TooLong);
    }
    let body = value.iter().take_while(|b| is_b64token_char(**b)).count();
    if body == 0 {
        return BearerToken::Malformed(if value.is_empty() { Malformed::MissingToken } else { Malformed::BadCharacter });
    }
    let padding = value[body..].iter().take_while(|b| **b == b'=').count();
    let end = body + padding;
    if end < value.len() {
        let rest = &value[end..];
        let spaces = rest.iter().take_while(|b| **b == b' ').count();
        return BearerToken::Malformed(match (spaces, spaces == rest.len()) {
            (0, _) => Malformed::BadCharacter,
            (_, true) => Malformed::TrailingWhitespace,
            (_, false) => Malformed::MultipleTokens,
        });
    }
    // Every byte is ASCII by now, so this cannot fail.
    match std::str::from_utf8(value) {
        Ok(t) => BearerToken::Token(t),
        Err(_) => BearerToken::Malformed(Malformed::BadCharacter),
    }
}

fn is_b64token_char(b: u8) -> bool {
    B64TOKEN[b as usize]
}

/// The b64token characters as a table: checked for every byte of every token, on
/// every request that carries one.
const B64TOKEN: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        i += 1;
    }
    t
};

/// RFC 9110 tchar, the characters of an auth-scheme.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(v: &str) -> BearerToken<'_> {
        extract(&[v.as_bytes()], None)
    }

    fn malformed(v: &str) -> Malformed {
        match auth(v) {
            BearerToken::Malformed(m) => m,
            other => panic!("{v:?}: {other:?}"),
        }
    }

    #[test]
    fn reads_a_bearer_token() {
        assert_eq!(auth("Bearer abc.DEF-1_2~3+4/5=="), BearerToken::Token("abc.DEF-1_2~3+4/5=="));
        assert_eq!(auth("bearer t"), BearerToken::Token("t"), "the scheme is case-insensitive");
        assert_eq!(auth("BEARER t"), BearerToken::Token("t"));
        assert_eq!(auth("Bearer   t"), BearerToken::Token("t"), "1*SP after the scheme");
    }

    #[test]
    fn absent_or_other_scheme_is_none() {
        assert_eq!(extract(&[], None), BearerToken::None);
        assert_eq!(auth("Basic dXNlcjpwYXNz"), BearerToken::None);
        assert_eq!(auth("Negotiate abc"), BearerToken::None);
        assert_eq!(auth("Bearerx abc"), BearerToken::None, "another scheme, not Bearer");
        assert_eq!(auth(""), BearerToken::None);
    }

    #[test]
    fn malformed_values() {
        assert_eq!(malformed("Bearer"), Malformed::MissingToken);
        assert_eq!(malformed("Bearer "), Malformed::MissingToken);
        assert_eq!(malformed("Bearer    "), Malformed::MissingToken);
        assert_eq!(malformed("Bearer\tabc"), Malformed::BadSeparator);
        assert_eq!(malformed("Bearer abc def"), Malformed::MultipleTokens);
        assert_eq!(malformed("Bearer abc "), Malformed::TrailingWhitespace);
        assert_eq!(malformed("Bearer abc  "), Malformed::TrailingWhitespace);
        assert_eq!(malformed("Bearer abc\t"), Malformed::BadCharacter);
        assert_eq!(malformed("Bearer abc,Basic x"), Malformed::BadCharacter);
        assert_eq!(malformed("Bearer a=b"), Malformed::BadCharacter, "= only at the end");
        assert_eq!(malformed("Bearer =abc"), Malformed::BadCharacter);
        assert_eq!(malformed("Bearer realm=\"x\""), Malformed::BadCharacter, "auth-params are not a token");
        assert_eq!(malformed("Bearer ab\"c"), Malformed::BadCharacter);
        assert_eq!(malformed("Bearer abc\u{e9}"), Malformed::BadCharacter);
        assert_eq!(malformed("Bearer abc\r\n"), Malformed::BadCharacter);
    }

    #[test]
    fn length_is_bounded() {
        let max = format!("Bearer {}", "a".repeat(MAX_BEARER_TOKEN_LEN));
        assert!(matches!(auth(&max), BearerToken::Token(t) if t.len() == MAX_BEARER_TOKEN_LEN));
        let huge = format!("Bearer {}", "a".repeat(MAX_BEARER_TOKEN_LEN + 1));
        assert_eq!(malformed(&huge), Malformed::TooLong);
        let huge_cookie = "a".repeat(10 * MAX_BEARER_TOKEN_LEN);
        assert_eq!(extract(&[], Some(huge_cookie.as_bytes())), BearerToken::Malformed(Malformed::TooLong));
    }

    #[test]
    fn one_authorization_header_only() {
        let two = extract(&[b"Bearer a", b"Bearer b"], None);
        assert_eq!(two, BearerToken::Malformed(Malformed::MultipleAuthorizationHeaders));
        let mixed = extract(&[b"Basic eA==", b"Bearer b"], None);
        assert_eq!(mixed, BearerToken::Malformed(Malformed::MultipleAuthorizationHeaders));
    }

    #[test]
    fn alternative_source() {
        assert_eq!(extract(&[], Some(b"tok")), BearerToken::Token("tok"));
        assert_eq!(extract(&[], Some(b"Bearer tok")), BearerToken::Token("tok"), "a header with the scheme");
        assert_eq!(extract(&[], Some(b"")), BearerToken::None);
        assert_eq!(extract(&[b"Basic eA=="], Some(b"tok")), BearerToken::Token("tok"));
        assert_eq!(extract(&[b"Bearer tok"], Some(b"")), BearerToken::Token("tok"));
        assert_eq!(extract(&[b"Bearer a"], Some(b"b")), BearerToken::Malformed(Malformed::MultipleMethods));
        assert_eq!(extract(&[b"Bearer a"], Some(b"a")), BearerToken::Malformed(Malformed::MultipleMethods));
        assert_eq!(extract(&[], Some(b"a b")), BearerToken::Malformed(Malformed::MultipleTokens));
        assert_eq!(extract(&[], Some(b"a;b")), BearerToken::Malformed(Malformed::BadCharacter));
        assert_eq!(extract(&[b"Bearer a b"], Some(b"c")), BearerToken::Malformed(Malformed::MultipleTokens));
    }

    #[test]
    fn descriptions_are_plain_ascii() {
        for m in [
            Malformed::MultipleAuthorizationHeaders,
            Malformed::MultipleTokens,
            Malformed::MultipleMethods,
            Malformed::MissingToken,
            Malformed::BadSeparator,
            Malformed::BadCharacter,
            Malformed::TrailingWhitespace,
            Malformed::TooLong,
        ] {
            assert!(m.description().bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\'));
            assert!(m.reason().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'));
        }
    }
}

//! The `WWW-Authenticate: Bearer` challenge of RFC 6750 section 3 and the status that
//! goes with it. A request without any token gets the bare challenge (no error code, as
//! section 3 asks); otherwise the error code tells the client whether to fix the request,
//! get a new token, or ask for more scope.

/// The error codes of RFC 6750 section 3.1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request is malformed (two tokens, bad syntax): 400.
    InvalidRequest,
    /// The token is expired, revoked, malformed or not for us: 401.
    InvalidToken,
    /// The token is valid but does not grant enough: 403.
    InsufficientScope,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::InsufficientScope => "insufficient_scope",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest => 400,
            ErrorCode::InvalidToken => 401,
            ErrorCode::InsufficientScope => 403,
        }
    }
}

/// One challenge. `error: None` is the bare challenge for a request without a token.
#[derive(Clone, Copy, Debug, Default)]
pub struct Challenge<'a> {
    /// Omitted when empty.
    pub realm: &'a str,
    pub error: Option<ErrorCode>,
    /// Omitted when `None` or when there is no error.
    pub description: Option<&'a str>,
    /// The scopes the resource needs, space-separated; sent with `insufficient_scope`
    /// only.
    pub scope: Option<&'a str>,
}

impl Challenge<'_> {
    /// The HTTP status: 401 for the bare challenge, otherwise by error code.
    pub fn status(&self) -> u16 {
        self.error.map_or(401, ErrorCode::status)
    }

    /// The `WWW-Authenticate` value.
    pub fn header_value(&self) -> String {
        let mut params: Vec<String> = Vec::new();
        if !self.realm.is_empty() {
            params.push(format!("realm=\"{}\"", quoted_string(self.realm)));
        }
        if let Some(code) = self.error {
            params.push(format!("error=\"{}\"", code.as_str()));
            if let Some(d) = self.description.map(error_text).filter(|d| !d.is_empty()) {
                params.push(format!("error_description=\"{d}\""));
            }
            if code == ErrorCode::InsufficientScope {
                if let Some(s) = self.scope.map(scope_text).filter(|s| !s.is_empty()) {
                    params.push(format!("scope=\"{s}\""));
                }
            }
        }
        if params.is_empty() {
            "Bearer".into()
        } else {
            format!("Bearer {}", params.join(", "))
        }
    }
}

/// Longest `error_description` sent: a sentence, not a report.
const MAX_DESCRIPTION_LEN: usize = 200;

/// `error_description` allows %x20-21 / %x23-5B / %x5D-7E (RFC 6750 section 3): no
/// quote, no backslash, not even escaped. Anything else is dropped.
fn error_text(s: &str) -> String {
    s.chars()
        .filter(|c| matches!(*c as u32, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e))
        .take(MAX_DESCRIPTION_LEN)
        .collect()
}

/// `scope` is a list of scope-tokens (%x21 / %x23-5B / %x5D-7E) separated by spaces.
fn scope_text(s: &str) -> String {
    s.split(' ').map(error_text).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(" ")
}

/// The realm is an ordinary quoted-string (RFC 9110 section 5.6.4): `"` and `\` are
/// escaped, control and non-ASCII characters dropped.
fn quoted_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|c| c.is_ascii_graphic() || *c == ' ') {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(error: Option<ErrorCode>, description: Option<&'static str>) -> Challenge<'static> {
        Challenge { realm: "api", error, description, scope: Some("read write") }
    }

    #[test]
    fn bare_challenge_without_a_token() {
        let c = challenge(None, Some("ignored"));
        assert_eq!(c.header_value(), "Bearer realm=\"api\"");
        assert_eq!(c.status(), 401);
        assert_eq!(Challenge::default().header_value(), "Bearer");
    }

    #[test]
    fn error_codes_and_statuses() {
        let c = challenge(Some(ErrorCode::InvalidRequest), Some("more than one Authorization header"));
        assert_eq!(c.header_value(), "Bearer realm=\"api\", error=\"invalid_request\", error_description=\"more than one Authorization header\"");
        assert_eq!(c.status(), 400);
        let c = challenge(Some(ErrorCode::InvalidToken), Some("the access token expired"));
        assert_eq!(c.header_value(), "Bearer realm=\"api\", error=\"invalid_token\", error_description=\"the access token expired\"");
        assert_eq!(c.status(), 401);
        let c = challenge(Some(ErrorCode::InsufficientScope), None);
        assert_eq!(c.header_value(), "Bearer realm=\"api\", error=\"insufficient_scope\", scope=\"read write\"");
        assert_eq!(c.status(), 403);
        let no_realm = Challenge { error: Some(ErrorCode::InvalidToken), ..Challenge::default() };
        assert_eq!(no_realm.header_value(), "Bearer error=\"invalid_token\"");
    }

    #[test]
    fn scope_only_with_insufficient_scope() {
        let c = challenge(Some(ErrorCode::InvalidToken), None);
        assert!(!c.header_value().contains("scope="));
        let c = Challenge { scope: Some("  a\"b  c\\ é "), ..challenge(Some(ErrorCode::InsufficientScope), None) };
        assert!(c.header_value().ends_with("scope=\"ab c\""), "{}", c.header_value());
        let c = Challenge { scope: Some(" "), ..challenge(Some(ErrorCode::InsufficientScope), None) };
        assert!(!c.header_value().contains("scope="));
    }

    #[test]
    fn values_are_safe_in_the_header() {
        let c = Challenge {
            realm: "my \"api\" \\ x\r\ny",
            error: Some(ErrorCode::InvalidToken),
            description: Some("bad \"token\" \\ here\r\nSet-Cookie: x=y\u{7f}é"),
            scope: None,
        };
        assert_eq!(
            c.header_value(),
            "Bearer realm=\"my \\\"api\\\" \\\\ xy\", error=\"invalid_token\", error_description=\"bad token  hereSet-Cookie: x=y\""
        );
        let long = "x".repeat(1000);
        let c = Challenge { description: Some(&long), ..c };
        assert!(c.header_value().len() < 300);
        let c = Challenge { description: Some("\"\\"), ..c };
        assert!(!c.header_value().contains("error_description"), "nothing left to say");
    }
}

//! The kind of a failed request to the OP, for `auth_oidc_op_errors_total`.
//!
//! The HTTP client's errors reach the nginx side as one line of text (the error and its
//! causes); the kind is read from that line's fixed wording, never from the URL in it
//! (a host may be called `tls.example.org`).

words!(
    /// Why a request to the OP failed.
    OpErrorKind {
        Connect = "connect",
        Timeout = "timeout",
        Tls = "tls",
        RedirectRefused = "redirect_refused",
        TooLarge = "too_large",
        Http4xx = "http_4xx",
        Http5xx = "http_5xx",
        Busy = "busy",
        Other = "other",
    }
);

/// The kind of an HTTP status that is an error (None for 1xx-3xx).
pub fn from_status(status: u16) -> Option<OpErrorKind> {
    match status {
        400..=499 => Some(OpErrorKind::Http4xx),
        500..=599 => Some(OpErrorKind::Http5xx),
        _ => None,
    }
}

/// The kind of a failure described by `msg`.
pub fn classify(msg: &str) -> OpErrorKind {
    let text = without_url(msg).to_ascii_lowercase();
    if let Some(status) = text.split("the op answered http ").nth(1).and_then(|s| s.get(..3)).and_then(|s| s.parse().ok()) {
        if let Some(k) = from_status(status) {
            return k;
        }
    }
    if text.contains("redirect_refused") {
        OpErrorKind::RedirectRefused
    } else if text.contains("max_response_size") {
        OpErrorKind::TooLarge
    } else if text.contains("timed out") || text.contains("timeout") {
        OpErrorKind::Timeout
    } else if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
        OpErrorKind::Tls
    } else if text.contains("connect") || text.contains("dns error") || text.contains("connection") {
        OpErrorKind::Connect
    } else {
        OpErrorKind::Other
    }
}

/// `msg` without the `(url)` reqwest puts after "for url".
fn without_url(msg: &str) -> std::borrow::Cow<'_, str> {
    let Some(start) = msg.find("for url (") else { return msg.into() };
    let rest = &msg[start + "for url (".len()..];
    match rest.find("):").or_else(|| rest.rfind(')')) {
        Some(end) => format!("{}{}", &msg[..start], &rest[end + 1..]).into(),
        None => msg[..start].to_owned().into(),
    }
}

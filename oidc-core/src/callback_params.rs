//! The OP's answer at the redirect URI (OIDC Core 3.1.2.5 / 3.1.2.6, RFC 9207): from the
//! query string, or from a form_post body. Values are bounded in size.

use std::collections::HashMap;

const MAX_VALUE: usize = 4096;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub iss: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum ParamsError {
    Duplicate(String),
    TooLong(String),
}

impl std::fmt::Display for ParamsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamsError::Duplicate(n) => write!(f, "parameter \"{n}\" appears more than once"),
            ParamsError::TooLong(n) => write!(f, "parameter \"{n}\" is too long"),
        }
    }
}

/// The parameters named `names` of `application/x-www-form-urlencoded` text (the OP's
/// logout calls: `logout_token`, `iss` and `sid`), with the rules of `parse`; empty
/// values are absent. `max`: the longest value accepted.
pub fn named(encoded: &[u8], names: &[&str], max: usize) -> Result<HashMap<String, String>, ParamsError> {
    let mut seen: HashMap<String, String> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(encoded) {
        if !names.contains(&k.as_ref()) {
            continue;
        }
        if v.len() > max {
            return Err(ParamsError::TooLong(k.into_owned()));
        }
        if seen.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(ParamsError::Duplicate(k.into_owned()));
        }
    }
    seen.retain(|_, v| !v.is_empty());
    Ok(seen)
}

/// Parses `application/x-www-form-urlencoded` text (a query string or a form body).
/// A repeated parameter is refused (RFC 6749 3.1: parameters must not be included
/// more than once).
pub fn parse(encoded: &[u8]) -> Result<CallbackParams, ParamsError> {
    let mut seen: HashMap<String, String> = HashMap::new();
    for (k, v) in url::form_urlencoded::parse(encoded) {
        if !matches!(k.as_ref(), "code" | "state" | "iss" | "error" | "error_description") {
            continue;
        }
        if v.len() > MAX_VALUE {
            return Err(ParamsError::TooLong(k.into_owned()));
        }
        if seen.insert(k.to_string(), v.into_owned()).is_some() {
            return Err(ParamsError::Duplicate(k.into_owned()));
        }
    }
    let mut take = |n: &str| seen.remove(n).filter(|v| !v.is_empty());
    Ok(CallbackParams {
        code: take("code"),
        state: take("state"),
        iss: take("iss"),
        error: take("error"),
        error_description: take("error_description"),
    })
}

/// A request line with the values of secret parameters (`code`, and tokens an OP might
/// send) replaced by `[hidden]`, for logs: nginx writes the request line into error and
/// access log lines, and an authorization code must not end up there.
pub fn mask_request_line(line: &str) -> Option<String> {
    let q = line.find('?')?;
    let end = line[q..].find(' ').map_or(line.len(), |i| q + i);
    let mut out = String::with_capacity(line.len());
    out.push_str(&line[..=q]);
    let mut changed = false;
    for (i, pair) in line[q + 1..end].split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((k, v)) if matches!(k, "code" | "id_token" | "access_token" | "refresh_token") && !v.is_empty() => {
                out.push_str(k);
                out.push_str("=[hidden]");
                changed = true;
            }
            _ => out.push_str(pair),
        }
    }
    out.push_str(&line[end..]);
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_success_and_error() {
        let p = parse(b"code=abc&state=s%20t&iss=https%3A%2F%2Fop&other=1").unwrap();
        assert_eq!(p.code.as_deref(), Some("abc"));
        assert_eq!(p.state.as_deref(), Some("s t"));
        assert_eq!(p.iss.as_deref(), Some("https://op"));
        let p = parse(b"error=access_denied&error_description=User+said+no&state=x").unwrap();
        assert_eq!(p.error.as_deref(), Some("access_denied"));
        assert_eq!(p.error_description.as_deref(), Some("User said no"));
        assert_eq!(parse(b"").unwrap(), CallbackParams::default());
    }

    #[test]
    fn masks_codes_in_request_lines() {
        assert_eq!(
            mask_request_line("GET /cb?code=s3cr3t&state=abc&iss=x HTTP/1.1").as_deref(),
            Some("GET /cb?code=[hidden]&state=abc&iss=x HTTP/1.1")
        );
        assert_eq!(mask_request_line("GET /cb?state=abc&error=access_denied HTTP/1.1"), None);
        assert_eq!(mask_request_line("GET /cb HTTP/1.1"), None);
        assert_eq!(mask_request_line("POST /cb HTTP/1.1"), None);
    }

    #[test]
    fn refuses_duplicates_and_huge_values() {
        assert_eq!(parse(b"state=a&state=b").unwrap_err(), ParamsError::Duplicate("state".into()));
        let long = format!("code={}", "a".repeat(5000));
        assert_eq!(parse(long.as_bytes()).unwrap_err(), ParamsError::TooLong("code".into()));
    }
}

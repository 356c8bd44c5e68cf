//! The authorization request of the code flow (OpenID Connect Core 3.1.2.1, RFC 7636
//! section 4.3): the URL the browser is redirected to.

use url::Url;

/// Parameters the module sets itself; `extra_auth_args` may not override them, or a
/// configuration could silently turn off state, nonce or PKCE.
const RESERVED: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "response_mode",
];

pub struct AuthorizationRequest<'a> {
    pub endpoint: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scope: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    /// S256 challenge when PKCE is used.
    pub code_challenge: Option<&'a str>,
    /// `form_post` or `query`; None leaves the OP's default for `code` (query).
    pub response_mode: Option<&'a str>,
    /// Extra `name=value&...` parameters, already checked by `check_extra_args`.
    pub extra_args: Option<&'a str>,
}

impl AuthorizationRequest<'_> {
    pub fn to_url(&self) -> Result<String, String> {
        let mut url = Url::parse(self.endpoint)
            .map_err(|e| format!("authorization_endpoint \"{}\" is not a URL: {e}", self.endpoint))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", self.client_id)
                .append_pair("redirect_uri", self.redirect_uri)
                .append_pair("scope", self.scope)
                .append_pair("state", self.state)
                .append_pair("nonce", self.nonce);
            if let Some(challenge) = self.code_challenge {
                q.append_pair("code_challenge", challenge).append_pair("code_challenge_method", "S256");
            }
            if let Some(mode) = self.response_mode {
                q.append_pair("response_mode", mode);
            }
            if let Some(extra) = self.extra_args {
                for (name, value) in url::form_urlencoded::parse(extra.as_bytes()) {
                    q.append_pair(&name, &value);
                }
            }
        }
        Ok(url.into())
    }
}

/// Checks `extra_auth_args` (`name=value&name=value`, URL-encoded as in a query string).
pub fn check_extra_args(extra: &str) -> Result<(), String> {
    if extra.is_empty() {
        return Err("is empty".into());
    }
    for part in extra.split('&') {
        let (name, _) = part.split_once('=').ok_or_else(|| format!("\"{part}\" is not name=value"))?;
        if name.is_empty() {
            return Err(format!("\"{part}\" has an empty name"));
        }
        if part.bytes().any(|b| b.is_ascii_control() || b == b' ' || b == b'#') {
            return Err(format!("\"{part}\" must be URL-encoded"));
        }
        let decoded: String = url::form_urlencoded::parse(part.as_bytes()).map(|(n, _)| n.into_owned()).collect();
        if RESERVED.contains(&decoded.as_str()) {
            return Err(format!("\"{decoded}\" is set by the module and cannot be overridden"));
        }
    }
    Ok(())
}

/// The `scope` directive's arguments as the one space-separated `scope` parameter:
/// NGINX Plus writes `scope openid email profile;`, older configurations one quoted
/// argument, `scope "openid email";`, and both mean the same. Each scope must be an
/// RFC 6749 section 3.3 scope-token, a repeated one is sent once, and `openid` must be
/// among them (OpenID Connect Core 3.1.2.1).
pub fn scope_from_args(args: &[&str]) -> Result<String, String> {
    let mut scopes: Vec<&str> = Vec::new();
    for arg in args {
        if arg.is_empty() {
            return Err("an empty scope".into());
        }
        for s in arg.split([' ', '\t']).filter(|s| !s.is_empty()) {
            // scope-token = 1*( %x21 / %x23-5B / %x5D-7E ): no quote, no backslash.
            if let Some(bad) = s.chars().find(|&c| !matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e')) {
                return Err(format!("\"{s}\" is not a valid scope (character {bad:?})"));
            }
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
    }
    if scopes.is_empty() {
        return Err("no scope given".into());
    }
    if !scopes.contains(&"openid") {
        return Err(format!("\"{}\" must include \"openid\"", scopes.join(" ")));
    }
    Ok(scopes.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn req(extra: Option<&'static str>, challenge: Option<&'static str>) -> AuthorizationRequest<'static> {
        AuthorizationRequest {
            endpoint: "https://op.example/auth?tenant=x",
            client_id: "my client",
            redirect_uri: "https://app.example/oidc_callback",
            scope: "openid email",
            state: "st",
            nonce: "no",
            code_challenge: challenge,
            response_mode: None,
            extra_args: extra,
        }
    }

    fn params(u: &str) -> HashMap<String, String> {
        Url::parse(u).unwrap().query_pairs().into_owned().collect()
    }

    #[test]
    fn all_parameters_present_and_encoded() {
        let u = req(Some("prompt=login&ui_locales=en%20fr"), Some("chal")).to_url().unwrap();
        assert!(u.starts_with("https://op.example/auth?tenant=x&response_type=code&"), "{u}");
        let p = params(&u);
        assert_eq!(p["client_id"], "my client");
        assert_eq!(p["redirect_uri"], "https://app.example/oidc_callback");
        assert_eq!(p["scope"], "openid email");
        assert_eq!(p["state"], "st");
        assert_eq!(p["nonce"], "no");
        assert_eq!(p["code_challenge"], "chal");
        assert_eq!(p["code_challenge_method"], "S256");
        assert_eq!(p["prompt"], "login");
        assert_eq!(p["ui_locales"], "en fr");
        assert_eq!(p["tenant"], "x");
    }

    #[test]
    fn no_pkce_no_challenge() {
        let p = params(&req(None, None).to_url().unwrap());
        assert!(!p.contains_key("code_challenge") && !p.contains_key("code_challenge_method"));
    }

    #[test]
    fn extra_args_checked() {
        assert!(check_extra_args("prompt=login&acr_values=urn%3Aa").is_ok());
        assert!(check_extra_args("").is_err());
        assert!(check_extra_args("prompt").is_err());
        assert!(check_extra_args("=x").is_err());
        assert!(check_extra_args("state=x").is_err());
        assert!(check_extra_args("code%5Fchallenge=x").is_err());
        assert!(check_extra_args("a=b c").is_err());
    }

    #[test]
    fn scope_several_arguments_or_one_quoted() {
        assert_eq!(scope_from_args(&["openid", "email", "profile"]).unwrap(), "openid email profile");
        assert_eq!(scope_from_args(&["openid email  profile"]).unwrap(), "openid email profile");
        assert_eq!(scope_from_args(&["email", "openid groups"]).unwrap(), "email openid groups");
        assert_eq!(scope_from_args(&["openid", "email", "openid"]).unwrap(), "openid email");
        assert_eq!(scope_from_args(&["openid", "urn:x:read", "api://app/.default"]).unwrap(), "openid urn:x:read api://app/.default");
    }

    #[test]
    fn scope_refusals() {
        assert!(scope_from_args(&["email", "profile"]).unwrap_err().contains("must include \"openid\""));
        assert!(scope_from_args(&["openidx"]).is_err());
        assert!(scope_from_args(&[""]).is_err());
        assert!(scope_from_args(&["  "]).is_err());
        assert!(scope_from_args(&["openid", "a\"b"]).is_err());
        assert!(scope_from_args(&["openid", "a\\b"]).is_err());
        assert!(scope_from_args(&["openid", "caf\u{e9}"]).is_err());
        assert!(scope_from_args(&["openid\nemail"]).is_err());
    }
}

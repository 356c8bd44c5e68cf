//! Rules for the URLs the module talks to: the issuer and the OP's endpoints must be
//! https, except on a loopback host (a local test OP) or when the operator explicitly
//! allows plain http. Tokens and client secrets travel over these URLs.

use std::net::IpAddr;
use url::{Host, Url};

/// The well-known discovery URL of an issuer (OpenID Connect Discovery 1.0, section 4):
/// the path is appended after removing a trailing slash.
pub fn default_config_url(issuer: &str) -> String {
    format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'))
}

/// Checks a configured issuer identifier: an absolute https URL with no query and no
/// fragment (Discovery section 3, Core section 2).
pub fn check_issuer(issuer: &str, allow_http: bool) -> Result<(), String> {
    let url = check_endpoint_url(issuer, allow_http)?;
    if url.query().is_some() {
        return Err("must not contain a query".into());
    }
    Ok(())
}

/// Checks the URL of an OP endpoint and returns it parsed.
pub fn check_endpoint_url(text: &str, allow_http: bool) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("is not an absolute URL ({e})"))?;
    if url.fragment().is_some() {
        return Err("must not contain a fragment".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain user credentials".into());
    }
    let host = url.host().ok_or("has no host")?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_http || is_loopback(&host) => Ok(url),
        "http" => Err("must use https (plain http is accepted only for a loopback host, or with \"allow_http on\")".into()),
        other => Err(format!("has the unsupported scheme \"{other}\"")),
    }
}

fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_required_except_loopback_or_allowed() {
        assert!(check_issuer("https://login.elixir-czech.org/oidc/", false).is_ok());
        assert!(check_issuer("http://127.0.0.1:9000", false).is_ok());
        assert!(check_issuer("http://[::1]:9000", false).is_ok());
        assert!(check_issuer("http://localhost:9000/realms/x", false).is_ok());
        let e = check_issuer("http://idp.example.org", false).unwrap_err();
        assert!(e.contains("https"), "{e}");
        assert!(check_issuer("http://idp.example.org", true).is_ok());
    }

    #[test]
    fn malformed_issuers_refused() {
        assert!(check_issuer("idp.example.org", false).is_err());
        assert!(check_issuer("https://idp.example.org/?a=b", false).is_err());
        assert!(check_issuer("https://idp.example.org/#x", false).is_err());
        assert!(check_issuer("https://user:pw@idp.example.org/", false).is_err());
        assert!(check_issuer("ftp://idp.example.org/", true).is_err());
    }

    #[test]
    fn default_config_url_joins_without_double_slash() {
        assert_eq!(
            default_config_url("https://login.elixir-czech.org/oidc/"),
            "https://login.elixir-czech.org/oidc/.well-known/openid-configuration"
        );
        assert_eq!(
            default_config_url("https://accounts.google.com"),
            "https://accounts.google.com/.well-known/openid-configuration"
        );
    }
}

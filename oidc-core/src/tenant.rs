//! Multi-tenant issuers. Microsoft Entra ID's multi-tenant endpoints (`/common`,
//! `/organizations`) publish one discovery document whose `issuer` is a template,
//! `https://login.microsoftonline.com/{tenantid}/v2.0`; each token names its own tenant
//! in `iss`, with the same tenant in its `tid` claim. An exact issuer match refuses every
//! such token, so with `issuer_template on` the expected issuer is the template with the
//! token's `tid` put in, and an optional allow-list keeps other tenants out (an app
//! registered as multi-tenant otherwise admits any organisation's users).

use serde_json::Value;

use crate::token::Claims;

pub const PLACEHOLDER: &str = "{tenantid}";

/// Longest tenant id accepted (an Entra tenant id is a 36-character GUID).
const MAX_TENANT_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerTemplate {
    prefix: String,
    suffix: String,
    /// Empty: every tenant.
    allowed: Vec<String>,
}

/// Why a token's tenant is refused; `reason` is the stable log word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantError {
    /// No `tid` claim, or one that is not a plain identifier.
    Missing,
    Invalid,
    /// `iss` is not the template with the token's `tid`.
    IssuerMismatch { expected: String, found: String },
    NotAllowed(String),
}

impl TenantError {
    pub fn reason(&self) -> &'static str {
        match self {
            TenantError::Missing => "tenant_missing",
            TenantError::Invalid => "tenant_invalid",
            TenantError::IssuerMismatch { .. } => "wrong_issuer",
            TenantError::NotAllowed(_) => "tenant_not_allowed",
        }
    }
}

impl std::fmt::Display for TenantError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TenantError::Missing => f.write_str("the token has no \"tid\" claim (needed with issuer_template)"),
            TenantError::Invalid => f.write_str("the token's \"tid\" claim is not a tenant identifier"),
            TenantError::IssuerMismatch { expected, found } => {
                write!(f, "issuer \"{found}\" is not \"{expected}\" (the issuer template with the token's tid)")
            }
            TenantError::NotAllowed(tid) => write!(f, "tenant \"{tid}\" is not in allowed_tenants"),
        }
    }
}

/// A tenant identifier: letters, digits, '-', '.', '_' (Entra's are GUIDs). Anything else
/// could change the meaning of the URL it is put into.
pub fn is_tenant_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_TENANT_LEN
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
}

impl IssuerTemplate {
    /// `template` must contain `{tenantid}` once; every allowed tenant must be an identifier.
    pub fn new(template: &str, allowed: Vec<String>) -> Result<Self, String> {
        let (prefix, suffix) = template
            .split_once(PLACEHOLDER)
            .ok_or_else(|| format!("\"{template}\" does not contain {PLACEHOLDER}"))?;
        if suffix.contains(PLACEHOLDER) {
            return Err(format!("\"{template}\" contains {PLACEHOLDER} more than once"));
        }
        if let Some(bad) = allowed.iter().find(|t| !is_tenant_id(t)) {
            return Err(format!("\"{bad}\" is not a tenant identifier (letters, digits, '-', '.', '_')"));
        }
        Ok(IssuerTemplate { prefix: prefix.into(), suffix: suffix.into(), allowed })
    }

    /// The issuer of one tenant.
    pub fn issuer_of(&self, tenant: &str) -> String {
        format!("{}{tenant}{}", self.prefix, self.suffix)
    }

    /// Whether an issuer (the authorization response's `iss`, RFC 9207) is this template
    /// with some tenant identifier in it.
    pub fn matches(&self, iss: &str) -> bool {
        iss.strip_prefix(&self.prefix)
            .and_then(|rest| rest.strip_suffix(&self.suffix))
            .is_some_and(is_tenant_id)
    }

    /// Checks a verified token's `iss` against the template with its own `tid`, then the
    /// allow-list. Returns the tenant.
    pub fn check<'c>(&self, claims: &'c Claims) -> Result<&'c str, TenantError> {
        let tid = match claims.get("tid") {
            None => return Err(TenantError::Missing),
            Some(Value::String(t)) if is_tenant_id(t) => t.as_str(),
            Some(_) => return Err(TenantError::Invalid),
        };
        let expected = self.issuer_of(tid);
        match claims.get("iss").and_then(Value::as_str) {
            Some(iss) if iss == expected => {}
            found => {
                return Err(TenantError::IssuerMismatch { expected, found: found.unwrap_or_default().into() })
            }
        }
        // Tenant ids are GUIDs, which Entra writes in lower case; compare without case.
        if !self.allowed.is_empty() && !self.allowed.iter().any(|a| a.eq_ignore_ascii_case(tid)) {
            return Err(TenantError::NotAllowed(tid.into()));
        }
        Ok(tid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const T: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
    const A: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";
    const B: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    fn claims(iss: &str, tid: Value) -> Claims {
        let mut c = Claims::new();
        c.insert("iss".into(), json!(iss));
        if !tid.is_null() {
            c.insert("tid".into(), tid);
        }
        c
    }

    fn iss(t: &str) -> String {
        format!("https://login.microsoftonline.com/{t}/v2.0")
    }

    #[test]
    fn any_tenant_whose_iss_matches_its_tid() {
        let t = IssuerTemplate::new(T, vec![]).unwrap();
        assert_eq!(t.check(&claims(&iss(A), json!(A))), Ok(A));
        assert_eq!(t.check(&claims(&iss(B), json!(B))), Ok(B));
    }

    #[test]
    fn iss_of_another_tenant_than_tid_is_refused() {
        let t = IssuerTemplate::new(T, vec![]).unwrap();
        let e = t.check(&claims(&iss(B), json!(A))).unwrap_err();
        assert_eq!(e.reason(), "wrong_issuer");
        assert!(t.check(&claims(T, json!(A))).is_err(), "the template itself is no issuer");
        assert!(t.check(&claims("https://evil.example/x/v2.0", json!("x"))).is_err());
    }

    #[test]
    fn tid_missing_or_not_an_identifier() {
        let t = IssuerTemplate::new(T, vec![]).unwrap();
        assert_eq!(t.check(&claims(&iss(A), Value::Null)), Err(TenantError::Missing));
        for bad in [json!(""), json!("a/b"), json!("a?b"), json!(1), json!(["x"]), json!("a".repeat(65))] {
            assert_eq!(t.check(&claims(&iss(A), bad)), Err(TenantError::Invalid));
        }
        // A tid that would make the template into the attacker's URL never passes the
        // identifier check: "x/../evil" has '/'.
        assert!(!is_tenant_id("x/../evil"));
    }

    #[test]
    fn allow_list() {
        let t = IssuerTemplate::new(T, vec![A.to_uppercase()]).unwrap();
        assert_eq!(t.check(&claims(&iss(A), json!(A))), Ok(A));
        let e = t.check(&claims(&iss(B), json!(B))).unwrap_err();
        assert_eq!(e, TenantError::NotAllowed(B.into()));
        assert_eq!(e.reason(), "tenant_not_allowed");
    }

    #[test]
    fn template_rules() {
        assert!(IssuerTemplate::new("https://op.example/v2.0", vec![]).is_err());
        assert!(IssuerTemplate::new("https://op.example/{tenantid}/{tenantid}", vec![]).is_err());
        assert!(IssuerTemplate::new(T, vec!["a b".into()]).is_err());
        let t = IssuerTemplate::new(T, vec![]).unwrap();
        assert!(t.matches(&iss(A)));
        assert!(!t.matches(T));
        assert!(!t.matches(&iss("a/b")));
        assert!(!t.matches("https://login.microsoftonline.com/x/v2.0/extra"));
        assert_eq!(t.issuer_of("x"), "https://login.microsoftonline.com/x/v2.0");
    }
}

//! What a location requires of a valid token beyond validity: scopes, and claim rules
//! such as `groups contains admin` or `email_verified = true`. A token that fails one is
//! answered `403 insufficient_scope` (RFC 6750 section 3.1); which rule failed goes to
//! the log.

use std::fmt;

use serde_json::Value;

use crate::claims_view;
use crate::token::Claims;

/// How a claim is compared with the configured value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimTest {
    /// The claim is an array with an element equal to the value, or a single value equal
    /// to it (OPs send a one-element list as a plain string). Strings are never split:
    /// group "Domain Admins" does not contain "Admins".
    Contains(String),
    /// The claim equals the value, read according to the claim's JSON type: `true`
    /// matches the boolean and the string "true" (some OPs send `email_verified` as a
    /// string), `3` matches the number 3.
    Equals(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRule {
    /// The claim, named as in `$oidc_claim_*` variables: `realm_access__roles` is
    /// `realm_access.roles`.
    pub claim: String,
    pub test: ClaimTest,
}

impl ClaimRule {
    /// From directive arguments: `NAME contains VALUE`, `NAME = VALUE`.
    pub fn parse(args: &[&str]) -> Result<ClaimRule, String> {
        let [claim, op, value] = args else {
            return Err("a claim rule is NAME contains VALUE or NAME = VALUE".into());
        };
        if claim.is_empty() {
            return Err("the claim name is empty".into());
        }
        let test = match *op {
            "contains" => ClaimTest::Contains((*value).into()),
            "=" | "==" | "equals" => ClaimTest::Equals((*value).into()),
            other => return Err(format!("unknown claim test \"{other}\" (use \"contains\" or \"=\")")),
        };
        Ok(ClaimRule { claim: (*claim).into(), test })
    }

    pub fn holds(&self, claims: &Claims) -> bool {
        let Some(v) = claims_view::lookup(claims, &self.claim) else { return false };
        match &self.test {
            ClaimTest::Equals(want) => equals(v, want),
            ClaimTest::Contains(want) => match v {
                Value::Array(items) => items.iter().any(|i| equals(i, want)),
                single => equals(single, want),
            },
        }
    }
}

impl fmt::Display for ClaimRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.test {
            ClaimTest::Contains(v) => write!(f, "claim \"{}\" contains \"{v}\"", self.claim),
            ClaimTest::Equals(v) => write!(f, "claim \"{}\" = \"{v}\"", self.claim),
        }
    }
}

fn equals(v: &Value, want: &str) -> bool {
    match v {
        Value::String(s) => s == want,
        Value::Bool(b) => want == if *b { "true" } else { "false" },
        Value::Number(n) => want.parse::<serde_json::Number>().is_ok_and(|w| &w == n),
        _ => false,
    }
}

/// A location's requirements; empty means any valid token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    /// Every one of these must be granted.
    pub scopes: Vec<String>,
    /// Every one of these must hold.
    pub claims: Vec<ClaimRule>,
}

/// The first requirement a token does not meet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmet<'a> {
    Scopes { missing: Vec<&'a str> },
    Claim(&'a ClaimRule),
}

impl fmt::Display for Unmet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unmet::Scopes { missing } => write!(f, "the token lacks scope \"{}\"", missing.join(" ")),
            Unmet::Claim(rule) => write!(f, "the token fails the rule {rule}"),
        }
    }
}

impl Requirements {
    pub fn check(&self, claims: &Claims) -> Result<(), Unmet<'_>> {
        let granted = granted_scopes(claims);
        let missing: Vec<&str> =
            self.scopes.iter().map(String::as_str).filter(|s| !granted.contains(s)).collect();
        if !missing.is_empty() {
            return Err(Unmet::Scopes { missing });
        }
        match self.claims.iter().find(|r| !r.holds(claims)) {
            Some(rule) => Err(Unmet::Claim(rule)),
            None => Ok(()),
        }
    }

    /// The `scope` attribute of the `insufficient_scope` challenge: every scope this
    /// location needs (RFC 6750 section 3), not only the missing ones.
    pub fn scope_param(&self) -> Option<String> {
        (!self.scopes.is_empty()).then(|| self.scopes.join(" "))
    }
}

/// The scopes a token grants: `scope` (RFC 9068 / RFC 8693, a space-separated string)
/// and `scp` (an array at some OPs, a string at others), either or both.
pub fn granted_scopes(claims: &Claims) -> Vec<&str> {
    let mut out = Vec::new();
    for name in ["scope", "scp"] {
        match claims.get(name) {
            Some(Value::String(s)) => out.extend(s.split(' ').filter(|s| !s.is_empty())),
            Some(Value::Array(items)) => out.extend(items.iter().filter_map(Value::as_str)),
            _ => {}
        }
    }
    out
}

/// A configured list of required scopes, space-separated; each must be a scope-token
/// (RFC 6749 section 3.3), which also makes the list safe in a challenge header.
pub fn parse_scopes(text: &str) -> Result<Vec<String>, String> {
    let scopes: Vec<String> = text.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    for s in &scopes {
        if !s.bytes().all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b)) {
            return Err(format!("\"{}\" is not a valid scope", s.escape_default()));
        }
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        v.as_object().unwrap().clone()
    }

    fn rule(s: &str) -> ClaimRule {
        ClaimRule::parse(&s.split(' ').collect::<Vec<_>>()).unwrap()
    }

    fn scopes(s: &str) -> Requirements {
        Requirements { scopes: parse_scopes(s).unwrap(), claims: vec![] }
    }

    #[test]
    fn scope_string_and_scp_array() {
        let c = claims(json!({"scope": "read  write"}));
        assert_eq!(granted_scopes(&c), vec!["read", "write"]);
        assert!(scopes("read write").check(&c).is_ok());
        assert!(scopes("").check(&c).is_ok());
        let scp = claims(json!({"scp": ["read", "write", 7]}));
        assert!(scopes("write read").check(&scp).is_ok());
        let azure = claims(json!({"scp": "User.Read files.read"}));
        assert!(scopes("files.read").check(&azure).is_ok());
        let both = claims(json!({"scope": "read", "scp": ["write"]}));
        assert!(scopes("read write").check(&both).is_ok());
    }

    #[test]
    fn every_required_scope_must_be_granted() {
        let c = claims(json!({"scope": "read"}));
        let req = scopes("read write admin");
        assert_eq!(req.check(&c), Err(Unmet::Scopes { missing: vec!["write", "admin"] }));
        assert_eq!(req.check(&c).unwrap_err().to_string(), "the token lacks scope \"write admin\"");
        assert_eq!(req.scope_param().as_deref(), Some("read write admin"));
        assert!(scopes("read").check(&claims(json!({}))).is_err(), "no scope claim at all");
        assert!(scopes("read").check(&claims(json!({"scope": "readwrite"}))).is_err(), "whole words only");
        assert!(scopes("read").check(&claims(json!({"scope": ["read"]}))).is_ok());
        assert!(scopes("read").check(&claims(json!({"scope": 1}))).is_err());
        assert_eq!(scopes("").scope_param(), None);
    }

    #[test]
    fn contains() {
        let c = claims(json!({"groups": ["staff", "admin"], "role": "admin", "team": "Domain Admins",
                              "realm_access": {"roles": ["ops"]}, "ids": [1, 2]}));
        assert!(rule("groups contains admin").holds(&c));
        assert!(!rule("groups contains root").holds(&c));
        assert!(rule("role contains admin").holds(&c), "a single value as a string");
        assert!(!rule("team contains Admins").holds(&c), "strings are not split");
        assert!(rule("realm_access__roles contains ops").holds(&c), "nested, as variables name it");
        assert!(rule("ids contains 2").holds(&c));
        assert!(!rule("missing contains x").holds(&c));
    }

    #[test]
    fn equals() {
        let c = claims(json!({"email_verified": true, "cognito_verified": "true", "level": 3, "ratio": 0.5,
                              "off": false, "nothing": null, "obj": {"a": 1}}));
        assert!(rule("email_verified = true").holds(&c));
        assert!(!rule("email_verified = false").holds(&c));
        assert!(!rule("email_verified = yes").holds(&c));
        assert!(rule("cognito_verified = true").holds(&c), "a boolean sent as a string");
        assert!(rule("off = false").holds(&c));
        assert!(rule("level = 3").holds(&c));
        assert!(!rule("level = 4").holds(&c));
        assert!(!rule("level = three").holds(&c));
        assert!(rule("ratio = 0.5").holds(&c));
        assert!(!rule("nothing = null").holds(&c));
        assert!(!rule("obj = {\"a\":1}").holds(&c));
        assert!(!rule("missing = true").holds(&c));
        let s = claims(json!({"email": "a@example.org"}));
        assert!(rule("email == a@example.org").holds(&s));
        assert!(!rule("email equals A@example.org").holds(&s), "case matters");
    }

    #[test]
    fn first_failing_rule_is_reported() {
        let req = Requirements {
            scopes: vec!["api".into()],
            claims: vec![rule("email_verified = true"), rule("groups contains admin")],
        };
        let c = claims(json!({"scope": "api", "email_verified": true, "groups": ["staff"]}));
        assert_eq!(req.check(&c), Err(Unmet::Claim(&req.claims[1])));
        assert_eq!(req.check(&c).unwrap_err().to_string(), "the token fails the rule claim \"groups\" contains \"admin\"");
        let ok = claims(json!({"scope": "api", "email_verified": true, "groups": ["admin"]}));
        assert!(req.check(&ok).is_ok());
        assert!(Requirements::default().check(&Claims::new()).is_ok());
    }

    #[test]
    fn parsing() {
        assert!(ClaimRule::parse(&["groups", "has", "x"]).is_err());
        assert!(ClaimRule::parse(&["groups", "contains"]).is_err());
        assert!(ClaimRule::parse(&["", "=", "x"]).is_err());
        assert_eq!(rule("a = b"), ClaimRule { claim: "a".into(), test: ClaimTest::Equals("b".into()) });
        assert!(parse_scopes("read \"write\"").is_err());
        assert!(parse_scopes("a\\b").is_err());
        assert!(parse_scopes("caf\u{e9}").is_err());
        assert_eq!(parse_scopes(" openid  profile ").unwrap(), vec!["openid", "profile"]);
    }
}

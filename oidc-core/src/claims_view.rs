//! Claims as the session keeps them and as `$oidc_claim_*` variables show them.

use std::borrow::Cow;

use serde_json::Value;

use crate::token::Claims;

/// Claims about the token rather than the user: checked at login, not worth a byte of
/// cookie. `acr`, `amr`, `auth_time` and `sid` stay (applications use them).
const BOOKKEEPING: &[&str] = &["iss", "aud", "exp", "iat", "nbf", "nonce", "at_hash", "c_hash", "s_hash", "azp", "jti"];

/// What a new session keeps: the ID token's claims merged with userinfo's (the ID
/// token wins where both have a claim), limited to `only` when configured (`sub` is
/// always kept separately by the session).
pub fn session_claims(id_token: &Claims, userinfo: Option<&Claims>, only: Option<&[String]>) -> Claims {
    let mut out = Claims::new();
    let sources = userinfo.into_iter().chain(std::iter::once(id_token));
    for source in sources {
        for (k, v) in source {
            let wanted = match only {
                Some(names) => names.iter().any(|n| n == k),
                None => !BOOKKEEPING.contains(&k.as_str()),
            };
            if wanted && k != "sub" {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

/// A claim by variable name: `address__country` is `address.country` (variable names
/// cannot contain dots). A claim whose own name has `__` is found first as it is.
pub fn lookup<'a>(claims: &'a Claims, name: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    let mut parts = name.split("__");
    let mut v = claims.get(parts.next()?)?;
    for p in parts {
        v = v.as_object()?.get(p)?;
    }
    Some(v)
}

/// A claim as variable text: strings as they are, arrays joined with commas, objects
/// as JSON; null is no value.
pub fn display(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Array(items) => Some(Cow::Owned(
            items.iter().filter_map(|i| display(i).map(Cow::into_owned)).collect::<Vec<_>>().join(","),
        )),
        other => Some(Cow::Owned(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Claims {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn keeps_user_claims_only() {
        let id = claims(json!({"iss": "x", "sub": "a", "aud": "c", "exp": 1, "nonce": "n", "email": "a@x", "acr": "1"}));
        let ui = claims(json!({"sub": "a", "email": "other@x", "groups": ["g1", "g2"]}));
        let s = session_claims(&id, Some(&ui), None);
        assert_eq!(s, claims(json!({"email": "a@x", "acr": "1", "groups": ["g1", "g2"]})));
        let only = vec!["email".to_string(), "exp".to_string()];
        assert_eq!(session_claims(&id, None, Some(&only)), claims(json!({"email": "a@x", "exp": 1})));
    }

    #[test]
    fn variable_views() {
        let c = claims(json!({
            "groups": ["staff", "admin"], "address": {"country": "NL"}, "n": 3, "ok": true,
            "given_name": "Al", "weird__name": "w", "none": null, "obj": {"a": [1, 2]}
        }));
        let show = |n: &str| lookup(&c, n).and_then(display).map(Cow::into_owned);
        assert_eq!(show("groups").as_deref(), Some("staff,admin"));
        assert_eq!(show("address__country").as_deref(), Some("NL"));
        assert_eq!(show("given_name").as_deref(), Some("Al"));
        assert_eq!(show("weird__name").as_deref(), Some("w"));
        assert_eq!(show("n").as_deref(), Some("3"));
        assert_eq!(show("ok").as_deref(), Some("true"));
        assert_eq!(show("obj").as_deref(), Some("{\"a\":[1,2]}"));
        assert_eq!(show("none"), None);
        assert_eq!(show("missing"), None);
        assert_eq!(show("address__missing"), None);
    }
}

//! Which provider a request is authenticated with: the one `auth_oidc NAME` names, or,
//! with `auth_oidc $var` (NGINX Plus syntax, nginx 1.29.0), the one the variable names
//! for this request, so one location can serve several tenants or providers through a
//! `map`.

use crate::conf::{AuthSetting, LocConf, MainConf};
use crate::request::Request;

pub enum Choice {
    /// No authentication here (`auth_oidc off`, unset, or the variable says `off`).
    None,
    Provider(usize),
    /// The variable named no `oidc_provider` (or could not be evaluated): the request
    /// must not pass.
    Unknown(String),
}

/// `lcf` is the configuration of `r`'s location.
pub fn provider(r: Request<'_>, lcf: &LocConf, mcf: &MainConf) -> Choice {
    match &lcf.auth {
        AuthSetting::Provider(i) => Choice::Provider(*i),
        AuthSetting::Variable(cv) => {
            let Some(name) = r.complex_value(*cv) else {
                return Choice::Unknown("(not evaluated)".into());
            };
            if name == b"off" {
                return Choice::None;
            }
            let found = core::str::from_utf8(name).ok().and_then(|n| mcf.provider_index(n));
            match found {
                Some(i) => Choice::Provider(i),
                None => Choice::Unknown(printable(name)),
            }
        }
        _ => Choice::None,
    }
}

/// The value for the log line: it may come from the request (a `map` of `$host`), so
/// at most 64 bytes, and anything but printable ASCII shown as `?`.
fn printable(v: &[u8]) -> String {
    let mut s: String = v.iter().take(64).map(|&b| if b.is_ascii_graphic() { b as char } else { '?' }).collect();
    if v.len() > 64 {
        s.push_str("...");
    }
    s
}

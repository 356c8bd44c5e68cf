//! What the upstream receives about the user: `auth_oidc_set_header` headers. The
//! client's own copies of them, and of the module's cookies, were removed before the
//! access phase (`spoof_guard`); removing the names again here costs little and keeps
//! this function right on its own.


use crate::conf::{LocConf, Provider};
use crate::request::Request;

/// `r` is in its access phase, with its identity (if any) already in its context (the
/// header values may use `$oidc_*` variables).
pub fn apply(r: Request<'_>, lcf: &LocConf, _p: &Provider) -> Option<()> {
    for h in &lcf.set_headers {
        let name = h.name.as_bytes();
        r.remove_headers_in(name)?;
        let value = r.complex_value(h.value)?;
        // An empty value (no such claim, anonymous request) sets no header at all.
        if !value.is_empty() {
            r.push_header_in(name, value)?;
        }
    }
    Some(())
}

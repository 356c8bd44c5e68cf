//! `session_store` in `oidc_provider` (NGINX Plus's directive name): where sessions live.

use nginx_sys::ngx_conf_t;
use oidc_redis::RedisUrl;

use super::ZoneConf;

/// Where a provider's sessions live.
pub enum SessionStore {
    /// In the browser's cookies (sealed); the default.
    Cookie,
    /// In a shared memory zone of this host: `oidc_shared_zone`'s (None) or a dedicated
    /// one (`zone=NAME:SIZE`).
    Zone(Option<ZoneConf>),
    /// In Redis (standalone, Sentinel or Cluster), shared by several hosts.
    Redis(RedisUrl),
}

impl SessionStore {
    /// Parses the directive's value; the error names what is wrong.
    pub fn parse(value: &[u8]) -> Result<SessionStore, String> {
        let text = std::str::from_utf8(value).map_err(|_| "the value is not UTF-8".to_string())?;
        match text {
            "cookie" => return Ok(SessionStore::Cookie),
            "zone" => return Ok(SessionStore::Zone(None)),
            _ => {}
        }
        if text.starts_with("zone=") {
            let mut z = ZoneConf::default();
            z.configure(value)?;
            return Ok(SessionStore::Zone(Some(z)));
        }
        if ["redis://", "rediss://", "redis-sentinel://", "redis-cluster://"].iter().any(|s| text.starts_with(s)) {
            return RedisUrl::parse(text).map(SessionStore::Redis);
        }
        Err(format!(
            "invalid value \"{}\": expected cookie, zone, zone=NAME:SIZE, or a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL",
            text.escape_debug()
        ))
    }

    pub fn is_server_side(&self) -> bool {
        !matches!(self, SessionStore::Cookie)
    }

    /// Registers a dedicated zone with nginx.
    pub fn request_zone(&mut self, cf: &mut ngx_conf_t) -> Result<(), String> {
        if let SessionStore::Zone(Some(z)) = self {
            z.request(cf).map_err(|()| format!("cannot add the shared zone \"{}\"", z.name))?;
        }
        Ok(())
    }

    /// For logs: never a password.
    pub fn describe(&self) -> String {
        match self {
            SessionStore::Cookie => "cookie".into(),
            SessionStore::Zone(None) => "zone".into(),
            SessionStore::Zone(Some(z)) => format!("zone={}", z.name),
            SessionStore::Redis(u) => u.redacted(),
        }
    }
}

//! `oidc_shared_zone`: which shared-memory zone caches the providers' documents.

use nginx_sys::ngx_conf_t;

use crate::cache::zone;

pub const DEFAULT_ZONE_NAME: &str = "oidc";
pub const DEFAULT_ZONE_SIZE: usize = 1024 * 1024;

pub struct ZoneConf {
    pub name: String,
    pub size: usize,
    explicit: bool,
    /// Set once the zone is registered; belongs to the cycle of this configuration.
    pub shm_zone: *mut nginx_sys::ngx_shm_zone_t,
}

impl Default for ZoneConf {
    fn default() -> Self {
        Self { name: DEFAULT_ZONE_NAME.into(), size: DEFAULT_ZONE_SIZE, explicit: false, shm_zone: core::ptr::null_mut() }
    }
}

impl ZoneConf {
    /// Parses `zone=NAME:SIZE`.
    pub fn configure(&mut self, arg: &[u8]) -> Result<(), String> {
        if self.explicit {
            return Err("is duplicate".into());
        }
        let arg = String::from_utf8_lossy(arg);
        let spec = arg
            .strip_prefix("zone=")
            .ok_or_else(|| format!("invalid parameter \"{arg}\", expected zone=NAME:SIZE"))?;
        let (name, size) = spec
            .split_once(':')
            .ok_or_else(|| format!("invalid zone \"{spec}\", expected NAME:SIZE"))?;
        if name.is_empty() {
            return Err(format!("invalid zone \"{spec}\": empty name"));
        }
        if name == crate::metrics::ZONE_NAME {
            return Err(format!("the zone name \"{name}\" is reserved for the module's metrics"));
        }
        let size = super::values::size(size.as_bytes()).map_err(|e| format!("zone \"{name}\": {e}"))?;
        let min = zone::min_size();
        if size < min {
            return Err(format!("zone \"{name}\" is too small: {size} bytes, at least {}k are required", min / 1024));
        }
        self.name = name.into();
        self.size = size;
        self.explicit = true;
        Ok(())
    }

    pub fn request(&mut self, cf: &mut ngx_conf_t) -> Result<(), ()> {
        self.shm_zone = zone::add(cf, &self.name, self.size)?;
        Ok(())
    }
}

//! Logging helpers: `ngx_log!(level, log_ptr, "fmt", args)`.
//!
//! Every line the module writes starts with `auth_oidc:` so operators can grep for it, and
//! carries a stable reason word where a request failed. Secrets and tokens are never
//! formatted into a log line: callers pass only URLs, names and reasons.

macro_rules! ngx_log {
    (emerg, $log:expr, $($arg:tt)+) => { ngx::ngx_log_error!(nginx_sys::NGX_LOG_EMERG, $log, $($arg)+) };
    (alert, $log:expr, $($arg:tt)+) => { ngx::ngx_log_error!(nginx_sys::NGX_LOG_ALERT, $log, $($arg)+) };
    (err, $log:expr, $($arg:tt)+) => { ngx::ngx_log_error!(nginx_sys::NGX_LOG_ERR, $log, $($arg)+) };
    (warn, $log:expr, $($arg:tt)+) => { ngx::ngx_log_error!(nginx_sys::NGX_LOG_WARN, $log, $($arg)+) };
    (notice, $log:expr, $($arg:tt)+) => { ngx::ngx_log_error!(nginx_sys::NGX_LOG_NOTICE, $log, $($arg)+) };
    (info, $log:expr, $($arg:tt)+) => { ngx::ngx_log_error!(nginx_sys::NGX_LOG_INFO, $log, $($arg)+) };
}

/// `[emerg]` during configuration parsing; nginx appends " in FILE:LINE".
macro_rules! conf_emerg {
    ($cf:expr, $($arg:tt)+) => { ngx::ngx_conf_log_error!(nginx_sys::NGX_LOG_EMERG, $cf, $($arg)+) };
}

/// `[warn]` during configuration parsing.
macro_rules! conf_warn {
    ($cf:expr, $($arg:tt)+) => { ngx::ngx_conf_log_error!(nginx_sys::NGX_LOG_WARN, $cf, $($arg)+) };
}

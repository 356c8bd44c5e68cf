//! Every `extern "C"` entry point of the module runs its body through `run`, so a panic
//! (a bug) never unwinds into nginx: it is caught (`oidc_core::panic_guard`), logged once
//! at `alert` with the reason word `internal_panic`, and the entry point returns its
//! error code instead (a request gets 500, never access; a directive fails `nginx -t`).
//!
//! How entry points are written so this holds by design: the functions nginx calls are
//! only the thin wrappers made by `guarded!` (or, where the fallback needs the request,
//! a few written out by hand with `run`); the bodies are ordinary Rust functions that
//! nginx never calls directly. A new entry point that is not a `guarded!` wrapper stands
//! out in review: `grep -n 'extern "C" fn' src` lists them all.

/// Runs the body of an entry point; `None` when it panicked (already logged).
pub fn run<R>(what: &str, body: impl FnOnce() -> R) -> Option<R> {
    match oidc_core::panic_guard::catch(body) {
        Ok(r) => Some(r),
        Err(msg) => {
            ngx_log!(
                alert,
                ngx::log::ngx_cycle_log().as_ptr(),
                "auth_oidc: internal_panic: in {}: {}; failing this call",
                what,
                oidc_core::token_exchange::sanitize(&msg)
            );
            None
        }
    }
}

/// `guarded! { [attrs] [pub] fn NAME(args) -> RET = BODY_FN, on_panic FALLBACK; }` makes
/// the `extern "C"` function NAME that nginx calls: it runs `BODY_FN(args)` under `run`
/// and returns FALLBACK if that panicked. Without `-> RET` the function returns nothing.
macro_rules! guarded {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty = $body:path, on_panic $fallback:expr;) => {
        $(#[$m])*
        $vis extern "C" fn $name($($arg: $ty),*) -> $ret {
            #[allow(unused_unsafe)]
            // SAFETY: the body has the contract of the entry point; nginx calls it with
            // the arguments it documents for this callback.
            let r = $crate::ffi_guard::run(stringify!($name), || unsafe { $body($($arg),*) });
            r.unwrap_or_else(|| $fallback)
        }
    };
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) = $body:path;) => {
        $(#[$m])*
        $vis extern "C" fn $name($($arg: $ty),*) {
            #[allow(unused_unsafe)]
            // SAFETY: as above.
            let _ = $crate::ffi_guard::run(stringify!($name), || unsafe { $body($($arg),*) });
        }
    };
}


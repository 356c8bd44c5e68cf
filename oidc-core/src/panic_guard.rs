//! Catching a panic at the FFI boundary.
//!
//! nginx calls the module through `extern "C"` functions. A Rust panic must never unwind
//! into nginx's C frames (since Rust 1.81 that aborts the process: one bug in one
//! request would kill the worker and every request it serves). The module therefore runs
//! the body of every entry point through `catch` (see `ffi_guard` in the module crate),
//! which turns a panic into an error value the entry point maps to nginx's error code
//! (500 for a request, `NGX_ERROR`, `NGX_CONF_ERROR`). The release profile keeps
//! `panic = "unwind"` for this reason.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs `f`; a panic becomes `Err` with its message.
///
/// `AssertUnwindSafe`: after a caught panic the caller fails the one request or call it
/// was serving; shared state is only the worker's caches, whose `RefCell` borrows are
/// released by the unwinding.
pub fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "a panic without a message".to_string()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_passes_through() {
        assert_eq!(catch(|| 42), Ok(42));
    }

    #[test]
    fn a_panic_becomes_an_error_with_its_message() {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let r: Result<i32, String> = catch(|| panic!("bad {}", "input"));
        let slice: Result<i32, String> = catch(|| {
            let v: Vec<u8> = Vec::new();
            i32::from(v[3])
        });
        std::panic::set_hook(prev);
        assert_eq!(r, Err("bad input".to_string()));
        assert!(slice.unwrap_err().contains("index out of bounds"));
    }
}

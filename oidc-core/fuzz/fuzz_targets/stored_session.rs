#![no_main]
// See oidc_core::fuzz_entry::stored_session for the input and what is checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| oidc_core::fuzz_entry::stored_session(data));

#![no_main]
// See oidc_core::fuzz_entry::return_url for the input and what is checked.
libfuzzer_sys::fuzz_target!(|data: &[u8]| oidc_core::fuzz_entry::return_url(data));

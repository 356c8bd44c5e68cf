//! OpenID Connect relying-party logic that needs no nginx pointer: URL rules, discovery
//! and JWKS models, cache lifetimes, PKCE, state and nonce, the authorization request,
//! the cookie cipher and cookie header handling. The nginx glue in the module crate calls
//! into these; keeping them here lets `cargo test` link and run without nginx symbols.

pub mod auth_request;
pub mod authz_rules;
pub mod b64;
pub mod bearer;
pub mod cache_policy;
pub mod callback_params;
pub mod claims_view;
pub mod client_auth;
pub mod cookie_cipher;
pub mod cookie_chunks;
pub mod conf_check;
pub mod cookie_header;
pub mod heap_size;
pub mod discovery;
#[doc(hidden)]
pub mod fuzz_entry;
pub mod introspection;
pub mod inflight;
pub mod issuer_url;
pub mod jose;
pub mod jwks;
pub mod metrics;
pub mod login_state;
pub mod panic_guard;
pub mod pkce;
pub mod random;
pub mod request_kind;
pub mod return_to;
pub mod session;
pub mod session_cookie;
pub mod session_ref;
pub mod session_tags;
pub mod tenant;
pub mod token;
pub mod token_cache;
pub mod token_exchange;
pub mod wait_table;
pub mod www_authenticate;

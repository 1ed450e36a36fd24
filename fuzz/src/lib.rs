//! The invariants each fuzz target checks, a file per target, and
//! [`replay`], which the test suites run the committed corpora and crash
//! regressions through (`tests/fuzz_corpus.rs`, `server/tests/fuzz_corpus.rs`),
//! so every `cargo test` covers them without cargo-fuzz.

mod api_call;
mod json_wire;
mod next_token;
#[cfg(feature = "pod")]
mod pod_manifest;
mod reference_parse;
mod replay;
mod rpc_describe;
mod state_load;

pub use api_call::check_api_call;
pub use json_wire::check_json_wire;
pub use next_token::check_next_token;
#[cfg(feature = "pod")]
pub use pod_manifest::check_pod_manifest;
pub use reference_parse::check_reference;
pub use replay::replay;
pub use rpc_describe::check_rpc_describe;
pub use state_load::check_state_load;

// The server's check lives apart: the library's test suite replays this
// file's other checks and has no server; the server's tests replay it.
#[cfg(not(test))]
mod signature_verify;
#[cfg(not(test))]
pub use signature_verify::check_signature_verify;

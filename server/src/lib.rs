//! The eci-imagecache emulator server's building blocks: what it takes to
//! be wire-compatible with the official Alibaba Cloud SDKs.
//!
//! * [`serve`]: `eci-imagecache serve`, the emulator on a socket;
//!   [`router`]: the HTTP routes (the API on `/`, control on
//!   `/_emulator/…`) and who may call them; [`app`]: the state the
//!   handlers share; [`api`]: one API request, step by step;
//!   [`control`]: the control endpoints;
//!   [`faults`]: injected failures and errors, the latter from the
//!   seeds' error tables ([`seed_errors`]);
//!   [`clock`]: the server's clock.
//! * [`signature`]: verification of the two request signatures the SDKs
//!   send, V3 (`ACS3-HMAC-SHA256` in the `Authorization` header) and V2
//!   (classic RPC, HMAC-SHA1 in the `Signature` parameter), against a set
//!   of access keys, and the freshness of their times and nonces;
//!   [`refusal`]: the server's own error answers.

#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

pub mod api;
pub mod app;
pub mod clock;
pub mod control;
pub mod dashboard;
pub mod faults;
pub mod health;
pub mod history;
pub mod logging;
pub mod metrics;
pub mod progress;
pub mod refusal;
pub mod router;
pub mod seed_errors;
pub mod serve;
pub mod signature;
pub mod site;
pub mod startup;
pub mod transfer;

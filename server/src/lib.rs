//! The eci-imagecache emulator server's building blocks: what it takes to
//! be wire-compatible with the official Alibaba Cloud SDKs.
//!
//! * [`serve`]: `eci-imagecache serve`, the emulator on a socket, built
//!   by [`startup`] (store, load, import) and answering "loading" through
//!   [`site`] until then; [`router`]: the HTTP routes (the API on `/`,
//!   control and inspection on `/_emulator/…`) and their one error shape;
//!   [`guards`]: who may call them and what they may send; [`app`]: the
//!   state the handlers share; [`api`]: one API request, step by step;
//!   [`control`]: the clock, reset and faults; [`faults`]: injected
//!   failures and errors, the latter from the seeds' error tables
//!   ([`seed_errors`]); [`clock`]: the server's clock.
//! * For a CI pipeline: [`health`] (readiness), [`history`] and
//!   [`logging`] (each call, redacted), [`metrics`] (OpenMetrics),
//!   [`transfer`] (the whole state over HTTP), [`dashboard`] (one HTML
//!   page), [`progress`] (long loads on a terminal).
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
pub mod guards;
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

//! The eci-imagecache emulator server's building blocks: what it takes to
//! be wire-compatible with the official Alibaba Cloud SDKs.
//!
//! * [`signature`]: verification of the two request signatures the SDKs
//!   send, V3 (`ACS3-HMAC-SHA256` in the `Authorization` header) and V2
//!   (classic RPC, HMAC-SHA1 in the `Signature` parameter), against a set
//!   of access keys.

#![deny(missing_docs)]

pub mod signature;

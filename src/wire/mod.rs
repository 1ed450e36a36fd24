//! The wire layer: how requests and responses look to the official SDKs.
//!
//! * [`json`]: serde types for the JSON bodies, with exactly the PascalCase
//!   keys and JSON types of `shared/spec/api-shape.md` (integers as numbers,
//!   arrays plain, absent values omitted).
//! * [`rpc`]: the decoder for the flat parameters the SDKs send
//!   (`MatchImage.3`, `Tag.2.Key`, booleans in any letter case, sparse
//!   1-based indices), with `MissingParameter` / `InvalidParameter` errors
//!   that name the parameter and the reason.

mod flat;
pub mod json;
pub mod rpc;

use jiff::Timestamp;

/// A time as the API writes it: UTC, whole seconds, `YYYY-MM-DDTHH:MM:SSZ`.
///
/// ```
/// let t: jiff::Timestamp = "2021-02-09T02:24:07.9Z".parse().unwrap();
/// assert_eq!(eci_imagecache::wire::format_time(t), "2021-02-09T02:24:07Z");
/// ```
pub fn format_time(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

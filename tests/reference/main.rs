//! Image references: the parser's and normaliser's rules as tables, the
//! registry aliases, Docker's conformance vectors, where `oci-spec`
//! differs, and property tests.

#[path = "../common/mod.rs"]
mod common;

mod aliases;
mod conformance;
mod oci_spec_differences;
mod properties;
mod rules;

//! # eci-imagecache
//!
//! The embedded query-and-matching engine behind Alibaba Cloud ECI image
//! caches: emulators link it to answer `DescribeImageCaches`,
//! `CreateImageCache`, `UpdateImageCache` and `DeleteImageCache` as the cloud
//! does; schedulers link it to pick the best image cache for a container
//! group.
//!
//! ## API themes
//!
//! * **Image references** ([`mod@reference`]): [`reference::Reference`] parses
//!   and normalises a reference exactly as Docker does and keeps one
//!   canonical string; [`reference::RegistryAliases`] turns it into the
//!   [`reference::RepoKey`] and [`reference::ExactKey`] that matching
//!   compares, folding ACR endpoint variants (`registry.` / `registry-vpc.` …)
//!   unless strict.
//!
//! * **DescribeImageCaches** ([`index`], [`describe`], [`cursor`]):
//!   [`index::Index`] answers every filter of one account and region
//!   without scanning (caches numbered in result order, posting lists of
//!   plain sorted integers, F and P counted block by block); it is built in
//!   one sorted pass by [`index::Index::extend`]. [`oracle::NaiveIndex`] is
//!   the same semantics as a plain loop.
//! * **The engine** ([`engine`], [`clock`], [`automatch`]):
//!   [`engine::Engine`] holds every account's and region's caches, answers
//!   the four operations and auto-match with the API's limits and error
//!   codes, moves caches through their lifecycle as the [`clock::Clock`]
//!   advances, and saves and loads its whole state;
//!   [`engine::SharedEngine`] shares it between threads.
//! * **Scheduling** ([`automatch`]): a scheduler scores before it decides.
//!   [`engine::Engine::evaluate_as`] ranks the candidates of an auto-match
//!   (each with F, P, the size distance and a 0–100
//!   [`automatch::score`]) and records nothing; its first candidate is
//!   what [`engine::Engine::auto_match_as`] then records, auto-creating a
//!   cache for the group when the match is not complete.
//!   [`engine::Engine::excluded_as`] and [`automatch::Candidate::behind`]
//!   explain a decision; [`engine::Engine::auto_match_batch_as`] matches
//!   many groups at once.
//! * **The wire** ([`wire`], [`api`]): the SDKs' flat parameters into typed
//!   requests, the JSON bodies with the API's keys and types, and
//!   [`api::call`], one call in and its HTTP status and body out.
//! * **Pods** (`pod`, feature `pod`): `pod::from_manifest` reads a
//!   Kubernetes Pod manifest, or a workload's pod template, JSON or YAML,
//!   into the [`automatch::AutoMatchRequest`] ECI would match a cache for:
//!   its images and its ECI annotations (`k8s.aliyun.com/eci-auto-imc`,
//!   `eci-imc-id`, `imc-perfect-match`, `imc-match-count-request`,
//!   `eci-extra-ephemeral-storage`), within size, depth and alias bounds.
//!
//! ## How the API is shaped
//!
//! * **Typed requests, checked once.** Every operation takes a typed
//!   request built field by field ([`engine::CreateRequest::new`]`(region,
//!   name).image(..)?`, [`describe::DescribeRequest::new`],
//!   [`automatch::AutoMatchRequest::new`]); its `validate` enforces the
//!   API's [`limits`] and the engine calls it first. The wire decoders
//!   ([`wire::rpc`]) build the same types from the SDKs' parameters.
//! * **Errors are the cloud's.** Every refusal is an [`ApiError`]: an
//!   [`ErrorCode`] spelled as the cloud spells it, the HTTP status the
//!   cloud sends with it and a message naming the parameter; a refused
//!   call changes nothing.
//! * **Accounts.** Each operation has a form for one account
//!   ([`engine::Engine::create_as`]`(account, ..)`) and one for
//!   [`engine::DEFAULT_ACCOUNT`] ([`engine::Engine::create`]); accounts
//!   see only their own caches, region by region.
//! * **Scratch space is reused.** A query's counters and buffers live in
//!   an [`index::Scratch`] the caller keeps
//!   ([`index::Index::describe_with`]), so a steady stream of queries
//!   allocates nothing; [`engine::SharedEngine`] keeps one per thread.
//! * **Time is data.** The engine reads time only from its
//!   [`clock::Clock`]; with a [`clock::ManualClock`] a test or an emulator
//!   moves caches through `Preparing`, `Creating` and `Ready`, expiry and
//!   `ClientToken` lifetimes by advancing it. What became due is applied
//!   at the start of each operation, or by [`engine::Engine::tick`].
//! * **Persistence.** [`engine::Engine::save`] and
//!   [`engine::EngineBuilder::load`] write and read a whole state (magic,
//!   version, length, SHA-256, atomically replaced); with feature `sqlite`,
//!   `store::Store` commits each change's effects in one transaction
//!   before its answer, so a crash loses nothing that was answered.
//!
//! ## Cargo features
//!
//! * `oci-spec`: conversions to and from `oci_spec::distribution::Reference`.
//! * `pod`: the `pod` module (adds `saphyr-parser`, a pure-Rust YAML
//!   parser, and its one dependency `arraydeque`).

#![deny(missing_docs)]
#![warn(missing_debug_implementations)]

pub mod api;
pub mod automatch;
pub mod clock;
pub mod cursor;
pub mod describe;
pub mod engine;
mod error;
pub mod ids;
pub mod index;
pub mod limits;
mod matching;
pub mod oracle;
#[cfg(feature = "pod")]
pub mod pod;
mod prefetch;
pub mod record;
pub mod reference;
#[cfg(feature = "sqlite")]
pub mod store;
pub mod wire;
#[cfg(feature = "workload")]
pub mod workload;

pub use error::{ApiError, ErrorCode};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
mod readme {}

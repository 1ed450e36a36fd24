//! The engine: every validation rule and error code through the wire's
//! path, the lifecycle on a manual clock, a state-machine model of it all,
//! and the scheduler's side (auto-match, evaluation, auto-create).

#[path = "../common/mod.rs"]
mod common;

mod lifecycle;
mod model;
mod rules;
mod scheduler;

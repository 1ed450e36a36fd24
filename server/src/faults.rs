//! Injected faults: a failure for the next matching create or update (the
//! cache goes to `Failed` / `UpdateFailed`), and the error codes of the
//! seeds' error tables ([`crate::seed_errors`]) for the next N calls.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use eci_imagecache::api::Action;
use eci_imagecache::engine::{FailurePredicate, Operation};
use serde::{Deserialize, Serialize};

use crate::seed_errors::{Seed, seed_codes, seed_error};

/// The longest `Detail` of an injected error, in characters.
pub const MAX_FAULT_DETAIL_CHARS: usize = 1024;

/// A pending error of the seeds' tables:
/// `{"Code": …, "Count": N, "Action": …, "Detail": "…"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorFault {
    /// The code, one of [`seed_codes`].
    pub code: String,
    /// Only calls of this action (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// How many more calls get it.
    pub count: u32,
    /// What fills the `%s` of the row's message (unused when the message
    /// has none); without it, the row's description fills it. At most
    /// [`MAX_FAULT_DETAIL_CHARS`] characters, no control characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The error response an injected fault makes a call get.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InjectedError {
    /// The HTTP status of the seed's row.
    pub status: u16,
    /// The code.
    pub code: &'static str,
    /// The seed's message, `%s` filled ([`crate::seed_errors::SeedError::message`]).
    pub message: String,
}

/// A pending failure of a create or update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailureFault {
    /// `CreateImageCache` or `UpdateImageCache`.
    pub action: Action,
    /// The `Warning` event's message.
    pub reason: String,
}

/// The faults waiting to happen, shared by the handlers and the engine's
/// failure predicate.
#[derive(Clone, Debug, Default)]
pub struct Faults {
    inner: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    failures: VecDeque<FailureFault>,
    errors: Vec<ErrorFault>,
    /// The failures the current call used up, in the order used.
    consumed: Vec<FailureFault>,
}

/// At most this many faults wait at once.
pub const MAX_PENDING: usize = 100;

impl State {
    fn room(&self) -> Result<(), String> {
        if self.failures.len() + self.errors.len() >= MAX_PENDING {
            return Err(format!(
                "At most {MAX_PENDING} faults may be pending; clear some first."
            ));
        }
        Ok(())
    }
}

impl Faults {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The engine's failure predicate: the first pending failure for the
    /// operation, used up.
    pub fn predicate(&self) -> FailurePredicate {
        let faults = self.clone();
        FailurePredicate::new(move |check| {
            let action = match check.operation {
                Operation::Create => Action::CreateImageCache,
                Operation::Update => Action::UpdateImageCache,
            };
            let mut state = faults.state();
            let at = state.failures.iter().position(|f| f.action == action)?;
            let fault = state.failures.remove(at)?;
            let reason = fault.reason.clone();
            state.consumed.push(fault);
            Some(reason)
        })
    }

    /// Puts failures a call used back at the head of the queue, in their
    /// order (the call was undone).
    pub fn give_back(&self, used: Vec<FailureFault>) {
        let mut state = self.state();
        for fault in used.into_iter().rev() {
            state.failures.push_front(fault);
        }
    }

    /// Queues a failure.
    ///
    /// # Errors
    ///
    /// The control endpoint's message when [`MAX_PENDING`] faults wait.
    pub fn try_fail_next(&self, fault: FailureFault) -> Result<(), String> {
        let mut state = self.state();
        state.room()?;
        state.failures.push_back(fault);
        Ok(())
    }

    /// Queues an error of the seeds' tables.
    ///
    /// # Errors
    ///
    /// The control endpoint's message for an unknown code, a bad `Detail`
    /// (over [`MAX_FAULT_DETAIL_CHARS`] characters or with control
    /// characters) or when [`MAX_PENDING`] faults wait.
    pub fn add_error(&self, fault: ErrorFault) -> Result<(), String> {
        if !seed_codes().contains(&fault.code.as_str()) {
            return Err(format!("Code must be one of: {}.", seed_codes().join(", ")));
        }
        if let Some(detail) = &fault.detail {
            if detail.chars().count() > MAX_FAULT_DETAIL_CHARS {
                return Err(format!(
                    "Detail is at most {MAX_FAULT_DETAIL_CHARS} characters."
                ));
            }
            if detail.chars().any(char::is_control) {
                return Err("Detail has no control characters.".to_owned());
            }
        }
        let mut state = self.state();
        state.room()?;
        state.errors.push(fault);
        Ok(())
    }

    /// The error a call of `action` (`None` for a name that is no action)
    /// gets now, used up: the seed's row for the code and action
    /// ([`seed_error`]), `%s` filled from the fault's `Detail`.
    pub fn take_error(&self, action: Option<Action>) -> Option<InjectedError> {
        let mut state = self.state();
        let at = state
            .errors
            .iter()
            .position(|e| e.count > 0 && e.action.is_none_or(|a| Some(a) == action))?;
        let fault = &mut state.errors[at];
        fault.count -= 1;
        // add_error let in only codes of the tables.
        // A name that is no action writes nothing: the Update seed's rows,
        // as for every action that is not read-only.
        let seed = action.map_or(Seed::UpdateImageCache, Seed::for_action);
        let row = seed_error(&fault.code, seed);
        let injected = row.map(|row| InjectedError {
            status: row.status,
            code: row.code,
            message: row.message(fault.detail.as_deref()),
        });
        if fault.count == 0 {
            state.errors.remove(at);
        }
        injected
    }

    /// The failures used up since the last call of this (by one API call).
    pub fn take_consumed(&self) -> Vec<FailureFault> {
        std::mem::take(&mut self.state().consumed)
    }

    /// Everything pending, for the control endpoint.
    pub fn pending(&self) -> (Vec<FailureFault>, Vec<ErrorFault>) {
        let state = self.state();
        (
            state.failures.iter().cloned().collect(),
            state.errors.clone(),
        )
    }

    /// Drops everything pending.
    pub fn clear(&self) {
        let mut state = self.state();
        state.failures.clear();
        state.errors.clear();
        state.consumed.clear();
    }
}

//! Injected faults: a failure for the next matching create or update (the
//! cache goes to `Failed` / `UpdateFailed`), and account-level error codes
//! from the seeds' error tables for the next N calls.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use eci_imagecache::engine::{FailurePredicate, Operation};
use serde::{Deserialize, Serialize};

/// The account-level errors of the seeds' tables an emulator can be told
/// to return: (code, HTTP status, message).
pub const ACCOUNT_ERRORS: &[(&str, u16, &str)] = &[
    (
        "Account.Arrearage",
        400,
        "Your account has an outstanding payment.",
    ),
    (
        "DryRunOperation",
        400,
        "Request validation has been passed with DryRun flag set.",
    ),
    (
        "ServiceNotEnabled",
        400,
        "The service on which this request depends has not been activated. Please activate and try again.",
    ),
    (
        "ImageCacheNotSupport",
        400,
        "Image cache is not available for all users. If you want to enable this function, contact us.",
    ),
    (
        "Forbidden.SubUser",
        403,
        "The specified action is not available for you.",
    ),
    (
        "Forbidden.RiskControl",
        403,
        "This operation has been identified as an abnormal operation and cannot be processed.",
    ),
    (
        "Forbidden.UserBussinessStatus",
        403,
        "This operation is not allowed, because you have overdue bills. Pay the overdue bill and try again.",
    ),
    (
        "Forbidden.UserNotRealNameAuthentication",
        403,
        "This operation is not allowed, because you have not passed the real-name verification.",
    ),
    ("NoPermission", 403, "The RAM role does not belong to ECS."),
];

/// A pending account-level error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ErrorFault {
    /// The code, one of [`ACCOUNT_ERRORS`].
    pub code: String,
    /// Only calls of this action (any when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// How many more calls get it.
    pub count: u32,
}

/// A pending failure of a create or update.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailureFault {
    /// `CreateImageCache` or `UpdateImageCache`.
    pub action: String,
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
                Operation::Create => "CreateImageCache",
                Operation::Update => "UpdateImageCache",
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

    /// Queues a failure; an error when [`MAX_PENDING`] faults wait.
    pub fn try_fail_next(&self, fault: FailureFault) -> Result<(), String> {
        let mut state = self.state();
        state.room()?;
        state.failures.push_back(fault);
        Ok(())
    }

    /// Queues an account-level error; an error for an unknown code or when
    /// [`MAX_PENDING`] faults wait.
    pub fn add_error(&self, fault: ErrorFault) -> Result<(), String> {
        if !ACCOUNT_ERRORS.iter().any(|(c, _, _)| *c == fault.code) {
            return Err(format!(
                "Code must be one of: {}.",
                ACCOUNT_ERRORS
                    .iter()
                    .map(|e| e.0)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut state = self.state();
        state.room()?;
        state.errors.push(fault);
        Ok(())
    }

    /// The error a call of `action` gets now, used up: (code, status, message).
    pub fn take_error(&self, action: &str) -> Option<(&'static str, u16, &'static str)> {
        let mut state = self.state();
        let at = state
            .errors
            .iter()
            .position(|e| e.count > 0 && e.action.as_deref().is_none_or(|a| a == action))?;
        state.errors[at].count -= 1;
        let code = state.errors[at].code.clone();
        if state.errors[at].count == 0 {
            state.errors.remove(at);
        }
        ACCOUNT_ERRORS.iter().find(|(c, _, _)| *c == code).copied()
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

//! `ClientToken` idempotency: a successful call remembered for a day, its
//! answer replayed to a retry with the same parameters.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::region::Region;
use super::{CLIENT_TOKEN_TTL_SECS, CreateResponse};
use crate::error::ApiError;

/// The operations a `ClientToken` belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum TokenAction {
    Create,
    Update,
    Delete,
}

/// A successful call under a `ClientToken`: its parameters' fingerprint
/// and its answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Remembered {
    fingerprint: [u8; 32],
    answer: Option<CreateResponse>,
    pub(crate) at: i64,
}

/// SHA-256 of a request's parameters other than its `ClientToken`, as
/// canonical JSON (object keys sorted).
fn fingerprint<T: Serialize>(request: &T) -> [u8; 32] {
    let mut value = serde_json::to_value(request).expect("requests serialise");
    if let Some(fields) = value.as_object_mut() {
        fields.remove("client_token");
    }
    Sha256::digest(value.to_string()).into()
}

/// A call's `ClientToken` (if it has one) with the fingerprint of its
/// other parameters: what [`Region::replay`] looks up and
/// [`Region::remember`] stores.
pub(super) struct Idempotency<'a> {
    action: TokenAction,
    token: Option<(&'a str, [u8; 32])>,
}

impl<'a> Idempotency<'a> {
    /// The token of a call of `action`, fingerprinting `request` only when
    /// there is one.
    pub(super) fn of<T: Serialize>(
        action: TokenAction,
        token: Option<&'a str>,
        request: &T,
    ) -> Self {
        Idempotency {
            action,
            token: token.map(|t| (t, fingerprint(request))),
        }
    }
}

impl Region {
    /// The remembered answer for a call's token: `Ok(None)` when the token
    /// is new (or absent), `Ok(Some(answer))` to replay, an error when it
    /// came with other parameters.
    pub(super) fn replay(
        &self,
        call: &Idempotency<'_>,
    ) -> Result<Option<Option<CreateResponse>>, ApiError> {
        let Some((token, fingerprint)) = call.token else {
            return Ok(None);
        };
        match self.tokens.get(&(call.action, token.to_owned())) {
            None => Ok(None),
            Some(r) if r.fingerprint == fingerprint => Ok(Some(r.answer.clone())),
            Some(_) => Err(ApiError::idempotent_mismatch()),
        }
    }

    /// Remembers a successful call under its token (nothing without one).
    pub(super) fn remember(
        &mut self,
        call: &Idempotency<'_>,
        answer: Option<CreateResponse>,
        at: i64,
    ) {
        let Some((token, fingerprint)) = call.token else {
            return;
        };
        let action = call.action;
        self.tokens.insert(
            (action, token.to_owned()),
            Remembered {
                fingerprint,
                answer,
                at,
            },
        );
        self.token_times.insert((at, action, token.to_owned()));
        self.mark_token(action, token);
    }

    fn mark_token(&mut self, action: TokenAction, token: &str) {
        if self.track {
            self.changed_tokens.insert((action, token.to_owned()));
        }
    }

    /// Forgets the tokens older than [`CLIENT_TOKEN_TTL_SECS`].
    pub(super) fn expire_tokens(&mut self, now: i64) {
        while let Some(&(t, action, _)) = self.token_times.first() {
            if t + CLIENT_TOKEN_TTL_SECS > now {
                break;
            }
            let (_, _, token) = self.token_times.pop_first().expect("present");
            let key = (action, token);
            if self.tokens.get(&key).is_some_and(|r| r.at == t) {
                self.tokens.remove(&key);
                self.mark_token(key.0, &key.1);
            }
        }
    }
}

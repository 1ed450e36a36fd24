//! `ClientToken` idempotency: a successful call remembered for a day, its
//! answer replayed to a retry with the same parameters.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::region::Region;
use super::{CLIENT_TOKEN_TTL_SECS, CreateResponse};
use crate::error::ApiError;

/// The operations a `ClientToken` belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) enum Action {
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
pub(super) fn fingerprint<T: Serialize>(request: &T) -> [u8; 32] {
    let mut value = serde_json::to_value(request).expect("requests serialise");
    if let Some(fields) = value.as_object_mut() {
        fields.remove("client_token");
    }
    Sha256::digest(value.to_string()).into()
}

impl Region {
    /// The remembered answer for a token: `Ok(None)` when the token is new
    /// (or absent), `Ok(Some(answer))` to replay, an error on other
    /// parameters.
    pub(super) fn replay(
        &self,
        action: Action,
        token: Option<&str>,
        fingerprint: Option<[u8; 32]>,
    ) -> Result<Option<Option<CreateResponse>>, ApiError> {
        let Some(token) = token else { return Ok(None) };
        match self.tokens.get(&(action, token.to_owned())) {
            None => Ok(None),
            Some(r) if Some(r.fingerprint) == fingerprint => Ok(Some(r.answer.clone())),
            Some(_) => Err(ApiError::idempotent_mismatch()),
        }
    }

    pub(super) fn remember(
        &mut self,
        action: Action,
        token: &str,
        fingerprint: [u8; 32],
        answer: Option<CreateResponse>,
        at: i64,
    ) {
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

    fn mark_token(&mut self, action: Action, token: &str) {
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

//! Error answers of the server itself (signatures, freshness, transport,
//! control) next to the engine's [`ApiError`]s: a code, an HTTP status and
//! a message, always sent as `{"RequestId","Code","Message"}`.

use eci_imagecache::ApiError;
use eci_imagecache::api::Reply;
use eci_imagecache::wire::json::ErrorBody;

/// An error answer: HTTP status, code, message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    status: u16,
    code: &'static str,
    message: String,
}

impl Refusal {
    /// A refusal with any code.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            code,
            message: message.into(),
        }
    }

    /// `MissingParameter` naming the parameter.
    pub fn missing(parameter: &str) -> Refusal {
        ApiError::missing(parameter).into()
    }

    /// `InvalidParameter` naming the parameter and the reason.
    pub fn invalid(parameter: &str, reason: impl std::fmt::Display) -> Refusal {
        ApiError::invalid(parameter, reason).into()
    }

    /// The code as sent (`SignatureDoesNotMatch`, `InvalidTimeStamp.Expired`, …).
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The HTTP status.
    pub fn http_status(&self) -> u16 {
        self.status
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The reply: this status and `{"RequestId","Code","Message"}` (the
    /// library's [`ErrorBody`], the one shape of every error body the
    /// server sends).
    pub fn reply(&self, request_id: String) -> Reply {
        let body = ErrorBody {
            request_id,
            code: self.code.to_owned(),
            message: self.message.clone(),
        };
        Reply::new(
            self.status,
            serde_json::to_value(body).expect("an error body serialises"),
        )
    }
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Refusal {
        Refusal {
            status: e.http_status(),
            code: e.code().as_str(),
            message: e.message().to_owned(),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.message)
    }
}

//! API errors: a code, an HTTP status and a message, as the cloud returns
//! them (`shared/spec/behaviour.md` section 8).

use std::fmt;

/// The error codes the engine produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// A required parameter is absent.
    MissingParameter,
    /// A parameter has the wrong type, is out of range or over a limit.
    InvalidParameter,
    /// A `NextToken` that is malformed, forged, foreign or for other filters.
    InvalidNextToken,
}

impl ErrorCode {
    /// The code as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MissingParameter => "MissingParameter",
            ErrorCode::InvalidParameter => "InvalidParameter",
            ErrorCode::InvalidNextToken => "InvalidParameter.NextToken",
        }
    }

    /// The HTTP status that goes with the code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::MissingParameter
            | ErrorCode::InvalidParameter
            | ErrorCode::InvalidNextToken => 400,
        }
    }
}

/// An error as the API reports it.
///
/// ```
/// use eci_imagecache::{ApiError, ErrorCode};
///
/// let e = ApiError::missing("RegionId");
/// assert_eq!(e.code(), ErrorCode::MissingParameter);
/// assert_eq!(e.code().as_str(), "MissingParameter");
/// assert_eq!(e.http_status(), 400);
/// assert_eq!(e.message(), "The input parameter \"RegionId\" that is mandatory for processing this request is not supplied.");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    code: ErrorCode,
    message: String,
}

impl ApiError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    /// `MissingParameter` naming the parameter.
    pub fn missing(parameter: &str) -> Self {
        ApiError::new(
            ErrorCode::MissingParameter,
            format!(
                "The input parameter \"{parameter}\" that is mandatory for processing this request is not supplied."
            ),
        )
    }

    /// `InvalidParameter` naming the parameter and the reason.
    pub fn invalid(parameter: &str, reason: impl fmt::Display) -> Self {
        ApiError::new(
            ErrorCode::InvalidParameter,
            format!("The specified parameter \"{parameter}\" is not valid: {reason}."),
        )
    }

    /// `InvalidParameter.NextToken`.
    pub fn invalid_next_token() -> Self {
        ApiError::new(
            ErrorCode::InvalidNextToken,
            "The specified parameter \"NextToken\" is not valid.",
        )
    }

    /// The error code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The HTTP status.
    pub fn http_status(&self) -> u16 {
        self.code.http_status()
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl std::error::Error for ApiError {}

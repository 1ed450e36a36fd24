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
    /// A `ClientToken` reused with other parameters.
    IdempotentParameterMismatch,
    /// An update that changes nothing.
    NoNeedUpdate,
    /// An update of a cache that is not `Ready` or `UpdateFailed`.
    OperationConflict,
    /// Update or Delete of an unknown cache.
    InvalidImageCacheIdNotFound,
    /// The region's cache quota is reached and nothing can be evicted.
    QuotaExceeded,
    /// Auto-match named a cache that does not exist.
    ImageCacheNotFound,
    /// Auto-match named a cache that is not `Ready`.
    ImageCacheNotComplete,
    /// An unknown `Action` (emulator).
    InvalidActionNotFound,
    /// A bad signature (emulator with keys configured).
    SignatureDoesNotMatch,
    /// An unknown `AccessKeyId` (emulator with keys configured).
    InvalidAccessKeyIdNotFound,
    /// The change could not be made durable (a store write failed); nothing
    /// changed.
    InternalError,
}

impl ErrorCode {
    /// The code as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MissingParameter => "MissingParameter",
            ErrorCode::InvalidParameter => "InvalidParameter",
            ErrorCode::InvalidNextToken => "InvalidParameter.NextToken",
            ErrorCode::IdempotentParameterMismatch => "IdempotentParameterMismatch",
            ErrorCode::NoNeedUpdate => "NoNeedUpdate",
            ErrorCode::OperationConflict => "OperationConflict",
            ErrorCode::InvalidImageCacheIdNotFound => "InvalidImageCacheId.NotFound",
            ErrorCode::QuotaExceeded => "QuotaExceeded",
            ErrorCode::ImageCacheNotFound => "ImageCacheNotFound",
            ErrorCode::ImageCacheNotComplete => "ImageCacheNotComplete",
            ErrorCode::InvalidActionNotFound => "InvalidAction.NotFound",
            ErrorCode::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            ErrorCode::InvalidAccessKeyIdNotFound => "InvalidAccessKeyId.NotFound",
            ErrorCode::InternalError => "InternalError",
        }
    }

    /// Every code.
    pub const ALL: [ErrorCode; 14] = [
        ErrorCode::MissingParameter,
        ErrorCode::InvalidParameter,
        ErrorCode::InvalidNextToken,
        ErrorCode::IdempotentParameterMismatch,
        ErrorCode::NoNeedUpdate,
        ErrorCode::OperationConflict,
        ErrorCode::InvalidImageCacheIdNotFound,
        ErrorCode::QuotaExceeded,
        ErrorCode::ImageCacheNotFound,
        ErrorCode::ImageCacheNotComplete,
        ErrorCode::InvalidActionNotFound,
        ErrorCode::SignatureDoesNotMatch,
        ErrorCode::InvalidAccessKeyIdNotFound,
        ErrorCode::InternalError,
    ];

    /// The code with this spelling.
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The HTTP status that goes with the code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::MissingParameter
            | ErrorCode::InvalidParameter
            | ErrorCode::InvalidNextToken
            | ErrorCode::IdempotentParameterMismatch
            | ErrorCode::NoNeedUpdate
            | ErrorCode::OperationConflict
            | ErrorCode::ImageCacheNotComplete
            | ErrorCode::SignatureDoesNotMatch => 400,
            ErrorCode::QuotaExceeded => 403,
            ErrorCode::InvalidImageCacheIdNotFound
            | ErrorCode::ImageCacheNotFound
            | ErrorCode::InvalidActionNotFound
            | ErrorCode::InvalidAccessKeyIdNotFound => 404,
            ErrorCode::InternalError => 500,
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

    /// `InvalidParameter` naming the parameter (its first 128 characters)
    /// and the reason.
    pub fn invalid(parameter: &str, reason: impl fmt::Display) -> Self {
        let parameter = match parameter.char_indices().nth(128) {
            Some((end, _)) => format!("{}…", &parameter[..end]),
            None => parameter.to_owned(),
        };
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

    /// `IdempotentParameterMismatch`.
    pub fn idempotent_mismatch() -> Self {
        ApiError::new(
            ErrorCode::IdempotentParameterMismatch,
            "The request uses the same client token as a previous, but non-identical request.",
        )
    }

    /// `NoNeedUpdate`.
    pub fn no_need_update() -> Self {
        ApiError::new(
            ErrorCode::NoNeedUpdate,
            "There are no changes to be updated for current resource.",
        )
    }

    /// `OperationConflict`.
    pub fn operation_conflict() -> Self {
        ApiError::new(
            ErrorCode::OperationConflict,
            "Request was denied due to conflict with a previous request.",
        )
    }

    /// `InvalidImageCacheId.NotFound` naming the id.
    pub fn image_cache_id_not_found(id: &str) -> Self {
        ApiError::new(
            ErrorCode::InvalidImageCacheIdNotFound,
            format!("The specified image cache {id} does not exist."),
        )
    }

    /// `InternalError` (500): the change could not be made durable, so it
    /// was undone.
    pub fn internal() -> Self {
        ApiError::new(
            ErrorCode::InternalError,
            "The request processing has failed due to some unknown error.",
        )
    }

    /// `QuotaExceeded`.
    pub fn quota_exceeded() -> Self {
        ApiError::new(ErrorCode::QuotaExceeded, "ImageCache quota exceeded.")
    }

    /// `InvalidAction.NotFound` naming the action.
    pub fn unknown_action(action: &str) -> Self {
        ApiError::new(
            ErrorCode::InvalidActionNotFound,
            format!("The specified action {action:?} is not valid."),
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

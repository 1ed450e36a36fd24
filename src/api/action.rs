//! The actions the API answers, by one name each.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::ApiError;

/// An action [`call`](super::call) answers: the API's four, the
/// scheduler's `AutoMatch` (records a hit) and, with feature `pod`,
/// `MatchPod` (the decision for a Pod manifest, recording nothing).
///
/// Its text is the `Action` parameter of a call, exactly (names are
/// case-sensitive, as the cloud's are); serde reads and writes that text.
///
/// ```
/// use eci_imagecache::api::Action;
///
/// let action: Action = "DescribeImageCaches".parse()?;
/// assert_eq!(action, Action::DescribeImageCaches);
/// assert!(action.is_read_only());
/// assert_eq!(Action::CreateImageCache.to_string(), "CreateImageCache");
/// assert!(Action::ALL.iter().all(|a| a.as_str().parse() == Ok(*a)));
/// # Ok::<(), eci_imagecache::ApiError>(())
/// ```
///
/// # Errors
///
/// Parsing a name that is not an action gives `InvalidAction.NotFound`:
///
/// ```
/// use eci_imagecache::api::Action;
/// use eci_imagecache::ErrorCode;
///
/// let e = "describeimagecaches".parse::<Action>().unwrap_err();
/// assert_eq!(e.code(), ErrorCode::InvalidActionNotFound);
/// assert_eq!(e.message(), r#"The specified action "describeimagecaches" is not valid."#);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Action {
    /// `CreateImageCache`.
    CreateImageCache,
    /// `DescribeImageCaches`.
    DescribeImageCaches,
    /// `UpdateImageCache`.
    UpdateImageCache,
    /// `DeleteImageCache`.
    DeleteImageCache,
    /// `AutoMatch`: the scheduler's choice for a container group, recorded.
    AutoMatch,
    /// `MatchPod`: the choice for a Pod manifest, recording nothing.
    #[cfg(feature = "pod")]
    MatchPod,
}

impl Action {
    /// Every action, in the order the API documents them.
    pub const ALL: &'static [Action] = &[
        Action::CreateImageCache,
        Action::DescribeImageCaches,
        Action::UpdateImageCache,
        Action::DeleteImageCache,
        Action::AutoMatch,
        #[cfg(feature = "pod")]
        Action::MatchPod,
    ];

    /// The action's name, as the `Action` parameter spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::CreateImageCache => "CreateImageCache",
            Action::DescribeImageCaches => "DescribeImageCaches",
            Action::UpdateImageCache => "UpdateImageCache",
            Action::DeleteImageCache => "DeleteImageCache",
            Action::AutoMatch => "AutoMatch",
            #[cfg(feature = "pod")]
            Action::MatchPod => "MatchPod",
        }
    }

    /// Whether the action only reads, so [`read_only`](super::read_only)
    /// answers it under shared access: `DescribeImageCaches` and
    /// `MatchPod`.
    pub const fn is_read_only(self) -> bool {
        match self {
            Action::DescribeImageCaches => true,
            #[cfg(feature = "pod")]
            Action::MatchPod => true,
            _ => false,
        }
    }
}

impl FromStr for Action {
    type Err = ApiError;

    fn from_str(name: &str) -> Result<Action, ApiError> {
        Action::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == name)
            .ok_or_else(|| ApiError::unknown_action(name))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

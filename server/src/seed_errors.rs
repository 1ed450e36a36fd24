//! The rows of the two seeds' error tables, as fault injection returns
//! them: the `DescribeImageCaches` page's table and the `UpdateImageCache`
//! page's (the only write-action page there is, so its table stands for
//! every write action: `CreateImageCache`, `UpdateImageCache`,
//! `DeleteImageCache` and the emulator's own `AutoMatch`).
//!
//! Each row is transcribed verbatim from its seed (status, code, message,
//! description), typos and truncations included: the seed wins. The
//! server's tests check every row against copies of the seed files.
//!
//! Which row a call gets ([`seed_error`]): a `DescribeImageCaches` call
//! gets the Describe seed's row for the code when that seed has one, any
//! other action the Update seed's row when it has one; a code found in
//! only one seed uses that seed's row for every action. A `%s` in the
//! message is filled by [`SeedError::message`].

/// The page an error row comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Seed {
    /// The `DescribeImageCaches` page (`seeds/DescribeImageCaches.txt`).
    DescribeImageCaches,
    /// The `UpdateImageCache` page (`seeds/UpdateImageCache.txt`), whose
    /// table the write actions share.
    UpdateImageCache,
}

impl Seed {
    /// The seed whose rows a call of `action` prefers: the Describe seed
    /// for the actions that only read (`DescribeImageCaches`, `MatchPod`),
    /// the Update seed for every other action. (A call naming no action
    /// gets the Update seed's rows too: [`Faults::take_error`](crate::faults::Faults::take_error).)
    ///
    /// # Examples
    ///
    /// ```
    /// use eci_imagecache::api::Action;
    /// use eci_imagecache_server::seed_errors::Seed;
    ///
    /// assert_eq!(Seed::for_action(Action::DescribeImageCaches), Seed::DescribeImageCaches);
    /// assert_eq!(Seed::for_action(Action::DeleteImageCache), Seed::UpdateImageCache);
    /// assert_eq!(Seed::for_action(Action::AutoMatch), Seed::UpdateImageCache);
    /// assert_eq!(Seed::for_action(Action::MatchPod), Seed::DescribeImageCaches);
    /// ```
    pub fn for_action(action: eci_imagecache::api::Action) -> Seed {
        if action.is_read_only() {
            Seed::DescribeImageCaches
        } else {
            Seed::UpdateImageCache
        }
    }

    /// The action the seed's page documents (also the seed file's stem).
    pub fn name(self) -> &'static str {
        match self {
            Seed::DescribeImageCaches => eci_imagecache::api::Action::DescribeImageCaches.as_str(),
            Seed::UpdateImageCache => eci_imagecache::api::Action::UpdateImageCache.as_str(),
        }
    }
}

/// What fills a `%s` when the fault has no `Detail` and the row no
/// description: the subject of the engine's own `QuotaExceeded`
/// (`ImageCache quota exceeded.`). Only `QuotaExceeded` needs it.
pub const DEFAULT_FILL: &str = "ImageCache";

/// One row of a seed's error table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedError {
    /// The error code, e.g. `Account.Arrearage`.
    pub code: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// The error message, verbatim; may hold one `%s`.
    pub message: &'static str,
    /// The description column, verbatim; `None` where the seed has `-`
    /// or nothing.
    pub description: Option<&'static str>,
    /// The page the row comes from.
    pub seed: Seed,
}

impl SeedError {
    /// The message a response carries: the seed's message with `%s`
    /// filled by `detail`, else by the row's description, else by
    /// [`DEFAULT_FILL`]. A message without `%s` is returned as it is
    /// (`detail` unused).
    ///
    /// # Examples
    ///
    /// ```
    /// use eci_imagecache_server::seed_errors::{Seed, seed_error};
    ///
    /// let e = seed_error("ServiceNotEnabled", Seed::UpdateImageCache).unwrap();
    /// assert_eq!(e.message(Some("ECI is not activated.")), "ECI is not activated.");
    /// assert_eq!(
    ///     e.message(None),
    ///     "You have not activated the service that is required for processing this request."
    /// );
    /// let e = seed_error("QuotaExceeded", Seed::UpdateImageCache).unwrap();
    /// assert_eq!(e.message(None), "ImageCache quota exceeded.");
    /// let e = seed_error("Account.Arrearage", Seed::DescribeImageCaches).unwrap();
    /// assert_eq!(e.message(Some("ignored")), "Your account has an outstanding payment.");
    /// ```
    pub fn message(&self, detail: Option<&str>) -> String {
        if !self.message.contains("%s") {
            return self.message.to_owned();
        }
        let fill = detail.or(self.description).unwrap_or(DEFAULT_FILL);
        self.message.replace("%s", fill)
    }
}

/// The row of `code` for a call that prefers `seed` ([`Seed::for_action`]):
/// the seed's own row, else the other seed's (see the module docs); `None`
/// for a code in neither seed.
///
/// # Examples
///
/// ```
/// use eci_imagecache_server::seed_errors::{Seed, seed_error};
///
/// let describe = seed_error("NoPermission", Seed::DescribeImageCaches).unwrap();
/// assert_eq!(describe.message, "The RAM role does not belong to ECS.");
/// let update = seed_error("NoPermission", Seed::UpdateImageCache).unwrap();
/// assert_eq!(update.seed, Seed::UpdateImageCache);
/// // Only the Update seed has it: every action uses that row.
/// let stock = seed_error("OperationDenied.NoStock", Seed::DescribeImageCaches).unwrap();
/// assert_eq!((stock.status, stock.seed), (403, Seed::UpdateImageCache));
/// assert!(seed_error("NoSuchCode", Seed::DescribeImageCaches).is_none());
/// ```
pub fn seed_error(code: &str, preferred: Seed) -> Option<&'static SeedError> {
    let mut rows = SEED_ERRORS.iter().filter(|e| e.code == code);
    let first = rows.clone().next()?;
    Some(rows.find(|e| e.seed == preferred).unwrap_or(first))
}

/// The distinct codes of both tables, in table order (Describe's first):
/// the codes fault injection accepts.
pub fn seed_codes() -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = Vec::new();
    for e in SEED_ERRORS {
        if !codes.contains(&e.code) {
            codes.push(e.code);
        }
    }
    codes
}

const fn row(
    seed: Seed,
    status: u16,
    code: &'static str,
    message: &'static str,
    description: Option<&'static str>,
) -> SeedError {
    SeedError {
        code,
        status,
        message,
        description,
        seed,
    }
}

use Seed::{DescribeImageCaches as D, UpdateImageCache as U};

/// Every row of both seeds' tables, in each seed's order: the Describe
/// seed's 7 rows, then the Update seed's 24.
///
/// The Describe table separates its columns by single spaces, so a row's
/// message and description can be told apart only where the text repeats
/// or the message is `%s`; a row whose text appears once has it as the
/// message and no description.
pub const SEED_ERRORS: &[SeedError] = &[
    // seeds/DescribeImageCaches.txt, "Error codes".
    row(
        D,
        400,
        "Account.Arrearage",
        "Your account has an outstanding payment.",
        Some("Your account has an outstanding payment."),
    ),
    row(
        D,
        400,
        "DryRunOperation",
        "Request validation has been passed with DryRun flag set.",
        Some("Request validation has been passed with DryRun flag set."),
    ),
    row(
        D,
        400,
        "ServiceNotEnabled",
        "%s",
        Some(
            "The service on which this request depends has not been activated. Please activate and try again.",
        ),
    ),
    row(
        D,
        403,
        "Forbidden.SubUser",
        "The specified action is not available for you.",
        None,
    ),
    row(
        D,
        403,
        "Forbidden.UserBussinessStatus",
        "This operation is not allowed, because you have overdue bills. Pay the overdue bill and try again.",
        None,
    ),
    row(
        D,
        403,
        "Forbidden.UserNotRealNameAuthentication",
        "This operation is not allowed, because you have not passed the real-name verification.",
        None,
    ),
    row(
        D,
        403,
        "NoPermission",
        "The RAM role does not belong to ECS.",
        None,
    ),
    // seeds/UpdateImageCache.txt, "Error codes".
    row(
        U,
        400,
        "Account.Arrearage",
        "Your account has an outstanding payment.",
        Some("Your account has an outstanding payment."),
    ),
    row(
        U,
        400,
        "DryRunOperation",
        "Request validation has been passed with DryRun flag set.",
        Some("Request validation has been passed with DryRun flag set."),
    ),
    row(
        U,
        400,
        "InvalidParameter.CPU.Memory",
        "The specified cpu and memory are not allowed",
        None,
    ),
    row(
        U,
        400,
        "ServiceNotEnabled",
        "%s",
        Some("You have not activated the service that is required for processing this request."),
    ),
    row(
        U,
        400,
        "DiskVolume.NotSupport",
        "The disk volume is not supported.",
        Some(
            "Disk volume does not support your structure. If you want to enable this function, contact us.",
        ),
    ),
    row(
        U,
        400,
        "RamRole.NotSupport",
        "The RAM role is not supported.",
        Some("The RAM role is not supported."),
    ),
    row(
        U,
        400,
        "ImageCacheNotSupport",
        "Image cache is not available for all users. If you want to enable this function, contact us.",
        Some(
            "Container image cache is currently not available to all users. Submit a ticket if you need to use the feature.",
        ),
    ),
    row(
        U,
        400,
        "OperationConflict",
        "Request was denied due to conflict with a previous request.",
        Some("Request was denied due to conflict with a previous request."),
    ),
    row(
        U,
        400,
        "NoNeedUpdate",
        "There are no changes to be updated for current resource.",
        Some("There are no changes to be updated for current resource."),
    ),
    row(
        U,
        403,
        "OperationDenied.VswZoneMisMatch",
        "The specified VSwitchId is not in the specified Zone.",
        None,
    ),
    row(U, 403, "QuotaExceeded", "%s quota exceeded.", None),
    row(
        U,
        403,
        "Zone.NotOnSale",
        "The specified zone is not available for purchase.",
        None,
    ),
    row(
        U,
        403,
        "Forbidden.RiskControl",
        "This operation has been identified as an abnormal operation and cannot be processed.",
        None,
    ),
    row(
        U,
        403,
        "Forbidden.SubUser",
        "The specified action is not available for you.",
        Some("The specified action is not available for you."),
    ),
    row(
        U,
        403,
        "Forbidden.OnlyForInvitedTest",
        "Eci create action is only open to invited users during public beta.",
        Some("Eci create action is only open to invited users during public beta."),
    ),
    row(
        U,
        403,
        "OperationDenied.SecurityGroupMisMatch",
        "The specified VSwitchId and SecurityGroupId are not in the same VPC.",
        Some("The specified VSwitchId and SecurityGroupId are not in the same VPC."),
    ),
    row(
        U,
        403,
        "InvalidVSwitchId.IpNotEnough",
        "The specified VSwitch does not have enough IP addresses.",
        None,
    ),
    row(
        U,
        403,
        "Forbidden.UserBussinessStatus",
        "This operation is not allowed, because you have overdue bills. Pay the overdue bill and try again.",
        None,
    ),
    row(
        U,
        403,
        "Forbidden.UserNotRealNameAuthentication",
        "This operation is not allowed, because you have not passed the real-name verification.",
        None,
    ),
    row(
        U,
        403,
        "InvalidUser.PassRoleForbidden",
        "The RAM user is not authorized to assume a RAM role.",
        Some("The RAM user is not authorized to assume a RAM role."),
    ),
    // The seed's text stops at "For more information, see" (a link that
    // did not survive), with no description column: kept as it is.
    row(
        U,
        403,
        "OperationDenied.NoStock",
        "Sales of this resource are temporarily suspended in the specified zone. We recommend that you use the multi-zone creation function to avoid the risk of insufficient resource. For more information, see",
        None,
    ),
    // The seed's text is garbled ("does not belong to Please"): kept as it is.
    row(
        U,
        403,
        "NoPermission",
        "The RAM role AliyunECIContainerGroupRole does not belong to Please check and try again.",
        None,
    ),
    row(
        U,
        403,
        "SecurityRisk.3DVerification",
        "We have detected a security risk with your default credit or debit card. Please proceed with verification via the link in your email.",
        None,
    ),
    row(
        U,
        403,
        "CreateServiceLinkedRole.Denied",
        "Please make sure the account has ram:CreateServiceLinkedRole permission.",
        Some("Please make sure the account has ram:CreateServiceLinkedRole permission."),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_seed_has_each_code_once_and_only_percent_s_rows_need_a_fill() {
        for seed in [D, U] {
            let codes: Vec<_> = SEED_ERRORS.iter().filter(|e| e.seed == seed).collect();
            for (i, e) in codes.iter().enumerate() {
                assert!(
                    codes[..i].iter().all(|o| o.code != e.code),
                    "{} twice in {seed:?}",
                    e.code
                );
                assert!(matches!(e.status, 400 | 403), "{e:?}");
            }
        }
        assert_eq!(SEED_ERRORS.iter().filter(|e| e.seed == D).count(), 7);
        assert_eq!(SEED_ERRORS.iter().filter(|e| e.seed == U).count(), 24);
        assert_eq!(seed_codes().len(), 24);
        let filled: Vec<_> = SEED_ERRORS
            .iter()
            .filter(|e| e.message.contains("%s"))
            .map(|e| (e.seed, e.code))
            .collect();
        assert_eq!(
            filled,
            [
                (D, "ServiceNotEnabled"),
                (U, "ServiceNotEnabled"),
                (U, "QuotaExceeded")
            ]
        );
    }

    #[test]
    fn read_only_actions_prefer_the_describe_seed_and_the_rest_the_update_seed() {
        for &action in eci_imagecache::api::Action::ALL {
            for code in seed_codes() {
                let e = seed_error(code, Seed::for_action(action)).unwrap();
                let has = |seed| SEED_ERRORS.iter().any(|r| r.code == code && r.seed == seed);
                let reads = matches!(action.as_str(), "DescribeImageCaches" | "MatchPod");
                let want = if reads && has(D) {
                    D
                } else if has(U) {
                    U
                } else {
                    D
                };
                assert_eq!(e.seed, want, "{code} {action:?}");
            }
        }
    }
}

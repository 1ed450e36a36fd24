//! The kinds of manifest read ([`Kind`]), and where each keeps its pod.

use std::fmt;

/// The kinds of manifest read, and where each keeps its pod.
///
/// ```
/// use eci_imagecache::pod::Kind;
///
/// assert_eq!(Kind::from_name("CronJob"), Some(Kind::CronJob));
/// assert_eq!(Kind::CronJob.template_path(), "spec.jobTemplate.spec.template.");
/// assert_eq!(Kind::Pod.template_path(), "");
/// assert_eq!(Kind::from_name("Service"), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// `metadata` and `spec` of the manifest itself.
    Pod,
    /// `spec.template`.
    Deployment,
    /// `spec.template`.
    StatefulSet,
    /// `spec.template`.
    DaemonSet,
    /// `spec.template`.
    ReplicaSet,
    /// `spec.template`.
    ReplicationController,
    /// `spec.template`.
    Job,
    /// `spec.jobTemplate.spec.template`.
    CronJob,
    /// `template`.
    PodTemplate,
}

impl Kind {
    /// Every kind, in the order of the enum.
    pub const ALL: [Kind; 9] = [
        Kind::Pod,
        Kind::Deployment,
        Kind::StatefulSet,
        Kind::DaemonSet,
        Kind::ReplicaSet,
        Kind::ReplicationController,
        Kind::Job,
        Kind::CronJob,
        Kind::PodTemplate,
    ];

    /// The `kind` as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pod => "Pod",
            Kind::Deployment => "Deployment",
            Kind::StatefulSet => "StatefulSet",
            Kind::DaemonSet => "DaemonSet",
            Kind::ReplicaSet => "ReplicaSet",
            Kind::ReplicationController => "ReplicationController",
            Kind::Job => "Job",
            Kind::CronJob => "CronJob",
            Kind::PodTemplate => "PodTemplate",
        }
    }

    /// The kind with this spelling (case-sensitive, as in Kubernetes).
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Where the pod template is: the path to prefix to `metadata` and
    /// `spec` (empty for a Pod).
    pub fn template_path(self) -> &'static str {
        match self {
            Kind::Pod => "",
            Kind::CronJob => "spec.jobTemplate.spec.template.",
            Kind::PodTemplate => "template.",
            _ => "spec.template.",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

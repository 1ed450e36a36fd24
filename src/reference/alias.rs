//! Registry alias rules and the keys matching works on.
//!
//! A registry key is the registry host lower-cased and then folded: every
//! endpoint variant of one registry is rewritten to that registry's public
//! endpoint, so a key is always a readable host name. The table
//! (`shared/spec/references.md`):
//!
//! | written host | key |
//! |---|---|
//! | `registry[-vpc\|-internal].<region>.aliyuncs.com` | `registry.<region>.aliyuncs.com` |
//! | `registry-intl[-vpc].<region>.aliyuncs.com` | `registry-intl.<region>.aliyuncs.com` |
//! | `crpi-<id>[-vpc].<region>.personal.cr.aliyuncs.com` | `crpi-<id>.<region>.personal.cr.aliyuncs.com` |
//! | `<instance>-registry[-vpc].<region>.cr.aliyuncs.com` | `<instance>-registry.<region>.cr.aliyuncs.com` |
//! | `index.docker.io`, `docker.io` | `docker.io` |
//! | `registry-1.docker.io` (only when opted in) | `docker.io` |
//! | an embedder's alias (`AcrRegistryInfo.N.Domain`) | the key of its alias class |
//! | anything else | itself, lower-cased, port kept |
//!
//! Every fold only shortens or drops the first DNS label, so it never crosses
//! regions or ACR instances, and the port (if any) is kept.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use super::Reference;
use super::parse::DOCKER_HUB;

/// The settings that decide which registry hosts are the same registry.
///
/// The default folds ACR endpoint variants (`registry.` / `registry-vpc.` …);
/// [`RegistryAliases::strict`] does not. Embedders add aliases of their own,
/// as `AcrRegistryInfo.N.Domain` does for an ACR Enterprise instance.
///
/// ```
/// use eci_imagecache::reference::{Reference, RegistryAliases};
///
/// let custom: Reference = "images.example.com/team/app:v1".parse()?;
/// let acr: Reference = "myinst-registry-vpc.cn-shanghai.cr.aliyuncs.com/team/app:v1".parse()?;
///
/// let rules = RegistryAliases::default()
///     .with_alias("images.example.com", "myinst-registry.cn-shanghai.cr.aliyuncs.com");
/// assert_eq!(rules.exact_key(&custom), rules.exact_key(&acr));
/// assert_eq!(
///     rules.repo_key(&custom).as_str(),
///     "myinst-registry.cn-shanghai.cr.aliyuncs.com/team/app"
/// );
///
/// let strict = RegistryAliases::strict();
/// assert_ne!(strict.exact_key(&custom), strict.exact_key(&acr));
/// # Ok::<(), eci_imagecache::reference::ParseError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegistryAliases {
    strict: bool,
    docker_hub_registry_1: bool,
    /// The embedder's aliases as given (lower-cased): `(host, same_as)`.
    aliases: Vec<(Box<str>, Box<str>)>,
    /// Folded key → the representative key of its alias class, for every
    /// key that is not its own representative. Rebuilt from `aliases`
    /// whenever they or the folding settings change.
    representative: HashMap<Box<str>, Box<str>>,
}

/// A registry after alias folding: two references are in the same registry
/// exactly when their keys are equal. Displayed as a host name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegistryKey(Box<str>);

/// Registry key and repository path: `registry.cn-hangzhou.aliyuncs.com/team/app`.
/// Equal repo keys mean "same repository" under the rules that made them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepoKey(Box<str>);

/// Repo key plus the version: `…/team/app@sha256:…` when the reference has a
/// digest (a tag beside it is then informational), else `…/team/app:<tag>`
/// (`latest` when none was written). A tag never equals a digest.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExactKey {
    text: Box<str>,
    repo_len: u32,
}

impl RegistryAliases {
    /// No folding: a registry key is just the lower-cased `host[:port]`.
    /// Aliases added with [`RegistryAliases::add_alias`] are explicit
    /// settings and still apply.
    pub fn strict() -> Self {
        RegistryAliases {
            strict: true,
            ..RegistryAliases::default()
        }
    }

    /// Whether endpoint variants are kept apart.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// Turns strict mode on or off.
    pub fn set_strict(&mut self, strict: bool) {
        self.strict = strict;
        self.rebuild_representatives();
    }

    /// Whether `registry-1.docker.io` counts as Docker Hub.
    pub fn docker_hub_registry_1(&self) -> bool {
        self.docker_hub_registry_1
    }

    /// Makes `registry-1.docker.io` (Docker Hub's real registry host) count as
    /// Docker Hub. Off by default; ignored in strict mode.
    pub fn with_docker_hub_registry_1(mut self, yes: bool) -> Self {
        self.docker_hub_registry_1 = yes;
        self.rebuild_representatives();
        self
    }

    /// Makes `host` (a `host[:port]`, any letter case) the same registry as
    /// `same_as`, as `AcrRegistryInfo.N.Domain` does for an ACR Enterprise
    /// instance. Both are folded by the table in force first, so naming any
    /// endpoint variant of a registry names all of them. Aliases are an
    /// equivalence: an alias of an alias is the same registry too, and the
    /// key of the whole class is the key of the `same_as` given last.
    pub fn add_alias(&mut self, host: &str, same_as: &str) {
        self.aliases.push((
            host.to_ascii_lowercase().into_boxed_str(),
            same_as.to_ascii_lowercase().into_boxed_str(),
        ));
        self.rebuild_representatives();
    }

    /// [`RegistryAliases::add_alias`], by value.
    pub fn with_alias(mut self, host: &str, same_as: &str) -> Self {
        self.add_alias(host, same_as);
        self
    }

    /// Union-find over the folded keys of the aliases, flattened into
    /// `representative`.
    fn rebuild_representatives(&mut self) {
        let mut parent: HashMap<Box<str>, Box<str>> = HashMap::new();
        fn root<'a>(parent: &'a HashMap<Box<str>, Box<str>>, mut key: &'a str) -> &'a str {
            while let Some(up) = parent.get(key) {
                key = up;
            }
            key
        }
        for (host, same_as) in &self.aliases {
            let (mut a, mut b) = (String::new(), String::new());
            self.write_folded_host(host, &mut a);
            self.write_folded_host(same_as, &mut b);
            let (ra, rb) = (root(&parent, &a).to_owned(), root(&parent, &b).to_owned());
            if ra != rb {
                parent.insert(ra.into_boxed_str(), rb.into_boxed_str());
            }
        }
        self.representative = parent
            .keys()
            .map(|k| (k.clone(), root(&parent, k).into()))
            .collect();
    }

    /// The key of a registry host (`host[:port]`, as [`Reference::registry`]
    /// gives it).
    ///
    /// ```
    /// use eci_imagecache::reference::RegistryAliases;
    ///
    /// let rules = RegistryAliases::default();
    /// let key = rules.registry_key("Registry-VPC.cn-hangzhou.aliyuncs.com");
    /// assert_eq!(key.as_str(), "registry.cn-hangzhou.aliyuncs.com");
    /// assert_eq!(rules.registry_key("cr.cn-hangzhou.aliyuncs.com").as_str(), "cr.cn-hangzhou.aliyuncs.com");
    /// ```
    pub fn registry_key(&self, registry: &str) -> RegistryKey {
        let mut out = String::with_capacity(registry.len());
        self.write_registry_key(registry, &mut out);
        RegistryKey(out.into_boxed_str())
    }

    /// The repo key of a reference.
    pub fn repo_key<S: AsRef<str>>(&self, reference: &Reference<S>) -> RepoKey {
        let mut out = String::with_capacity(reference.name().len() + 8);
        self.write_repo_key(reference, &mut out);
        RepoKey(out.into_boxed_str())
    }

    /// The exact key of a reference; [`ExactKey::repo`] is its repo key.
    pub fn exact_key<S: AsRef<str>>(&self, reference: &Reference<S>) -> ExactKey {
        let mut out = String::with_capacity(reference.as_str().len() + 8);
        let repo_len = self.write_exact_key(reference, &mut out);
        ExactKey {
            text: out.into_boxed_str(),
            // The key is at most 16 bytes longer than the canonical string,
            // whose length fits in u32.
            repo_len: repo_len as u32,
        }
    }

    /// Writes the exact key into `out` (cleared first) without allocating
    /// when `out` has room, and returns the length of its repo-key prefix.
    ///
    /// ```
    /// use eci_imagecache::reference::{Reference, RegistryAliases};
    ///
    /// let rules = RegistryAliases::default();
    /// let mut buf = String::new();
    /// let r: Reference = "Docker.io/nginx@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff".parse()?;
    /// let repo_len = rules.write_exact_key(&r, &mut buf);
    /// assert_eq!(&buf[..repo_len], "docker.io/library/nginx");
    /// assert!(buf[repo_len..].starts_with("@sha256:"));
    /// # Ok::<(), eci_imagecache::reference::ParseError>(())
    /// ```
    pub fn write_exact_key<S: AsRef<str>>(
        &self,
        reference: &Reference<S>,
        out: &mut String,
    ) -> usize {
        out.clear();
        self.write_repo_key(reference, out);
        let repo_len = out.len();
        match reference.version() {
            super::Version::Digest(digest) => {
                out.push('@');
                out.push_str(digest);
            }
            super::Version::Tag(tag) => {
                out.push(':');
                out.push_str(tag);
            }
        }
        repo_len
    }

    fn write_repo_key<S: AsRef<str>>(&self, reference: &Reference<S>, out: &mut String) {
        let start = out.len();
        self.write_registry_key(reference.registry(), out);
        let path = reference.repository();
        // Docker Hub spelled in another case (`Docker.io/nginx`) or through an
        // alias still gets Docker's `library/` rule.
        let library = &out[start..] == DOCKER_HUB && !path.contains('/');
        out.push('/');
        if library {
            out.push_str("library/");
        }
        out.push_str(path);
    }

    fn write_registry_key(&self, registry: &str, out: &mut String) {
        let start = out.len();
        self.write_folded_host(registry, out);
        if !self.representative.is_empty()
            && let Some(representative) = self.representative.get(&out[start..])
        {
            out.truncate(start);
            out.push_str(representative);
        }
    }

    /// Lower-cases `host` into `out` and folds it by the built-in table
    /// (unless strict).
    fn write_folded_host(&self, host: &str, out: &mut String) {
        let start = out.len();
        out.extend(host.chars().map(|c| c.to_ascii_lowercase()));
        if !self.strict
            && let Some(cut) = builtin_fold(&out[start..], self.docker_hub_registry_1)
        {
            out.replace_range(start + cut.start..start + cut.end, "");
        }
    }
}

/// The bytes of a lower-cased `host[:port]` that folding deletes: a suffix of
/// the first label (`-vpc`, `-internal`) or the whole first label with its
/// dot (`index.docker.io`). `None` when the host is not an endpoint variant.
fn builtin_fold(host: &str, docker_hub_registry_1: bool) -> Option<Range<usize>> {
    let name = match host.find(':') {
        Some(colon) if !host.starts_with('[') => &host[..colon],
        _ => host,
    };
    let (first, rest) = name.split_once('.')?;
    let drop_first_label = || Some(0..first.len() + 1);
    let cut_suffix = |suffix: &str| Some(first.len() - suffix.len()..first.len());

    if rest == "docker.io" {
        return match first {
            "index" => drop_first_label(),
            "registry-1" if docker_hub_registry_1 => drop_first_label(),
            _ => None,
        };
    }
    let (region, domain) = rest.split_once('.')?;
    if region.is_empty() {
        return None;
    }
    match domain {
        "aliyuncs.com" => match first {
            "registry-vpc" | "registry-intl-vpc" => cut_suffix("-vpc"),
            "registry-internal" => cut_suffix("-internal"),
            _ => None,
        },
        "personal.cr.aliyuncs.com" => {
            let id = first.strip_prefix("crpi-")?.strip_suffix("-vpc")?;
            (!id.is_empty()).then(|| cut_suffix("-vpc"))?
        }
        "cr.aliyuncs.com" => {
            let instance = first.strip_suffix("-registry-vpc")?;
            (!instance.is_empty()).then(|| cut_suffix("-vpc"))?
        }
        _ => None,
    }
}

impl RegistryKey {
    /// The key as a host name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl RepoKey {
    /// The key as text: `registry-key/path`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl ExactKey {
    /// The key as text: `registry-key/path:tag` or `registry-key/path@digest`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The repo-key part of this key.
    pub fn repo(&self) -> &str {
        &self.text[..self.repo_len as usize]
    }
}

macro_rules! display_as_str {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
    )*};
}
display_as_str!(RegistryKey, RepoKey, ExactKey);

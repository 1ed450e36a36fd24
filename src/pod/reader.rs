//! Reading the pod out of a manifest's tree: its kind, names, images and
//! (through [`annotations`](super::annotations)) annotations.

use crate::automatch::AutoMatchRequest;
use crate::reference::Reference;

use super::tree::{Doc, NodeId, Value};
use super::{Kind, MAX_GROUP_IMAGES, PodError, PodErrorKind, PodMatch, annotations};

/// A manifest's tree, with the typed reads every part of the pod uses.
pub(super) struct Reader<'a> {
    pub(super) doc: &'a Doc,
}

/// The path of annotation `key` of the metadata at `metadata`.
pub(super) fn annotation_field(metadata: &str, key: &str) -> String {
    format!("{metadata}annotations[{key:?}]")
}

impl<'a> Reader<'a> {
    pub(super) fn value(&self, id: NodeId) -> &'a Value {
        &self.doc.node(id).value
    }

    pub(super) fn wrong_type(&self, id: NodeId, field: String, expected: &str) -> PodError {
        let node = self.doc.node(id);
        PodError::new(
            PodErrorKind::WrongType,
            Some(field),
            format_args!("must be {expected}, found {}", node.value.describe()),
        )
        .at(node.position)
    }

    /// `key` of mapping `map`, `None` when absent or null.
    pub(super) fn field(&self, map: NodeId, key: &str) -> Option<NodeId> {
        self.doc
            .get(map, key)
            .filter(|&id| !matches!(self.value(id), Value::Null))
    }

    /// A mapping at `key`, if present.
    pub(super) fn map(
        &self,
        map: NodeId,
        key: &str,
        path: &str,
    ) -> Result<Option<NodeId>, PodError> {
        match self.field(map, key) {
            None => Ok(None),
            Some(id) => match self.value(id) {
                Value::Map(_) => Ok(Some(id)),
                _ => Err(self.wrong_type(id, format!("{path}{key}"), "a mapping")),
            },
        }
    }

    /// A mapping at `key` that must be there.
    pub(super) fn required_map(
        &self,
        map: NodeId,
        key: &str,
        path: &str,
    ) -> Result<NodeId, PodError> {
        self.map(map, key, path)?.ok_or_else(|| {
            PodError::new(
                PodErrorKind::MissingField,
                Some(format!("{path}{key}")),
                "is missing",
            )
            .at(self.doc.node(map).position)
        })
    }

    /// A string at `key`, if present.
    pub(super) fn string(
        &self,
        map: NodeId,
        key: &str,
        path: &str,
    ) -> Result<Option<&'a str>, PodError> {
        match self.field(map, key) {
            None => Ok(None),
            Some(id) => match self.value(id) {
                Value::Str(s) => Ok(Some(s)),
                _ => Err(self.wrong_type(id, format!("{path}{key}"), "a string")),
            },
        }
    }
}

/// The pod of the manifest at `root`, as a container group in `region_id`.
pub(super) fn read(r: &Reader<'_>, root: NodeId, region_id: &str) -> Result<PodMatch, PodError> {
    if !matches!(r.value(root), Value::Map(_)) {
        let node = r.doc.node(root);
        return Err(PodError::new(
            PodErrorKind::WrongType,
            None,
            format_args!(
                "the manifest must be a mapping (a Kubernetes object), found {}",
                node.value.describe()
            ),
        )
        .at(node.position));
    }
    let kind_name = r.string(root, "kind", "")?.ok_or_else(|| {
        PodError::new(
            PodErrorKind::MissingField,
            Some("kind".into()),
            "is missing",
        )
    })?;
    let Some(kind) = Kind::from_name(kind_name) else {
        let at = r
            .doc
            .get(root, "kind")
            .and_then(|id| r.doc.node(id).position);
        let reason = if kind_name.ends_with("List") {
            format!("a {kind_name} holds several objects: give one Pod or workload per manifest")
        } else {
            let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            format!(
                "{kind_name:?} is not a Pod or a workload with a pod template (one of {})",
                known.join(", ")
            )
        };
        let kind = if kind_name.ends_with("List") {
            PodErrorKind::MultipleDocuments
        } else {
            PodErrorKind::UnknownKind
        };
        return Err(PodError::new(kind, Some("kind".into()), reason).at(at));
    };
    let metadata = r.map(root, "metadata", "")?;
    let name = metadata
        .map(|m| r.string(m, "name", "metadata."))
        .transpose()?
        .flatten();
    let namespace = metadata
        .map(|m| r.string(m, "namespace", "metadata."))
        .transpose()?
        .flatten();

    // The pod: the manifest itself, or its template.
    let mut pod = root;
    let mut path = String::new();
    for step in kind.template_path().split_terminator('.') {
        pod = r.required_map(pod, step, &path)?;
        path.push_str(step);
        path.push('.');
    }
    let pod_metadata = r.map(pod, "metadata", &path)?;
    let spec = r.required_map(pod, "spec", &path)?;

    let mut request = AutoMatchRequest::new(region_id);
    request.images = images(r, spec, &format!("{path}spec."))?;
    let auto_match = annotations::read(r, pod_metadata, &format!("{path}metadata."), &mut request)?;
    request.auto_create = auto_match;
    // What the request type checks beyond this module's own checks (none
    // expected to fail: region, images and values were checked above).
    request
        .validate()
        .map_err(|e| PodError::new(PodErrorKind::InvalidAnnotation, None, e.message()))?;
    Ok(PodMatch {
        kind,
        name: name.map(str::to_owned),
        namespace: namespace.map(str::to_owned),
        auto_match,
        request,
    })
}

/// The distinct images of `initContainers` then `containers`.
fn images(r: &Reader<'_>, spec: NodeId, path: &str) -> Result<Vec<Reference>, PodError> {
    let mut images: Vec<Reference> = Vec::new();
    for list in ["initContainers", "containers"] {
        let Some(id) = r.field(spec, list) else {
            continue;
        };
        let Value::Seq(containers) = r.value(id) else {
            return Err(r.wrong_type(id, format!("{path}{list}"), "a list of containers"));
        };
        for (i, &container) in containers.iter().enumerate() {
            let at = format!("{path}{list}[{i}]");
            if !matches!(r.value(container), Value::Map(_)) {
                return Err(r.wrong_type(container, at, "a container (a mapping)"));
            }
            let name = r.string(container, "name", &format!("{at}."))?;
            let label = match name {
                Some(name) => format!("container {name:?}"),
                None => "the container".to_owned(),
            };
            let field = format!("{at}.image");
            let Some(image_node) = r.field(container, "image") else {
                return Err(PodError::new(
                    PodErrorKind::MissingField,
                    Some(field),
                    format_args!("{label} has no image"),
                )
                .at(r.doc.node(container).position));
            };
            let Value::Str(image) = r.value(image_node) else {
                return Err(r.wrong_type(image_node, field, "a string"));
            };
            let reference = Reference::parse(image).map_err(|e| {
                PodError::new(
                    PodErrorKind::InvalidImage,
                    Some(field.clone()),
                    format_args!("{label}: not a valid image reference: {e}"),
                )
                .at(r.doc.node(image_node).position)
            })?;
            if images.contains(&reference) {
                continue;
            }
            if images.len() == MAX_GROUP_IMAGES {
                return Err(PodError::new(
                    PodErrorKind::TooManyImages,
                    Some(field),
                    format_args!("more than {MAX_GROUP_IMAGES} distinct images in one pod"),
                )
                .at(r.doc.node(image_node).position));
            }
            images.push(reference);
        }
    }
    if images.is_empty() {
        return Err(PodError::new(
            PodErrorKind::NoImages,
            Some(format!("{path}containers")),
            "the pod has no container with an image",
        )
        .at(r.doc.node(spec).position));
    }
    Ok(images)
}

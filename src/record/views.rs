//! What a record hands out of its packed text: an image as a view that
//! borrows it ([`ImageView`]), and the images and tags as sequences
//! ([`Images`], [`Tags`]).

use std::fmt;

use super::packed::Packed;
use super::{CachedImage, Tag};
use crate::reference::Reference;

impl CachedImage {
    /// The image as a record hands it out.
    pub fn view(&self) -> ImageView<'_> {
        ImageView::new(self.written(), self.reference().borrowed())
    }
}

/// A cache's image, borrowed from its record: the text as written and its
/// parsed form. [`CachedImage`] is the same thing owning its text.
///
/// ```
/// use eci_imagecache::record::{CachedImage, ImageCache};
///
/// let cache = ImageCache::new("imc-a", "web", "cn-hangzhou", "2024-05-01T08:00:00Z".parse().unwrap())
///     .with_images(["nginx:1.25"])
///     .unwrap();
/// let image = cache.images().get(0).unwrap();
/// assert_eq!((image.written(), image.canonical()), ("nginx:1.25", "docker.io/library/nginx:1.25"));
/// assert_eq!(image.reference().repository(), "library/nginx");
/// assert_eq!(image, CachedImage::parse("nginx:1.25").unwrap());
/// assert_eq!(image.to_cached(), CachedImage::parse("nginx:1.25").unwrap());
/// ```
#[derive(Clone, Copy)]
pub struct ImageView<'a> {
    written: &'a str,
    reference: Reference<&'a str>,
}

impl<'a> ImageView<'a> {
    pub(super) fn new(written: &'a str, reference: Reference<&'a str>) -> ImageView<'a> {
        ImageView { written, reference }
    }

    /// The image exactly as written.
    pub fn written(&self) -> &'a str {
        self.written
    }

    /// The canonical form ([`Reference::as_str`]).
    pub fn canonical(&self) -> &'a str {
        self.reference.text()
    }

    /// The parsed, normalised reference, borrowing the record's text.
    pub fn reference(&self) -> Reference<&'a str> {
        self.reference
    }

    /// The image with its own text.
    pub fn to_cached(&self) -> CachedImage {
        CachedImage {
            reference: self.reference.to_owned_reference(),
            written: (self.written != self.canonical()).then(|| self.written.into()),
        }
    }
}

impl PartialEq for ImageView<'_> {
    fn eq(&self, other: &ImageView<'_>) -> bool {
        self.written == other.written && self.reference == other.reference
    }
}

impl Eq for ImageView<'_> {}

impl PartialEq<CachedImage> for ImageView<'_> {
    fn eq(&self, other: &CachedImage) -> bool {
        *self == other.view()
    }
}

impl PartialEq<ImageView<'_>> for CachedImage {
    fn eq(&self, other: &ImageView<'_>) -> bool {
        self.view() == *other
    }
}

impl fmt::Debug for ImageView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedImage")
            .field("written", &self.written)
            .field("reference", &self.reference)
            .finish()
    }
}

/// A cache's images, in order ([`ImageCache::images`](super::ImageCache::images)).
///
/// ```
/// use eci_imagecache::record::ImageCache;
///
/// let cache = ImageCache::new("imc-a", "web", "cn-hangzhou", "2024-05-01T08:00:00Z".parse().unwrap())
///     .with_images(["nginx:1.25", "redis:7"])
///     .unwrap();
/// let written: Vec<&str> = cache.images().iter().map(|i| i.written()).collect();
/// assert_eq!(written, ["nginx:1.25", "redis:7"]);
/// assert_eq!((cache.images().len(), cache.images().get(2)), (2, None));
/// ```
#[derive(Clone, Copy)]
pub struct Images<'a>(pub(super) &'a Packed);

impl<'a> Images<'a> {
    /// How many.
    pub fn len(&self) -> usize {
        self.0.image_count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Image `k`, if there is one.
    pub fn get(&self, k: usize) -> Option<ImageView<'a>> {
        (k < self.len()).then(|| self.0.image(k))
    }

    /// Every image, in order.
    pub fn iter(&self) -> Each<'a, ImageView<'a>> {
        Each {
            packed: self.0,
            at: 0..self.len(),
            get: Packed::image,
        }
    }

    /// The images with their own text.
    pub fn to_vec(&self) -> Vec<CachedImage> {
        self.iter().map(|i| i.to_cached()).collect()
    }
}

impl<'a> IntoIterator for Images<'a> {
    type Item = ImageView<'a>;
    type IntoIter = Each<'a, ImageView<'a>>;
    fn into_iter(self) -> Each<'a, ImageView<'a>> {
        self.iter()
    }
}

impl<'a> IntoIterator for Tags<'a> {
    type Item = (&'a str, &'a str);
    type IntoIter = Each<'a, (&'a str, &'a str)>;
    fn into_iter(self) -> Each<'a, (&'a str, &'a str)> {
        self.iter()
    }
}

/// The iterator of [`Images::iter`] and [`Tags::iter`].
#[derive(Clone)]
pub struct Each<'a, T> {
    packed: &'a Packed,
    at: std::ops::Range<usize>,
    get: fn(&'a Packed, usize) -> T,
}

impl<T> Iterator for Each<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.at.next().map(|k| (self.get)(self.packed, k))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.at.size_hint()
    }
}

impl<T> DoubleEndedIterator for Each<'_, T> {
    fn next_back(&mut self) -> Option<T> {
        self.at.next_back().map(|k| (self.get)(self.packed, k))
    }
}

impl<T> ExactSizeIterator for Each<'_, T> {}

impl<T> fmt::Debug for Each<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Each").field("at", &self.at).finish()
    }
}

impl fmt::Debug for Images<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Images<'_> {
    fn eq(&self, other: &Images<'_>) -> bool {
        self.iter().eq(other.iter())
    }
}

/// A cache's tags, in order ([`ImageCache::tags`](super::ImageCache::tags)), each a key and a value.
///
/// ```
/// use eci_imagecache::record::{ImageCache, Tag};
///
/// let cache = ImageCache::new("imc-a", "web", "cn-hangzhou", "2024-05-01T08:00:00Z".parse().unwrap())
///     .with_tags(&[Tag::new("env", "prod")]);
/// assert_eq!(cache.tags().iter().collect::<Vec<_>>(), [("env", "prod")]);
/// assert_eq!(cache.tags().to_vec(), [Tag::new("env", "prod")]);
/// ```
#[derive(Clone, Copy)]
pub struct Tags<'a>(pub(super) &'a Packed);

impl<'a> Tags<'a> {
    /// How many.
    pub fn len(&self) -> usize {
        self.0.tag_count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Tag `k`'s key and value, if there is one.
    pub fn get(&self, k: usize) -> Option<(&'a str, &'a str)> {
        (k < self.len()).then(|| self.0.tag(k))
    }

    /// Every tag's key and value, in order.
    pub fn iter(&self) -> Each<'a, (&'a str, &'a str)> {
        Each {
            packed: self.0,
            at: 0..self.len(),
            get: Packed::tag,
        }
    }

    /// The tags with their own text.
    pub fn to_vec(&self) -> Vec<Tag> {
        self.iter().map(|(k, v)| Tag::new(k, v)).collect()
    }
}

impl fmt::Debug for Tags<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(key, value)| Tag::new(key, value)))
            .finish()
    }
}

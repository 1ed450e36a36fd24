//! A record's text, packed: every string of an [`ImageCache`] in one
//! allocation, and where each ends in another.
//!
//! A cache holds about fifteen strings (its id, name and region, three
//! optional ids, each image's canonical and written text, each tag's key
//! and value). Held one allocation each they cost more in the allocator's
//! headers, rounding and `String` fields than their text, so a record keeps
//! them end to end in one `Box<str>` and reads them through offsets, as
//! servo's `url` reads one canonical string.
//!
//! `ends` holds, in this order:
//! * how many images, and which optional texts are present (a bit each);
//! * the end of each of the [`FIELDS`] fixed texts (an absent optional one
//!   is empty, and its bit in `present` is clear);
//! * for each image, the end of its canonical text, then the end of its
//!   written text (empty when written canonically);
//! * for each tag, the end of its key, then of its value;
//! * for each image, its reference's [`Reference::parts`]: the registry's
//!   length, the name's end, and the tag's end with its top bit set when
//!   the tag was written.
//!
//! So the ends of the texts rise, and text span `k` runs from the end of
//! span `k - 1` (or 0) to its own. The ends take 16 bits each when the text
//! is shorter than 32 KiB (as nearly every record's is), else 64. Packing
//! is deterministic, so two records are equal exactly when their packed
//! forms are.
//!
//! Complexity: every read is `O(1)`; changing any text repacks the record,
//! `O(its text)`.
//!
//! [`ImageCache`]: super::ImageCache

use crate::reference::Reference;

use super::ImageView;

/// The fixed texts, by their place in `ends`.
pub(super) const ID: usize = 0;
pub(super) const NAME: usize = 1;
pub(super) const REGION: usize = 2;
pub(super) const RESOURCE_GROUP: usize = 3;
pub(super) const CONTAINER_GROUP: usize = 4;
pub(super) const SNAPSHOT: usize = 5;
pub(super) const FLASH_SNAPSHOT: usize = 6;
pub(super) const FIELDS: usize = 7;

/// Texts shorter than this (nearly every record's) keep their ends in
/// 16 bits, with [`Ends::Short`]'s flag in the top bit.
const SHORT: usize = 1 << 15;

/// Offsets a reference's parts take in `ends`.
const PARTS: usize = 3;

#[derive(Clone, PartialEq, Eq)]
pub struct Packed {
    text: Box<str>,
    /// [`HEAD`] words (how many images; bit `k` set when optional text `k`
    /// from [`RESOURCE_GROUP`] is present), then the ends.
    ends: Ends,
}

/// The words before the ends.
const HEAD: usize = 2;

/// What a record's text is made of, to pack.
pub(super) struct Texts<'a, I, T> {
    pub fields: [&'a str; FIELDS],
    /// Bit `k - RESOURCE_GROUP` set when optional field `k` is present.
    pub present: u8,
    pub images: I,
    pub tags: T,
}

impl Packed {
    /// Packs `texts`.
    pub(super) fn pack<'i, 't, I, T>(texts: Texts<'_, I, T>) -> Packed
    where
        I: Iterator<Item = ImageView<'i>> + Clone,
        T: Iterator<Item = (&'t str, &'t str)> + Clone,
    {
        let images = texts.images.clone().count();
        let tags = texts.tags.clone().count();
        let len = texts.fields.iter().map(|f| f.len()).sum::<usize>()
            + texts
                .images
                .clone()
                .map(|i| i.canonical().len() + written_only(i).len())
                .sum::<usize>()
            + texts
                .tags
                .clone()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>();
        // Nothing a request or a state can hold is refused: a record too
        // long for 16-bit ends takes 64-bit ones.
        let short = len < SHORT && images <= usize::from(u16::MAX);
        let flag: u64 = if short { 1 << 15 } else { 1 << 63 };
        let mut text = String::with_capacity(len);
        let mut ends: Vec<u64> =
            Vec::with_capacity(HEAD + FIELDS + (2 + PARTS) * images + 2 * tags);
        ends.extend([images as u64, u64::from(texts.present)]);
        let mut push = |s: &str, ends: &mut Vec<u64>| {
            text.push_str(s);
            ends.push(text.len() as u64);
        };
        for field in texts.fields {
            push(field, &mut ends);
        }
        for image in texts.images.clone() {
            push(image.canonical(), &mut ends);
            push(written_only(image), &mut ends);
        }
        for (key, value) in texts.tags {
            push(key, &mut ends);
            push(value, &mut ends);
        }
        for image in texts.images {
            let (registry_len, name_end, tag_end, tag_written) = image.reference().parts();
            ends.extend([
                u64::from(registry_len),
                u64::from(name_end),
                u64::from(tag_end) | if tag_written { flag } else { 0 },
            ]);
        }
        Packed {
            ends: if short {
                // Every end is at most `len` (a tag's end, within its
                // image, less), the image count at most `u16::MAX`, and a
                // tag's flag is bit 15.
                Ends::Short(ends.iter().map(|&e| e as u16).collect())
            } else {
                Ends::Long(ends.into_boxed_slice())
            },
            text: text.into_boxed_str(),
        }
    }

    /// Asks the memory system for the record's ends (a cache line) and the
    /// start of its text (up to four more), ahead of reading them: a bulk build
    /// reads records in rank order, which is not the order they lie in.
    pub(super) fn prefetch(&self) {
        let ends: *const u8 = match &self.ends {
            Ends::Short(ends) => ends.as_ptr().cast(),
            Ends::Long(ends) => ends.as_ptr().cast(),
        };
        crate::prefetch::prefetch(ends);
        for at in (0..self.text.len().min(256)).step_by(64) {
            crate::prefetch::prefetch(self.text.as_ptr().wrapping_add(at));
        }
    }

    /// Text span `k`.
    fn span(&self, k: usize) -> &str {
        let start = if k == 0 {
            0
        } else {
            self.ends.get(HEAD + k - 1)
        };
        &self.text[start..self.ends.get(HEAD + k)]
    }

    /// Fixed text `field`; an absent optional one is empty.
    pub(super) fn field(&self, field: usize) -> &str {
        self.span(field)
    }

    /// Optional text `field`.
    pub(super) fn optional(&self, field: usize) -> Option<&str> {
        (self.present() & (1 << (field - RESOURCE_GROUP)) != 0).then(|| self.span(field))
    }

    /// The fixed texts and the `present` bits, to repack with a change.
    pub(super) fn fields(&self) -> ([&str; FIELDS], u8) {
        (std::array::from_fn(|k| self.span(k)), self.present())
    }

    /// Which optional texts are present.
    fn present(&self) -> u8 {
        // Written from a u8.
        self.ends.get(1) as u8
    }

    pub(super) fn image_count(&self) -> usize {
        self.ends.get(0)
    }

    /// Image `k`, which must be below [`Packed::image_count`].
    pub(super) fn image(&self, k: usize) -> ImageView<'_> {
        let canonical = self.span(FIELDS + 2 * k);
        let written = self.span(FIELDS + 2 * k + 1);
        let at = HEAD + FIELDS + 2 * self.image_count() + 2 * self.tag_count() + PARTS * k;
        let flag = self.ends.flag();
        let tag_end = self.ends.word(at + 2);
        // Each was written from a u32 of `Reference::parts`.
        let parts = (
            self.ends.word(at) as u32,
            self.ends.word(at + 1) as u32,
            (tag_end & !flag) as u32,
            tag_end & flag != 0,
        );
        ImageView::new(
            if written.is_empty() {
                canonical
            } else {
                written
            },
            Reference::from_parts(canonical, parts),
        )
    }

    pub(super) fn tag_count(&self) -> usize {
        (self.ends.len() - HEAD - FIELDS - (2 + PARTS) * self.image_count()) / 2
    }

    /// Tag `k`'s key and value; `k` must be below [`Packed::tag_count`].
    pub(super) fn tag(&self, k: usize) -> (&str, &str) {
        let at = FIELDS + 2 * self.image_count() + 2 * k;
        (self.span(at), self.span(at + 1))
    }
}

/// The ends, in 16 bits when the text is shorter than [`SHORT`] (and the
/// images fewer than 65 536), else 64; a tag's end has the top bit set when
/// the tag was written.
#[derive(Clone, PartialEq, Eq)]
enum Ends {
    Short(Box<[u16]>),
    Long(Box<[u64]>),
}

impl Ends {
    fn word(&self, k: usize) -> u64 {
        match self {
            Ends::Short(ends) => u64::from(ends[k]),
            Ends::Long(ends) => ends[k],
        }
    }

    /// An end or a count, written from a `usize`.
    fn get(&self, k: usize) -> usize {
        self.word(k) as usize
    }

    fn len(&self) -> usize {
        match self {
            Ends::Short(ends) => ends.len(),
            Ends::Long(ends) => ends.len(),
        }
    }

    /// The bit a written tag sets in its tag's end.
    fn flag(&self) -> u64 {
        match self {
            Ends::Short(_) => 1 << 15,
            Ends::Long(_) => 1 << 63,
        }
    }
}

/// An image's written text when it is not its canonical text, else empty.
fn written_only(image: ImageView<'_>) -> &str {
    if image.written() == image.canonical() {
        ""
    } else {
        image.written()
    }
}

#[cfg(test)]
mod tests {
    use crate::record::{CachedImage, ImageCache, Tag};

    #[track_caller]
    fn reads_back(cache: &ImageCache, images: &[&str], tags: &[(&str, &str)]) {
        let written: Vec<&str> = cache.images().iter().map(|i| i.written()).collect();
        assert_eq!(written, images);
        for (image, text) in cache.images().iter().zip(images) {
            let parsed = CachedImage::parse(text).unwrap();
            assert_eq!(image, parsed);
            assert_eq!(image.reference(), *parsed.reference());
            assert_eq!(image.reference().tag(), parsed.reference().tag());
            assert_eq!(image.reference().digest(), parsed.reference().digest());
            assert_eq!(image.reference().registry(), parsed.reference().registry());
            assert_eq!(image.to_cached(), parsed);
        }
        assert_eq!(cache.tags().iter().collect::<Vec<_>>(), tags);
        let json = serde_json::to_string(cache).unwrap();
        assert_eq!(&serde_json::from_str::<ImageCache>(&json).unwrap(), cache);
    }

    /// Every text reads back as it was set, whatever else changes around
    /// it, in short and long records, and an empty optional text is not an
    /// absent one.
    #[test]
    fn every_text_reads_back_after_every_change() {
        let t = "2024-05-01T08:00:00Z".parse().unwrap();
        let images = [
            "nginx",
            "docker.io/library/redis:7",
            "Registry-VPC.cn-hangzhou.aliyuncs.com/a/b:v1@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        ];
        let long = "v".repeat(40_000);
        for value in ["prod", long.as_str()] {
            let mut cache = ImageCache::new("imc-a", "web", "cn-hangzhou", t)
                .with_images(images)
                .unwrap()
                .with_tags(&[Tag::new("env", value), Tag::new("", "")]);
            let tags = [("env", value), ("", "")];
            reads_back(&cache, &images, &tags);
            assert_eq!(
                (cache.id(), cache.name(), cache.region_id()),
                ("imc-a", "web", "cn-hangzhou")
            );
            assert_eq!(cache.resource_group_id(), None);
            cache.set_resource_group_id(Some(""));
            assert_eq!(cache.resource_group_id(), Some(""));
            cache.set_snapshot_id(Some("s-1"));
            cache.set_flash_snapshot_id(Some("s-2"));
            cache.set_container_group_id(Some("eci-1"));
            cache.set_name("");
            reads_back(&cache, &images, &tags);
            assert_eq!(
                (
                    cache.resource_group_id(),
                    cache.snapshot_id(),
                    cache.flash_snapshot_id(),
                    cache.container_group_id(),
                    cache.name()
                ),
                (Some(""), Some("s-1"), Some("s-2"), Some("eci-1"), "")
            );
            cache.set_snapshot_id(None);
            cache.set_images(&[]);
            reads_back(&cache, &[], &tags);
            assert_eq!(
                (cache.snapshot_id(), cache.flash_snapshot_id()),
                (None, Some("s-2"))
            );
            cache.set_images(
                &CachedImage::parse(images[2])
                    .into_iter()
                    .collect::<Vec<_>>(),
            );
            cache.set_tags(&[]);
            reads_back(&cache, &images[2..], &[]);
            assert_eq!(
                (cache.id(), cache.region_id(), cache.resource_group_id()),
                ("imc-a", "cn-hangzhou", Some(""))
            );
        }
    }

    /// Around the last text length that keeps 16-bit ends, and with more
    /// images than a 16-bit count holds, every text reads back, tags
    /// written or not.
    #[test]
    fn the_width_of_the_ends_changes_nothing_read() {
        let t = "2024-05-01T08:00:00Z".parse().unwrap();
        let images = ["nginx:1.25", "redis"];
        let cache = |value: &str| {
            ImageCache::new("imc-a", "web", "cn-hangzhou", t)
                .with_images(images)
                .unwrap()
                .with_tags(&[Tag::new("k", value)])
        };
        let base = serde_json::to_value(cache("")).unwrap();
        let text = |v: &serde_json::Value| -> usize {
            ["id", "name", "region_id"]
                .iter()
                .map(|k| v[k].as_str().unwrap().len())
                .sum()
        };
        // id, name, region, the images' canonical texts (both written
        // otherwise) and their written texts, the tag's key.
        let fixed = text(&base)
            + "docker.io/library/nginx:1.25".len()
            + "nginx:1.25".len()
            + "docker.io/library/redis:latest".len()
            + "redis".len()
            + 1;
        for len in [
            super::SHORT - 2,
            super::SHORT - 1,
            super::SHORT,
            super::SHORT + 1,
        ] {
            let value = "v".repeat(len - fixed);
            let c = cache(&value);
            assert_eq!(c.text.text.len(), len);
            assert_eq!(
                matches!(c.text.ends, super::Ends::Short(_)),
                len < super::SHORT
            );
            reads_back(&c, &images, &[("k", value.as_str())]);
            assert_eq!(c.images().get(0).unwrap().reference().tag(), Some("1.25"));
            assert_eq!(c.images().get(1).unwrap().reference().tag(), None);
        }
        let many: Vec<CachedImage> = (0..70_000)
            .map(|i| CachedImage::parse(&format!("a:{i}")).unwrap())
            .collect();
        let mut c = cache("");
        c.set_images(&many);
        assert!(matches!(c.text.ends, super::Ends::Long(_)));
        assert_eq!(c.images().len(), 70_000);
        assert_eq!(c.images().get(69_999).unwrap().written(), "a:69999");
        assert_eq!(c.images().to_vec(), many);
        assert_eq!(c.tags().iter().collect::<Vec<_>>(), [("k", "")]);
    }
}

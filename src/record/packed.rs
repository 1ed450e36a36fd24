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
//! * the end of each of the [`FIELDS`] fixed texts (an absent optional one
//!   is empty, and its bit in `present` is clear);
//! * for each image, the end of its canonical text, then the end of its
//!   written text (empty when written canonically);
//! * for each tag, the end of its key, then of its value;
//! * for each image, its reference's [`Reference::parts`]: the registry's
//!   length, the name's end, and the tag's end with [`TAG_WRITTEN`] set
//!   when the tag was written.
//!
//! So the first part of `ends` rises, and text span `k` is
//! `ends[k - 1]..ends[k]`. Packing is deterministic, so two records are
//! equal exactly when their packed forms are.
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

/// Set in a tag's end when the tag was written.
const TAG_WRITTEN: u32 = 1 << 31;

/// Offsets a reference's parts take in `ends`.
const PARTS: usize = 3;

#[derive(Clone, PartialEq, Eq, Default)]
pub struct Packed {
    text: Box<str>,
    ends: Box<[u32]>,
    /// How many images.
    images: u16,
    /// Bit `k` set when optional text `k` (from [`RESOURCE_GROUP`]) is
    /// present.
    present: u8,
}

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
    ///
    /// # Panics
    ///
    /// When the text is 2 GiB or longer, or there are more than 65 535
    /// images: no request can hold either.
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
        assert!(len < TAG_WRITTEN as usize, "a record's text is under 2 GiB");
        let mut text = String::with_capacity(len);
        let mut ends = Vec::with_capacity(FIELDS + (2 + PARTS) * images + 2 * tags);
        let mut push = |s: &str, ends: &mut Vec<u32>| {
            text.push_str(s);
            // Under 2 GiB, checked above.
            ends.push(text.len() as u32);
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
                registry_len,
                name_end,
                tag_end | if tag_written { TAG_WRITTEN } else { 0 },
            ]);
        }
        Packed {
            text: text.into_boxed_str(),
            ends: ends.into_boxed_slice(),
            images: u16::try_from(images).expect("at most 65 535 images"),
            present: texts.present,
        }
    }

    /// Text span `k`.
    fn span(&self, k: usize) -> &str {
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        &self.text[start as usize..self.ends[k] as usize]
    }

    /// Fixed text `field`; an absent optional one is empty.
    pub(super) fn field(&self, field: usize) -> &str {
        self.span(field)
    }

    /// Optional text `field`.
    pub(super) fn optional(&self, field: usize) -> Option<&str> {
        (self.present & (1 << (field - RESOURCE_GROUP)) != 0).then(|| self.span(field))
    }

    /// The fixed texts and the `present` bits, to repack with a change.
    pub(super) fn fields(&self) -> ([&str; FIELDS], u8) {
        (std::array::from_fn(|k| self.span(k)), self.present)
    }

    pub(super) fn image_count(&self) -> usize {
        usize::from(self.images)
    }

    /// Image `k`, which must be below [`Packed::image_count`].
    pub(super) fn image(&self, k: usize) -> ImageView<'_> {
        let canonical = self.span(FIELDS + 2 * k);
        let written = self.span(FIELDS + 2 * k + 1);
        let at = FIELDS + 2 * self.image_count() + 2 * self.tag_count() + PARTS * k;
        let tag_end = self.ends[at + 2];
        let parts = (
            self.ends[at],
            self.ends[at + 1],
            tag_end & !TAG_WRITTEN,
            tag_end & TAG_WRITTEN != 0,
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
        (self.ends.len() - FIELDS - (2 + PARTS) * self.image_count()) / 2
    }

    /// Tag `k`'s key and value; `k` must be below [`Packed::tag_count`].
    pub(super) fn tag(&self, k: usize) -> (&str, &str) {
        let at = FIELDS + 2 * self.image_count() + 2 * k;
        (self.span(at), self.span(at + 1))
    }

    /// Every image, in order.
    pub(super) fn images(&self) -> impl Iterator<Item = ImageView<'_>> + Clone {
        (0..self.image_count()).map(|k| self.image(k))
    }

    /// Every tag, in order.
    pub(super) fn tags(&self) -> impl Iterator<Item = (&str, &str)> + Clone {
        (0..self.tag_count()).map(|k| self.tag(k))
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

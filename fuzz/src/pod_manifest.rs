//! `pod_manifest`: any bytes as a Pod manifest.

/// Any bytes as a Pod manifest (JSON when they start with `{`, else
/// YAML): reading never panics; bytes and the same text as `&str` give the
/// same answer; an accepted manifest is a valid request within the bounds
/// (images distinct, at most `MAX_GROUP_IMAGES`; storage 30 GiB plus at most the
/// extra bound); a refusal has a message, a position inside the text when
/// it has one, and is `InvalidParameter` as an API error.
pub fn check_pod_manifest(data: &[u8]) {
    use eci_imagecache::limits::{DEFAULT_TEMPORARY_STORAGE_GIB, MAX_GROUP_IMAGES};
    use eci_imagecache::pod;
    let region = "cn-hangzhou";
    let answer = pod::from_manifest_bytes(data, region);
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(pod::from_manifest(text, region), answer);
    }
    match answer {
        Ok(found) => {
            let r = &found.request;
            assert!(r.validate().is_ok(), "{found:?}");
            assert!(!r.images.is_empty() && r.images.len() <= MAX_GROUP_IMAGES);
            for (i, image) in r.images.iter().enumerate() {
                assert!(!r.images[..i].contains(image), "{image} twice");
            }
            let extra = r.temporary_storage_gib - DEFAULT_TEMPORARY_STORAGE_GIB;
            assert!(extra <= pod::MAX_EXTRA_STORAGE_GIB);
            assert_eq!(r.auto_create, found.auto_match);
            assert_ne!(r.match_count_request, Some(0));
            assert_eq!(r.region_id, region);
        }
        Err(e) => {
            assert!(!e.message().is_empty());
            assert_eq!(e.line().is_some(), e.column().is_some());
            if let (Some(line), Some(column)) = (e.line(), e.column()) {
                // YAML also breaks lines at a lone `\r`.
                let breaks = data.iter().filter(|&&b| b == b'\n' || b == b'\r').count();
                assert!(line >= 1 && line <= breaks + 1, "{e}: {breaks} line breaks");
                assert!(column >= 1 && column <= data.len() + 1, "{e}");
            }
            let shown = e.to_string();
            let api = eci_imagecache::ApiError::from(e);
            assert_eq!(api.code(), eci_imagecache::ErrorCode::InvalidParameter);
            assert!(!shown.is_empty());
        }
    }
}

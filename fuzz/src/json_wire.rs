//! `json_wire`: the JSON bodies the library reads: a `DescribeImageCaches`
//! body imported as caches (`serve --import`, `match --import`), and a
//! `DescribeImageCaches` request in JSON.

use eci_imagecache::describe::DescribeRequest;
use eci_imagecache::engine::{DEFAULT_ACCOUNT, Engine};
use eci_imagecache::record::ImageCache;
use eci_imagecache::wire::json::{DescribeImageCachesRequestJson, DescribeImageCachesResponse};

/// Any bytes as both bodies: decoding never panics; an import takes every
/// cache or refuses without a change, and what it took saves and loads
/// again to the same bytes; a request that converts is valid, and an index
/// answers it.
pub fn check_json_wire(data: &[u8]) {
    if let Ok(body) = serde_json::from_slice::<DescribeImageCachesResponse>(data) {
        let caches: Result<Vec<ImageCache>, _> = body
            .image_caches
            .into_iter()
            .map(ImageCache::try_from)
            .collect();
        if let Ok(caches) = caches {
            // A manual clock, saved with the state: the load resumes it, so
            // nothing falls due between the save and the load.
            let at = jiff::Timestamp::from_second(1_700_000_000).expect("a time");
            let mut engine = Engine::builder()
                .seed(0)
                .clock(eci_imagecache::clock::ManualClock::new(at))
                .build();
            let before = engine.to_bytes();
            let count = caches.len();
            match engine.import_all_as(DEFAULT_ACCOUNT, caches) {
                Ok(added) => {
                    assert_eq!(added, count, "an import takes every cache or none");
                    let saved = engine.to_bytes();
                    let again = Engine::builder()
                        .seed(0)
                        .load_bytes(&saved)
                        .expect("an imported state loads");
                    assert!(again.to_bytes() == saved, "save, load, save differ");
                }
                Err(_) => assert!(
                    engine.to_bytes() == before,
                    "a refused import changed the engine"
                ),
            }
        }
    }
    if let Ok(json) = serde_json::from_slice::<DescribeImageCachesRequestJson>(data)
        && let Ok(request) = DescribeRequest::try_from(json)
    {
        assert!(request.validate().is_ok());
        let index = eci_imagecache::index::Index::new(
            eci_imagecache::reference::RegistryAliases::default(),
            eci_imagecache::cursor::TokenKey::from_seed(0),
        );
        let _ = index.describe(&request);
    }
}

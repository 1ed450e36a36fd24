//! The invariants each fuzz target checks. The main test suite replays the
//! committed corpora through these same functions (`tests/fuzz_corpus.rs`).

use eci_imagecache::reference::{Reference, RegistryAliases};

/// Any bytes: parsing never panics; an accepted reference round-trips
/// through its canonical and normalised forms and has consistent keys; a
/// rejected one has an error pointing inside the input.
pub fn check_reference(data: &[u8]) {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    match Reference::parse(input) {
        Ok(r) => {
            let again = Reference::parse(r.as_str()).expect("canonical form parses");
            assert_eq!(again, r);
            assert_eq!(again.as_str(), r.as_str());
            assert_eq!(again.digest(), r.digest());
            let normalized = Reference::parse(r.normalized()).expect("normalised form parses");
            assert_eq!(normalized.normalized(), r.normalized());
            assert_eq!(normalized.tag(), r.tag());
            assert_eq!(format!("{}/{}", r.registry(), r.repository()), r.name());
            for rules in [RegistryAliases::default(), RegistryAliases::strict()] {
                let exact = rules.exact_key(&r);
                assert_eq!(exact.repo(), rules.repo_key(&r).as_str());
                assert_eq!(rules.exact_key(&again), exact);
            }
        }
        Err(e) => {
            assert!(e.offset() <= input.len(), "{input:?}: {e}");
            assert!(!e.to_string().is_empty());
        }
    }
    // Registry keys and aliases take any text without panicking.
    let (host, same_as) = input.split_once('\n').unwrap_or((input, "docker.io"));
    let rules = RegistryAliases::default().with_alias(host, same_as);
    assert_eq!(rules.registry_key(host), rules.registry_key(same_as));
    let _ = RegistryAliases::strict().registry_key(input);
}

/// Lines of `name=value`: decoding `DescribeImageCaches` parameters never
/// panics, and whatever it accepts is a valid request that both engines
/// answer without panicking.
pub fn check_rpc_describe(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let params = text.lines().map(|l| l.split_once('=').unwrap_or((l, "")));
    if let Ok(request) = eci_imagecache::wire::rpc::decode_describe(params) {
        assert!(request.validate().is_ok());
        assert!(request.match_images.len() <= 100 && request.tags.len() <= 20);
        let index = eci_imagecache::index::Index::new(
            RegistryAliases::default(),
            eci_imagecache::cursor::TokenKey::from_seed(0),
        );
        let _ = index.describe(&request);
    }
}

/// Any text as a `NextToken`: decoding never panics, and almost nothing
/// is accepted (a token needs a MAC made with the engine's key).
pub fn check_next_token(data: &[u8]) {
    if let Ok(token) = std::str::from_utf8(data) {
        let _ = eci_imagecache::cursor::fuzz_decode(token);
    }
}

/// A small engine for the call checks: instant, quota 3, two caches.
fn small_engine() -> eci_imagecache::engine::Engine {
    use eci_imagecache::engine::{CreateRequest, Engine};
    let clock = eci_imagecache::clock::ManualClock::new(
        jiff::Timestamp::from_second(1_714_550_400).unwrap(),
    );
    let mut engine = Engine::builder()
        .clock(clock)
        .seed(1)
        .instant(true)
        .quota(3)
        .build();
    for (name, image) in [
        ("web", "nginx:1.25"),
        ("api", "registry-vpc.cn-hangzhou.aliyuncs.com/t/app:v1"),
    ] {
        let request = CreateRequest::new("cn-hangzhou", name)
            .image(image)
            .expect("valid")
            .lru()
            .client_token(name);
        engine.create(&request).expect("room for two");
    }
    engine
}

/// The first line names the action (`CreateImageCache`, … or anything
/// else), the other lines are `name=value` parameters: answering never
/// panics, the reply has a status the API uses and a `RequestId`, an error
/// body is exactly `{RequestId, Code, Message}`, and a failed call changes
/// nothing.
pub fn check_api_call(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.lines();
    let action = lines.next().unwrap_or_default();
    let params: Vec<(&str, &str)> = lines
        .map(|l| l.split_once('=').unwrap_or((l, "")))
        .collect();
    let mut engine = small_engine();
    let before = engine.to_bytes();
    let reply = eci_imagecache::api::call(
        &mut engine,
        eci_imagecache::engine::DEFAULT_ACCOUNT,
        action,
        params,
        "fuzz".to_owned(),
    );
    assert!(
        matches!(reply.http_status, 200 | 400 | 403 | 404),
        "{reply:?}"
    );
    assert_eq!(reply.body["RequestId"], "fuzz");
    if eci_imagecache::api::is_read_only(action) {
        assert!(
            engine.to_bytes() == before,
            "a read-only call changed the state: {reply:?}"
        );
    }
    if reply.http_status != 200 {
        let body = reply.body.as_object().expect("an object");
        assert_eq!(body.len(), 3, "{reply:?}");
        assert!(body["Code"].is_string() && body["Message"].is_string());
        assert!(
            engine.to_bytes() == before,
            "a failed call changed the state: {reply:?}"
        );
    }
}

/// Any bytes as a state file, and as the payload of a well-formed one:
/// loading never panics, and an engine that loads saves the same bytes
/// again.
pub fn check_state_load(data: &[u8]) {
    use sha2::Digest;
    let load = |bytes: &[u8]| {
        eci_imagecache::engine::Engine::builder()
            .seed(0)
            .load_bytes(bytes)
    };
    let _ = load(data);
    let mut framed = b"ECIIMCST".to_vec();
    framed.extend_from_slice(&eci_imagecache::engine::STATE_VERSION.to_le_bytes());
    framed.extend_from_slice(&(data.len() as u64).to_le_bytes());
    framed.extend_from_slice(&sha2::Sha256::digest(data));
    framed.extend_from_slice(data);
    if let Ok(engine) = load(&framed) {
        let saved = engine.to_bytes();
        let again = load(&saved).expect("a saved state loads");
        assert!(again.to_bytes() == saved, "save, load, save differ");
    }
}

/// Any bytes as a Pod manifest (JSON when they start with `{`, else
/// YAML): reading never panics; bytes and the same text as `&str` give the
/// same answer; an accepted manifest is a valid request within the bounds
/// (images distinct, at most `MAX_IMAGES`; storage 30 GiB plus at most the
/// extra bound); a refusal has a message, a position inside the text when
/// it has one, and is `InvalidParameter` as an API error.
#[cfg(feature = "pod")]
pub fn check_pod_manifest(data: &[u8]) {
    use eci_imagecache::automatch::{DEFAULT_TEMPORARY_STORAGE_GIB, MAX_IMAGES};
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
            assert!(!r.images.is_empty() && r.images.len() <= MAX_IMAGES);
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

// The server's check lives apart: the library's test suite replays this
// file's other checks and has no server; the server's tests replay it.
#[cfg(not(test))]
mod signature;
#[cfg(not(test))]
pub use signature::check_signature_verify;

//! `api_call`: any action with any parameters, against a small engine.

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
    if action
        .parse::<eci_imagecache::api::Action>()
        .is_ok_and(eci_imagecache::api::Action::is_read_only)
    {
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

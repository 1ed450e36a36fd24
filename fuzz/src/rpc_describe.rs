//! `rpc_describe`: `DescribeImageCaches` parameters, decoded and answered.

use eci_imagecache::reference::RegistryAliases;

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

//! `next_token`: any text as a `NextToken`.

/// Any text as a `NextToken`: decoding never panics, and almost nothing
/// is accepted (a token needs a MAC made with the engine's key).
pub fn check_next_token(data: &[u8]) {
    if let Ok(token) = std::str::from_utf8(data) {
        let _ = eci_imagecache::cursor::fuzz_decode(token);
    }
}

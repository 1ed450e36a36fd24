//! `state_load`: any bytes as a saved state, bare and framed.

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

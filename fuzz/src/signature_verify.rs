//! `signature_verify`: the signature check, in its own file so the server
//! crate's tests can replay its corpus (`server/tests/fuzz_corpus.rs`).

/// Lines: method, path, query, then `name: value` headers, a blank line,
/// the body. Verifying never panics, whatever the Authorization header, the
/// query or the body hold; nothing unsigned passes.
pub fn check_signature_verify(data: &[u8]) {
    use eci_imagecache_server::signature::{Keys, SignedRequest, verify};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let method = lines.next().unwrap_or("GET");
    let path = lines.next().unwrap_or("/");
    let query = lines.next().unwrap_or("");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    let keys = Keys::new([("AKIDEXAMPLE", "SECRETEXAMPLE")]);
    let request = SignedRequest {
        method,
        path,
        query,
        headers: &headers,
        body: body.as_bytes(),
    };
    if verify(&keys, &request).is_ok() {
        // Only a request that carries a signature can pass.
        assert!(
            query.contains("Signature=")
                || headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("authorization"))
                || body.contains("Signature=")
        );
    }
}

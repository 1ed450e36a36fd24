//! `eci-imagecache serve` shuts down within its deadline on SIGTERM even
//! with half-sent requests open, exits 0 and saves its state.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::{free_port, wait_listening};

/// Kills the server if the test fails half-way.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sigterm_with_half_sent_requests_exits_within_the_deadline() {
    let dir = std::env::temp_dir().join(format!("eci-bounds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let server = Command::new(env!("CARGO_BIN_EXE_eci-imagecache"))
        .args(["serve", "--listen", &addr.to_string(), "--instant"])
        .args(["--state", state.to_str().unwrap()])
        .args(["--shutdown-deadline", "1", "--header-timeout", "30"])
        .args(["--body-timeout", "30"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Guard(server);
    wait_listening(addr);
    // One accepted change, then requests left half-sent: a body, headers.
    let mut c = TcpStream::connect(addr).unwrap();
    write!(c, "POST /?RegionId=cn-hangzhou&ImageCacheName=web&Image.1=nginx HTTP/1.1\r\nhost: {addr}\r\nx-acs-action: CreateImageCache\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").unwrap();
    let mut answer = String::new();
    c.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let mut body = TcpStream::connect(addr).unwrap();
    write!(body, "POST / HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-www-form-urlencoded\r\ncontent-length: 100\r\n\r\nAction=").unwrap();
    let mut head = TcpStream::connect(addr).unwrap();
    write!(head, "GET / HTTP/1.1\r\nhost: {addr}\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let killed = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let asked = Instant::now();
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        if asked.elapsed() > Duration::from_secs(3) {
            panic!("still running 3 s after SIGTERM (deadline 1 s)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    // The state was saved whole: the journal is empty, the snapshot there.
    assert!(std::fs::metadata(&state).unwrap().len() > 0);
    assert_eq!(
        std::fs::metadata(dir.join("state.journal"))
            .map(|m| m.len())
            .unwrap_or(0),
        0
    );
    drop((body, head));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn with_keys_and_no_token_a_random_token_is_logged_and_required() {
    use std::io::BufRead;
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_eci-imagecache"))
        .args(["serve", "--listen", &addr.to_string()])
        .args(["--access-key", "AKIDEXAMPLE:SECRETEXAMPLE"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Guard(child);
    let stderr = server.0.stderr.take().unwrap();
    let mut token = None;
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line.unwrap();
        if let Some(rest) = line.split("token=").nth(1) {
            token = Some(rest.split_whitespace().next().unwrap().to_owned());
        }
        if line.contains("emulator ready") {
            break;
        }
    }
    let token = token.expect("the token is logged");
    assert_eq!(token.len(), 32, "{token}");
    let get = |headers: &str| {
        let mut c = TcpStream::connect(addr).unwrap();
        write!(
            c,
            "GET /_emulator/clock HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n{headers}\r\n"
        )
        .unwrap();
        let mut answer = String::new();
        c.read_to_string(&mut answer).unwrap();
        answer
    };
    let refused = get("");
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    assert!(refused.contains("Forbidden.ControlToken"), "{refused}");
    let ok = get(&format!("x-eci-emulator-token: {token}\r\n"));
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
}

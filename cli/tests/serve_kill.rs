//! `eci-imagecache serve --state`: SIGKILL in the middle of a stream of
//! mutations, restart on the same state, and every mutation that got a
//! success response is still there.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

mod common;

use common::{describe_all, free_port, wait_listening};

fn spawn(state: &str, port: u16) -> Child {
    Command::new(env!("CARGO_BIN_EXE_eci-imagecache"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--state",
            state,
            "--instant",
            "--quota",
            "100000",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// (status, body) of one request, or `None` when the connection broke.
fn post(addr: SocketAddr, action: &str, query: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    let request = format!(
        "POST /?{query} HTTP/1.1\r\nhost: {addr}\r\nx-acs-action: {action}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    s.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    s.read_to_string(&mut response).ok()?;
    let status = response.get(9..12)?.parse().ok()?;
    let body = response.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

#[test]
fn killed_mid_stream_loses_no_acknowledged_change() {
    let dir = std::env::temp_dir().join(format!("eci-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state");
    let state = state.to_str().unwrap();
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut server = spawn(state, port);
    wait_listening(addr);

    // A writer creates and deletes as fast as it can; the test kills the
    // server while it writes.
    let writer = std::thread::spawn(move || {
        let mut created = Vec::new();
        let mut deleted = Vec::new();
        for i in 0.. {
            let q = format!("RegionId=cn-hangzhou&ImageCacheName=c{i}&Image.1=nginx%3A{i}");
            match post(addr, "CreateImageCache", &q) {
                Some((200, body)) => {
                    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                    created.push(v["ImageCacheId"].as_str().unwrap().to_owned());
                }
                Some((status, body)) => panic!("{status} {body}"),
                None => break,
            }
            if i % 4 == 3 {
                let id = created.remove(0);
                match post(
                    addr,
                    "DeleteImageCache",
                    &format!("RegionId=cn-hangzhou&ImageCacheId={id}"),
                ) {
                    Some((200, _)) => deleted.push(id),
                    Some((status, body)) => panic!("{status} {body}"),
                    None => {
                        // Unknown whether it happened: it may be either way.
                        created.push(id.clone());
                        deleted.push(format!("maybe:{id}"));
                        break;
                    }
                }
            }
        }
        (created, deleted)
    });
    std::thread::sleep(Duration::from_millis(700));
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let (created, deleted) = writer.join().unwrap();
    assert!(
        created.len() > 20,
        "only {} creates before the kill",
        created.len()
    );
    eprintln!(
        "killed after {} acknowledged creates and {} deletes",
        created.len() + deleted.len(),
        deleted.len()
    );

    let mut server = spawn(state, port);
    wait_listening(addr);
    // Every page (at most 20 a page, as the cloud).
    let caches = describe_all(addr, 20).unwrap();
    let present: std::collections::HashSet<&str> = caches
        .iter()
        .map(|c| c["ImageCacheId"].as_str().unwrap())
        .collect();
    let maybe: Vec<&str> = deleted
        .iter()
        .filter_map(|d| d.strip_prefix("maybe:"))
        .collect();
    for id in &created {
        assert!(
            present.contains(id.as_str()) || maybe.contains(&id.as_str()),
            "acknowledged create {id} lost"
        );
    }
    for id in deleted.iter().filter(|d| !d.starts_with("maybe:")) {
        assert!(
            !present.contains(id.as_str()),
            "acknowledged delete {id} undone"
        );
    }
    // At most the one create whose response never arrived may be extra.
    assert!(
        present.len() <= created.len() + 1,
        "{} present, {} acknowledged",
        present.len(),
        created.len()
    );
    server.kill().unwrap();
    server.wait().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

//! `eci-imagecache serve` as a CI pipeline adopts it: settings from the
//! environment (flags win), health before and after a load, one JSON log
//! line per call without secrets, a state imported over HTTP that survives
//! a kill, and no progress output when standard error is not a terminal.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, T0, TempDir, api, bin, free_port, get};
use serde_json::Value;

/// `serve` with `args` and `env` (and no other ECI_IMAGECACHE_ variable),
/// stderr to `log`; its address is `port`'s.
fn spawn(args: &[&str], env: &[(&str, String)], port: u16, log: &std::path::Path) -> Server {
    let mut command = Command::new(bin());
    command
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    for (name, _) in std::env::vars() {
        if name.starts_with("ECI_IMAGECACHE_") {
            command.env_remove(name);
        }
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let child = command.spawn().unwrap();
    let pid = child.id();
    Server {
        child,
        pid,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        stderr: log.to_owned(),
    }
}

#[track_caller]
fn ready(server: &mut Server) {
    assert!(
        server.wait_ready(Duration::from_secs(20)),
        "not ready: {}",
        server.stderr_text()
    );
}

#[track_caller]
fn clock(server: &Server) -> String {
    let (status, body) = get(server.addr, "/_emulator/clock").unwrap();
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["Now"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn settings_come_from_the_environment_and_flags_win() {
    let dir = TempDir::new("env");
    // Everything from the environment, the listen address included.
    let port = free_port();
    let env = [
        ("ECI_IMAGECACHE_LISTEN", format!("127.0.0.1:{port}")),
        ("ECI_IMAGECACHE_NOW", "2030-01-01T00:00:00Z".to_owned()),
        ("ECI_IMAGECACHE_INSTANT", "true".to_owned()),
        ("ECI_IMAGECACHE_QUOTA", "1".to_owned()),
    ];
    let mut server = spawn(&[], &env, port, &dir.join("a.log"));
    ready(&mut server);
    assert_eq!(clock(&server), "2030-01-01T00:00:00Z");
    let create = |server: &Server, name: &str| {
        api(
            server.addr,
            "CreateImageCache",
            &[
                ("RegionId", "cn-hangzhou"),
                ("ImageCacheName", name),
                ("Image.1", "nginx"),
            ],
        )
        .unwrap()
    };
    create(&server, "a");
    let (_, body) = api(
        server.addr,
        "DescribeImageCaches",
        &[("RegionId", "cn-hangzhou")],
    )
    .unwrap();
    assert_eq!(
        body["ImageCaches"][0]["Status"], "Ready",
        "instant from the environment"
    );
    let (status, body) = create(&server, "b");
    assert_eq!(
        (status, body["Code"].as_str()),
        (403, Some("QuotaExceeded")),
        "{body}"
    );
    drop(server);

    // A flag beats its variable; a false boolean variable is false.
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let env = [
        ("ECI_IMAGECACHE_LISTEN", "127.0.0.1:1".to_owned()),
        ("ECI_IMAGECACHE_NOW", "2030-01-01T00:00:00Z".to_owned()),
        ("ECI_IMAGECACHE_INSTANT", "false".to_owned()),
    ];
    let mut server = spawn(
        &["--listen", &listen, "--now", "2031-06-01T00:00:00Z"],
        &env,
        port,
        &dir.join("b.log"),
    );
    ready(&mut server);
    assert_eq!(clock(&server), "2031-06-01T00:00:00Z");
    create(&server, "a");
    let (_, body) = api(
        server.addr,
        "DescribeImageCaches",
        &[("RegionId", "cn-hangzhou")],
    )
    .unwrap();
    assert_eq!(body["ImageCaches"][0]["Status"], "Preparing");
    drop(server);

    // Keys from the environment: unsigned calls are refused, and the
    // secret is in neither the log nor `--help`.
    let port = free_port();
    let env = [
        ("ECI_IMAGECACHE_LISTEN", format!("127.0.0.1:{port}")),
        (
            "ECI_IMAGECACHE_ACCESS_KEY",
            "AK1:sekrit-one,AK2:sekrit-two".to_owned(),
        ),
        ("ECI_IMAGECACHE_CONTROL_TOKEN", "tok-from-env".to_owned()),
    ];
    let log = dir.join("c.log");
    let server = spawn(&[], &env, port, &log);
    // Health, not the clock: the control endpoints need the token.
    common::wait_listening(server.addr);
    let (status, body) = api(
        server.addr,
        "DescribeImageCaches",
        &[("RegionId", "cn-hangzhou")],
    )
    .unwrap();
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["Code"], "SignatureDoesNotMatch", "{body}");
    let (status, _) = get(server.addr, "/_emulator/clock").unwrap();
    assert_eq!(
        status, 403,
        "the control token from the environment is required"
    );
    let (status, _) = common::http(
        server.addr,
        "GET",
        "/_emulator/clock",
        &[("x-eci-emulator-token", "tok-from-env")],
        b"",
    )
    .unwrap();
    assert_eq!(status, 200);
    let text = server.stderr_text();
    assert!(text.contains("AK1") && text.contains("AK2"), "{text}");
    assert!(
        !text.contains("sekrit") && !text.contains("tok-from-env"),
        "{text}"
    );
    let help = Command::new(bin())
        .args(["serve", "--help"])
        .env("ECI_IMAGECACHE_ACCESS_KEY", "AK1:sekrit-one")
        .env("ECI_IMAGECACHE_CONTROL_TOKEN", "tok-from-env")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        !help.contains("sekrit") && !help.contains("tok-from-env"),
        "{help}"
    );
}

#[test]
fn a_bad_environment_value_is_refused_by_name() {
    let output = Command::new(bin())
        .args(["serve"])
        .env("ECI_IMAGECACHE_SEED", "many")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8(output.stderr).unwrap();
    assert!(
        text.contains("invalid value 'many' for '--seed <SEED>'"),
        "{text}"
    );
}

/// Every `serve` option has its variable, and the README's table lists it.
#[test]
fn every_serve_option_has_a_variable_in_the_readme_table() {
    let help = Command::new(bin())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let mut options = 0;
    for line in help.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("--") else {
            continue;
        };
        let flag = rest.split([' ', '=']).next().unwrap();
        if flag == "help" {
            continue;
        }
        options += 1;
        let variable = format!("ECI_IMAGECACHE_{}", flag.to_uppercase().replace('-', "_"));
        assert!(
            line.contains(&format!("[env: {variable}")),
            "--{flag} has no {variable}: {line}"
        );
        assert!(
            readme.contains(&format!("| `--{flag}` | `{variable}` |")),
            "README's table lacks --{flag}"
        );
    }
    assert!(options >= 24, "{help}");
}

#[test]
fn health_is_503_while_an_import_loads_then_200_with_what_it_holds() {
    let dir = TempDir::new("fifo");
    let fifo = dir.join("import.json");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = spawn(
        &[
            "--listen",
            &listen,
            "--now",
            T0,
            "--import",
            fifo.to_str().unwrap(),
        ],
        &[],
        port,
        &dir.join("log"),
    );
    // The import cannot finish until the FIFO is written: health says so.
    let start = Instant::now();
    let loading = loop {
        if let Some(answer) = get(server.addr, "/_emulator/health") {
            break answer;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{}",
            server.stderr_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(loading.0, 503);
    let body: Value = serde_json::from_str(&loading.1).unwrap();
    assert_eq!(body["Status"], "loading");
    let (status, body) = api(
        server.addr,
        "DescribeImageCaches",
        &[("RegionId", "cn-hangzhou")],
    )
    .unwrap();
    assert_eq!(
        (status, body["Code"].as_str()),
        (503, Some("ServiceUnavailable"))
    );

    let generated = Command::new(bin())
        .args(["gen", "--caches", "300", "--seed", "7"])
        .output()
        .unwrap();
    assert!(generated.status.success());
    std::fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .unwrap()
        .write_all(&generated.stdout)
        .unwrap();
    ready(&mut server);
    let (status, body) = get(server.addr, "/_emulator/health").unwrap();
    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["Status"], "ready");
    assert_eq!(body["Caches"], 300);
    assert_eq!(body["Clock"], T0);
}

#[test]
fn a_load_that_fails_ends_the_process_with_its_error() {
    let dir = TempDir::new("badimport");
    let file = dir.join("import.json");
    std::fs::write(&file, "{not json").unwrap();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = spawn(
        &["--listen", &listen, "--import", file.to_str().unwrap()],
        &[],
        port,
        &dir.join("log"),
    );
    let status = server.wait_exit(Duration::from_secs(20)).expect("it exits");
    assert!(!status.success());
    let text = server.stderr_text();
    assert!(text.contains("import.json: key must be a string"), "{text}");
}

#[test]
fn json_log_lines_say_each_call_and_never_a_secret() {
    let dir = TempDir::new("jsonlog");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut server = spawn(
        &["--listen", &listen, "--now", T0, "--log-format", "json"],
        &[],
        port,
        &dir.join("log"),
    );
    ready(&mut server);
    let (status, created) = api(
        server.addr,
        "CreateImageCache",
        &[
            ("RegionId", "cn-hangzhou"),
            ("ImageCacheName", "private"),
            ("Image.1", "registry.example.com/app:1"),
            ("ImageRegistryCredential.1.Server", "registry.example.com"),
            ("ImageRegistryCredential.1.UserName", "deploy"),
            ("ImageRegistryCredential.1.Password", "hunter2-secret"),
        ],
    )
    .unwrap();
    assert_eq!(status, 200, "{created}");
    api(
        server.addr,
        "DeleteImageCache",
        &[("RegionId", "cn-beijing"), ("ImageCacheId", "imc-x")],
    )
    .unwrap();
    server.term();
    let text = server.stderr_text();
    assert!(
        !text.contains("hunter2") && !text.contains("deploy"),
        "{text}"
    );
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let calls: Vec<&Value> = lines.iter().filter(|l| l["message"] == "api").collect();
    assert_eq!(calls.len(), 2, "{text}");
    let create = calls[0];
    assert_eq!(create["level"], "INFO");
    assert_eq!(create["action"], "CreateImageCache");
    assert_eq!(create["region"], "cn-hangzhou");
    assert_eq!(create["account"], "");
    assert_eq!(create["request_id"], created["RequestId"]);
    assert_eq!(create["status"], 200);
    assert_eq!(create["code"], "");
    assert!(create["micros"].as_u64().is_some());
    assert_eq!(calls[1]["action"], "DeleteImageCache");
    assert_eq!(calls[1]["region"], "cn-beijing");
    assert_eq!(calls[1]["status"], 404);
    assert_eq!(calls[1]["code"], "InvalidImageCacheId.NotFound");
}

/// One exchange of raw bytes: (status, body bytes).
fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    media: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: {media}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = std::str::from_utf8(&response[9..12])
        .unwrap()
        .parse()
        .unwrap();
    (status, response[split + 4..].to_vec())
}

#[test]
fn a_state_posted_over_http_survives_a_kill() {
    let dir = TempDir::new("stateimport");
    // A state made by one emulator…
    let mut source = Server::start(&dir.join("source"), &["--instant"], &dir.join("source.log"));
    for name in ["a", "b", "c"] {
        api(
            source.addr,
            "CreateImageCache",
            &[
                ("RegionId", "cn-hangzhou"),
                ("ImageCacheName", name),
                ("Image.1", "nginx"),
            ],
        )
        .unwrap();
    }
    let (status, exported) = exchange(source.addr, "GET", "/_emulator/state", "text/plain", b"");
    assert_eq!(status, 200);
    source.term();

    // …posted into another, which is then killed without a chance to save.
    let state = dir.join("target");
    let mut target = Server::start(&state, &[], &dir.join("target.log"));
    let (status, answer) = exchange(
        target.addr,
        "POST",
        "/_emulator/state",
        "application/octet-stream",
        &exported,
    );
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    target.kill9();
    let again = Server::start(&state, &[], &dir.join("again.log"));
    let (status, now) = exchange(again.addr, "GET", "/_emulator/state", "text/plain", b"");
    assert_eq!(status, 200);
    assert_eq!(now, exported);
}

#[test]
fn no_progress_is_drawn_when_stderr_is_not_a_terminal() {
    let dir = TempDir::new("quiet");
    let file = dir.join("caches.json");
    let generated = Command::new(bin())
        .args(["gen", "--caches", "20000"])
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(generated.status.success());
    assert_eq!(generated.stderr, b"", "gen draws nothing into a pipe");
    std::fs::write(&file, &generated.stdout).unwrap();
    let mut server = Server::start(
        &dir.join("state"),
        &["--import", file.to_str().unwrap()],
        &dir.join("log"),
    );
    server.term();
    let text = server.stderr_text();
    assert!(!text.contains('\r') && !text.contains('\u{1b}'), "{text:?}");
    assert!(!text.contains("importing"), "{text}");
}

#[test]
fn environment_traps_of_ci_templates_are_defused() {
    let dir = TempDir::new("traps");
    // Empty variables count as unset (a template's ${UNSET}); 1 is true.
    let port = free_port();
    let env = [
        ("ECI_IMAGECACHE_LISTEN", format!("127.0.0.1:{port}")),
        ("ECI_IMAGECACHE_SEED", String::new()),
        ("ECI_IMAGECACHE_STATE", String::new()),
        ("ECI_IMAGECACHE_INSTANT", "1".to_owned()),
        ("ECI_IMAGECACHE_ACCESS_KEY", "AK1:s3cret".to_owned()),
        // An empty token is not "no check": with keys, a random one is made.
        ("ECI_IMAGECACHE_CONTROL_TOKEN", String::new()),
    ];
    let server = spawn(&[], &env, port, &dir.join("a.log"));
    // Health, not the clock: the control endpoints need the token.
    common::wait_listening(server.addr);
    let (status, _) = get(server.addr, "/_emulator/faults").unwrap();
    assert_eq!(status, 403, "the control endpoints need the random token");
    assert!(
        server
            .stderr_text()
            .contains("control token (header x-eci-emulator-token)")
    );
    drop(server);

    // Refused at start, and a malformed key is never echoed.
    for (args, env, expected) in [
        (
            vec!["--control-token", " "],
            vec![],
            "the control token (--control-token or ECI_IMAGECACHE_CONTROL_TOKEN) is empty",
        ),
        (
            vec![],
            vec![(
                "ECI_IMAGECACHE_ACCESS_KEY",
                "AK1:ok,mysecretwithoutcolon".to_owned(),
            )],
            "access key 2 (--access-key or ECI_IMAGECACHE_ACCESS_KEY) is not ID:SECRET",
        ),
    ] {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut all = vec!["--listen", listen.as_str()];
        all.extend(args);
        let mut server = spawn(&all, &env, port, &dir.join("b.log"));
        let status = server.wait_exit(Duration::from_secs(20)).expect("it exits");
        assert!(!status.success());
        let text = server.stderr_text();
        assert!(text.contains(expected), "{text}");
        assert!(!text.contains("mysecret"), "{text}");
    }
}

/// On a terminal (a pseudo-terminal from util-linux's `script`), `gen`
/// and an import draw their progress.
#[test]
fn progress_is_drawn_on_a_terminal() {
    let dir = TempDir::new("pty");
    let file = dir.join("caches.json");
    let typescript = dir.join("typescript");
    let shell = |command: String| {
        let status = Command::new("script")
            .args(["-qec", &command])
            .arg(&typescript)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("script runs (util-linux)");
        assert!(status.success(), "{command}");
        String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned()
    };
    let drawn = shell(format!("{} gen --caches 20000 > {}", bin(), file.display()));
    assert!(drawn.contains("generating caches"), "{drawn:?}");
    assert!(drawn.contains("/20,000"), "{drawn:?}");
    let generated = std::fs::read(&file).unwrap();
    assert!(
        generated.starts_with(b"{\"RequestId\":\"gen-1\""),
        "stdout stays the document"
    );
    // Until the ready line (split in the command, which the typescript
    // also holds), then stopped.
    let drawn = shell(format!(
        "{} serve --listen 127.0.0.1:{} --import {} --shutdown-deadline 1 & pid=$!; \
         for i in $(seq 1 600); do grep -q 'emulator re''ady' {} 2>/dev/null && break; sleep 0.05; done; \
         kill $pid; wait $pid",
        bin(),
        free_port(),
        file.display(),
        typescript.display(),
    ));
    assert!(drawn.contains("checking caches"), "{drawn:?}");
    assert!(drawn.contains("importing 20000 caches"), "{drawn:?}");
}

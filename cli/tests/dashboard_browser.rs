//! The dashboard in a real browser: Debian's Chromium, headless, loads
//! `GET /_emulator/` from `eci-imagecache serve` after a scenario and
//! renders every cache it created (its DOM, as the browser built it), and
//! takes a screenshot (`target/dashboard.png`; with
//! `ECI_IMAGECACHE_UPDATE_SCREENSHOT=1`, also `docs/dashboard.png`, the
//! one the README shows). `.ci/run` installs Chromium.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Server, TempDir, api, control};
use serde_json::json;

fn chromium(dir: &Path, args: &[&str]) -> std::process::Output {
    let profile = dir.join(format!("profile-{}", args.len()));
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs (apt-get install chromium; .ci/run does)")
}

fn create(server: &Server, region: &str, name: &str, images: &[&str]) -> String {
    let mut params = vec![("RegionId", region), ("ImageCacheName", name)];
    let names: Vec<String> = (1..=images.len()).map(|n| format!("Image.{n}")).collect();
    params.extend(names.iter().map(String::as_str).zip(images.iter().copied()));
    params.push(("Tag.1.Key", "team"));
    params.push(("Tag.1.Value", "platform"));
    let (status, body) = api(server.addr, "CreateImageCache", &params).unwrap();
    assert_eq!(status, 200, "{body}");
    body["ImageCacheId"].as_str().unwrap().to_owned()
}

#[test]
fn chromium_renders_the_caches_a_scenario_created() {
    let dir = TempDir::new("dashboard");
    let server = Server::start(&dir.join("state"), &["--seed", "7"], &dir.join("log"));
    let advance = |seconds: i64| {
        let (status, _) = control(
            server.addr,
            "/_emulator/clock",
            &json!({"Advance": seconds}),
        )
        .unwrap();
        assert_eq!(status, 200);
    };
    let mut ids = vec![
        create(&server, "cn-hangzhou", "web", &["nginx:1.25", "redis:7"]),
        create(
            &server,
            "cn-hangzhou",
            "api",
            &["registry.cn-hangzhou.aliyuncs.com/eci_open/api:2.1"],
        ),
        create(&server, "cn-beijing", "batch", &["python:3.12-slim"]),
    ];
    advance(3600);
    let (status, body) = api(
        server.addr,
        "AutoMatch",
        &[("RegionId", "cn-hangzhou"), ("Image.1", "nginx:1.25")],
    )
    .unwrap();
    assert_eq!((status, &body["Matched"]), (200, &json!(true)), "{body}");
    control(
        server.addr,
        "/_emulator/faults",
        &json!({"FailNext": "CreateImageCache", "Reason": "Failed to pull image: manifest unknown."}),
    )
    .unwrap();
    ids.push(create(
        &server,
        "cn-beijing",
        "broken",
        &["example.com/missing:1"],
    ));
    advance(3600);
    ids.push(create(
        &server,
        "cn-hangzhou",
        "ml",
        &["pytorch/pytorch:2.3.0"],
    ));
    advance(70);

    let url = format!("http://{}/_emulator/", server.addr);
    let out = chromium(dir.path(), &["--dump-dom", &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dom = String::from_utf8(out.stdout).unwrap();
    for id in &ids {
        assert!(
            dom.contains(&format!("<code>{id}</code>")),
            "{id} not rendered:\n{dom}"
        );
    }
    assert_eq!(dom.matches("<tr class=\"cache\">").count(), 5, "{dom}");
    for text in [
        "<td>web</td>",
        "<td>broken</td>",
        ">Ready</span>",
        ">Failed</span>",
        ">Creating</span>",
        "team=platform",
        "5 caches in 2 regions",
        "<td>AutoMatch</td>",
    ] {
        assert!(dom.contains(text), "{text} not rendered:\n{dom}");
    }

    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let screenshot = format!("--screenshot={}", shot.display());
    let out = chromium(dir.path(), &["--window-size=1280,900", &screenshot, &url]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).expect("the screenshot is written");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    if std::env::var_os("ECI_IMAGECACHE_UPDATE_SCREENSHOT").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/dashboard.png");
        std::fs::write(docs, &png).unwrap();
    }
}

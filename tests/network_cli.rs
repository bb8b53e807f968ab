//! The network options of the real binary: `serve` and `--network` argument errors, a run
//! through the simulated network (its report validates against the schema), a served
//! catalog whose hrefs point at the server, and a clear error for an unreachable asset.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is how a test fails (clippy.toml covers #[test] fns only)"
)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command as StdCommand, Stdio};

use assert_cmd::Command;
use predicates::str::contains;
use serde_json::Value;

use common::{files_in, small_demo};

fn chunkscope() -> Command {
    Command::cargo_bin("chunkscope").unwrap()
}

fn demo_dir() -> &'static std::path::Path {
    small_demo().parent().unwrap()
}

#[test]
fn serve_explains_bad_latencies_bandwidths_and_folders() {
    chunkscope()
        .args(["serve", "--port", "0", "--latency", "abc"])
        .arg(demo_dir())
        .assert()
        .code(2)
        .stderr(contains("\"abc\" is not a latency: use e.g. 40ms"));
    chunkscope()
        .args(["serve", "--port", "0", "--latency", "40"])
        .arg(demo_dir())
        .assert()
        .code(2)
        .stderr(contains("\"40\" is not a latency"));
    chunkscope()
        .args(["serve", "--port", "0", "--bandwidth", "25Mbit/s"])
        .arg(demo_dir())
        .assert()
        .code(2)
        .stderr(contains(
            "\"25Mbit/s\" is not a bandwidth: use e.g. 25MiB/s",
        ));
    chunkscope()
        .args(["serve", "--port", "0", "/no/such/folder"])
        .assert()
        .code(1)
        .stderr(contains(
            "cannot serve \"/no/such/folder\": not a folder: name the folder that holds search.json",
        ));
}

#[test]
fn network_option_is_parsed_with_clear_errors() {
    for (value, message) in [
        ("50ms,abc", "\"abc\" is not a bandwidth"),
        ("fast,25MiB/s", "\"fast\" is not a latency"),
        ("", "is not a network setting: use LATENCY,BANDWIDTH"),
    ] {
        for command in ["run", "compare", "sweep"] {
            chunkscope()
                .args([command, "--network", value])
                .arg("--catalog")
                .arg(small_demo())
                .assert()
                .code(2)
                .stderr(contains(message));
        }
    }
}

#[test]
fn a_run_through_the_simulated_network_reports_its_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let out = chunkscope()
        .args([
            "run",
            "--json",
            "--network",
            "5ms,50MiB/s",
            "--chunks",
            "3,128,128",
        ])
        .args(["--threads", "2", "--catalog"])
        .arg(small_demo())
        .arg("--out")
        .arg(dir.path().join("m.tif"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("reading through a simulated network"),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let net = &report["network"];
    assert_eq!(net["source"], "server");
    assert_eq!(
        net["simulated"],
        "simulated network: 5 ms latency, 50 MiB/s per connection"
    );
    assert_eq!(net["cache"], "clear_each_run");
    assert!(net["bytes"].as_u64().unwrap() > 0);
    assert!(
        report["config"]["assets"]["visual"]
            .as_str()
            .unwrap()
            .starts_with("/vsicurl/http://127.0.0.1:")
    );

    assert_eq!(schema_errors(&report), Vec::<String>::new());
}

/// Where a report departs from the checked-in schema.
fn schema_errors(report: &Value) -> Vec<String> {
    let text = std::fs::read_to_string("assets/report.schema.json").unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    validator
        .iter_errors(report)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect()
}

/// GET `path` from `base` (http://127.0.0.1:PORT) with a raw HTTP/1.1 request.
fn http_get(base: &str, path: &str) -> (String, String) {
    let host = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.to_string(), body.to_string())
}

#[test]
fn serve_serves_the_catalog_with_hrefs_pointing_at_itself() {
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("chunkscope"))
        .args([
            "serve",
            "--port",
            "0",
            "--latency",
            "1ms",
            "--bandwidth",
            "100MiB/s",
        ])
        .arg(demo_dir())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .rsplit_once(" at ")
        .map(|(_, url)| url.trim_end_matches('/').to_string())
        .unwrap();
    let second = lines.next().unwrap().unwrap();
    assert_eq!(second, format!("catalog: {base}/search.json"));
    let (head, body) = http_get(&base, "/search.json");

    // Another process reading from this server sees remote data like any other: its
    // report's figures are GDAL's own statistics, per run.
    let dir = tempfile::tempdir().unwrap();
    let catalog_path = dir.path().join("search.json");
    std::fs::write(&catalog_path, &body).unwrap();
    let run = chunkscope()
        .args(["run", "--json", "--chunks", "3,256,256", "--threads", "2"])
        .arg("--catalog")
        .arg(&catalog_path)
        .arg("--out")
        .arg(dir.path().join("m.tif"))
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();

    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let catalog: Value = serde_json::from_str(&body).unwrap();
    let href = catalog["features"][0]["assets"]["visual"]["href"]
        .as_str()
        .unwrap();
    assert!(href.starts_with(&format!("{base}/")), "{href}");

    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_slice(&run.stdout).unwrap();
    let net = &report["network"];
    assert_eq!(net["source"], "gdal", "{net}");
    assert_eq!(net["simulated"], Value::Null);
    assert!(net["requests"].as_u64().unwrap() > 0, "{net}");
    assert!(net["bytes"].as_u64().unwrap() > 0, "{net}");
    assert_eq!(net["tasks"], serde_json::json!([]));
    assert_eq!(schema_errors(&report), Vec::<String>::new());
}

#[test]
fn an_unreachable_asset_fails_with_its_name_and_url_and_writes_nothing() {
    // A catalog whose hrefs point at a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = std::fs::read_to_string(small_demo()).unwrap();
    let mut catalog: Value = serde_json::from_str(&text).unwrap();
    for feature in catalog["features"].as_array_mut().unwrap() {
        for asset in feature["assets"].as_object_mut().unwrap().values_mut() {
            let href = asset["href"].as_str().unwrap().trim_start_matches("./");
            asset["href"] = Value::String(format!("http://127.0.0.1:{port}/{href}"));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search.json");
    std::fs::write(&path, serde_json::to_string(&catalog).unwrap()).unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    chunkscope()
        .args(["run", "--catalog"])
        .arg(&path)
        .arg("--out")
        .arg(out_dir.join("m.tif"))
        .assert()
        .code(1)
        .stderr(contains("asset \"visual\" of item"))
        .stderr(contains(format!("http://127.0.0.1:{port}/")))
        .stderr(contains("the host is unreachable"));
    assert_eq!(files_in(&out_dir), Vec::<String>::new());
}

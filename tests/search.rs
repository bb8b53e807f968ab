//! `chunkscope search` against `chunkscope serve` on loopback: the real binary on both
//! sides, with a real earth-search v1 result (tests/fixtures) and the demo scene served as
//! a STAC API. Filters, several pages (POST and GET), max-items, sortby; the errors a user
//! meets (bad values: exit 2 quoting them; an unreachable or non-STAC server, no results, a
//! server that pages forever: exit 1 saying what to do); and, with the pinned Python
//! environment, pystac-client (the lesson's own client) getting the same items.
//!
//! The expected items are computed here from the fixture's own JSON (dates, cloud cover),
//! independently of the server's code.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is how a test fails (clippy.toml covers #[test] fns only)"
)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use assert_cmd::Command;
use predicates::str::contains;
use serde_json::{Value, json};

const RHODES: &str = "tests/fixtures/stac/earth-search-v1-sentinel-2-l2a-rhodes.json";

fn chunkscope() -> Command {
    Command::cargo_bin("chunkscope").unwrap()
}

/// `chunkscope serve DIR --port 0` until dropped; `base` is its URL.
struct Served {
    child: Child,
    base: String,
}

impl Served {
    fn start(dir: &Path, extra: &[&str]) -> Served {
        let (child, base) = common::serve(dir, extra, false);
        Served { child, base }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A folder holding the Rhodes fixture as its `search.json`, served.
fn serve_rhodes() -> (tempfile::TempDir, Served) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(RHODES, dir.path().join("search.json")).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a STAC API\n").unwrap();
    let served = Served::start(dir.path(), &["--latency", "1ms", "--bandwidth", "10MiB/s"]);
    (dir, served)
}

/// The fixture's item ids (file order: newest first) with `keep(datetime, cloud cover)`.
fn rhodes_ids(keep: impl Fn(&str, f64) -> bool) -> Vec<String> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(RHODES).unwrap()).unwrap();
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            let p = &f["properties"];
            keep(
                p["datetime"].as_str().unwrap(),
                p["eo:cloud_cover"].as_f64().unwrap(),
            )
        })
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

fn ids_in(path: &Path) -> Vec<String> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

/// The lesson's search, over Rhodes, on `base`, with `extra` arguments, saved to `out`.
fn search(base: &str, out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    chunkscope()
        .args(["search", "--url", base, "--point", "27.95,36.33"])
        .args(extra)
        .arg("--out")
        .arg(out)
        .assert()
}

#[test]
fn the_lessons_search_pages_through_serve_with_post_and_get() {
    let (dir, served) = serve_rhodes();
    let expected = rhodes_ids(|d, cloud| ("2023-07-01".."2023-09").contains(&d) && cloud < 0.05);
    assert_eq!(expected.len(), 6, "{expected:?}");
    for method in ["post", "get"] {
        let out = dir.path().join(format!("out-{method}.json"));
        search(
            &served.base,
            &out,
            &[
                "--datetime",
                "2023-07-01/2023-08-31",
                "--query",
                "eo:cloud_cover<0.05",
                "--limit",
                "2",
                "--method",
                method,
            ],
        )
        .success()
        .stdout(contains(format!(
            "saved 6 items (3 pages, {}",
            method.to_uppercase()
        )))
        .stderr(contains("page 3: 6 items so far of 6 matched"));
        assert_eq!(ids_in(&out), expected, "{method}");
        // What the rest of chunkscope reads: the same items, hrefs as the API gave them.
        let catalog = chunkscope::catalog::Catalog::load(&out).unwrap();
        assert_eq!(catalog.items.len(), 6);
        assert!(
            catalog.items[0]
                .asset_by_key("visual")
                .unwrap()
                .href
                .starts_with("https://")
        );
    }
}

#[test]
fn filters_max_items_and_sortby() {
    let (dir, served) = serve_rhodes();
    let out = dir.path().join("s.json");
    // Dates alone: August.
    search(&served.base, &out, &["--datetime", "2023-08"]).success();
    assert_eq!(ids_in(&out), rhodes_ids(|d, _| d.starts_with("2023-08")));
    // A box, and the cloud cover both ways.
    search(&served.base, &out, &["--query", "eo:cloud_cover>=0.5"]).success();
    assert_eq!(ids_in(&out), rhodes_ids(|_, c| c >= 0.5));
    chunkscope()
        .args([
            "search",
            "--url",
            &served.base,
            "--bbox",
            "27.5,36.2,27.6,36.3",
        ])
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("saved 11 items"));
    // max-items stops early and says so.
    search(&served.base, &out, &["--max-items", "3", "--limit", "2"])
        .success()
        .stdout(contains("saved 3 items (2 pages"))
        .stderr(contains(
            "kept the first 3 items (--max-items); the server has more",
        ));
    assert_eq!(ids_in(&out), rhodes_ids(|_, _| true)[..3].to_vec());
    // sortby: the clearest scene first.
    search(
        &served.base,
        &out,
        &["--sortby", "properties.eo:cloud_cover", "--max-items", "1"],
    )
    .success();
    assert_eq!(ids_in(&out), vec!["S2B_35SNA_20230713_0_L2A".to_string()]);
    // Nothing there: exit 1, the search quoted, nothing written over the last result.
    let before = std::fs::read(&out).unwrap();
    chunkscope()
        .args(["search", "--url", &served.base, "--point", "5.3,52.7"])
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(contains(
            "the search found no items (sentinel-2-l2a, point 5.3,52.7)",
        ));
    assert_eq!(std::fs::read(&out).unwrap(), before);
    chunkscope()
        .args([
            "search",
            "--url",
            &served.base,
            "--collections",
            "sentinel-s2-l2a-cogs",
        ])
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(contains("check the collection name"));
}

#[test]
fn the_demo_scene_is_found_offline_and_read_through_the_server() {
    let demo_dir = common::small_demo().parent().unwrap().to_path_buf();
    let served = Served::start(&demo_dir, &[]);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("search.json");
    // The small demo covers the tile's north-west corner, near (4.57, 53.19).
    chunkscope()
        .args(["search", "--url", &served.base, "--point", "4.55,53.2"])
        .args(["--datetime", "2023-06-01/2023-06-08"])
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("DEMO_31UFU_20230601_0_L2A"))
        .stdout(contains("DEMO_31UFU_20230606_0_L2A"));
    assert_eq!(ids_in(&out).len(), 2);
    // The saved hrefs point at the server, so the scene is read through it.
    chunkscope()
        .arg("inspect")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("visual"));
    // Never over the served catalog, whose assets are files here.
    let catalog = demo_dir.join("search.json");
    let before = std::fs::read(&catalog).unwrap();
    chunkscope()
        .args(["search", "--url", &served.base, "--out"])
        .arg(&catalog)
        .assert()
        .code(1)
        .stderr(contains("the catalog"));
    assert_eq!(std::fs::read(&catalog).unwrap(), before);
}

#[test]
fn bad_values_exit_2_quoting_them() {
    for (args, message) in [
        (
            vec!["--bbox", "27,37,28"],
            "\"27,37,28\" is not a bounding box",
        ),
        (
            vec!["--bbox", "27,37,28,36"],
            "south (the 2nd number) is above north",
        ),
        (vec!["--point", "36.3"], "\"36.3\" is not a point"),
        (
            vec!["--datetime", "July 2023"],
            "\"July 2023\" is not a date or date range",
        ),
        (
            vec!["--datetime", "2023-08-31/2023-07-01"],
            "\"2023-08-31/2023-07-01\" is not a date",
        ),
        (
            vec!["--query", "eo:cloud_cover"],
            "\"eo:cloud_cover\" is not a query",
        ),
        (
            vec!["--intersects", "{\"type\": 1}"],
            "is not a GeoJSON geometry",
        ),
        (
            vec!["--url", "earth-search.aws.element84.com/v1"],
            "\"earth-search.aws.element84.com/v1\" is not an http:// or https:// URL",
        ),
        (vec!["--limit", "0"], "--limit"),
    ] {
        chunkscope()
            .arg("search")
            .args(&args)
            .assert()
            .code(2)
            .stderr(contains(message));
    }
    chunkscope()
        .args(["search", "--point", "1,2", "--bbox", "0,0,1,1"])
        .assert()
        .code(2)
        .stderr(contains("cannot be used with"));
}

#[test]
fn unreachable_and_non_stac_servers_are_named() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.json");
    chunkscope()
        .args(["search", "--url", &format!("http://127.0.0.1:{port}")])
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(contains(format!(
            "cannot reach the STAC API at \"http://127.0.0.1:{port}\""
        )))
        .stderr(contains("chunkscope serve"));
    let (_dir, served) = serve_rhodes();
    chunkscope()
        .args(["search", "--url", &format!("{}/notes.txt", served.base)])
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(contains("is not a STAC API: it sent a text/plain"))
        .stderr(contains("\"not a STAC API\""));
    chunkscope()
        .args(["search", "--url", &format!("{}/search.json", served.base)])
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(contains(
            "it is an ItemCollection (a saved search), not an API",
        ));
    chunkscope()
        .args(["search", "--url", &format!("{}/missing/", served.base)])
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(contains("answered HTTP 404"));
    assert!(!out.exists());
}

/// What a test server does with `POST /search`.
#[derive(Clone, Copy)]
enum Paging {
    /// A next link to a new page, forever.
    Endless,
    /// The same next link, again and again.
    Repeating,
    /// 405 to POST; two pages to GET.
    GetOnly,
}

/// A tiny HTTP server on loopback that answers like a misbehaving STAC API; counts the
/// requests it answered.
fn fake_api(paging: Paging) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&count);
    let url = base.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let (method, path) = read_request(&mut stream);
            counted.fetch_add(1, Ordering::SeqCst);
            let item = |id: String| {
                json!({"type": "Feature", "stac_version": "1.0.0", "id": id, "geometry": null,
                       "properties": {"datetime": "2023-07-01T00:00:00Z"}, "links": [], "assets": {}})
            };
            let (status, body) = match (method.as_str(), path.as_str(), paging) {
                ("GET", "/", _) => (
                    200,
                    json!({"type": "Catalog", "id": "fake", "description": "d", "stac_version": "1.0.0",
                           "conformsTo": ["https://api.stacspec.org/v1.0.0/item-search"],
                           "links": [{"rel": "search", "href": format!("{url}/search"), "method": "POST"}]}),
                ),
                ("POST", _, Paging::GetOnly) => (405, json!({"description": "use GET"})),
                (_, p, Paging::GetOnly) => {
                    let second = p.contains("page=2");
                    let mut links = vec![];
                    if !second {
                        links.push(json!({"rel": "next", "href": format!("{url}/search?page=2")}));
                    }
                    let id = if second { "g2" } else { "g1" };
                    (
                        200,
                        json!({"type": "FeatureCollection", "features": [item(id.into())], "links": links}),
                    )
                }
                (_, _, mode) => {
                    let n = counted.load(Ordering::SeqCst);
                    let body = match mode {
                        Paging::Repeating => json!({"page": 1}),
                        _ => json!({"page": n}),
                    };
                    (
                        200,
                        json!({"type": "FeatureCollection", "features": [item(format!("i{n}"))],
                               "links": [{"rel": "next", "href": format!("{url}/search"), "method": "POST", "body": body}]}),
                    )
                }
            };
            let text = body.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            );
        }
    });
    (base, count)
}

/// Reads one request's head and body; returns its method and path (with the query).
fn read_request(stream: &mut TcpStream) -> (String, String) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let mut length = 0;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        if header.trim().is_empty() {
            break;
        }
        if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    (method, path)
}

#[test]
fn a_server_that_pages_forever_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.json");
    let (base, count) = fake_api(Paging::Endless);
    chunkscope()
        .args(["search", "--url", &base, "--max-pages", "5"])
        .arg("--out")
        .arg(&out)
        .assert()
        .code(1)
        .stderr(contains(format!(
            "the server at \"{base}\" still had a next page after 5 pages (5 items)"
        )))
        .stderr(contains("give --max-items N"));
    // The landing page and 5 pages, no more.
    assert_eq!(count.load(Ordering::SeqCst), 6);
    // --max-items takes what comes first.
    chunkscope()
        .args(["search", "--url", &base, "--max-items", "3"])
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("saved 3 items"));
    let (base, _) = fake_api(Paging::Repeating);
    chunkscope()
        .args(["search", "--url", &base])
        .arg("--out")
        .arg(dir.path().join("r.json"))
        .assert()
        .code(1)
        .stderr(contains(
            "sent the same next link again on page 3: it would page forever",
        ));
}

#[test]
fn a_405_to_post_is_asked_again_with_get() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.json");
    let (base, _) = fake_api(Paging::GetOnly);
    chunkscope()
        .args(["search", "--url", &base])
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(contains("saved 2 items (2 pages, GET"));
    assert_eq!(ids_in(&out), vec!["g1", "g2"]);
}

/// One raw HTTP/1.1 exchange: status line and body.
fn raw(base: &str, request: &str) -> (String, String) {
    let addr = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = s.read_to_string(&mut response);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (head.to_string(), body.to_string())
}

#[test]
fn the_api_keeps_the_servers_limits() {
    let (_dir, served) = serve_rhodes();
    let (head, _) = raw(
        &served.base,
        "PUT /search HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 405"), "{head}");
    assert!(
        head.to_lowercase().contains("allow: get, head, post"),
        "{head}"
    );
    let (head, _) = raw(
        &served.base,
        "POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
    );
    assert!(head.to_lowercase().contains("allow: get, head"), "{head}");
    // A body beyond the limit is refused unread.
    let big = 2 << 20;
    let (head, _) = raw(
        &served.base,
        &format!(
            "POST /search HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {big}\r\nconnection: close\r\n\r\n{}",
            " ".repeat(big)
        ),
    );
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    // A search the stac crate refuses: 400 with its reason, as JSON.
    let body = r#"{"bbox": [1, 2, 3], "limit": 5}"#;
    let (head, text) = raw(
        &served.base,
        &format!(
            "POST /search HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    let error: Value = serde_json::from_str(&text).unwrap();
    assert!(
        error["description"].as_str().unwrap().contains("body"),
        "{text}"
    );
    // The landing page says what pystac-client checks for.
    let (_, text) = raw(
        &served.base,
        "GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    );
    let landing: Value = serde_json::from_str(&text).unwrap();
    let conforms: Vec<&str> = landing["conformsTo"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(conforms.contains(&"https://api.stacspec.org/v1.0.0/item-search#query"));
    // The collection's extent is its items'.
    let (_, text) = raw(
        &served.base,
        "GET /collections/sentinel-2-l2a HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    );
    let collection: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        collection["extent"]["temporal"]["interval"][0][0],
        "2023-07-08T09:00:20.745Z"
    );
}

/// The pinned environment's Python (`./dev test` sets it).
fn python() -> PathBuf {
    PathBuf::from(
        std::env::var_os("CHUNKSCOPE_DASK_PYTHON").expect(
            "set CHUNKSCOPE_DASK_PYTHON to the pinned environment's python (./dev test does)",
        ),
    )
}

#[test]
#[ignore = "needs the pinned Python environment with pystac-client; ./dev test runs it"]
fn pystac_client_gets_the_same_items_from_serve() {
    let (dir, served) = serve_rhodes();
    // The lesson's first cell, with its own client, both methods, with paging (limit 2).
    let script = r#"
import json, sys, warnings
warnings.simplefilter("error")
from pystac_client import Client
api = Client.open(sys.argv[1])
point = {"type": "Point", "coordinates": [27.95, 36.33]}
out = {}
for method in ["POST", "GET"]:
    search = api.search(collections=["sentinel-2-l2a"], intersects=point,
                        datetime="2023-07-01/2023-08-31",
                        query={"eo:cloud_cover": {"lt": 0.05}}, limit=2, method=method)
    out[method] = [item.id for item in search.items()]
search = api.search(collections=["sentinel-2-l2a"], intersects=point, max_items=3, limit=2)
out["max_items"] = [item.id for item in search.items()]
search.item_collection().save_object(sys.argv[2])
print(json.dumps(out))
"#;
    let saved = dir.path().join("pystac.json");
    let output = StdCommand::new(python())
        .arg("-c")
        .arg(script)
        .arg(&served.base)
        .arg(&saved)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let got: Value = serde_json::from_slice(&output.stdout).unwrap();
    let expected = rhodes_ids(|d, cloud| ("2023-07-01".."2023-09").contains(&d) && cloud < 0.05);
    let out = dir.path().join("chunkscope.json");
    search(
        &served.base,
        &out,
        &[
            "--datetime",
            "2023-07-01/2023-08-31",
            "--query",
            "eo:cloud_cover<0.05",
            "--limit",
            "2",
        ],
    )
    .success();
    assert_eq!(ids_in(&out), expected);
    for method in ["POST", "GET"] {
        let ids: Vec<String> = serde_json::from_value(got[method].clone()).unwrap();
        assert_eq!(ids, expected, "{method}");
    }
    let first3: Vec<String> = serde_json::from_value(got["max_items"].clone()).unwrap();
    assert_eq!(first3, rhodes_ids(|_, _| true)[..3].to_vec());
    // What pystac-client saved is a search.json chunkscope reads.
    let catalog = chunkscope::catalog::Catalog::load(&saved).unwrap();
    assert_eq!(catalog.items.len(), 3);
}

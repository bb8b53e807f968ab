//! Hostile inputs and hostile surroundings: catalogs, files and clients that try to make
//! chunkscope clobber a file, read a lie, allocate without bound or print escapes. Each case
//! runs the real binary and checks the exit status, the message, that nothing panicked,
//! that the inputs are unchanged and that no file was left behind.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is how a test fails (clippy.toml covers #[test] fns only)"
)]

mod common;

use common::{assert_no_panic, snapshot, stderr_of};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use chunkscope::network::{NetworkSim, SimSettings, Timeouts};
use serde_json::Value;

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("chunkscope")
}

fn chunkscope() -> Command {
    Command::new(bin())
}

/// `chunkscope demo --size 512 --items 2` into a folder of this test binary's own.
fn demo() -> &'static Path {
    static DEMO: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &DEMO
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let out = StdCommand::new(bin())
                .args(["demo", "--size", "512", "--items", "2", "--out"])
                .arg(dir.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            let catalog = dir.path().join("search.json");
            (dir, catalog)
        })
        .1
}

fn demo_dir() -> &'static Path {
    demo().parent().unwrap()
}

/// Index of the demo's last item: the one every command takes without `--item` (the
/// lesson's `items[-1]`).
fn last_item() -> usize {
    let catalog: Value = serde_json::from_str(&std::fs::read_to_string(demo()).unwrap()).unwrap();
    catalog["features"].as_array().unwrap().len() - 1
}

/// Item `i`'s id and the local path of its asset `key`.
fn asset(i: usize, key: &str) -> (String, PathBuf) {
    let catalog: Value = serde_json::from_str(&std::fs::read_to_string(demo()).unwrap()).unwrap();
    let feature = &catalog["features"][i];
    let href = feature["assets"][key]["href"].as_str().unwrap();
    (
        feature["id"].as_str().unwrap().to_string(),
        demo_dir().join(href.trim_start_matches("./")),
    )
}

/// Asserts a refusal: exit 1, the message names the path and why, nothing panicked.
fn assert_refused(out: &Output, path: &Path, why: &str) {
    let stderr = stderr_of(out);
    assert_eq!(out.status.code(), Some(1), "{}: {stderr}", path.display());
    assert!(
        stderr.contains(&format!("\"{}\"", path.display())),
        "names the path: {stderr}"
    );
    assert!(stderr.contains(why), "{stderr}");
    assert_no_panic(&stderr);
}

/// The cheapest sweep there is (one round, no warm-up, no extra budget).
const SMALL_SWEEP: &[&str] = &[
    "sweep",
    "--chunks",
    "512",
    "--threads",
    "1",
    "--repeat",
    "1",
    "--warmup",
    "0",
    "--budget",
    "0",
];

fn mkfifo(path: &Path) {
    let made = StdCommand::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success());
}

// ---- 2. every file written goes through one guard ----

#[test]
fn sweep_and_export_never_write_over_the_catalog_or_its_inputs() {
    let before = snapshot(demo_dir());
    let (_, visual) = asset(0, "visual");
    let (_, other_scl) = asset(1, "SCL");
    let cases: Vec<(Vec<&str>, &Path, &str)> = vec![
        (
            [SMALL_SWEEP, &["--csv"]].concat(),
            demo(),
            "it is the catalog",
        ),
        (
            [SMALL_SWEEP, &["--json"]].concat(),
            &visual,
            "it is asset \"visual\"",
        ),
        (vec!["export", "dask", "--out"], demo(), "it is the catalog"),
        (
            vec!["export", "dask", "--out"],
            &other_scl,
            "it is asset \"SCL\"",
        ),
    ];
    for (args, path, why) in cases {
        let started = Instant::now();
        let out = chunkscope()
            .args(&args)
            .arg(path)
            .arg("--catalog")
            .arg(demo())
            .output()
            .unwrap();
        assert_refused(&out, path, why);
        assert!(
            !stderr_of(&out).contains("wrote"),
            "refused before the runs: {}",
            stderr_of(&out)
        );
        assert!(started.elapsed() < Duration::from_secs(20));
    }
    assert_eq!(snapshot(demo_dir()), before, "the inputs are unchanged");
}

#[test]
fn run_never_writes_over_another_items_assets() {
    let before = snapshot(demo_dir());
    let (_, other_visual) = asset(1, "visual");
    let out = chunkscope()
        .args(["run", "--catalog"])
        .arg(demo())
        .arg("--out")
        .arg(&other_visual)
        .output()
        .unwrap();
    assert_refused(&out, &other_visual, "it is asset \"visual\" of item");
    assert_eq!(snapshot(demo_dir()), before, "the inputs are unchanged");
}

#[test]
fn a_fifo_as_a_sweep_file_is_refused_before_the_runs() {
    let work = tempfile::tempdir().unwrap();
    let fifo = work.path().join("table.csv");
    mkfifo(&fifo);
    let link = work.path().join("link.json");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    for (flag, path) in [("--csv", &fifo), ("--json", &link)] {
        let out = chunkscope()
            .args(SMALL_SWEEP)
            .arg(flag)
            .arg(path)
            .arg("--catalog")
            .arg(demo())
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        assert_refused(&out, path, "named pipe (FIFO)");
    }
    let names: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "nothing left behind: {names:?}");
}

// ---- 3. the SCL must lie on the image's grid ----

/// A copy of the demo folder in a fresh temporary folder; returns it and its catalog.
fn demo_copy() -> (tempfile::TempDir, PathBuf) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    copy(demo_dir(), dir.path());
    let catalog = dir.path().join("search.json");
    (dir, catalog)
}

/// Replaces the SCL of item 0 in the copy at `root` with one of the same size whose
/// geotransform `edit` changes, in EPSG `epsg`.
fn replace_scl(root: &Path, edit: impl Fn(&mut [f64; 6]), epsg: u32) -> PathBuf {
    let (_, scl) = asset(last_item(), "SCL");
    let scl = root.join(scl.strip_prefix(demo_dir()).unwrap());
    let (size, mut gt) = {
        let ds = gdal::Dataset::open(&scl).unwrap();
        (ds.raster_size(), ds.geo_transform().unwrap())
    };
    edit(&mut gt);
    std::fs::remove_file(&scl).unwrap();
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let options = gdal::raster::RasterCreationOptions::from_iter(["TILED=YES"]);
    let mut ds = driver
        .create_with_band_type_with_options::<u8, _>(&scl, size.0, size.1, 1, &options)
        .unwrap();
    ds.set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(epsg).unwrap())
        .unwrap();
    ds.set_geo_transform(&gt).unwrap();
    ds.close().unwrap();
    scl
}

#[test]
fn an_scl_off_the_image_grid_is_refused_naming_both_files() {
    let (_, visual) = asset(last_item(), "visual");
    let visual_name = visual.file_name().unwrap().to_string_lossy().into_owned();
    type Edit = Box<dyn Fn(&mut [f64; 6])>;
    let cases: Vec<(Edit, u32, &str)> = vec![
        (
            Box::new(|gt| gt[0] += 100.0),
            32631,
            "must cover the image's extent",
        ),
        (
            Box::new(|gt| gt[3] -= 300_000.0),
            32631,
            "must cover the image's extent",
        ),
        (
            Box::new(|gt| {
                gt[1] *= 1.5;
                gt[5] *= 1.5;
            }),
            32631,
            "must cover the image's extent",
        ),
        (Box::new(|_| {}), 4326, "is in EPSG:4326, but the image"),
    ];
    for (edit, epsg, why) in cases {
        let (dir, catalog) = demo_copy();
        let scl = replace_scl(dir.path(), edit, epsg);
        let before = snapshot(dir.path());
        let out = chunkscope()
            .args(["run", "--catalog"])
            .arg(&catalog)
            .arg("--out")
            .arg(dir.path().join("masked.tif"))
            .output()
            .unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(why), "{stderr}");
        assert!(
            stderr.contains(&scl.display().to_string()),
            "names the SCL: {stderr}"
        );
        assert!(stderr.contains(&visual_name), "names the image: {stderr}");
        assert_no_panic(&stderr);
        assert_eq!(snapshot(dir.path()), before, "nothing written or left");
    }
}

// ---- 4. a bound on the pixels a run allocates ----

#[test]
fn the_pixels_a_run_allocates_are_bounded_before_any_allocation() {
    let work = tempfile::tempdir().unwrap();
    let out_path = work.path().join("masked.tif");
    for mode in ["serial", "chunked"] {
        let out = chunkscope()
            .args(["run", "--mode", mode, "--max-pixels", "1000", "--catalog"])
            .arg(demo())
            .arg("--out")
            .arg(&out_path)
            .output()
            .unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains("3 bands x 256 x 256 = 196608 pixels, more than the 1000"),
            "{stderr}"
        );
        assert!(stderr.contains("--max-pixels 196608"), "{stderr}");
        assert_no_panic(&stderr);
    }
    assert!(std::fs::read_dir(work.path()).unwrap().next().is_none());
    // Raised, the same run goes through.
    let ok = chunkscope()
        .args(["run", "--max-pixels", "196608", "--catalog"])
        .arg(demo())
        .arg("--out")
        .arg(&out_path)
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", stderr_of(&ok));
}

/// A TIFF of a few KB whose header declares 1,000,000 x 1,000,000 pixels.
fn huge_declared_scene(dir: &Path) -> PathBuf {
    let driver = gdal::DriverManager::get_driver_by_name("GTiff").unwrap();
    let make = |name: &str, side: usize, bands: usize, px: f64| {
        let options = gdal::raster::RasterCreationOptions::from_iter([
            "SPARSE_OK=TRUE",
            "TILED=YES",
            "BLOCKXSIZE=4096",
            "BLOCKYSIZE=4096",
            "INTERLEAVE=PIXEL",
        ]);
        let mut ds = driver
            .create_with_band_type_with_options::<u8, _>(
                dir.join(name),
                side,
                side,
                bands,
                &options,
            )
            .unwrap();
        ds.set_spatial_ref(&gdal::spatial_ref::SpatialRef::from_epsg(32631).unwrap())
            .unwrap();
        ds.set_geo_transform(&[600000.0, px, 0.0, 5900040.0, 0.0, -px])
            .unwrap();
        ds.close().unwrap();
    };
    make("visual.tif", 1_000_000, 3, 10.0);
    make("scl.tif", 500_000, 1, 20.0);
    let catalog = serde_json::json!({
        "type": "FeatureCollection",
        "features": [{
            "type": "Feature", "stac_version": "1.0.0", "id": "huge",
            "geometry": null, "properties": {"datetime": "2023-01-01T00:00:00Z"},
            "links": [],
            "assets": {
                "visual": {"href": "./visual.tif", "type": "image/tiff; application=geotiff"},
                "SCL": {"href": "./scl.tif", "type": "image/tiff; application=geotiff"}
            }
        }]
    });
    let path = dir.join("search.json");
    std::fs::write(&path, catalog.to_string()).unwrap();
    path
}

#[test]
fn a_small_file_declaring_a_huge_size_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = huge_declared_scene(dir.path());
    for mode in ["serial", "chunked"] {
        let started = Instant::now();
        let out = chunkscope()
            .args(["run", "--res", "10", "--mode", mode, "--catalog"])
            .arg(&catalog)
            .arg("--out")
            .arg(dir.path().join("masked.tif"))
            .timeout(Duration::from_secs(60))
            .output()
            .unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(1), "{mode}: {stderr}");
        assert!(stderr.contains("3000000000000 pixels"), "{stderr}");
        assert!(stderr.contains("--max-pixels"), "{stderr}");
        assert!(started.elapsed() < Duration::from_secs(30));
        assert!(!dir.path().join("masked.tif").exists());
    }
}

// ---- 6. serve: no more than the file, only reads, no connection held by a client ----

/// A folder with a file of `size` bytes as `data.bin` and the demo's catalog, served with
/// `timeouts`.
fn serve_file(size: u64, timeouts: Timeouts) -> (tempfile::TempDir, NetworkSim) {
    let dir = tempfile::tempdir().unwrap();
    let file = std::fs::File::create(dir.path().join("data.bin")).unwrap();
    // Sparse: reads as zeros without the disk.
    file.set_len(size).unwrap();
    std::fs::copy(demo(), dir.path().join("search.json")).unwrap();
    let sim = NetworkSim::start_with(dir.path(), SimSettings::default(), 0, timeouts).unwrap();
    (dir, sim)
}

/// A raw HTTP/1.1 request on a new connection: the head (lower case) and the body's length.
fn request(sim: &NetworkSim, method: &str, path: &str, extra: &str) -> (String, usize) {
    let host = sim.base_url().trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Content-Length: 0\r\n\
         Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (
        String::from_utf8_lossy(&response[..split]).to_lowercase(),
        response.len() - split - 4,
    )
}

#[test]
fn serve_answers_no_more_than_the_file_and_only_reads() {
    let size = 100_000;
    let (_dir, sim) = serve_file(size, Timeouts::default());
    let range = |r: &str| format!("Range: bytes={r}\r\n");

    // 256 ranges of the whole file answered 256 copies of it.
    let all = vec!["0-"; 256].join(",");
    let (head, len) = request(&sim, "GET", "/data.bin", &range(&all));
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(len as u64, size, "the whole file once");

    let (head, len) = request(&sim, "GET", "/data.bin", &range("0-99,50-149"));
    assert!(head.starts_with("http/1.1 206"), "{head}");
    assert!(
        head.contains(&format!("content-range: bytes 0-149/{size}")),
        "{head}"
    );
    assert_eq!(len, 150, "overlapping ranges are merged");

    // Disjoint ranges stay a multipart answer, as GDAL asks for a window's blocks.
    let (head, len) = request(&sim, "GET", "/data.bin", &range("0-9,1000-1009"));
    assert!(head.starts_with("http/1.1 206"), "{head}");
    assert!(head.contains("multipart/byteranges"), "{head}");
    assert!(len > 20 && len < 1000, "{len}");

    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        for path in ["/search.json", "/data.bin"] {
            let (head, _) = request(&sim, method, path, "");
            assert!(head.starts_with("http/1.1 405"), "{method} {path}: {head}");
            assert!(head.contains("allow: get, head"), "{method} {path}: {head}");
        }
    }
    let (head, len) = request(&sim, "HEAD", "/data.bin", "");
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(len, 0);
    let (head, _) = request(&sim, "GET", "/search.json", "");
    assert!(head.starts_with("http/1.1 200"), "{head}");
}

/// Reads until the server closes `stream`; false if it is still open after `limit`.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let started = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 64 * 1024];
    while started.elapsed() < limit {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn serve_closes_connections_that_trickle_or_go_silent() {
    let timeouts = Timeouts {
        header_read: Duration::from_secs(1),
        idle: Duration::from_secs(1),
    };
    let size = 64 << 20;
    let (_dir, sim) = serve_file(size, timeouts);
    let host = sim.base_url().trim_start_matches("http://").to_string();

    // Connects and says nothing.
    let mut silent = TcpStream::connect(&host).unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(4)));

    // Sends its head a byte at a time, never finishing it.
    let mut trickle = TcpStream::connect(&host).unwrap();
    trickle.write_all(b"GET /data.bin HTTP/1.1\r\n").unwrap();
    let started = Instant::now();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(4) {
        if trickle.write_all(b"X").is_err()
            || closed_within(&mut trickle, Duration::from_millis(200))
        {
            closed = true;
            break;
        }
    }
    assert!(
        closed,
        "a trickled head is cut off after the header timeout"
    );

    // Asks for 64 MiB and stops reading: the server gives up after the idle timeout.
    let mut stalled = TcpStream::connect(&host).unwrap();
    write!(
        stalled,
        "GET /data.bin HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    stalled
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut received = Vec::new();
    let _ = stalled.read_to_end(&mut received);
    assert!(
        (received.len() as u64) < size,
        "the server kept a reader that stopped for {} bytes",
        received.len()
    );

    // A well-behaved client is still served whole after all this.
    let (head, len) = request(&sim, "GET", "/data.bin", "Range: bytes=0-99\r\n");
    assert!(head.starts_with("http/1.1 206"), "{head}");
    assert_eq!(len, 100);
}

// ---- 7. no control character from input reaches the terminal raw ----

const HOSTILE_ID: &str = "S2\u{1b}]0;pwned\u{7}\u{1b}[2J\rX";

/// A copy of the demo whose last item, the one commands take by default, has
/// [`HOSTILE_ID`] as its id.
fn demo_with_hostile_id() -> (tempfile::TempDir, PathBuf) {
    let (dir, catalog) = demo_copy();
    let mut value: Value =
        serde_json::from_str(&std::fs::read_to_string(&catalog).unwrap()).unwrap();
    value["features"][last_item()]["id"] = Value::String(HOSTILE_ID.into());
    std::fs::write(&catalog, value.to_string()).unwrap();
    (dir, catalog)
}

fn assert_no_raw_controls(bytes: &[u8], what: &str) {
    let text = String::from_utf8_lossy(bytes);
    assert!(
        !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "{what} holds a raw control character: {text:?}"
    );
}

#[test]
fn control_characters_in_ids_are_escaped_in_everything_printed() {
    let (_dir, catalog) = demo_with_hostile_id();
    let inspect = chunkscope().arg("inspect").arg(&catalog).output().unwrap();
    assert!(inspect.status.success(), "{}", stderr_of(&inspect));
    assert_no_raw_controls(&inspect.stdout, "inspect's output");
    assert!(
        String::from_utf8_lossy(&inspect.stdout).contains("S2\\u{1b}]0;pwned"),
        "escaped, not dropped: {}",
        String::from_utf8_lossy(&inspect.stdout)
    );
    // An error message quoting the id.
    let missing = chunkscope()
        .args(["run", "--item", "nope\u{1b}[31m", "--catalog"])
        .arg(&catalog)
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert_no_raw_controls(&missing.stderr, "the error");
    assert!(
        stderr_of(&missing).contains("nope\\u{1b}[31m"),
        "{}",
        stderr_of(&missing)
    );
}

// ---- 5. scratch folders of killed commands are removed by the next one ----

fn scratch_folders(tmp: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("chunkscope-"))
        .collect();
    names.sort();
    names
}

#[test]
fn scratch_folders_of_a_killed_command_are_removed_by_the_next() {
    let tmp = tempfile::tempdir().unwrap();
    // What an earlier version left: its process is long gone.
    let legacy = tmp.path().join("chunkscope-memory-4194300");
    std::fs::create_dir_all(legacy.join("x")).unwrap();
    let mut child = StdCommand::new(bin())
        .args([
            "sweep",
            "--chunks",
            "512",
            "--threads",
            "1",
            "--repeat",
            "400",
            "--warmup",
            "0",
            "--budget",
            "0",
            "--catalog",
        ])
        .arg(demo())
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mine = loop {
        let found: Vec<String> = scratch_folders(tmp.path())
            .into_iter()
            .filter(|n| n.starts_with("chunkscope-sweep-"))
            .collect();
        if let Some(name) = found.first() {
            break name.clone();
        }
        assert!(Instant::now() < deadline, "no scratch folder appeared");
        assert!(child.try_wait().unwrap().is_none(), "the sweep ended early");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(
        mine.contains(&format!("-p{}-t", child.id())),
        "named after its owner: {mine}"
    );
    assert!(
        !legacy.exists(),
        "the sweep removed the dead owner's folder"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(tmp.path().join(&mine).exists(), "SIGKILL leaves it");
    let next = chunkscope()
        .args(SMALL_SWEEP)
        .arg("--catalog")
        .arg(demo())
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    assert!(next.status.success(), "{}", stderr_of(&next));
    assert_eq!(scratch_folders(tmp.path()), Vec::<String>::new());
}

// ---- 8. import-dask: linear, checked, validated ----

fn record(key: Value, thread: u64, start: f64, stop: f64) -> Value {
    serde_json::json!({
        "key": key,
        "worker": "tcp://127.0.0.1:1",
        "thread": thread,
        "startstops": [{"action": "compute", "start": start, "stop": stop}],
        "status": "OK",
        "nbytes": 8
    })
}

fn import(stream: &Value) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stream.json");
    std::fs::write(&path, stream.to_string()).unwrap();
    chunkscope()
        .arg("import-dask")
        .arg(&path)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap()
}

/// Time to import a stream of `lanes` one-task lanes (the 65,536 lanes took 130 s when
/// each lookup walked the lanes before it).
fn import_lanes(lanes: u64) -> Duration {
    let records: Vec<Value> = (0..lanes)
        .map(|i| {
            let t = 1.7e9 + i as f64 * 1e-3;
            record(
                serde_json::json!(["load-x", i / 256, i % 256]),
                i,
                t,
                t + 1e-3,
            )
        })
        .collect();
    let started = Instant::now();
    let out = import(&Value::Array(records));
    let took = started.elapsed();
    assert_no_panic(&stderr_of(&out));
    took
}

#[test]
fn import_dask_is_linear_in_its_lanes() {
    // A ratio in one run rather than a wall-time limit, so a busy machine slows both
    // sides alike: four times the lanes take about four times as long when the lookup is
    // linear, sixteen when it is quadratic.
    let quarter = import_lanes(16_384);
    let full = import_lanes(65_536);
    let ratio = full.as_secs_f64() / quarter.as_secs_f64();
    assert!(
        ratio < 8.0,
        "4x the lanes took {ratio:.1}x as long ({quarter:?} vs {full:?})"
    );
}

#[test]
fn a_reader_that_goes_away_ends_the_output_as_sigpipe_does_not_with_a_panic() {
    use std::io::BufRead;
    use std::os::unix::process::ExitStatusExt;
    // A long listing (a lane per line) read for one line, as `| head -1` does.
    let records: Vec<Value> = (0..4096u64)
        .map(|i| {
            let t = 1.7e9 + i as f64 * 1e-3;
            record(serde_json::json!(["load-x", 0, i]), i, t, t + 1e-3)
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stream.json");
    std::fs::write(&path, Value::Array(records).to_string()).unwrap();
    let mut child = StdCommand::new(assert_cmd::cargo::cargo_bin("chunkscope"))
        .arg("import-dask")
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("task stream"), "{first}");
    // The reader is gone: the rest of the listing meets a closed pipe.
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGPIPE), "{status:?}: {stderr}");
    assert_no_panic(&stderr);
}

#[test]
fn import_dask_refuses_indices_off_the_grid_and_sums_that_overflow() {
    let off_grid = serde_json::json!([
        record(serde_json::json!(["load-x", 0, 0]), 1, 1.7e9, 1.7e9 + 1.0),
        record(
            serde_json::json!(["load-x", 4294967295u64, 0]),
            1,
            1.7e9,
            1.7e9 + 1.0
        ),
    ]);
    let out = import(&off_grid);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(
        stderr_of(&out).contains("(4294967295, 0)"),
        "{}",
        stderr_of(&out)
    );
    assert!(
        stderr_of(&out).contains("beyond any chunk grid"),
        "{}",
        stderr_of(&out)
    );

    let long: Vec<Value> = (0..11)
        .map(|i| record(serde_json::json!(["load-x", 0, i]), 1, 0.0, 1.8e10))
        .collect();
    let out = import(&Value::Array(long));
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("584 years"), "{}", stderr_of(&out));
    assert_no_panic(&stderr_of(&out));
}

/// Set on a re-run of this test binary that only measures a command (see [`max_rss_of`]):
/// chunkscope's arguments, one a line.
const RSS_OF: &str = "CHUNKSCOPE_TEST_RSS_OF";

/// `chunkscope ARGS`'s exit code and largest resident set in bytes. The kernel starts a
/// child's peak at its parent's (a spawned child begins as a view of its parent's memory),
/// and this test binary holds big streams: so a fresh re-run of it, small, starts the
/// command and reports what the kernel measured when it reaped it.
fn max_rss_of(args: &[&Path]) -> (i32, u64) {
    let lines: Vec<String> = args.iter().map(|a| a.display().to_string()).collect();
    let out = StdCommand::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "measure_max_rss",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(RSS_OF, lines.join("\n"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("max rss: "))
        .unwrap_or_else(|| panic!("no measurement in {stdout}"));
    let (code, rss) = line.split_once(' ').unwrap();
    (code.parse().unwrap(), rss.parse().unwrap())
}

/// The measuring side of [`max_rss_of`]; does nothing in an ordinary run.
#[test]
fn measure_max_rss() {
    let Ok(args) = std::env::var(RSS_OF) else {
        return;
    };
    // Reaped by wait4 below, which std's `wait` cannot do while keeping the child's usage.
    #[allow(clippy::zombie_processes)]
    let child = StdCommand::new(bin())
        .args(args.lines())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: `rusage` is plain data, valid when zeroed; wait4 fills it for our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: wait4 on our own unreaped child, with pointers to the two locals above.
    let pid = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert!(pid > 0, "wait4 failed");
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    // ru_maxrss is in KiB on Linux.
    // On a line of its own: the harness has written "test measure_max_rss ... " before.
    println!(
        "\nmax rss: {code} {}",
        u64::try_from(usage.ru_maxrss).unwrap() * 1024
    );
}

#[test]
fn import_dask_memory_follows_the_tasks_not_the_text() {
    // Dask's records carry pickled types and metadata chunkscope never uses: 4,000 records
    // with 16 KiB of that each make a 64 MiB file whose kept tasks take a few MiB.
    let dir = tempfile::tempdir().unwrap();
    let padding = "x".repeat(16 * 1024);
    let records: Vec<Value> = (0..4_000u64)
        .map(|i| {
            let t = 1.7e9 + i as f64 * 1e-3;
            let mut r = record(
                serde_json::json!(["load-x", i / 64, i % 64]),
                1,
                t,
                t + 1e-3,
            );
            r["type"] = Value::String(padding.clone());
            r
        })
        .collect();
    let big = dir.path().join("big.json");
    std::fs::write(
        &big,
        serde_json::json!({"dask_version": "x", "task_stream": records}).to_string(),
    )
    .unwrap();
    let small = dir.path().join("small.json");
    std::fs::write(&small, Value::Array(records[..1].to_vec()).to_string()).unwrap();
    drop(records);
    let size = std::fs::metadata(&big).unwrap().len();

    let (code, base) = max_rss_of(&[Path::new("import-dask"), &small]);
    assert_eq!(code, 0);
    let (code, rss) = max_rss_of(&[Path::new("import-dask"), &big]);
    assert_eq!(code, 0);
    // Holding the text and a tree of it took several times the file (166 MB took 2.95 GB);
    // reading record by record keeps a fraction of it.
    let grown = rss.saturating_sub(base);
    assert!(
        grown < size / 4,
        "import-dask of a {size}-byte stream grew {grown} bytes beyond a one-task import"
    );
}

// ---- 9. the smaller ones ----

#[test]
fn a_catalog_with_a_byte_order_mark_reads() {
    let (_dir, catalog) = demo_copy();
    let text = std::fs::read(&catalog).unwrap();
    std::fs::write(&catalog, [b"\xef\xbb\xbf".as_slice(), &text].concat()).unwrap();
    let out = chunkscope().arg("inspect").arg(&catalog).output().unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
}

#[test]
fn a_bandwidth_no_read_can_finish_in_is_a_usage_error() {
    let out = chunkscope()
        .args(["run", "--network", "50ms,1B/s", "--catalog"])
        .arg(demo())
        .timeout(Duration::from_secs(30))
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("at least 1KB/s"), "{stderr}");
    assert!(!stderr.contains("network connection"), "{stderr}");
}

#[test]
fn long_output_names_work_and_too_long_ones_fail_before_the_work() {
    let work = tempfile::tempdir().unwrap();
    let long = work.path().join(format!("{}.tif", "m".repeat(246)));
    let ok = chunkscope()
        .args(["run", "--catalog"])
        .arg(demo())
        .arg("--out")
        .arg(&long)
        .output()
        .unwrap();
    assert!(ok.status.success(), "{}", stderr_of(&ok));
    assert!(long.exists());
    std::fs::remove_file(&long).unwrap();
    let too_long = work.path().join(format!("{}.tif", "m".repeat(260)));
    let refused = chunkscope()
        .args(["run", "--catalog"])
        .arg(demo())
        .arg("--out")
        .arg(&too_long)
        .output()
        .unwrap();
    assert_refused(&refused, &too_long, "more than the 255");
    assert!(
        !stderr_of(&refused).contains("load"),
        "{}",
        stderr_of(&refused)
    );
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0);
}

#[test]
fn the_file_size_limit_is_an_error_with_a_message_not_a_silent_death() {
    use std::os::unix::process::CommandExt;
    let work = tempfile::tempdir().unwrap();
    let out_path = work.path().join("masked.tif");
    let mut cmd = StdCommand::new(bin());
    cmd.args(["run", "--format", "gtiff", "--catalog"])
        .arg(demo())
        .arg("--out")
        .arg(&out_path);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs in the child before exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 64 * 1024,
                rlim_max: 64 * 1024,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("file-size limit"), "{stderr}");
    assert_no_panic(&stderr);
    assert_eq!(
        std::fs::read_dir(work.path()).unwrap().count(),
        0,
        "nothing left"
    );
}

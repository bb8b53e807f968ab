//! Shared test fixtures: a small demo scene generated once per test binary with the real
//! generator and real GDAL.

#![allow(dead_code)]
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is how a test fails (clippy.toml covers #[test] fns only)"
)]

pub mod tmux;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use chunkscope::catalog::Catalog;
use chunkscope::demo::{self, DemoSpec};
use chunkscope::pipeline::Scene;
use chunkscope::raster::{RasterSource, Window, read_bands_u8};
use ndarray::Array3;

/// Side of the small demo's 10 m rasters: visual overview 0 and SCL are half of it.
pub const SMALL: usize = 1024;

struct Demo {
    _dir: tempfile::TempDir,
    catalog: PathBuf,
}

/// The small demo's `search.json`, generated on first use.
pub fn small_demo() -> &'static Path {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    &DEMO
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let spec = DemoSpec::new(SMALL, 3).expect("spec");
            let catalog = demo::generate(spec, dir.path(), &|_| {}).expect("demo generation");
            Demo { _dir: dir, catalog }
        })
        .catalog
}

/// The first item of the small demo as a pipeline scene.
pub fn small_scene() -> Scene {
    let catalog = Catalog::load(small_demo()).expect("demo catalog loads");
    let item = catalog.item(None).expect("first item");
    Scene::from_item(item).expect("visual and SCL assets")
}

/// Files in `dir`, sorted, for asserting that nothing was left behind.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every band of a written output file, read back whole with GDAL.
pub fn read_output(path: &Path) -> Array3<u8> {
    let src = RasterSource::new("output", path.display().to_string());
    let ds = src.open(None).expect("output opens");
    let (cols, rows) = ds.raster_size();
    let whole = Window {
        row0: 0,
        col0: 0,
        rows,
        cols,
    };
    read_bands_u8(&ds, &src, 0, ds.raster_count(), whole).expect("output reads")
}

/// Every file and link under `dir` with its content (or link target): equal snapshots
/// mean nothing was changed, added or left behind.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path).unwrap();
                out.insert(path, target.into_os_string().into_encoded_bytes());
            } else if meta.is_dir() {
                todo.push(path);
            } else if meta.is_file() {
                out.insert(path.clone(), std::fs::read(&path).unwrap());
            } else {
                out.insert(path, b"(special file)".to_vec());
            }
        }
    }
    out
}

/// A finished command's standard error as text.
pub fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Whatever went wrong, it was said, not a panic.
pub fn assert_no_panic(stderr: &str) {
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "{stderr}");
}

/// `chunkscope serve DIR --port 0 ...` and its base URL, read from its first line. Its
/// stderr is piped when `keep_stderr` (read it to learn what it served; a caller that does
/// not read it must not pipe it, or a chatty server blocks on the full pipe).
pub fn serve(dir: &Path, extra: &[&str], keep_stderr: bool) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chunkscope"))
        .args(["serve", "--port", "0"])
        .args(extra)
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(if keep_stderr {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .spawn()
        .expect("chunkscope serve starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines
        .next()
        .expect("serve says where it listens")
        .expect("a line");
    let base = first
        .rsplit_once(" at ")
        .map(|(_, url)| url.trim_end_matches('/').to_string())
        .expect("a URL after \" at \"");
    // Keep reading stdout so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (child, base)
}

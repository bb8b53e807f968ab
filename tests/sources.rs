//! A catalog names rasters, nothing else: the real binary given catalogs whose asset hrefs
//! try to make GDAL read other files (inline VRT XML, a `.tif` whose content is VRT, GDAL
//! virtual file systems) or reach an address. Each case checks the exit status, the
//! message, that no output was written and that no request reached the address.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is how a test fails (clippy.toml covers #[test] fns only)"
)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

/// A 512-pixel demo in a folder of its own, with one file of secret bytes beside it.
struct Scene {
    dir: tempfile::TempDir,
}

impl Scene {
    fn new() -> Scene {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::cargo_bin("chunkscope")
            .unwrap()
            .args(["demo", "--size", "512", "--items", "1", "--out"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        std::fs::write(
            dir.path().join("secret.txt"),
            b"SECRETSECRETSECRET".repeat(20),
        )
        .unwrap();
        Scene { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The demo's catalog with the visual asset's href replaced, written as `name`.
    fn catalog_with_visual(&self, name: &str, href: &str) -> PathBuf {
        let text = std::fs::read_to_string(self.path("search.json")).unwrap();
        let mut catalog: Value = serde_json::from_str(&text).unwrap();
        catalog["features"][0]["assets"]["visual"]["href"] = Value::from(href);
        let path = self.path(name);
        std::fs::write(&path, serde_json::to_string(&catalog).unwrap()).unwrap();
        path
    }

    /// The visual asset's real path, for VRTs that wrap it.
    fn visual(&self) -> PathBuf {
        let text = std::fs::read_to_string(self.path("search.json")).unwrap();
        let catalog: Value = serde_json::from_str(&text).unwrap();
        let href = catalog["features"][0]["assets"]["visual"]["href"]
            .as_str()
            .unwrap()
            .to_string();
        self.dir.path().join(href.trim_start_matches("./"))
    }
}

/// `args` with the catalog: `inspect` takes it as its argument, the others as `--catalog`.
fn chunkscope(args: &[&str], catalog: &Path) -> Output {
    let mut cmd = Command::cargo_bin("chunkscope").unwrap();
    cmd.args(args);
    if args.first() != Some(&"inspect") {
        cmd.arg("--catalog");
    }
    cmd.arg(catalog)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap()
}

/// A run into a fresh folder: the outcome and whatever it left there.
fn run_into(catalog: &Path, extra: &[&str]) -> (Output, Vec<String>) {
    let out_dir = tempfile::tempdir().unwrap();
    let out_path = out_dir.path().join("masked.tif");
    let mut args = vec!["run", "--mode", "serial", "--json"];
    args.extend_from_slice(extra);
    let out_text = out_path.display().to_string();
    args.extend_from_slice(&["--out", &out_text]);
    let output = chunkscope(&args, catalog);
    (output, common_files(out_dir.path()))
}

fn common_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_refused(out: &Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// VRT XML reading `file` as raw bytes: 16 x 16 pixels of one band.
fn raw_vrt(file: &Path) -> String {
    format!(
        "<VRTDataset rasterXSize=\"16\" rasterYSize=\"16\"><VRTRasterBand dataType=\"Byte\" \
         band=\"1\" subClass=\"VRTRawRasterBand\"><SourceFilename relativeToVRT=\"0\">{}\
         </SourceFilename><ImageOffset>0</ImageOffset><PixelOffset>1</PixelOffset>\
         <LineOffset>16</LineOffset></VRTRasterBand></VRTDataset>",
        file.display()
    )
}

/// VRT XML whose three bands come from `source` (a path or a GDAL URL), 512 pixels wide.
fn wrapping_vrt(source: &str) -> String {
    let band = |b: usize| {
        format!(
            "<VRTRasterBand dataType=\"Byte\" band=\"{b}\"><SimpleSource><SourceFilename \
             relativeToVRT=\"0\">{source}</SourceFilename><SourceBand>{b}</SourceBand>\
             </SimpleSource></VRTRasterBand>"
        )
    };
    format!(
        "<VRTDataset rasterXSize=\"512\" rasterYSize=\"512\">{}{}{}</VRTDataset>",
        band(1),
        band(2),
        band(3)
    )
}

#[test]
fn an_inline_vrt_href_is_refused_and_nothing_is_written() {
    let scene = Scene::new();
    let catalog = scene.catalog_with_visual("inline.json", &raw_vrt(&scene.path("secret.txt")));
    let (out, left) = run_into(&catalog, &[]);
    assert_refused(&out, "inline XML is not a raster file");
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_tif_whose_content_is_vrt_is_not_opened_unless_the_driver_is_allowed() {
    let scene = Scene::new();
    std::fs::write(
        scene.path("visual-raw.tif"),
        raw_vrt(&scene.path("secret.txt")),
    )
    .unwrap();
    let catalog = scene.catalog_with_visual("raw.json", "./visual-raw.tif");
    let (out, left) = run_into(&catalog, &[]);
    assert_refused(&out, "no driver chunkscope reads assets with (GTiff");
    assert!(stderr(&out).contains("--allow-driver"), "{}", stderr(&out));
    assert!(left.is_empty(), "left behind: {left:?}");
    let inspected = chunkscope(&["inspect"], &catalog);
    assert_refused(&inspected, "no driver chunkscope reads assets with");

    // A VRT that only wraps the scene's own visual COG opens once the user allows VRT: the
    // refusal above came from the driver list, not from a broken file.
    let visual = scene.visual().display().to_string();
    std::fs::write(scene.path("visual-vrt.tif"), wrapping_vrt(&visual)).unwrap();
    let catalog = scene.catalog_with_visual("wrapped.json", "./visual-vrt.tif");
    let inspected = chunkscope(&["inspect"], &catalog);
    assert_refused(&inspected, "no driver chunkscope reads assets with");
    let allowed = chunkscope(&["inspect", "--allow-driver", "VRT"], &catalog);
    assert!(allowed.status.success(), "{}", stderr(&allowed));
}

#[test]
fn an_unknown_driver_name_is_a_usage_error() {
    let scene = Scene::new();
    let out = chunkscope(
        &["inspect", "--allow-driver", "NoSuchDriver"],
        &scene.path("search.json"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("\"NoSuchDriver\" is not a driver of this GDAL"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn gdal_virtual_file_systems_in_an_href_are_refused() {
    let scene = Scene::new();
    let visual = scene.visual().display().to_string();
    for href in [
        format!("/vsisubfile/0_400,{}", scene.path("secret.txt").display()),
        "/vsistdin/".to_string(),
        format!("/vsizip/{}/x.tif", scene.path("secret.txt").display()),
        format!("/vsicurl/file://{visual}"),
        "/vsicurl?url=http://127.0.0.1:9/x.tif".to_string(),
    ] {
        let catalog = scene.catalog_with_visual("vsi.json", &href);
        let (out, left) = run_into(&catalog, &[]);
        assert_refused(
            &out,
            "GDAL virtual file systems are not read from a catalog",
        );
        assert!(
            stderr(&out).contains("refusing to read"),
            "{}",
            stderr(&out)
        );
        assert!(left.is_empty(), "{href}: left behind {left:?}");
    }
}

#[test]
fn a_vrt_pointing_at_an_address_makes_no_request_on_inspect() {
    let scene = Scene::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!(
        "/vsicurl/http://{}/visual.tif",
        listener.local_addr().unwrap()
    );
    std::fs::write(scene.path("visual-remote.tif"), wrapping_vrt(&url)).unwrap();
    let catalog = scene.catalog_with_visual("remote.json", "./visual-remote.tif");
    let out = chunkscope(&["inspect"], &catalog);
    assert_refused(&out, "no driver chunkscope reads assets with");
    assert!(
        listener.accept().is_err(),
        "inspect made a request to the address inside the VRT"
    );
}

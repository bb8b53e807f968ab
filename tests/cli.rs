//! The real binary, as a user runs it: exit codes, stderr messages, JSON output.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is how a test fails (clippy.toml covers #[test] fns only)"
)]

mod common;

use std::path::Path;

use assert_cmd::Command;
use gdal::DriverManager;
use gdal::raster::{Buffer, RasterCreationOptions};
use predicates::prelude::*;
use serde_json::Value;

use common::small_demo;

fn chunkscope() -> Command {
    Command::cargo_bin("chunkscope").expect("binary built")
}

fn json_of(out: &[u8]) -> Value {
    serde_json::from_slice(out).expect("stdout is JSON")
}

#[test]
fn run_prints_the_report_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("masked.tif");
    let assert = chunkscope()
        .args([
            "run",
            "--chunks",
            "3,128,128",
            "--threads",
            "2",
            "--schedule",
            "fused",
            "--json",
        ])
        .arg("--catalog")
        .arg(small_demo())
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let report = json_of(&assert.get_output().stdout);
    assert_eq!(report["schema_version"], 1);
    assert_eq!(report["config"]["mode"], "chunked");
    assert_eq!(report["config"]["chunks"], serde_json::json!([3, 128, 128]));
    assert_eq!(report["config"]["threads"], 2);
    assert_eq!(report["config"]["schedule"], "fused");
    assert_eq!(report["config"]["cloud_classes"], serde_json::json!([8, 9]));
    let stages: Vec<&str> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["load", "mask", "write", "finalize"]);
    // Help with writes, if an idle worker gave any, is recorded but is not a task.
    let own = report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["helping"] == false)
        .count();
    assert_eq!(own, 16 * 3 + 1);
    assert!(report["masked_pixels"].as_u64().unwrap() > 0);
    for key in ["wall_ns", "cpu_user_ns", "cpu_sys_ns", "peak_rss_bytes"] {
        assert!(report[key].as_u64().is_some(), "{key} present");
    }
    assert_eq!(report["output"], out.display().to_string());
    assert!(out.exists());
}

#[test]
fn run_prints_time_lines_like_the_lesson() {
    let dir = tempfile::tempdir().unwrap();
    chunkscope()
        .args(["run", "--mode", "both", "--chunks", "256", "--threads", "2"])
        .arg("--catalog")
        .arg(small_demo())
        .arg("--out")
        .arg(dir.path().join("m.tif"))
        .assert()
        .success()
        .stdout(predicate::str::contains("CPU times: user "))
        .stdout(predicate::str::contains("Wall time: "))
        .stdout(predicate::str::contains("serial\n"))
        .stdout(predicate::str::contains("chunked x 2 (3,256,256, staged)"))
        .stdout(predicate::str::contains("speedup "));
}

#[test]
fn a_zero_chunk_shape_is_refused_with_the_input_quoted() {
    chunkscope()
        .args(["run", "--chunks", "3,0,2048"])
        .arg("--catalog")
        .arg(small_demo())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("\"3,0,2048\""))
        .stderr(predicate::str::contains("at least 1"));
}

#[test]
fn broken_catalogs_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("search.json");
    std::fs::write(&broken, "{ \"type\": \"FeatureCollection\", ").unwrap();
    chunkscope()
        .args(["run", "--catalog"])
        .arg(&broken)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("search.json"))
        .stderr(predicate::str::contains("JSON"));

    chunkscope()
        .args(["inspect", "--item", "NOPE"])
        .arg(small_demo())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("\"NOPE\""))
        .stderr(predicate::str::contains("DEMO_31UFU_20230601_0_L2A"));
}

#[test]
fn a_missing_asset_file_names_item_asset_and_path() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(small_demo()).unwrap();
    // Same catalog, moved: its relative hrefs now point at files that are not there.
    let moved = dir.path().join("search.json");
    std::fs::write(&moved, text).unwrap();
    chunkscope()
        .args(["run", "--catalog"])
        .arg(&moved)
        .arg("--out")
        .arg(dir.path().join("m.tif"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "asset \"visual\" of item \"{}\"",
            lesson_item_id()
        )))
        .stderr(predicate::str::contains("no such file"));
    assert!(!dir.path().join("m.tif").exists());
}

#[test]
fn an_unusable_output_path_fails_before_work_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let not_a_dir = dir.path().join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    chunkscope()
        .args(["run", "--catalog"])
        .arg(small_demo())
        .arg("--out")
        .arg(not_a_dir.join("masked.tif"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("does not exist"));
    assert_eq!(common::files_in(dir.path()), vec!["file".to_string()]);
}

#[test]
fn inspect_answers_the_block_shapes_exercise() {
    let assert = chunkscope()
        .args(["inspect", "--json"])
        .arg(small_demo())
        .assert()
        .success();
    let v = json_of(&assert.get_output().stdout);
    let assets = v["assets"].as_array().unwrap();
    let keys: Vec<&str> = assets.iter().map(|a| a["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["visual", "SCL", "B02"]);
    let visual = &assets[0];
    assert_eq!(visual["bands"], 3);
    assert_eq!(visual["dtype"], "Byte");
    assert_eq!(
        visual["block_shapes"],
        serde_json::json!([[128, 128], [128, 128], [128, 128]])
    );
    assert_eq!(visual["overviews"].as_array().unwrap().len(), 4);
    assert_eq!(visual["cog"], true);
    assert_eq!(visual["compression"], "DEFLATE");
    assert_eq!(assets[2]["dtype"], "UInt16");
    assert_eq!(assets[1]["rows"], 512);

    chunkscope()
        .arg("inspect")
        .arg(small_demo())
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "blocks      (128, 128) (128, 128) (128, 128)",
        ))
        .stdout(predicate::str::contains("COG, compression DEFLATE"));
}

#[test]
fn plan_reports_alignment_and_amplification() {
    let assert = chunkscope()
        .args(["plan", "--chunks", "3,100,100", "--json", "--catalog"])
        .arg(small_demo())
        .assert()
        .success();
    let v = json_of(&assert.get_output().stdout);
    assert_eq!(v["aligned"], false);
    assert!(v["read_amplification"].as_f64().unwrap() > 1.0);
    let assert = chunkscope()
        .args(["plan", "--chunks", "3,128,128", "--json", "--catalog"])
        .arg(small_demo())
        .assert()
        .success();
    let v = json_of(&assert.get_output().stdout);
    assert_eq!(v["aligned"], true);
    assert_eq!(v["read_amplification"], 1.0);
    assert_eq!(v["chunk_count"], 16);
}

#[test]
fn demo_refuses_a_bad_size() {
    chunkscope()
        .args(["demo", "--size", "100", "--out"])
        .arg(tempfile::tempdir().unwrap().path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("100"));
}

/// An untiled (striped) GeoTIFF without overviews, as a catalog of its own.
fn untiled_catalog(dir: &Path) -> std::path::PathBuf {
    let driver = DriverManager::get_driver_by_name("GTiff").unwrap();
    let opts = RasterCreationOptions::new();
    let visual = driver
        .create_with_band_type_with_options::<u8, _>(dir.join("visual.tif"), 256, 256, 3, &opts)
        .unwrap();
    for b in 1..=3 {
        let mut buf = Buffer::new(
            (256, 256),
            (0..256 * 256)
                .map(|i| u8::try_from(i % 251).unwrap() + 1)
                .collect(),
        );
        visual
            .rasterband(b)
            .unwrap()
            .write((0, 0), (256, 256), &mut buf)
            .unwrap();
    }
    let scl = driver
        .create_with_band_type_with_options::<u8, _>(dir.join("SCL.tif"), 128, 128, 1, &opts)
        .unwrap();
    let mut buf = Buffer::new(
        (128, 128),
        (0..128 * 128)
            .map(|i| u8::try_from(i % 12).unwrap())
            .collect(),
    );
    scl.rasterband(1)
        .unwrap()
        .write((0, 0), (128, 128), &mut buf)
        .unwrap();
    drop((visual, scl));
    let catalog = serde_json::json!({
        "type": "FeatureCollection",
        "features": [{
            "type": "Feature", "stac_version": "1.0.0", "id": "untiled",
            "geometry": null, "properties": {"datetime": "2023-06-01T10:00:00Z"}, "links": [],
            "assets": {"visual": {"href": "./visual.tif"}, "SCL": {"href": "./SCL.tif"}, "B02": {"href": "./visual.tif"}}
        }]
    });
    let path = dir.join("search.json");
    std::fs::write(&path, catalog.to_string()).unwrap();
    path
}

#[test]
fn an_untiled_tiff_is_shown_as_strips_and_runs_at_10m() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = untiled_catalog(dir.path());
    chunkscope()
        .arg("inspect")
        .arg(&catalog)
        .assert()
        .success()
        .stdout(predicate::str::contains("not tiled"))
        .stdout(predicate::str::contains("not a COG"));
    // No overviews: the 20 m grid does not exist, and the message says what to do.
    chunkscope()
        .args(["run", "--catalog"])
        .arg(&catalog)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("has no overviews"))
        .stderr(predicate::str::contains("--res 10"));
    let out = dir.path().join("m.tif");
    let assert = chunkscope()
        .args([
            "run",
            "--res",
            "10",
            "--chunks",
            "3,100,100",
            "--json",
            "--catalog",
        ])
        .arg(&catalog)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let v = json_of(&assert.get_output().stdout);
    // Classes cycle 0..11 along rows of SCL: 2 of every 12 are cloud, each 2x2 at 10 m.
    let expected = (0..128 * 128).filter(|i| matches!(i % 12, 8 | 9)).count() as u64 * 4;
    assert_eq!(v["masked_pixels"], expected);
    assert_eq!(v["plan"]["aligned"], false);
}

/// The binary starts GDAL with the GeoTIFF drivers only; a scene in another format (PNG
/// here) makes it register the rest and read it all the same.
#[test]
fn a_scene_in_a_format_other_than_geotiff_is_read_all_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let tiffs = untiled_catalog(dir.path());
    let png = DriverManager::get_driver_by_name("PNG").unwrap();
    for name in ["visual", "SCL"] {
        let tif = gdal::Dataset::open(dir.path().join(format!("{name}.tif"))).unwrap();
        tif.create_copy(
            &png,
            dir.path().join(format!("{name}.png")),
            &Default::default(),
        )
        .unwrap();
    }
    let catalog = dir.path().join("png.json");
    std::fs::write(
        &catalog,
        std::fs::read_to_string(&tiffs)
            .unwrap()
            .replace(".tif", ".png"),
    )
    .unwrap();
    chunkscope()
        .arg("inspect")
        .arg(&catalog)
        .assert()
        .success()
        .stdout(predicate::str::contains("visual.png"));
    let mut masked = Vec::new();
    for catalog in [&tiffs, &catalog] {
        let out = dir.path().join("m.tif");
        let assert = chunkscope()
            .args(["run", "--res", "10", "--chunks", "3,100,100", "--json"])
            .arg("--catalog")
            .arg(catalog)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
        masked.push(json_of(&assert.get_output().stdout)["masked_pixels"].clone());
        assert_eq!(common::read_output(&out).dim(), (3, 256, 256));
    }
    assert!(masked[0].as_u64().unwrap() > 0);
    assert_eq!(masked[0], masked[1]);
}

#[test]
fn plan_calibrate_measures_empty_tasks_beside_dasks_figure() {
    let assert = chunkscope()
        .args([
            "plan",
            "--chunks",
            "3,64,64",
            "--calibrate",
            "--threads",
            "2",
            "--json",
            "--catalog",
        ])
        .arg(small_demo())
        .assert()
        .success();
    let v = json_of(&assert.get_output().stdout);
    assert_eq!(v["plan"]["chunk_count"], 64);
    let c = &v["calibration"];
    assert_eq!(c["tasks"], 64 * 3);
    assert_eq!(c["threads"], 2);
    assert!(c["per_task_us"].as_f64().unwrap() > 0.0);
    assert_eq!(c["dask_documented_us"], serde_json::json!([200.0, 1000.0]));
}

/// Processes whose command line mentions `marker`.
fn processes_mentioning(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(marker) {
            found.push(cmdline);
        }
    }
    found
}

/// A stop signal to `memory` alone (a service manager's SIGTERM, not Ctrl-C at the
/// terminal) stops the child run in flight at once instead of waiting for it to end, and
/// leaves no child behind. The staged run of 2 x 2-pixel chunks here takes seconds.
#[test]
fn memory_stopped_by_sigterm_stops_its_child_run_at_once() {
    let scratch = tempfile::tempdir().unwrap();
    let marker = scratch.path().display().to_string();
    let mut parent = std::process::Command::new(assert_cmd::cargo::cargo_bin("chunkscope"))
        .args([
            "memory",
            "--chunks",
            "3,2,2",
            "--threads",
            "2",
            "--repeat",
            "1",
            "--catalog",
        ])
        .arg(small_demo())
        .env("TMPDIR", scratch.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the staged run (the serial one before it is quick).
    let t0 = std::time::Instant::now();
    while !processes_mentioning(&marker)
        .iter()
        .any(|c| c.contains("--schedule staged"))
    {
        assert!(t0.elapsed().as_secs() < 60, "the staged run never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let signalled = std::time::Instant::now();
    let pid = libc::pid_t::try_from(parent.id()).unwrap();
    // SAFETY: kill(2) on the pid of a child this test spawned and has not reaped.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let status = parent.wait().unwrap();
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(143));
    assert!(
        processes_mentioning(&marker).is_empty(),
        "left running: {:?}",
        processes_mentioning(&marker)
    );
    // The staged run alone takes several seconds here; stopping it takes a fraction.
    assert!(took.as_secs_f64() < 2.0, "took {took:?} to stop");
}

#[test]
fn memory_puts_the_schedules_side_by_side_from_runs_in_their_own_processes() {
    let assert = chunkscope()
        .args([
            "memory",
            "--gdal-cache",
            "8",
            "--chunks",
            "3,64,64",
            "--threads",
            "2",
            "--repeat",
            "2",
            "--json",
            "--catalog",
        ])
        .arg(small_demo())
        .assert()
        .success();
    let v = json_of(&assert.get_output().stdout);
    assert_eq!(v["kind"], "memory");
    assert_eq!(v["gdal_cache"], "8 MB (--gdal-cache)");
    let rows = v["rows"].as_array().expect("rows");
    let labels: Vec<&str> = rows.iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(
        labels,
        [
            "serial",
            "chunked x 2 (3,64,64, staged)",
            "chunked x 2 (3,64,64, fused)"
        ]
    );
    // The 20 m grid of the small demo is 512 x 512: three image bands and SCL.
    let whole = 4 * 512 * 512;
    let peak = |i: usize| rows[i]["buffers_peak_bytes"]["median"].as_u64().unwrap();
    assert_eq!(peak(0), whole, "serial holds the whole image");
    assert_eq!(peak(1), whole, "staged loads every chunk before masking");
    assert!(
        peak(2) <= 2 * 4 * 64 * 64,
        "fused holds at most a chunk per worker: {}",
        peak(2)
    );
    for r in rows {
        assert_eq!(r["runs"], 2);
        assert!(r["process_max_rss_bytes"]["min"].as_u64().unwrap() > 0);
        assert!(!r["series"].as_array().unwrap().is_empty());
    }
}

#[test]
fn memory_refuses_zero_repeats_before_running_anything() {
    chunkscope()
        .args(["memory", "--repeat", "0", "--catalog"])
        .arg(small_demo())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--repeat must be at least 1"));
}

#[test]
fn a_run_started_by_a_large_process_reports_its_own_peak_memory() {
    // Linux carries ru_maxrss across execve: a child of a process holding 400 MiB read at
    // least 400 MiB as its own peak (the lesson's memory step, started from a TUI that had
    // run a few times, showed its parent's RSS for every schedule).
    let held = vec![1u8; 400 << 20];
    let dir = tempfile::tempdir().unwrap();
    let assert = chunkscope()
        .args(["run", "--format", "gtiff", "--json", "--catalog"])
        .arg(small_demo())
        .arg("--out")
        .arg(dir.path().join("masked.tif"))
        .assert()
        .success();
    let report = json_of(&assert.get_output().stdout);
    let peak = report["process_max_rss_bytes"].as_u64().unwrap();
    assert!(
        std::hint::black_box(&held)
            .iter()
            .step_by(4096)
            .all(|&b| b == 1)
    );
    assert!(
        peak > 0 && peak < 300 << 20,
        "the child's peak: {} MiB",
        peak >> 20
    );
}

/// The catalog's last item, the lesson's `items[-1]`: every command's default scene.
fn lesson_item_id() -> String {
    let catalog = chunkscope::catalog::Catalog::load(small_demo()).expect("demo catalog");
    catalog.items.last().expect("an item").id.clone()
}

#[test]
fn every_command_takes_the_lessons_item_and_the_catalog_the_same_way() {
    let last = lesson_item_id();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("masked.tif");
    let assert = chunkscope()
        .args(["run", "--chunks", "blocks:2", "--json", "--catalog"])
        .arg(small_demo())
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    assert_eq!(
        json_of(&assert.get_output().stdout)["config"]["item"],
        last.as_str()
    );

    // inspect: CATALOG as before, or --catalog as everywhere else; same item either way.
    for flag in [None, Some("--catalog")] {
        let mut cmd = chunkscope();
        cmd.args(["inspect", "--json"]).args(flag).arg(small_demo());
        let assert = cmd.assert().success();
        assert_eq!(
            json_of(&assert.get_output().stdout)["item"]["id"],
            last.as_str(),
            "{flag:?}"
        );
    }
    // export dask names the item it wrote the script for.
    chunkscope()
        .args(["export", "dask", "--out", "-", "--catalog"])
        .arg(small_demo())
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("#   item      {last}")));

    // tui and lesson accept --catalog: here they only refuse the missing terminal, which is
    // how far a run without one gets; a usage error would name the argument instead.
    for command in ["tui", "lesson", "screenshot"] {
        let mut cmd = chunkscope();
        cmd.args([command, "--catalog"]).arg(small_demo());
        if command == "screenshot" {
            cmd.args(["--view", "scenes", "--out"])
                .arg(dir.path().join("scenes.svg"));
            cmd.assert().success();
            continue;
        }
        cmd.assert()
            .code(2)
            .stderr(predicate::str::contains("not a terminal"))
            .stderr(predicate::str::contains("argument").not());
    }
    // Both at once is ambiguous: a usage error.
    chunkscope()
        .arg("tui")
        .arg(small_demo())
        .arg("--catalog")
        .arg(small_demo())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("cannot be used with"));
}

#[test]
fn a_zero_chunk_side_is_a_usage_error_on_every_command_that_plans() {
    for command in ["plan", "run", "compare", "export"] {
        let mut cmd = chunkscope();
        if command == "export" {
            cmd.args(["export", "dask", "--out", "-"]);
        } else {
            cmd.arg(command);
        }
        cmd.args(["--chunks", "0", "--catalog"])
            .arg(small_demo())
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "chunk side must be at least 1, got 0",
            ));
    }
}

#[test]
fn live_dask_in_the_lesson_is_refused_clearly_before_the_terminal_is_touched() {
    // A Python that does not exist: named, with the way to get one.
    chunkscope()
        .args(["lesson", "--catalog"])
        .arg(small_demo())
        .args(["--live-dask", "--python", "/nonexistent/python3"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("/nonexistent/python3"))
        .stderr(predicate::str::contains("not a terminal").not());
    // Dask reads the catalog's files, not chunkscope's simulated network.
    chunkscope()
        .args(["lesson", "--catalog"])
        .arg(small_demo())
        .args(["--live-dask", "--network", "50ms,25MiB/s"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "--live-dask runs Dask on the catalog's own files",
        ));
    // --python is for the live runs only.
    chunkscope()
        .args(["lesson", "--catalog"])
        .arg(small_demo())
        .args(["--python", "python3"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--live-dask"));
}

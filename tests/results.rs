//! The session history's figures on real runs, and `chunkscope screenshot --view` drawing
//! the Results and Sweep screens from saved files with the real binary.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is how a test fails (clippy.toml covers #[test] fns only)"
)]

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use chunkscope::experiment::history;
use chunkscope::pipeline::RunReport;
use chunkscope::profile::units;
use chunkscope::task::Stage;
use predicates::prelude::*;

use common::small_demo;

fn chunkscope() -> Command {
    Command::cargo_bin("chunkscope").expect("binary built")
}

/// `chunkscope run --mode both --json` on the small demo, saved to `dir/both.json`.
fn both_report(dir: &Path) -> PathBuf {
    let out = chunkscope()
        .args([
            "run",
            "--mode",
            "both",
            "--chunks",
            "3,128,128",
            "--threads",
            "2",
        ])
        .arg("--json")
        .arg("--catalog")
        .arg(small_demo())
        .arg("--out")
        .arg(dir.join("masked.tif"))
        .output()
        .expect("chunkscope runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join("both.json");
    std::fs::write(&path, &out.stdout).unwrap();
    path
}

#[test]
fn history_figures_follow_the_reports() {
    let dir = tempfile::tempdir().unwrap();
    let reports = history::load_reports(&both_report(dir.path())).unwrap();
    let [serial, chunked] = [&reports[0], &reports[1]];
    assert!(serial.config.chunks.is_none() && chunked.config.chunks.is_some());

    let rows = history::rows(&reports);
    assert_eq!(rows[0].baseline, Some(0), "serial is its own baseline");
    assert_eq!(rows[1].baseline, Some(0));
    let s = rows[1].speedup.unwrap();
    assert_eq!(s.value, serial.wall_ns as f64 / chunked.wall_ns as f64);
    assert_eq!(s.error, None, "one run each: no error bar");
    assert_eq!(rows[1].efficiency, Some(s.value / 2.0));
    // One run each: no configuration is starred, the fastest by median is named as such.
    assert_eq!(history::best(&reports), None);
    let fastest = if serial.wall_ns <= chunked.wall_ns {
        0
    } else {
        1
    };
    assert_eq!(
        history::best_run(&reports),
        Some(history::BestRun::TooFewRuns { by_median: fastest })
    );

    // A later serial run becomes the baseline; a cancelled one never does.
    let mut later = serial.clone();
    later.wall_ns = serial.wall_ns * 2;
    let mut cancelled = serial.clone();
    cancelled.cancelled = true;
    cancelled.wall_ns = 1;
    let runs: Vec<RunReport> = vec![serial.clone(), chunked.clone(), later.clone(), cancelled];
    let rows = history::rows(&runs);
    assert_eq!(rows[1].baseline, Some(2));
    assert_eq!(
        rows[1].speedup.unwrap().value,
        later.wall_ns as f64 / chunked.wall_ns as f64
    );
    assert_ne!(
        history::best(&runs),
        Some(3),
        "a cancelled run is never best"
    );

    // A/B stage by stage, ratio A / B; one run each cannot tell a difference from noise.
    let pairs = history::compare_runs(&reports, 0, 1);
    let load = pairs.iter().find(|p| p.stage == Some(Stage::Load)).unwrap();
    let (a, b) = (
        serial.stage(Stage::Load).unwrap().wall_ns,
        chunked.stage(Stage::Load).unwrap().wall_ns,
    );
    assert_eq!((load.a_ns, load.b_ns), (Some(a), Some(b)));
    assert_eq!(load.ratio, Some(a as f64 / b as f64));
    assert_eq!(load.difference, history::Difference::Unknown);
    assert_eq!(load.error, None);
    assert_eq!(pairs.last().unwrap().stage, None, "the total comes last");

    // CSV: one row per run.
    let mut csv = Vec::new();
    history::write_csv(&runs, &mut csv).unwrap();
    let text = String::from_utf8(csv.clone()).unwrap();
    assert_eq!(text.lines().count(), 1 + runs.len(), "{text}");
    // Read back as CSV: labels with commas stay one field, every row as wide as the header.
    let mut reader = csv::Reader::from_reader(csv.as_slice());
    let header = reader.headers().unwrap().clone();
    let label = header
        .iter()
        .position(|h| h == "config")
        .expect("a config column");
    let table = history::rows(&runs);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), runs.len());
    for (record, row) in records.iter().zip(&table) {
        assert_eq!(record.len(), header.len(), "{record:?}");
        assert_eq!(&record[label], row.label.as_str());
    }
    assert!(
        table.iter().any(|r| r.label.contains(',')),
        "a label with a comma is tested"
    );
}

#[test]
fn bad_report_files_say_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.json");
    std::fs::write(&path, "{\"schema_version\": 99}").unwrap();
    let err = history::load_reports(&path).unwrap_err().to_string();
    assert!(err.contains("schema_version 99"), "{err}");
    std::fs::write(&path, "not json").unwrap();
    let err = history::load_reports(&path).unwrap_err();
    assert!(
        matches!(err, history::ReportFileError::Parse { .. }),
        "{err:?}"
    );
    // The parser's own words stay under the message: where in the file it stopped.
    let text = chunkscope::error::chain(&err);
    assert!(text.contains("is not a chunkscope run report: "), "{text}");
    assert!(text.contains("line 1 column 2"), "{text}");
    std::fs::write(&path, "{}").unwrap();
    let err = history::load_reports(&path).unwrap_err();
    assert!(
        matches!(err, history::ReportFileError::NoVersion { .. }),
        "{err:?}"
    );
    let err = history::load_reports(&dir.path().join("missing.json"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot read the report file"), "{err}");
}

#[test]
fn screenshot_view_draws_results_from_a_saved_report() {
    let dir = tempfile::tempdir().unwrap();
    let report = both_report(dir.path());
    let reports = history::load_reports(&report).unwrap();
    let svg_path = dir.path().join("shots/results.svg");
    chunkscope()
        .args(["screenshot", "--view", "results", "--size", "160x48"])
        .arg("--report")
        .arg(&report)
        .arg("--out")
        .arg(&svg_path)
        .assert()
        .success()
        .stdout(predicate::str::contains("results.svg"));
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg"), "{svg:.100}");
    assert!(svg.contains("Wall per stage: serial #1 vs #2"), "{svg}");
    let speedup = units::ratio(reports[0].wall_ns as f64 / reports[1].wall_ns as f64);
    assert!(svg.contains(&format!("{speedup} vs serial #1")), "{svg}");
    let p50 = units::duration_us(reports[1].latency[0].summary.p50_us);
    assert!(svg.contains(&p50), "{p50}: {svg}");
    // Nothing was run: no output folder appeared.
    assert!(!dir.path().join("chunkscope-out").exists());
}

#[test]
fn screenshot_view_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    chunkscope()
        .args(["screenshot", "--view", "nonsense"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid value 'nonsense'"))
        .stderr(predicate::str::contains("results"));
    chunkscope()
        .args(["screenshot", "--view", "results"])
        .arg(small_demo())
        .arg("--out")
        .arg(dir.path().join("x.svg"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "--view results needs a run report",
        ));
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "[]").unwrap();
    chunkscope()
        .args(["screenshot", "--view", "results", "--report"])
        .arg(&bad)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("holds no report"));
    chunkscope()
        .args(["screenshot", "--view", "sweep", "--sweep"])
        .arg(dir.path().join("missing.json"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot read the sweep file"));
}

#[test]
fn screenshot_view_draws_a_sweep_file() {
    let dir = tempfile::tempdir().unwrap();
    let sweep = dir.path().join("sweep.json");
    chunkscope()
        .args([
            "sweep",
            "--chunks",
            "128,256",
            "--threads",
            "1,2",
            "--repeat",
            "1",
        ])
        .arg("--catalog")
        .arg(small_demo())
        .arg("--json")
        .arg(&sweep)
        .assert()
        .success();
    let svg = dir.path().join("sweep.svg");
    chunkscope()
        .args([
            "screenshot",
            "--view",
            "sweep",
            "--size",
            "160x48",
            "--sweep",
        ])
        .arg(&sweep)
        .arg("--out")
        .arg(&svg)
        .assert()
        .success();
    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.contains("Median wall vs chunk side"), "{svg}");
    assert!(svg.contains("★ best"), "{svg}");
    assert!(svg.contains("x1") && svg.contains("x2"), "{svg}");
}

/// `walls` (ms) as runs of `like`'s configuration.
fn repeats(like: &RunReport, walls: &[u64]) -> Vec<RunReport> {
    walls
        .iter()
        .map(|&ms| {
            let mut r = like.clone();
            r.wall_ns = ms * 1_000_000;
            for s in &mut r.stages {
                s.wall_ns = ms * 250_000;
            }
            r
        })
        .collect()
}

#[test]
fn the_best_run_and_a_b_differences_are_decided_beyond_the_noise() {
    let dir = tempfile::tempdir().unwrap();
    let reports = history::load_reports(&both_report(dir.path())).unwrap();
    let [serial, chunked] = [&reports[0], &reports[1]];

    // Three runs each, every chunked run faster than every serial one: chunked is best,
    // starred on its latest run, and the A/B difference is clear.
    let mut runs = repeats(serial, &[100, 104, 102]);
    runs.extend(repeats(chunked, &[60, 63, 61]));
    assert_eq!(history::best_run(&runs), Some(history::BestRun::Clear(5)));
    assert_eq!(history::best(&runs), Some(5));
    let total = history::compare_runs(&runs, 0, 3).pop().unwrap();
    assert_eq!(total.stage, None);
    assert_eq!(
        (total.a_ns, total.b_ns),
        (Some(102_000_000), Some(61_000_000))
    );
    assert_eq!(total.difference, history::Difference::Clear);
    assert!(total.error.is_some());

    // Overlapping runs: no star, the tie is named, and the A/B says "within noise".
    let mut runs = repeats(serial, &[100, 62, 102]);
    runs.extend(repeats(chunked, &[60, 63, 101]));
    assert_eq!(history::best(&runs), None);
    assert!(matches!(
        history::best_run(&runs),
        Some(history::BestRun::Tied { .. })
    ));
    let total = history::compare_runs(&runs, 0, 3).pop().unwrap();
    assert_eq!(total.difference, history::Difference::WithinNoise);

    // Runs with other settings are no baseline and no rival, and an A/B of them says how
    // they differ.
    let mut gtiff = chunked.clone();
    gtiff.config.format = "gtiff".into();
    let runs = vec![serial.clone(), gtiff.clone()];
    assert_eq!(history::serial_baseline(&runs, &gtiff), None);
    assert_eq!(
        history::setting_differences(serial, &gtiff),
        ["format cog vs gtiff"]
    );
    assert!(history::same_settings(serial, chunked));
}

//! compare and sweep: the statistics against hand-computed numbers, the engine on the small
//! demo (cancellation, progress), and the real binary's output, JSON and CSV files.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is how a test fails (clippy.toml covers #[test] fns only)"
)]

mod common;

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

use chunkscope::chunks::ChunkRequest;
use chunkscope::experiment::compare;
use chunkscope::experiment::rounds::{Repetition, RunBase};
use chunkscope::experiment::sweep::{self, SweepFileError, SweepResult, SweepSpec};
use chunkscope::output::{OutputFormat, OutputSpec};
use chunkscope::pipeline::{CloudClasses, Resolution, Schedule};
use chunkscope::profile::stats::{
    AmdahlFit, Speedup, Timing, Warning, modified_z_scores, outlier_indices,
};
use chunkscope::task::{CancelFlag, Stage};

use common::{small_demo, small_scene};

fn chunkscope() -> Command {
    Command::cargo_bin("chunkscope").expect("binary built")
}

/// Tests that run the pipeline take turns: a test's timings must not include another
/// test's runs competing for the same cores.
fn exclusive() -> MutexGuard<'static, ()> {
    static RUNS: Mutex<()> = Mutex::new(());
    RUNS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

fn threads(list: &[usize]) -> Vec<NonZeroUsize> {
    list.iter()
        .map(|&t| NonZeroUsize::new(t).unwrap())
        .collect()
}

// --- statistics -------------------------------------------------------------------------

#[test]
fn timing_has_median_mean_sample_stdev_and_range() {
    let t = Timing::from_ns(&[30, 10, 50, 20, 40]).unwrap();
    assert_eq!(t.n, 5);
    assert_eq!(t.median_ns, 30);
    assert_eq!(t.mean_ns, 30.0);
    // Sample variance: (400 + 100 + 0 + 100 + 400) / 4 = 250.
    assert!(close(t.stdev_ns.unwrap(), 250f64.sqrt(), 1e-12));
    assert_eq!((t.min_ns, t.max_ns), (10, 50));
    assert_eq!(t.values_ns, [30, 10, 50, 20, 40]);
    assert!(t.outliers.is_empty());

    let even = Timing::from_ns(&[400, 100, 300, 200]).unwrap();
    assert_eq!(even.median_ns, 250);
    assert_eq!(even.mean_ns, 250.0);

    let one = Timing::from_ns(&[7]).unwrap();
    assert_eq!(one.stdev_ns, None, "one run has no spread");
}

#[test]
fn the_modified_z_score_flags_the_obvious_outlier_and_not_the_others() {
    let runs = [100, 101, 102, 99, 100, 250];
    // median 100.5; |deviations| 0.5 0.5 1.5 1.5 0.5 149.5; MAD = 1.0.
    let z = modified_z_scores(&runs.map(|v| v as f64));
    assert!(close(z[5], 0.6745 * 149.5, 1e-9));
    assert!(close(z[2], 0.6745 * 1.5, 1e-9));
    assert_eq!(outlier_indices(&runs), vec![5]);
    assert_eq!(Timing::from_ns(&runs).unwrap().outliers, vec![5]);
    // A spread-out but regular sample has none.
    assert!(outlier_indices(&[100, 120, 140, 160, 180]).is_empty());
}

#[test]
fn speedup_error_propagates_both_relative_spreads() {
    // serial: mean 100, σ 10 (10 %); parallel: mean 50, σ 5 (10 %).
    let serial = Timing::from_ns(&[90, 100, 110]).unwrap();
    let parallel = Timing::from_ns(&[45, 50, 55]).unwrap();
    let s = Speedup::of(&serial, &parallel).unwrap();
    assert_eq!(s.value, 2.0);
    // 2 x sqrt(0.1² + 0.1²) = 0.282842712...
    assert!(close(s.error.unwrap(), 0.282_842_712_474_619, 1e-12));
    assert_eq!(s.efficiency(2), 1.0);
    assert_eq!(s.efficiency(4), 0.5);

    // serial: mean 100, σ 20 (20 %); parallel: median 25, mean 25, σ 1 (4 %).
    let serial = Timing::from_ns(&[80, 100, 120]).unwrap();
    let parallel = Timing::from_ns(&[24, 25, 26]).unwrap();
    let s = Speedup::of(&serial, &parallel).unwrap();
    assert_eq!(s.value, 4.0);
    // 4 x sqrt(0.04 + 0.0016) = 0.81584312...
    assert!(close(s.error.unwrap(), 4.0 * 0.0416f64.sqrt(), 1e-12));
    assert!(close(s.error.unwrap(), 0.815_843, 1e-6));

    let once = Timing::from_ns(&[50]).unwrap();
    assert_eq!(Speedup::of(&serial, &once).unwrap().error, None);
}

#[test]
fn the_amdahl_fit_recovers_the_serial_fraction() {
    let model = |n: usize| 100.0 * (0.2 + 0.8 / n as f64);
    // With a 1-thread point, T1 is that point and f comes from the closed form.
    let pts: Vec<(usize, f64)> = [1, 2, 4, 8].iter().map(|&n| (n, model(n))).collect();
    let fit = AmdahlFit::fit(&pts).unwrap();
    assert!(close(fit.serial_fraction, 0.2, 1e-6), "{fit:?}");
    assert!(fit.t1_measured);
    assert_eq!(fit.t1_ns, 100.0);
    assert!(fit.rms_residual_ns < 1e-6);
    assert!(close(fit.max_speedup(), 5.0, 1e-6));
    // Without one, T1 and f are both fitted.
    let pts: Vec<(usize, f64)> = [2, 4, 8].iter().map(|&n| (n, model(n))).collect();
    let fit = AmdahlFit::fit(&pts).unwrap();
    assert!(close(fit.serial_fraction, 0.2, 1e-6), "{fit:?}");
    assert!(close(fit.t1_ns, 100.0, 1e-6));
    assert!(!fit.t1_measured);
    assert!(close(fit.predict_ns(16), model(16), 1e-6));
    // One thread count is no fit.
    assert!(AmdahlFit::fit(&[(2, 60.0)]).is_none());
}

#[test]
fn warnings_name_short_noisy_and_cold_measurements() {
    let short = Timing::from_ns(&[4_000_000, 4_100_000, 3_900_000]).unwrap();
    let w = Warning::check("chunked x 2", &short);
    assert_eq!(
        w,
        [Warning::TooShort {
            config: "chunked x 2".into(),
            median_ns: 4_000_000
        }]
    );
    assert!(w[0].to_string().contains("too short to trust"));

    let cold = Timing::from_ns(&[200_000_000, 100_000_000, 104_000_000, 98_000_000]).unwrap();
    let w = Warning::check("serial", &cold);
    assert!(w.contains(&Warning::ColdFirstRun {
        config: "serial".into(),
        first_ns: 200_000_000,
        rest_median_ns: 100_000_000,
    }));
    assert!(w.contains(&Warning::Outliers {
        config: "serial".into(),
        count: 1,
        runs: 4,
        disturbed: 0,
    }));
    // Nothing marked disturbed: the warning does not blame other programs for it.
    let outliers = w
        .iter()
        .find(|w| matches!(w, Warning::Outliers { .. }))
        .unwrap()
        .to_string();
    assert!(
        outliers.contains("no run was marked disturbed"),
        "{outliers}"
    );
    let marked = Warning::check("serial", &cold.clone().with_disturbed(2));
    let outliers = marked
        .iter()
        .find(|w| matches!(w, Warning::Outliers { .. }))
        .unwrap()
        .to_string();
    assert!(
        outliers.contains("other programs took the CPU during 2 of the runs"),
        "{outliers}"
    );
    let steady = Timing::from_ns(&[100_000_000, 101_000_000, 99_000_000]).unwrap();
    assert!(Warning::check("serial", &steady).is_empty());
}

// --- the engine on the small demo -------------------------------------------------------

fn base(dir: &Path) -> RunBase {
    RunBase {
        resolution: Resolution::R20,
        cloud_classes: CloudClasses::new(&CloudClasses::DEFAULT),
        output: OutputSpec::new(dir.join("out.tif"), OutputFormat::Gtiff),
        gdal_cache_mb: None,
        blocks: Default::default(),
    }
}

#[test]
fn a_cancel_stops_between_runs_and_keeps_the_runs_that_finished() {
    let _turn = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let spec = SweepSpec {
        chunks: vec![ChunkRequest::Square(128), ChunkRequest::Square(256)],
        threads: threads(&[1, 2]),
        schedule: Schedule::Staged,
        repetition: Repetition {
            repeat: 2,
            warmup: 1,
        },
        budget: std::time::Duration::ZERO,
    };
    let cancel = CancelFlag::new();
    let calls = std::cell::RefCell::new(Vec::new());
    // Progress is told before each run; cancelling there stops the run it announces, which
    // is the warm-up plus three measured runs in: serial, x1 @ 128, x2 @ 128 kept.
    let progress = |done: usize, total: usize, label: &str| {
        calls.borrow_mut().push((done, total, label.to_string()));
        if done == 4 {
            cancel.cancel();
        }
    };
    let r = sweep::sweep(&small_scene(), &base(dir.path()), &spec, &cancel, &progress).unwrap();
    assert!(r.cancelled);
    assert_eq!((r.runs_done, r.runs_planned), (3, 10));
    let labels: Vec<&str> = r.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["serial", "chunked x 1 @ 128", "chunked x 2 @ 128"]);
    let calls = calls.into_inner();
    assert_eq!(calls[0], (0, 11, "serial (warm-up)".to_string()));
    assert_eq!(calls[1], (1, 11, "serial".to_string()));
    assert_eq!(calls.len(), 5, "no call after the cancelled run: {calls:?}");
}

#[test]
fn a_bad_chunk_request_fails_before_any_run() {
    let _turn = exclusive();
    let dir = tempfile::tempdir().unwrap();
    // At 10 m the grid is 1024 x 1024: 1-pixel chunks would be 3 M tasks, over the limit.
    let one = ChunkRequest::Explicit {
        bands: 1,
        rows: 1,
        cols: 1,
    };
    let spec = SweepSpec {
        chunks: vec![ChunkRequest::Square(128), one],
        threads: threads(&[1]),
        schedule: Schedule::Staged,
        repetition: Repetition {
            repeat: 1,
            warmup: 0,
        },
        budget: std::time::Duration::ZERO,
    };
    let ran = std::cell::Cell::new(0);
    let base = RunBase {
        resolution: Resolution::R10,
        ..base(dir.path())
    };
    let err = sweep::sweep(
        &small_scene(),
        &base,
        &spec,
        &CancelFlag::new(),
        &|_, _, _| ran.set(ran.get() + 1),
    )
    .unwrap_err();
    assert_eq!(ran.get(), 0, "{err}");
    assert!(err.to_string().contains("\"1,1,1\""), "{err}");
    let source = std::error::Error::source(&err).map(ToString::to_string);
    assert!(source.unwrap_or_default().contains("more than"));
}

#[test]
fn compare_in_the_engine_alternates_and_fits() {
    let _turn = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let spec = compare::CompareSpec {
        chunks: ChunkRequest::Square(128),
        threads: threads(&[1, 2]),
        schedule: Schedule::Fused,
        repetition: Repetition {
            repeat: 2,
            warmup: 0,
        },
    };
    let order = std::cell::RefCell::new(Vec::new());
    let r = compare::compare(
        &small_scene(),
        &base(dir.path()),
        &spec,
        &CancelFlag::new(),
        &|_, _, label| order.borrow_mut().push(label.to_string()),
    )
    .unwrap();
    assert_eq!(
        order.into_inner(),
        [
            "serial",
            "chunked x 1",
            "chunked x 2",
            "serial",
            "chunked x 1",
            "chunked x 2",
            ""
        ]
    );
    assert_eq!(r.configs.len(), 3);
    for c in &r.configs {
        assert_eq!(c.total.timing.n, 2);
        let stages: Vec<Stage> = c.stages.iter().map(|s| s.stage).collect();
        assert_eq!(stages, Stage::ALL);
    }
    assert_eq!(r.configs[0].total.speedup, Some(Speedup::REFERENCE));
    let fit = r.amdahl.as_ref().unwrap();
    assert!((0.0..=1.0).contains(&fit.serial_fraction));
    assert_eq!(fit.points.len(), 2);
}

// --- the real binary --------------------------------------------------------------------

#[test]
fn sweep_writes_a_table_json_and_csv_that_agree() {
    let _turn = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let (csv, json) = (dir.path().join("sweep.csv"), dir.path().join("sweep.json"));
    // GeoTIFF output: the COG copy at the end is the same GDAL call in every configuration
    // and its noise would swamp a single run's differences.
    let assert = chunkscope()
        .args([
            "sweep",
            "--chunks",
            "128,100",
            "--threads",
            "1,2",
            "--repeat",
            "1",
            "--budget",
            "0",
            "--format",
            "gtiff",
            "--catalog",
        ])
        .arg(small_demo())
        .arg("--csv")
        .arg(&csv)
        .arg("--json")
        .arg(&json)
        .assert()
        .success()
        .stdout(predicate::str::contains("chunked x 2 @ 100"))
        .stdout(predicate::str::contains("\nbest: none named ("))
        .stdout(predicate::str::contains(
            "do not line up with the COG blocks",
        ));
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout);

    let r = SweepResult::load(&json).unwrap();
    assert_eq!(r.schema_version, 1);
    assert!(!r.cancelled);
    let labels: Vec<&str> = r.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(
        labels,
        [
            "serial",
            "chunked x 1 @ 128",
            "chunked x 2 @ 128",
            "chunked x 1 @ 100",
            "chunked x 2 @ 100"
        ]
    );
    let serial = &r.rows[0];
    assert_eq!(serial.speedup.unwrap().value, 1.0);
    assert_eq!(serial.efficiency, Some(1.0));
    assert!(serial.plan.is_none());
    for row in &r.rows {
        assert_eq!(row.runs, 1);
        // Efficiency is the speedup per thread; one noisy run each bounds nothing more.
        let eff = row.efficiency.unwrap();
        let speedup = row.speedup.unwrap().value;
        assert!(eff > 0.0, "{}: efficiency {eff}", row.label);
        assert!(
            (eff - speedup / row.threads as f64).abs() < 1e-12,
            "{}: efficiency {eff}, speedup {speedup}",
            row.label
        );
        assert!(row.decoded_mb_s > 0.0);
        assert!(row.peak_rss_bytes > 0);
        assert_eq!(row.stage_wall_ns.len(), 4);
    }
    for row in &r.rows[1..3] {
        let plan = row.plan.as_ref().unwrap();
        assert_eq!(plan.read_amplification, 1.0);
        assert!(plan.aligned);
        assert_eq!(plan.chunk_count, 16);
    }
    for row in &r.rows[3..] {
        let plan = row.plan.as_ref().unwrap();
        assert!(
            plan.read_amplification > 1.05,
            "{}",
            plan.read_amplification
        );
        assert!(!plan.aligned);
        assert_eq!(plan.chunk_count, 36);
    }
    // One run each and no budget for more: no winner is named, and the table says why.
    assert!(r.best.is_none());
    assert_eq!(r.extra_runs, 0);
    let tie = r.no_clear_winner.as_ref().unwrap();
    let fastest = r.rows.iter().map(|r| r.wall.median_ns).min().unwrap();
    assert_eq!(r.rows[tie.rows[0]].wall.median_ns, fastest);
    assert!(tie.reason.contains("fewer than the 3"), "{}", tie.reason);
    assert!(stdout.contains(&tie.reason), "the reason is printed");
    assert!(r.flags.iter().any(
        |f| matches!(f, sweep::Flag::Misaligned { config, .. } if config == "chunked x 1 @ 100")
    ));

    // Round trip: what load read saves back to the same JSON.
    let again = dir.path().join("again.json");
    r.save(&again).unwrap();
    let read = |p: &Path| -> Value { serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap() };
    assert_eq!(read(&json), read(&again));
    assert_eq!(SweepResult::load(&again).unwrap(), r);

    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + r.rows.len());
    assert!(lines[0].starts_with("config,chunks,bands,rows,cols,threads,runs,load_ns,"));
    let columns = lines[0].split(',').count();
    for line in &lines[1..] {
        assert_eq!(line.split(',').count(), columns, "{line}");
    }
    assert!(lines[1].starts_with("serial,,,,,1,1,"));
    assert!(lines[4].starts_with("chunked x 1 @ 100,100,3,100,100,1,1,"));
}

#[test]
fn a_sweep_names_a_best_only_when_every_run_of_it_beat_every_other() {
    let _turn = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("sweep.json");
    chunkscope()
        .args([
            "sweep",
            "--chunks",
            "64,128",
            "--threads",
            "1,2",
            "--repeat",
            "3",
            "--budget",
            "20s",
            "--format",
            "gtiff",
            "--catalog",
        ])
        .arg(small_demo())
        .arg("--json")
        .arg(&json)
        .assert()
        .success();
    let r = SweepResult::load(&json).unwrap();
    assert!(r.rows.iter().all(|row| row.runs >= 3));
    match (&r.best, &r.no_clear_winner) {
        (Some(best), None) => {
            let b = &r.rows[best.row].wall;
            for (i, other) in r.rows.iter().enumerate().filter(|(i, _)| *i != best.row) {
                assert!(
                    b.max_ns < other.wall.min_ns,
                    "{} named best but row {i} ({}) has a run as fast",
                    best.label,
                    other.label
                );
            }
        }
        (None, Some(tie)) => {
            let first = &r.rows[tie.rows[0]].wall;
            assert!(tie.rows.len() >= 2, "{tie:?}");
            for &i in &tie.rows[1..] {
                assert!(r.rows[i].wall.min_ns <= first.max_ns, "row {i} is not tied");
            }
            // The budget was spent on the tied ones, not on the rest.
            assert!(r.extra_runs > 0 || tie.rows.iter().all(|&i| r.rows[i].runs >= 15));
        }
        other => panic!("a finished sweep concludes one way: {other:?}"),
    }
}

#[test]
fn bench_is_a_sweep_preset_and_leaves_no_scratch_files() {
    let _turn = exclusive();
    let tmp = tempfile::tempdir().unwrap();
    let assert = chunkscope()
        .args([
            "bench",
            "--chunks",
            "128",
            "--threads",
            "2",
            "--repeat",
            "1",
            "--warmup",
            "0",
            "--format",
            "gtiff",
            "--json",
            "-",
            "--catalog",
        ])
        .arg(small_demo())
        .env("TMPDIR", tmp.path())
        .assert()
        .success();
    // The sweep's own result, on stdout.
    let r: SweepResult = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    let labels: Vec<&str> = r.rows.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(labels, ["serial", "chunked x 2 @ 128"]);
    assert_eq!(r.repeat, 1);
    // The leaders got more runs within the default budget, so the conclusion rests on at
    // least 3 runs of whichever configuration leads.
    let leader = r
        .best
        .as_ref()
        .map(|b| b.row)
        .or(r.no_clear_winner.as_ref().map(|t| t.rows[0]))
        .unwrap();
    assert!(r.rows[leader].runs >= 3, "{:?}", r.rows[leader]);
    assert!(r.extra_runs >= 2);
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "scratch files left behind: {left:?}");

    // Failing after the scratch folder exists (a codec GDAL does not know) leaves none.
    chunkscope()
        .args([
            "bench",
            "--chunks",
            "128",
            "--compress",
            "JPEG2000",
            "--catalog",
        ])
        .arg(small_demo())
        .env("TMPDIR", tmp.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("JPEG2000"));
    let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().collect();
    assert!(left.is_empty(), "scratch files left behind: {left:?}");

    // The preset's matrix mode takes no single-run options: --out is refused, not ignored.
    chunkscope()
        .args(["bench", "--out", "x.tif", "--catalog"])
        .arg(small_demo())
        .assert()
        .code(2);
    // --profiling-cost measures one configuration.
    chunkscope()
        .args(["bench", "--profiling-cost", "--threads", "1,2", "--catalog"])
        .arg(small_demo())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("one thread count"));
}

#[test]
fn profiling_cost_reports_its_pairs_and_a_median_inside_its_quartiles() {
    let _turn = exclusive();
    let out = chunkscope()
        .args([
            "bench",
            "--profiling-cost",
            "--repeat",
            "5",
            "--json",
            "-",
            "--catalog",
        ])
        .arg(small_demo())
        .output()
        .expect("chunkscope runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["pairs"], 5);
    for side in ["profiled_wall_ns", "unprofiled_wall_ns"] {
        let walls = v[side].as_array().expect(side);
        assert_eq!(walls.len(), 5, "{side}");
        assert!(
            walls.iter().all(|w| w.as_u64().is_some_and(|ns| ns > 0)),
            "{side}"
        );
    }
    let ratio = v["median_ratio"].as_f64().expect("a ratio");
    let q = v["ratio_quartiles"].as_array().expect("quartiles");
    let (q1, q3) = (q[0].as_f64().unwrap(), q[1].as_f64().unwrap());
    assert!(q1 <= ratio && ratio <= q3, "{q1} <= {ratio} <= {q3}");
    let share = v["profiling_cpu_share"].as_f64().expect("a share");
    assert!((0.0..1.0).contains(&share), "{share}");
}

#[test]
fn compare_prints_json_with_medians_speedups_and_amdahl() {
    let _turn = exclusive();
    let assert = chunkscope()
        .args([
            "compare",
            "--chunks",
            "128",
            "--threads",
            "1,2",
            "--repeat",
            "2",
            "--json",
            "--catalog",
        ])
        .arg(small_demo())
        .assert()
        .success();
    let v: Value = serde_json::from_slice(&assert.get_output().stdout).expect("stdout is JSON");
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["repeat"], 2);
    assert_eq!(
        v["plan"]["shape"],
        serde_json::json!({"bands": 3, "rows": 128, "cols": 128})
    );
    let configs = v["configs"].as_array().unwrap();
    let labels: Vec<&str> = configs
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["serial", "chunked x 1", "chunked x 2"]);
    for c in configs {
        let stages: Vec<&str> = c["stages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["stage"].as_str().unwrap())
            .collect();
        assert_eq!(stages, ["load", "mask", "write", "finalize"]);
        for s in c["stages"].as_array().unwrap() {
            assert!(s["timing"]["median_ns"].as_u64().unwrap() > 0);
            assert_eq!(s["timing"]["n"], 2);
            assert!(s["speedup"]["value"].as_f64().unwrap() > 0.0);
        }
        assert!(c["total"]["timing"]["median_ns"].as_u64().unwrap() > 0);
        assert!(c["total"]["timing"]["stdev_ns"].as_f64().is_some());
        assert!(c["total"]["speedup"]["value"].as_f64().unwrap() > 0.0);
    }
    assert_eq!(configs[0]["total"]["speedup"]["value"], 1.0);
    assert!(configs[2]["total"]["speedup"]["error"].as_f64().is_some());
    // Each speedup is serial's median over the configuration's, stage by stage and in
    // total, so the table's ratios are the medians it shows.
    fn at<'a>(c: &'a Value, stage: &str) -> &'a Value {
        if stage == "total" {
            return &c["total"];
        }
        let stages = c["stages"].as_array().unwrap();
        stages.iter().find(|s| s["stage"] == stage).unwrap()
    }
    let median =
        |c: &Value, stage: &str| at(c, stage)["timing"]["median_ns"].as_u64().unwrap() as f64;
    let speedup = |c: &Value, stage: &str| at(c, stage)["speedup"]["value"].as_f64().unwrap();
    for c in &configs[1..] {
        for stage in ["load", "mask", "write", "finalize", "total"] {
            let expected = median(&configs[0], stage) / median(c, stage);
            let got = speedup(c, stage);
            assert!(
                (got - expected).abs() <= 1e-9 * expected.max(1.0),
                "{} {stage}: speedup {got} but medians give {expected}",
                c["label"]
            );
        }
        // The total is the wall of the run, which holds its stages.
        let stages: f64 = ["load", "mask", "write", "finalize"]
            .iter()
            .map(|stage| median(c, stage))
            .sum();
        assert!(
            median(c, "total") >= 0.5 * stages,
            "{}: total median below its stages'",
            c["label"]
        );
    }
    let f = v["amdahl"]["serial_fraction"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&f), "serial fraction {f}");
    // The JSON reads back into the engine's type.
    let typed: compare::CompareResult = serde_json::from_value(v).unwrap();
    assert_eq!(typed.configs.len(), 3);
}

#[test]
fn compare_prints_tables_per_stage_and_labels_warnings() {
    let _turn = exclusive();
    chunkscope()
        .args([
            "compare",
            "--chunks",
            "256",
            "--threads",
            "2",
            "--repeat",
            "1",
            "--warmup",
            "0",
            "--catalog",
        ])
        .arg(small_demo())
        .assert()
        .success()
        .stdout(predicate::str::contains("\nload\n  config "))
        .stdout(predicate::str::contains("\ntotal\n"))
        .stdout(predicate::str::contains("1.00x (ref)"))
        .stdout(predicate::str::contains(
            "Amdahl fit: needs at least two thread counts",
        ))
        .stderr(predicate::str::contains("error").not());
}

#[test]
fn a_sweep_file_of_another_version_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.json");
    std::fs::write(&path, r#"{"schema_version": 99, "rows": []}"#).unwrap();
    let err = SweepResult::load(&path).unwrap_err();
    assert!(matches!(err, SweepFileError::Version { found: 99, .. }));
    assert!(err.to_string().contains("old.json"), "{err}");
    std::fs::write(&path, "not json").unwrap();
    assert!(matches!(
        SweepResult::load(&path).unwrap_err(),
        SweepFileError::Parse { .. }
    ));
}

#[test]
fn usage_errors_quote_the_bad_value() {
    let _turn = exclusive();
    chunkscope()
        .args(["sweep", "--chunks", "128,zero", "--catalog"])
        .arg(small_demo())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("\"zero\""));
    chunkscope()
        .args(["compare", "--repeat", "0", "--catalog"])
        .arg(small_demo())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--repeat must be at least 1"));
}

#[test]
fn ctrl_c_stops_a_sweep_with_exit_130_and_prints_what_ran() {
    let _turn = exclusive();
    let tmp = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("chunkscope"))
        .args([
            "sweep",
            "--chunks",
            "128",
            "--threads",
            "1",
            "--repeat",
            "500",
            "--warmup",
            "0",
            "--format",
            "gtiff",
            "--catalog",
        ])
        .arg(small_demo())
        .env("TMPDIR", tmp.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The scratch folder (`chunkscope-sweep-pPID-tSTART`) appears once the Ctrl-C handler
    // is installed.
    let prefix = format!("chunkscope-sweep-p{}-t", child.id());
    let deadline = Instant::now() + Duration::from_secs(60);
    let scratch = loop {
        let found = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&prefix)
            });
        if let Some(dir) = found {
            break dir;
        }
        assert!(Instant::now() < deadline, "the sweep never started");
        std::thread::sleep(Duration::from_millis(20));
    };
    // The first run (serial, no warm-up) leaves its output in the scratch folder when it
    // completes: from then on there is a finished run to print.
    let first_output = scratch.join("sweep.tif");
    while !first_output.exists() {
        assert!(Instant::now() < deadline, "the first run never finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill only sends a signal to the child we spawned.
    let rc = unsafe { libc::kill(pid, libc::SIGINT) };
    assert_eq!(rc, 0);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("cancelled after "), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("\nserial "), "{stdout}");
    assert!(!scratch.exists(), "the scratch folder is removed");
}

//! Importing Dask's own task streams: the three real recordings of the lesson pipeline
//! (`tests/fixtures/dask/`) read whole, their tasks checked against the chunk plan
//! their header names, and damaged streams refused by the real binary with a message.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use assert_cmd::Command;
use chunkscope::dask::{DaskStream, DaskSummary, TaskStage};
use chunkscope::task::Stage;
use serde_json::Value;

const FIXTURES: &str = "tests/fixtures/dask";

/// (file, task records, chunk side, side of the 20 m grid the chunks cover).
const STREAMS: [(&str, usize, u32, u32); 3] = [
    ("demo-2048-chunks256-threads2.json", 100, 256, 1024),
    ("demo-full-chunks1024-threads2.json", 220, 1024, 5490),
    ("demo-full-chunks256-threads2.json", 2908, 256, 5490),
];

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(FIXTURES).join(name)
}

fn chunkscope() -> Command {
    Command::cargo_bin("chunkscope").expect("binary built")
}

#[test]
fn real_streams_import_whole_onto_two_lanes() {
    for (file, records, side, grid_side) in STREAMS {
        let stream = DaskStream::read(&fixture(file)).unwrap();
        assert_eq!(stream.tasks.len(), records, "{file}");
        assert_eq!(stream.lanes.len(), 2, "{file}: 1 worker x 2 threads");
        let cluster = stream.header.cluster.as_ref().unwrap();
        assert_eq!(
            (cluster.n_workers, cluster.threads_per_worker),
            (Some(1), Some(2))
        );
        assert_eq!(
            stream.lanes[0].worker, stream.lanes[1].worker,
            "{file}: one worker"
        );
        assert_eq!(
            stream.header.chunks,
            Some(vec![3, side.into(), side.into()])
        );
        let n = grid_side.div_ceil(side);
        assert_eq!(stream.grid, (n, n), "{file}");
        assert_eq!(stream.erred(), 0);
        assert!(stream.tasks.iter().any(|t| t.start_ns == 0));
        assert!(stream.tasks.iter().all(|t| t.start_ns <= t.stop_ns));
    }
}

/// What holds in the recordings, per chunk count C: each asset's reads (`open_rasterio`,
/// one key name per asset: SCL and visual), the SCL band selection (`getitem`), both steps
/// of `isin` (`any-any-aggregate`, `any-aggregate`) and the store (`store-map`) each have
/// exactly one task per chunk, covering the grid once; besides them, one
/// `original-open_rasterio` per asset (load), one finalize and the cloud classes as a
/// one-chunk `array` (other).
#[test]
fn chunk_tasks_follow_the_chunk_plan() {
    for (file, records, side, grid_side) in STREAMS {
        let stream = DaskStream::read(&fixture(file)).unwrap();
        let per_side = grid_side.div_ceil(side);
        let chunks = (per_side * per_side) as usize;
        let grid: BTreeSet<(u32, u32)> = (0..per_side)
            .flat_map(|r| (0..per_side).map(move |c| (r, c)))
            .collect();
        let mut by_name: BTreeMap<&str, Vec<(u32, u32)>> = BTreeMap::new();
        for t in &stream.tasks {
            if let Some(c) = t.chunk {
                by_name
                    .entry(t.name.as_str())
                    .or_default()
                    .push((c.row, c.col));
            }
        }
        let mut labels: Vec<String> = Vec::new();
        for (name, mut cells) in by_name {
            let label = chunkscope::dask::key::label(name);
            cells.sort_unstable();
            let covered: BTreeSet<(u32, u32)> = cells.iter().copied().collect();
            assert_eq!(cells.len(), chunks, "{file}: {label}: one task per chunk");
            assert_eq!(covered, grid, "{file}: {label}: every chunk once");
            labels.push(label);
        }
        labels.sort();
        assert_eq!(
            labels,
            [
                "any-aggregate",
                "any-any-aggregate",
                "getitem",
                "open_rasterio",
                "open_rasterio",
                "store-map"
            ],
            "{file}: two assets read, one name per other step"
        );

        let summary = DaskSummary::of(&stream).unwrap();
        let count = |stage: &str| {
            let s = summary.stage(stage).unwrap();
            (s.tasks, s.chunk_tasks)
        };
        assert_eq!(count("load"), (3 * chunks + 2, 3 * chunks), "{file}");
        assert_eq!(count("mask"), (2 * chunks, 2 * chunks), "{file}");
        assert_eq!(count("write"), (chunks, chunks), "{file}");
        assert_eq!(count("finalize"), (1, 0), "{file}");
        assert_eq!(count("other"), (1, 0), "{file}");
        assert_eq!(summary.stage("other").unwrap().labels, ["array"]);
        let total: usize = summary.stages.iter().map(|s| s.tasks).sum();
        assert_eq!(total, records, "{file}: no task lost");
        for s in &summary.stages {
            assert_eq!(
                usize::try_from(s.latency.count).unwrap(),
                s.tasks,
                "{file}: {}",
                s.stage
            );
        }
    }
}

#[test]
fn figures_agree_with_the_engine_overhead() {
    for (file, records, _, _) in STREAMS {
        let stream = DaskStream::read(&fixture(file)).unwrap();
        let s = DaskSummary::of(&stream).unwrap();
        let o = &s.overhead;
        assert_eq!(o.threads, 2);
        assert_eq!(o.parts.sum(), o.total_ns, "{file}: the parts add up");
        assert_eq!(
            s.gaps.total_ns, o.parts.scheduling_ns,
            "{file}: the gaps are the scheduling part"
        );
        assert_eq!(
            s.gaps.count,
            records - 2 - 2,
            "{file}: n - 1 per lane, finalize and array aside"
        );
        assert!(s.wall_ns >= o.window_ns);
        let lane_tasks: usize = s.lanes.iter().map(|l| l.tasks).sum();
        assert_eq!(lane_tasks, records);
        for lane in &s.lanes {
            assert!(lane.busy_ns <= s.wall_ns, "{file}: busy within the wall");
            assert!(lane.gaps.median_ns <= lane.gaps.max_ns);
        }
        let work: u64 = stream
            .records()
            .iter()
            .filter(|t| t.stage != Stage::Finalize)
            .map(|t| t.duration_ns())
            .sum();
        // Dask reports two tasks overlapping on one thread in one recording: that time is
        // work once (the overlapping tasks there are all load/mask/write tasks).
        let overlap: u64 = s.lanes.iter().map(|l| l.overlap_ns).sum();
        assert_eq!(o.work_ns + overlap, work, "{file}");
        assert_eq!(
            s.actions.len(),
            1,
            "{file}: compute only (one in-process worker)"
        );
    }
}

#[test]
fn a_bare_list_imports_like_the_recording_around_it() {
    let path = fixture(STREAMS[0].0);
    let text = std::fs::read_to_string(&path).unwrap();
    let whole: Value = serde_json::from_str(&text).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("bare.json");
    std::fs::write(&bare, whole["task_stream"].to_string()).unwrap();
    let a = DaskStream::read(&path).unwrap();
    let b = DaskStream::read(&bare).unwrap();
    assert_eq!(a.tasks, b.tasks);
    assert_eq!(b.header, Default::default());
    assert!(
        b.tasks
            .iter()
            .any(|t| t.stage == TaskStage::Other("array".into()))
    );
}

#[test]
fn import_dask_prints_the_summary_and_json() {
    let out = chunkscope()
        .arg("import-dask")
        .arg(fixture(STREAMS[0].0))
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    for wanted in [
        "100 tasks (0 erred) on 2 lanes",
        "1 worker x 2 threads",
        "DEMO_31UFU_20230601_0_L2A, chunks 3,256,256, chunk grid 4 x 4",
        "other",
        "array",
        "gaps         median",
        "overhead",
    ] {
        assert!(text.contains(wanted), "{wanted:?} in\n{text}");
    }
    for stage in ["load", "mask", "write", "finalize", "other"] {
        assert!(
            text.lines().any(|l| l.starts_with(stage)),
            "a row for {stage} in\n{text}"
        );
    }

    let out = chunkscope()
        .arg("import-dask")
        .arg(fixture(STREAMS[2].0))
        .arg("--json")
        .assert()
        .success();
    let json: Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["tasks"], 2908);
    assert_eq!(json["task_list"].as_array().unwrap().len(), 2908);
    assert_eq!(json["lanes"].as_array().unwrap().len(), 2);
    let stages: Vec<&str> = json["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["load", "mask", "write", "finalize", "other"]);
    assert_eq!(json["header"]["chunks"], serde_json::json!([3, 256, 256]));
    assert!(json["overhead"]["per_task_us"].as_f64().unwrap() > 0.0);
    assert_eq!(json["actions"][0]["action"], "compute");
    let first = &json["task_list"][0];
    for field in [
        "name", "label", "stage", "lane", "start_ns", "stop_ns", "spans",
    ] {
        assert!(!first[field].is_null(), "task field {field}");
    }
}

#[test]
fn damaged_streams_are_refused_with_a_reason() {
    let record = |key: Value, start: f64, stop: f64| {
        serde_json::json!({"key": key, "worker": "tcp://w", "thread": 1,
            "startstops": [{"action": "compute", "start": start, "stop": stop}]})
    };
    let cases: [(&str, String, &str); 6] = [
        (
            "not-json",
            "{\"task_stream\": [".into(),
            "is not JSON (line 1",
        ),
        (
            "object",
            serde_json::json!({"dask_version": "2026.8.0"}).to_string(),
            "the JSON is an object without \"task_stream\", not a task stream",
        ),
        (
            "numbers",
            "[1, 2, 3]".into(),
            "task 0 is a number (1), not a task record",
        ),
        (
            "key",
            Value::Array(vec![record(serde_json::json!([1, 2]), 1.0, 2.0)]).to_string(),
            "task 0 has the key [1,2], of a shape chunkscope does not know",
        ),
        (
            "backwards",
            Value::Array(vec![
                record(serde_json::json!("finalize-a"), 1.0, 2.0),
                record(serde_json::json!(["store-map-a", 0, 1, 1]), 5.0, 4.5),
            ])
            .to_string(),
            "task 1 ([\"store-map-a\",0,1,1]) stops before it starts: compute from 5 to 4.5",
        ),
        (
            "nan",
            "[{\"key\": \"a\", \"worker\": \"w\", \"thread\": 1, \"startstops\": \
             [{\"action\": \"compute\", \"start\": NaN, \"stop\": 1.0}]}]"
                .into(),
            "holds \"NaN\"",
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, text, wanted) in cases {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, text).unwrap();
        let out = chunkscope().arg("import-dask").arg(&path).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
        assert!(
            stderr.contains("cannot import the task stream") && stderr.contains(wanted),
            "{name}: {wanted:?} in {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    let out = chunkscope()
        .arg("import-dask")
        .arg(dir.path().join("missing.json"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}

//! The round trip through the real Dask: `chunkscope export dask` writes the lesson's code
//! for a small demo scene, the pinned dask / distributed / rioxarray run it on a local
//! distributed cluster, and `chunkscope import-dask` reads the task stream it saved. The
//! tasks per stage are checked against chunkscope's own chunk plan, and the raster Dask
//! wrote against the one chunkscope writes with the same settings.
//!
//! Needs the Python environment `./dev test` sets up (tests/dask/requirements.txt), named
//! by `CHUNKSCOPE_DASK_PYTHON`; a plain `cargo test` leaves it out, `./dev test` runs it.

mod common;

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::process::Command;

use chunkscope::chunks::ChunkRequest;
use chunkscope::output::{OutputFormat, OutputSpec};
use chunkscope::pipeline::{self, CloudClasses, Mode, Resolution, RunConfig, RunControl, Schedule};
use serde_json::Value;

use common::{read_output, small_demo, small_scene};

/// Misaligned on purpose: 128-row chunks on 128-pixel blocks, 200-column ones across them,
/// so the grid has narrower edge chunks and the mapping of keys to chunks is exercised.
const CHUNKS: &str = "3,128,200";
const THREADS: &str = "2";

fn python() -> String {
    std::env::var("CHUNKSCOPE_DASK_PYTHON").unwrap_or_else(|_| {
        panic!(
            "CHUNKSCOPE_DASK_PYTHON is not set: run this test with `./dev test`, which installs \
             the pinned Dask environment (tests/dask/requirements.txt) and names its python"
        )
    })
}

#[test]
#[ignore = "needs the pinned Dask environment: `./dev test` sets it up and runs this"]
fn exported_script_runs_on_a_local_cluster_and_its_stream_matches_the_chunk_plan() {
    let python = python();
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("lesson.py");
    let raster = dir.path().join("masked-dask.tif");
    let stream = dir.path().join("stream.json");
    let bin = env!("CARGO_BIN_EXE_chunkscope");

    // The item chunkscope runs below (export's own default is the lesson's items[-1]).
    let export = Command::new(bin)
        .args(["export", "dask", "--catalog"])
        .arg(small_demo())
        .args(["--item", &small_scene().item])
        .args([
            "--chunks",
            CHUNKS,
            "--threads",
            THREADS,
            "--format",
            "gtiff",
        ])
        .arg("--local-cluster")
        .arg("--out")
        .arg(&script)
        .arg("--raster")
        .arg(&raster)
        .arg("--stream")
        .arg(&stream)
        .output()
        .expect("chunkscope runs");
    assert!(
        export.status.success(),
        "export failed: {}",
        String::from_utf8_lossy(&export.stderr)
    );

    let run = Command::new(&python)
        .arg(&script)
        .current_dir(dir.path())
        .output()
        .expect("python runs");
    assert!(
        run.status.success(),
        "the exported script failed as generated:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );

    let import = Command::new(bin)
        .arg("import-dask")
        .arg(&stream)
        .arg("--json")
        .output()
        .expect("chunkscope runs");
    assert!(
        import.status.success(),
        "import-dask refused the stream the script saved: {}",
        String::from_utf8_lossy(&import.stderr)
    );
    let json: Value = serde_json::from_slice(&import.stdout).expect("import-dask --json");
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string("assets/import-dask.schema.json").expect("schema"),
    )
    .expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("a JSON Schema");
    let invalid: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| e.to_string())
        .collect();
    assert_eq!(
        invalid,
        Vec::<String>::new(),
        "import-dask --json against its schema"
    );

    // What to expect, from chunkscope's plan of the same request on the same scene.
    let scene = small_scene();
    let request: ChunkRequest = CHUNKS.parse().expect("chunk request");
    let prepared = pipeline::prepare(&scene, Resolution::R20, Some(&request)).expect("prepare");
    let plan = prepared.plan.as_ref().expect("plan");
    let (bands, rows, cols) = plan.grid();
    assert_eq!(
        (bands, rows, cols),
        (1, 4, 3),
        "the plan this test was written for"
    );
    let visual = plan.chunk_count();
    let spatial = rows * cols;
    // Per chunk of the visual one read and one store (where fused into it); per chunk of
    // SCL one read, its band selected (getitem) and isin's two steps (any, aggregated);
    // once per asset the lazily indexed file array (original-open_rasterio); one finalize;
    // the cloud classes as a constant array ("other").
    let expected: BTreeMap<&str, usize> = [
        ("load", visual + spatial + spatial + 2),
        ("mask", 2 * spatial),
        ("write", visual),
        ("finalize", 1),
        ("other", 1),
    ]
    .into();
    let stages: BTreeMap<&str, usize> = json["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .map(|s| {
            (
                s["stage"].as_str().expect("stage name"),
                usize::try_from(s["tasks"].as_u64().expect("task count")).unwrap(),
            )
        })
        .collect();
    assert_eq!(stages, expected, "tasks per stage against the chunk plan");
    assert_eq!(json["erred"], 0);
    assert_eq!(json["lanes"].as_array().expect("lanes").len(), 2);
    let header = &json["header"];
    assert_eq!(header["chunks"], serde_json::json!([3, 128, 200]));
    assert_eq!(header["dask_version"], "2026.8.0");
    assert_eq!(header["cluster"]["threads_per_worker"], 2);
    assert_eq!(
        header["scene_item"], scene.item,
        "the stream names the item the script read"
    );
    // Every store task sits on the plan's grid, once per chunk.
    let mut stored: Vec<(u64, u64)> = json["task_list"]
        .as_array()
        .expect("task list")
        .iter()
        .filter(|t| t["label"] == "store-map")
        .map(|t| {
            (
                t["chunk"]["row"].as_u64().expect("row"),
                t["chunk"]["col"].as_u64().expect("col"),
            )
        })
        .collect();
    stored.sort_unstable();
    let grid: Vec<(u64, u64)> = (0..rows as u64)
        .flat_map(|r| (0..cols as u64).map(move |c| (r, c)))
        .collect();
    assert_eq!(stored, grid);

    // Dask's raster and chunkscope's, with the same settings, hold the same pixels.
    let ours = dir.path().join("masked-chunkscope.tif");
    let config = RunConfig {
        mode: Mode::Chunked {
            chunks: request,
            threads: NonZeroUsize::new(2).expect("2"),
            schedule: Schedule::Staged,
        },
        resolution: Resolution::R20,
        cloud_classes: CloudClasses::default(),
        output: OutputSpec::new(ours.clone(), OutputFormat::Gtiff),
        gdal_cache_mb: None,
        blocks: Default::default(),
    };
    let control = RunControl {
        sample_every: None,
        ..RunControl::default()
    };
    pipeline::run(&scene, &config, &control).expect("chunkscope's run");
    let (dask, mine) = (read_output(&raster), read_output(&ours));
    assert_eq!(dask.dim(), mine.dim());
    assert!(
        dask.iter().any(|&v| v == 0) && dask.iter().any(|&v| v != 0),
        "the scene has masked and kept pixels"
    );
    assert!(dask == mine, "Dask's output differs from chunkscope's");
}

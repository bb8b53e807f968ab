//! The checked-in report schema (assets/report.schema.json) against real output of the
//! binary: what the README documents is what `run --json` prints.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is how a test fails (clippy.toml covers #[test] fns only)"
)]

mod common;

use assert_cmd::Command;
use serde_json::Value;

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string("assets/report.schema.json").expect("schema is checked in");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema is a valid JSON Schema")
}

fn run_json(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("chunkscope")
        .unwrap()
        .args(["run", "--json"])
        .args(args)
        .arg("--catalog")
        .arg(common::small_demo())
        .arg("--out")
        .arg(dir.path().join("m.tif"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn errors(v: &jsonschema::Validator, report: &Value) -> Vec<String> {
    v.iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

#[test]
fn real_reports_validate_against_the_checked_in_schema() {
    let v = schema();
    for args in [
        &["--mode", "serial"][..],
        &[
            "--chunks",
            "3,100,100",
            "--threads",
            "2",
            "--schedule",
            "fused",
        ][..],
        &[
            "--chunks",
            "1,128,128",
            "--threads",
            "3",
            "--res",
            "10",
            "--format",
            "gtiff",
            "--blocks",
            "per-task",
        ][..],
    ] {
        let report = run_json(args);
        assert_eq!(errors(&v, &report), Vec::<String>::new(), "args {args:?}");
        // What other processes took is measured on Linux (absent elsewhere, never 0).
        if cfg!(target_os = "linux") {
            assert!(report["others_cpu_ns"].is_u64(), "{args:?}");
            assert!(report["others_cores"].is_f64(), "{args:?}");
        }
        assert!(report["disturbed"].is_boolean(), "{args:?}");
        let chunked = args[1] != "serial";
        assert_eq!(
            report["blocks"]["visual"]["decoded"].as_u64().is_some(),
            chunked,
            "a chunked run, and only one, reports its blocks: {args:?}"
        );
    }
}

#[test]
fn the_schema_rejects_reports_that_drift() {
    let v = schema();
    let report = run_json(&["--chunks", "3,128,128"]);
    let mut missing = report.clone();
    missing.as_object_mut().unwrap().remove("overhead");
    assert!(
        !errors(&v, &missing).is_empty(),
        "a missing field is caught"
    );
    let mut renamed = report.clone();
    renamed["stages"][0]["name"] = Value::from("loading");
    assert!(
        !errors(&v, &renamed).is_empty(),
        "an unknown stage name is caught"
    );
    let mut blocks = report.clone();
    blocks["blocks"]["sharing"] = Value::from("cached");
    assert!(
        !errors(&v, &blocks).is_empty(),
        "an unknown block sharing is caught"
    );
    let mut extra = report;
    extra["tasks"][0]["surprise"] = Value::from(1);
    assert!(
        !errors(&v, &extra).is_empty(),
        "an undocumented field is caught"
    );
}

fn import_dask_schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string("assets/import-dask.schema.json")
        .expect("the import-dask schema is checked in");
    let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema is a valid JSON Schema")
}

fn import_dask_json(file: &str) -> Value {
    let out = Command::cargo_bin("chunkscope")
        .unwrap()
        .args(["import-dask", "--json"])
        .arg(std::path::Path::new("tests/fixtures/dask").join(file))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn import_dask_output_of_the_real_streams_validates_against_its_schema() {
    let v = import_dask_schema();
    for file in [
        "demo-2048-chunks256-threads2.json",
        "demo-full-chunks1024-threads2.json",
        "demo-full-chunks256-threads2.json",
    ] {
        let out = import_dask_json(file);
        assert_eq!(errors(&v, &out), Vec::<String>::new(), "{file}");
    }
}

#[test]
fn the_import_dask_schema_rejects_output_that_drifts() {
    let v = import_dask_schema();
    let out = import_dask_json("demo-2048-chunks256-threads2.json");
    let mut missing = out.clone();
    missing.as_object_mut().unwrap().remove("overhead");
    assert!(!errors(&v, &missing).is_empty(), "a missing field");
    let mut renamed = out.clone();
    renamed["stages"][0]["stage"] = Value::from("loading");
    assert!(!errors(&v, &renamed).is_empty(), "an unknown stage");
    let mut extra = out;
    extra["task_list"][0]["surprise"] = Value::from(1);
    assert!(!errors(&v, &extra).is_empty(), "an undocumented field");
}

#[test]
fn run_with_engines_validates_against_its_schema_and_carries_report_schema_reports() {
    let text = std::fs::read_to_string("assets/run-engines.schema.json")
        .expect("the run-engines schema is checked in");
    let wrapper = jsonschema::validator_for(&serde_json::from_str::<Value>(&text).unwrap())
        .expect("a valid JSON Schema");
    let out = run_json(&[
        "--engine",
        "chunkscope",
        "--mode",
        "both",
        "--chunks",
        "3,128,128",
    ]);
    assert_eq!(errors(&wrapper, &out), Vec::<String>::new());
    let runs = out["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "serial and chunked");
    for run in runs {
        assert_eq!(run["engine"], "chunkscope");
        assert_eq!(errors(&schema(), &run["report"]), Vec::<String>::new());
    }
    let mut drifted = out.clone();
    drifted["runs"][0]["engine"] = Value::from("spark");
    assert!(!errors(&wrapper, &drifted).is_empty(), "an unknown engine");
    let mut extra = out;
    extra["runs"][1]["cost"]["surprise"] = Value::from(1);
    assert!(!errors(&wrapper, &extra).is_empty(), "an undocumented cost");
}

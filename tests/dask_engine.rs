//! `--engine`: the Dask side of run, compare and sweep. Without a Dask environment, a
//! Python that lacks the modules is refused with the fix and exit status 1, before any
//! run. With the environment `./dev test` sets up (named by `CHUNKSCOPE_DASK_PYTHON`), a
//! sweep on both engines gives rows per engine, a verdict per engine and the per-task cost
//! of both.

mod common;

use std::process::Command;

use serde_json::Value;

use common::small_demo;

/// A Python that imports nothing of Dask: a script that says so, as an interpreter would.
fn python_without_dask(dir: &std::path::Path) -> std::path::PathBuf {
    let fake = dir.join("python");
    std::fs::write(
        &fake,
        "#!/bin/sh\n\
         echo '{\"python\": \"3.11.0\", \"modules\": {\"dask\": null, \"distributed\": null, \
         \"rioxarray\": null, \"pystac\": \"1.15.2\"}}'\n",
    )
    .expect("write the fake python");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    fake
}

#[test]
fn a_python_without_dask_is_refused_with_what_is_missing_and_the_fix() {
    let dir = tempfile::tempdir().expect("temp dir");
    let python = python_without_dask(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_chunkscope"))
        .args(["run", "--engine", "dask", "--catalog"])
        .arg(small_demo())
        .args(["--chunks", "256", "--threads", "2", "--python"])
        .arg(&python)
        .arg("--out")
        .arg(dir.path().join("m.tif"))
        .output()
        .expect("chunkscope runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("lacks dask, distributed, rioxarray"),
        "{stderr}"
    );
    assert!(
        stderr.contains("-m pip install dask distributed rioxarray"),
        "{stderr}"
    );
    assert!(stderr.contains("chunkscope dask setup"), "{stderr}");
    assert!(
        !dir.path().join("m.tif").exists(),
        "nothing ran before the check"
    );
}

#[test]
fn without_engine_the_dask_options_are_refused_and_nothing_starts_python() {
    let dir = tempfile::tempdir().expect("temp dir");
    let python = python_without_dask(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_chunkscope"))
        .args(["run", "--catalog"])
        .arg(small_demo())
        .arg("--python")
        .arg(&python)
        .output()
        .expect("chunkscope runs");
    assert_eq!(out.status.code(), Some(2), "--python needs --engine");
    // chunkscope alone: a run with no Dask options succeeds with this Python on PATH first.
    let out = Command::new(env!("CARGO_BIN_EXE_chunkscope"))
        .args(["run", "--json", "--catalog"])
        .arg(small_demo())
        .arg("--out")
        .arg(dir.path().join("m.tif"))
        .env("PATH", dir.path())
        .output()
        .expect("chunkscope runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&out.stdout).expect("a run report");
    assert!(json.get("runs").is_none() && json.get("engine").is_none());
}

#[test]
#[ignore = "needs the pinned Dask environment: `./dev test` sets it up and runs this"]
fn a_sweep_on_both_engines_has_rows_verdicts_and_costs_per_engine() {
    let python = std::env::var("CHUNKSCOPE_DASK_PYTHON")
        .expect("CHUNKSCOPE_DASK_PYTHON names the pinned environment's python (./dev test)");
    let dir = tempfile::tempdir().expect("temp dir");
    let json_path = dir.path().join("sweep.json");
    let out = Command::new(env!("CARGO_BIN_EXE_chunkscope"))
        .args(["sweep", "--engine", "both", "--catalog"])
        .arg(small_demo())
        .args([
            "--chunks",
            "128,256",
            "--threads",
            "2",
            "--repeat",
            "2",
            "--warmup",
            "1",
            "--budget",
            "0",
            "--python",
        ])
        .arg(&python)
        .arg("--dask-streams")
        .arg(dir.path().join("streams"))
        .arg("--json")
        .arg(&json_path)
        .output()
        .expect("chunkscope runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sweep: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).expect("sweep file"))
            .expect("JSON");
    let rows = sweep["rows"].as_array().expect("rows");
    let of =
        |engine: &str| -> Vec<&Value> { rows.iter().filter(|r| r["engine"] == engine).collect() };
    // Serial and two chunk sizes on chunkscope; the two chunk sizes on Dask.
    assert_eq!(of("chunkscope").len(), 3, "{stdout}");
    let dask = of("dask");
    assert_eq!(dask.len(), 2, "{stdout}");
    for r in &dask {
        assert_eq!(r["runs"], 2);
        assert!(
            r["label"]
                .as_str()
                .expect("label")
                .starts_with("dask x 2 @ ")
        );
        let cost = &r["cost"];
        assert!(cost["tasks"].as_u64().expect("tasks") > 0);
        assert!(cost["overhead_us"].as_f64().expect("overhead") > 0.0);
        assert!(cost["outside_tasks_us"].as_f64().is_some(), "{cost}");
        assert!(
            r["speedup"].is_null(),
            "Dask has no serial baseline of its own"
        );
    }
    // 128-pixel chunks make four times the chunks, so Dask runs more tasks there.
    let tasks = |side: &str| {
        dask.iter()
            .find(|r| r["chunks"] == side)
            .map(|r| r["cost"]["tasks"].as_u64().expect("tasks"))
            .expect("row")
    };
    assert!(tasks("128") > 3 * tasks("256"));
    let engines: Vec<&str> = sweep["per_engine"]
        .as_array()
        .expect("a verdict per engine")
        .iter()
        .map(|v| v["engine"].as_str().expect("engine"))
        .collect();
    assert_eq!(engines, ["chunkscope", "dask"]);
    assert!(sweep["disagreement"].as_str().is_some());
    assert!(stdout.contains("dask ranking, fastest first"), "{stdout}");
    assert!(stdout.contains("per-task cost"), "{stdout}");
    // Every Dask run's stream was kept, and import-dask reads it.
    let streams: Vec<_> = std::fs::read_dir(dir.path().join("streams"))
        .expect("streams kept")
        .collect();
    assert_eq!(streams.len(), 2 * 2 + 1, "two runs each and a warm-up");
    // No Python left behind by the runs: the scratch folder went away with them.
    let leftover = Command::new("pgrep")
        .args(["-f", "chunkscope-sweep-"])
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    assert!(leftover.is_empty(), "a Dask script outlived the sweep");
}

/// A `dask scheduler` and two `dask worker` processes on 127.0.0.1, stopped (with their
/// process group) when dropped.
struct LocalDaskCluster {
    procs: Vec<std::process::Child>,
    address: String,
}

impl LocalDaskCluster {
    fn start(python: &str, dir: &std::path::Path) -> LocalDaskCluster {
        use std::os::unix::process::CommandExt;
        let dask = std::path::Path::new(python).with_file_name("dask");
        // A free port: bound, read, let go (the scheduler takes it a moment later).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let address = format!("tcp://127.0.0.1:{port}");
        let spawn = |args: &[&str], log: &str| {
            let log = std::fs::File::create(dir.join(log)).expect("log file");
            Command::new(&dask)
                .args(args)
                .current_dir(dir)
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .process_group(0)
                .spawn()
                .expect("dask starts")
        };
        let port_text = port.to_string();
        let mut procs = vec![spawn(
            &[
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                &port_text,
                "--no-dashboard",
            ],
            "scheduler.log",
        )];
        for (i, log) in ["worker-0.log", "worker-1.log"].iter().enumerate() {
            let name = format!("w{i}");
            procs.push(spawn(
                &[
                    "worker",
                    &address,
                    "--nthreads",
                    "1",
                    "--name",
                    &name,
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                log,
            ));
        }
        let cluster = LocalDaskCluster { procs, address };
        // Both workers registered, as the scheduler's log says, within a minute.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let log = std::fs::read_to_string(dir.join("scheduler.log")).unwrap_or_default();
            if log.matches("Register worker").count() >= 2 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the workers did not register:\n{log}"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        cluster
    }
}

impl Drop for LocalDaskCluster {
    fn drop(&mut self) {
        for p in &mut self.procs {
            if let Ok(pid) = i32::try_from(p.id()) {
                // SAFETY: our own child's process group (it was started as its leader).
                unsafe { libc::kill(-pid, libc::SIGTERM) };
            }
        }
        for p in &mut self.procs {
            let _ = p.wait();
        }
    }
}

#[test]
#[ignore = "needs the pinned Dask environment: `./dev test` sets it up and runs this"]
fn a_sweep_runs_its_dask_side_on_a_running_scheduler_and_its_workers() {
    let python = std::env::var("CHUNKSCOPE_DASK_PYTHON")
        .expect("CHUNKSCOPE_DASK_PYTHON names the pinned environment's python (./dev test)");
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = LocalDaskCluster::start(&python, dir.path());
    let json_path = dir.path().join("sweep.json");
    let out = Command::new(env!("CARGO_BIN_EXE_chunkscope"))
        .args(["sweep", "--engine", "dask", "--catalog"])
        .arg(small_demo())
        .args([
            "--chunks",
            "128,256",
            "--threads",
            "2",
            "--repeat",
            "1",
            "--warmup",
            "0",
            "--budget",
            "0",
            "--python",
        ])
        .arg(&python)
        .args(["--cluster", &cluster.address])
        .arg("--dask-streams")
        .arg(dir.path().join("streams"))
        .arg("--json")
        .arg(&json_path)
        .output()
        .expect("chunkscope runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sweep: Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).expect("sweep file"))
            .expect("JSON");
    let rows = sweep["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 2, "two configurations, Dask only: {stdout}");
    assert!(rows.iter().all(|r| r["engine"] == "dask"));
    // The tasks ran on the cluster's two workers, as the kept streams say.
    let mut workers = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir.path().join("streams")).expect("streams kept") {
        let text = std::fs::read_to_string(entry.expect("entry").path()).expect("stream");
        let stream: Value = serde_json::from_str(&text).expect("stream JSON");
        for task in stream["task_stream"].as_array().expect("tasks") {
            if let Some(w) = task["worker"].as_str() {
                workers.insert(w.to_string());
            }
        }
    }
    assert_eq!(workers.len(), 2, "tasks on both workers: {workers:?}");
    assert!(
        workers.iter().all(|w| w.starts_with("tcp://127.0.0.1:")),
        "{workers:?}"
    );
}

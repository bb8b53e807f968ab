//! What other processes take of the CPU during a run, on the real machine: two busy
//! children spin beside a probe and beside a real `run --json`, and both must see them.
//! Bounded in time; the children are killed when the test ends, also when it fails.

mod common;

use std::process::{Child, Command as Process};
use std::time::Duration;

use assert_cmd::Command;
use chunkscope::profile::interference::Probe;
use serde_json::Value;

/// Busy loops that die with the guard.
struct Spinners(Vec<Child>);

impl Spinners {
    /// One spinning shell per core (at least two): the machine is full, whatever else runs.
    fn start() -> Self {
        let cores = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .max(2);
        Spinners(
            (0..cores)
                .map(|_| {
                    Process::new("sh")
                        .args(["-c", "while :; do :; done"])
                        .spawn()
                        .expect("sh starts")
                })
                .collect(),
        )
    }
}

impl Drop for Spinners {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_probe_sees_busy_children_take_the_cores() {
    let _spin = Spinners::start();
    // Let the scheduler give them their share before measuring.
    std::thread::sleep(Duration::from_millis(200));
    let probe = Probe::start().expect("/proc/stat on Linux");
    std::thread::sleep(Duration::from_millis(600));
    let i = probe.finish().expect("read again");
    // Spinning on every core while this test sleeps: others hold well over a core; a
    // conservative bound, for a machine where more runs.
    assert!(i.others_cores > 0.5, "{i:?}");
    assert!(i.disturbed, "{i:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn a_run_beside_busy_loops_is_reported_disturbed() {
    let dir = tempfile::tempdir().unwrap();
    let _spin = Spinners::start();
    std::thread::sleep(Duration::from_millis(200));
    let out = Command::cargo_bin("chunkscope")
        .unwrap()
        // 10 m: four times the pixels, so the run lasts well beyond the counters' error
        // (two clock ticks per core), which a run must exceed to be called disturbed.
        .args([
            "run",
            "--json",
            "--mode",
            "serial",
            "--res",
            "10",
            "--catalog",
        ])
        .arg(common::small_demo())
        .arg("--out")
        .arg(dir.path().join("m.tif"))
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let wall = report["wall_ns"].as_u64().unwrap() as f64;
    let others = report["others_cpu_ns"].as_u64().expect("measured on Linux") as f64;
    assert!(
        others > 0.25 * wall,
        "others {others} ns in a {wall} ns run"
    );
    assert_eq!(
        report["disturbed"],
        Value::Bool(true),
        "others {others} ns of {wall}"
    );
    assert!(report["others_cores"].as_f64().unwrap() > 0.25);
}

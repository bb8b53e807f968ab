//! End to end: the real binary's TUI in a detached tmux session, a serial and a chunked run,
//! the Results screen, `s` to save, the Sweep screen from `--sweep`. Fails, saying so, when
//! tmux is not installed (`./dev test` installs it).

mod common;

use common::tmux::{self, Tmux};

use std::process::Command;

#[test]
fn results_screen_after_two_runs_saves_and_shows_a_sweep() {
    tmux::require();
    let catalog = common::small_demo();
    let work = tempfile::tempdir().expect("temp dir");
    let bin = env!("CARGO_BIN_EXE_chunkscope");
    let sweep = work.path().join("sweep.json");
    let status = Command::new(bin)
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
        .arg(catalog)
        .arg("--json")
        .arg(&sweep)
        .output()
        .expect("sweep runs");
    assert!(status.status.success(), "{status:?}");

    // 80x24: the smallest size the screens promise to be usable at.
    let tmux = Tmux::start(work.path(), "results", 80, 24);
    tmux.send(&[
        &format!(
            "NO_COLOR=1 '{bin}' tui '{}' --sweep '{}' --export-dir saved",
            catalog.display(),
            sweep.display()
        ),
        "Enter",
    ]);
    tmux.wait_for("512x512", 30);
    tmux.send(&["Enter"]);
    tmux.wait_for("per chunk", 30);
    // Serial first (m), then chunked.
    tmux.send(&["m", "r"]);
    tmux.wait_for("Wall time:", 120);
    tmux.send(&["Escape"]);
    tmux.wait_for("per chunk", 10);
    tmux.send(&["m", "r"]);
    tmux.wait_for("✓ done", 120);

    tmux.send(&["Tab"]);
    let screen = tmux.wait_for("Wall per stage: serial #1 vs #2", 10);
    assert!(screen.contains("vs serial #1"), "{screen}");
    assert!(screen.contains("p50"), "{screen}");
    assert!(screen.contains("★"), "{screen}");

    tmux.send(&["s"]);
    let screen = tmux.wait_for("✓ saved", 10);
    assert!(screen.contains("saved/results-"), "{screen}");
    let saved = work.path().join("saved");
    let mut names: Vec<String> = std::fs::read_dir(&saved)
        .expect("export folder")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(
        names[0].ends_with(".csv") && names[2].ends_with(".svg"),
        "{names:?}"
    );

    // At 80x24 the sweep keeps its table and its conclusion; the chart gives way.
    tmux.send(&["Tab"]);
    let screen = tmux.wait_for("Configurations", 10);
    assert!(screen.contains("★ best"), "{screen}");
    assert!(screen.contains("Best and flags"), "{screen}");

    // Resize to a large terminal: the results use the room.
    tmux.send(&["Tab"]);
    tmux.resize(160, 48);
    tmux.wait_for("Where #2's capacity went", 10);

    tmux.send(&["q"]);
    tmux.send(&["echo READY-$((2+2))", "Enter"]);
    tmux.wait_for("READY-4", 30);
}

//! End to end: the real binary's TUI in a detached tmux session, keys sent, screen read.
//! Fails, saying so, when tmux is not installed (`./dev test` installs it).

mod common;

use common::tmux::{self, Tmux};

#[test]
fn tui_runs_the_pipeline_and_restores_the_terminal() {
    tmux::require();
    let catalog = common::small_demo();
    let work = tempfile::tempdir().expect("temp dir");
    let tmux = Tmux::start(work.path(), "e2e", 100, 30);
    let bin = env!("CARGO_BIN_EXE_chunkscope");
    tmux.send(&[
        &format!("NO_COLOR=1 '{bin}' tui '{}'", catalog.display()),
        "Enter",
    ]);
    let screen = tmux.wait_for("Scenes 3/3", 30);
    assert!(screen.contains("DEMO_"), "{screen}");
    tmux.wait_for("512x512", 30); // visual's first overview, inspected

    tmux.send(&["Enter"]);
    let screen = tmux.wait_for("per chunk", 30);
    assert!(screen.contains("✓ aligned"), "{screen}");

    tmux.send(&["?"]);
    tmux.wait_for("Keys (any key closes)", 10);
    tmux.send(&["Escape"]);
    let screen = tmux.wait_for("per chunk", 10);
    assert!(!screen.contains("Keys (any key closes)"), "{screen}");

    tmux.send(&["r"]);
    let screen = tmux.wait_for("Wall time:", 120);
    assert!(screen.contains("✓ done"), "{screen}");
    assert!(screen.contains("CPU times: user"), "{screen}");
    assert!(screen.contains("Task stream"), "{screen}");
    assert!(screen.contains("heat "), "{screen}");

    // Replay the finished run, slowed down and labelled with the real time scale.
    tmux.send(&["p"]);
    let screen = tmux.wait_for("REPLAY 0.1x — real time", 10);
    assert!(screen.contains("replay time"), "{screen}");
    tmux.send(&["Escape"]);
    tmux.wait_for("✓ done", 10);

    // Repeat: five runs, then their spread.
    tmux.send(&["R"]);
    let screen = tmux.wait_for("repeat 5/5 · wall median", 120);
    assert!(screen.contains(", n = 5"), "{screen}");

    tmux.send(&["q"]);
    tmux.send(&["echo READY-$((1+1))", "Enter"]);
    let screen = tmux.wait_for("READY-2", 30);
    assert!(
        !screen.contains("Wall time:"),
        "still on the TUI screen:\n{screen}"
    );
    assert!(
        work.path().join("chunkscope-out").is_dir(),
        "the run wrote into chunkscope-out/"
    );
}

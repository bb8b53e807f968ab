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
    tmux.wait_for("Keys and terms", 10);
    tmux.send(&["Escape"]);
    let screen = tmux.wait_for("per chunk", 10);
    assert!(!screen.contains("Keys and terms"), "{screen}");

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
    let screen = tmux.wait_for("repeat 5/5 + 1 warm-up · wall median", 120);
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

#[test]
fn tui_picks_the_lessons_scene_and_shows_the_task_graph_and_terms_at_80x24() {
    tmux::require();
    let catalog = common::small_demo();
    let work = tempfile::tempdir().expect("temp dir");
    let tmux = Tmux::start(work.path(), "graph", 80, 24);
    let bin = env!("CARGO_BIN_EXE_chunkscope");
    tmux.send(&[
        &format!("NO_COLOR=1 '{bin}' tui '{}'", catalog.display()),
        "Enter",
    ]);
    let screen = tmux.wait_for("Scenes 3/3", 30);
    assert!(screen.contains("items[-1] (G)"), "{screen}");
    // SCL is read as it is, at 20 m.
    let screen = tmux.wait_for("SCL     20 m: full res, 512x512", 30);
    assert!(
        screen.contains("visual  20 m: overview 0, 512x512"),
        "{screen}"
    );

    // G: the lesson's scene, the last of the three, is selected.
    tmux.send(&["G"]);
    let screen = tmux.wait_for("★ lesson", 10);
    let selected = screen
        .lines()
        .find(|l| l.contains('▶'))
        .unwrap_or_default()
        .to_string();
    assert!(selected.contains("★ lesson"), "{screen}");

    tmux.send(&["Enter"]);
    tmux.wait_for("per chunk", 30);
    tmux.send(&["r"]);
    tmux.wait_for("Wall time:", 120);
    // g: the graph of the run just done, every node lit (2x2 blocks of the 512 grid:
    // 2x2 chunks, staged), one row per chunk.
    tmux.send(&["g"]);
    let screen = tmux.wait_for("Task graph · staged", 10);
    assert!(
        screen.contains("4 chunks · 15 nodes, 28 edges · 15/15 lit"),
        "{screen}"
    );
    assert_eq!(screen.matches("barrier ✓").count(), 2, "{screen}");
    assert!(
        screen.contains("#3    ■ load   ─┃─ ■ mask   ─┃─ ■ write  ─┘"),
        "{screen}"
    );
    assert!(screen.contains("0/16 tiles shared"), "{screen}");
    // r again with the graph in view: it ends lit again.
    tmux.send(&["r"]);
    tmux.wait_for("#2 chunked", 120);
    tmux.wait_for("15/15 lit", 120);
    tmux.wait_for("✓ done", 120);

    // ? and page down to the terms.
    tmux.send(&["?"]);
    tmux.wait_for("Keys and terms · page 1/", 10);
    let mut seen = String::new();
    for _ in 0..6 {
        tmux.send(&["PageDown"]);
        std::thread::sleep(std::time::Duration::from_millis(300));
        seen.push_str(&tmux.screen());
    }
    for term in [
        "read amplification",
        "barrier idle",
        "overview level",
        "heat",
    ] {
        assert!(seen.contains(term), "{term:?} never shown:\n{seen}");
    }
    tmux.send(&["Escape"]);
    tmux.send(&["q"]);
    tmux.send(&["echo READY-$((1+1))", "Enter"]);
    tmux.wait_for("READY-2", 30);
}

#[test]
fn a_too_small_terminal_starts_nothing_and_ctrl_c_exits_130() {
    tmux::require();
    let catalog = common::small_demo();
    let work = tempfile::tempdir().expect("temp dir");
    let tmux = Tmux::start(work.path(), "small", 20, 5);
    let bin = env!("CARGO_BIN_EXE_chunkscope");
    tmux.send(&[
        &format!(
            "NO_COLOR=1 '{bin}' tui --catalog '{}'; echo \"EX\"\"IT=$?\"",
            catalog.display()
        ),
        "Enter",
    ]);
    tmux.wait_for("too small", 30);
    // Enter would open the chunk setup and r start a run, unseen: neither does.
    for key in ["Enter", "r", "Enter", "R", "r"] {
        tmux.send(&[key]);
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    std::thread::sleep(std::time::Duration::from_secs(2));
    let out = work.path().join("chunkscope-out");
    assert!(
        common::files_in(&out).is_empty(),
        "a run wrote {:?}",
        common::files_in(&out)
    );
    // Back at a usable size: still the scenes, on the lesson's item (★, items[-1]).
    tmux.resize(80, 24);
    let screen = tmux.wait_for("Scenes 3/3", 10);
    assert!(screen.contains("chunkscope · scenes"), "{screen}");
    let selected = screen
        .lines()
        .find(|l| l.contains('▶'))
        .unwrap_or_default()
        .to_string();
    assert!(selected.contains("★ lesson"), "{screen}");

    // Ctrl-C is a key in raw mode, but it ends the TUI as SIGINT would: status 130.
    tmux.send(&["C-c"]);
    // The command line reads EX""IT: only the status matches.
    let screen = tmux.wait_for("EXIT=", 30);
    assert!(screen.contains("EXIT=130"), "{screen}");
    assert!(screen.contains("Ctrl-C: stopped the TUI"), "{screen}");

    // q is a plain quit: 0.
    tmux.send(&[
        &format!(
            "clear; NO_COLOR=1 '{bin}' tui '{}'; echo \"EX\"\"IT=$?\"",
            catalog.display()
        ),
        "Enter",
    ]);
    tmux.wait_for("Scenes 3/3", 30);
    tmux.send(&["q"]);
    // The command line reads EX""IT: only the status matches.
    let screen = tmux.wait_for("EXIT=", 30);
    assert!(screen.contains("EXIT=0"), "{screen}");
}

/// The terminal as the shell has it after the TUI: main screen, cursor shown, and the line
/// discipline back (canonical mode and echo, which raw mode turns off).
fn assert_terminal_restored(tmux: &Tmux, screen: &str) {
    assert_eq!(tmux.display("#{alternate_on}"), "0", "{screen}");
    assert_eq!(
        tmux.display("#{cursor_flag}"),
        "1",
        "cursor hidden:\n{screen}"
    );
    tmux.send(&[
        "clear; stty -a | tr ' ;' '\\n\\n' | grep -x -e '-*icanon' -e '-*echo'",
        "Enter",
    ]);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let stty = tmux.screen();
    let modes: Vec<&str> = stty
        .lines()
        .map(str::trim)
        .filter(|l| l.trim_start_matches('-') == "icanon" || l.trim_start_matches('-') == "echo")
        .collect();
    assert_eq!(modes, ["icanon", "echo"], "still in raw mode:\n{stty}");
}

#[test]
fn a_panic_on_the_ui_thread_restores_the_terminal_before_its_message_and_exits_101() {
    tmux::require();
    let catalog = common::small_demo();
    let work = tempfile::tempdir().expect("temp dir");
    let tmux = Tmux::start(work.path(), "panic", 80, 24);
    let bin = env!("CARGO_BIN_EXE_chunkscope");
    tmux.send(&[
        &format!(
            "CHUNKSCOPE_TEST_PANIC=ui NO_COLOR=1 '{bin}' tui '{}'; echo \"EX\"\"IT=$?\"",
            catalog.display()
        ),
        "Enter",
    ]);
    // The command line reads EX""IT: only the status matches.
    let screen = tmux.wait_for("EXIT=", 60);
    assert!(screen.contains("EXIT=101"), "{screen}");
    // Printed after the alternate screen was left: printed before, it would have gone
    // with that screen.
    assert!(
        screen.contains("a panic on purpose (CHUNKSCOPE_TEST_PANIC=ui)"),
        "{screen}"
    );
    assert!(
        !screen.contains("chunkscope · scenes"),
        "TUI left on screen:\n{screen}"
    );
    assert_terminal_restored(&tmux, &screen);
}

#[test]
fn a_panic_on_another_thread_goes_to_the_log_and_the_tui_goes_on() {
    tmux::require();
    let catalog = common::small_demo();
    let work = tempfile::tempdir().expect("temp dir");
    let tmux = Tmux::start(work.path(), "panic-worker", 100, 30);
    let bin = env!("CARGO_BIN_EXE_chunkscope");
    tmux.send(&[
        &format!(
            "CHUNKSCOPE_TEST_PANIC=worker NO_COLOR=1 '{bin}' tui '{}' 2>stderr.txt; \
             echo \"EX\"\"IT=$?\"",
            catalog.display()
        ),
        "Enter",
    ]);
    // On the status line, not drawn over the screen; the TUI still answers keys.
    let screen = tmux.wait_for("internal error on a worker thread", 30);
    assert!(screen.contains("chunkscope · scenes"), "{screen}");
    tmux.send(&["Enter"]);
    tmux.wait_for("per chunk", 30);
    tmux.send(&["q"]);
    let screen = tmux.wait_for("EXIT=", 30);
    assert!(screen.contains("EXIT=0"), "{screen}");
    let stderr = std::fs::read_to_string(work.path().join("stderr.txt")).unwrap_or_default();
    assert!(
        !stderr.contains("a panic on purpose"),
        "printed over the TUI:\n{stderr}"
    );
    assert_terminal_restored(&tmux, &screen);
}

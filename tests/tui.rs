//! End to end: the real binary's TUI in a detached tmux session, keys sent, screen read.
//! Skipped (with a printed reason) when tmux is not installed.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A tmux server of our own (its own socket), killed when dropped.
struct Tmux {
    socket: String,
    session: String,
}

impl Tmux {
    fn cmd(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs")
    }

    fn start(cwd: &Path) -> Tmux {
        let id = std::process::id();
        let t = Tmux {
            socket: format!("chunkscope-test-{id}"),
            session: format!("e2e-{id}"),
        };
        let out = t.cmd(&[
            "new-session",
            "-d",
            "-s",
            &t.session,
            "-x",
            "100",
            "-y",
            "30",
            "-c",
            cwd.to_str().expect("utf-8 temp path"),
            "sh",
        ]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        // Some tmux versions size detached sessions from their own default.
        t.cmd(&["resize-window", "-t", &t.session, "-x", "100", "-y", "30"]);
        t
    }

    fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        let out = self.cmd(&args);
        assert!(out.status.success(), "tmux send-keys: {out:?}");
    }

    fn screen(&self) -> String {
        let out = self.cmd(&["capture-pane", "-p", "-t", &self.session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen contains `text`; panics with the screen after `secs`.
    fn wait_for(&self, text: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let screen = self.screen();
            if screen.contains(text) {
                return screen;
            }
            if Instant::now() > deadline {
                panic!("\"{text}\" did not appear within {secs} s; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.cmd(&["kill-server"]);
    }
}

#[test]
fn tui_runs_the_pipeline_and_restores_the_terminal() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipping the tmux end-to-end test: tmux is not installed");
        return;
    }
    let catalog = common::small_demo();
    let work = tempfile::tempdir().expect("temp dir");
    let tmux = Tmux::start(work.path());
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

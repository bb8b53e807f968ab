//! End to end: the real binary's TUI in a detached tmux session, a serial and a chunked run,
//! the Results screen, `s` to save, the Sweep screen from `--sweep`. Skipped (with a printed
//! reason) when tmux is not installed.

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

    fn start(cwd: &Path, w: u16, h: u16) -> Tmux {
        let id = std::process::id();
        let t = Tmux {
            socket: format!("chunkscope-results-{id}"),
            session: format!("results-{id}"),
        };
        let (w, h) = (w.to_string(), h.to_string());
        let cwd = cwd.to_str().expect("utf-8 temp path");
        let out = t.cmd(&[
            "new-session",
            "-d",
            "-s",
            &t.session,
            "-x",
            &w,
            "-y",
            &h,
            "-c",
            cwd,
            "sh",
        ]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        t.cmd(&["resize-window", "-t", &t.session, "-x", &w, "-y", &h]);
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
fn results_screen_after_two_runs_saves_and_shows_a_sweep() {
    if Command::new("tmux").arg("-V").output().is_err() {
        eprintln!("skipping the tmux end-to-end test: tmux is not installed");
        return;
    }
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
    let tmux = Tmux::start(work.path(), 80, 24);
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

    tmux.send(&["Tab"]);
    let screen = tmux.wait_for("Median wall vs chunk side", 10);
    assert!(screen.contains("best"), "{screen}");

    // Resize to a large terminal: the results use the room.
    tmux.send(&["Tab"]);
    tmux.cmd(&[
        "resize-window",
        "-t",
        &tmux.session,
        "-x",
        "160",
        "-y",
        "48",
    ]);
    tmux.wait_for("Where #2's capacity went", 10);

    tmux.send(&["q"]);
    tmux.send(&["echo READY-$((2+2))", "Enter"]);
    tmux.wait_for("READY-4", 30);
}

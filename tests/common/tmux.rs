//! A tmux server of a test's own, for end-to-end tests of the real binary's TUI: start a
//! detached session, send keys, read the screen.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Fails the test, saying what to do, when tmux cannot run here: the end-to-end tests are
/// part of the suite (`./dev test` installs tmux), so a missing tmux must not pass them.
pub fn require() {
    if let Err(e) = Command::new("tmux").arg("-V").output() {
        panic!(
            "tmux is needed for the end-to-end TUI tests and cannot run here ({e}); \
             `./dev test` installs it, or install the tmux package yourself"
        );
    }
}

/// A tmux server of our own (its own socket), killed when dropped.
pub struct Tmux {
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

    /// A `w` x `h` session running `sh` in `cwd`; `name` keeps test binaries apart.
    pub fn start(cwd: &Path, name: &str, w: u16, h: u16) -> Tmux {
        require();
        let id = std::process::id();
        let t = Tmux {
            socket: format!("chunkscope-{name}-{id}"),
            session: format!("{name}-{id}"),
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
        // Some tmux versions size detached sessions from their own default.
        t.cmd(&["resize-window", "-t", &t.session, "-x", &w, "-y", &h]);
        t
    }

    /// Resizes the window, as a user dragging the terminal's corner would.
    pub fn resize(&self, w: u16, h: u16) {
        let (w, h) = (w.to_string(), h.to_string());
        let out = self.cmd(&["resize-window", "-t", &self.session, "-x", &w, "-y", &h]);
        assert!(out.status.success(), "tmux resize-window: {out:?}");
    }

    pub fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        let out = self.cmd(&args);
        assert!(out.status.success(), "tmux send-keys: {out:?}");
    }

    /// A tmux format evaluated for the session's pane, e.g. `#{alternate_on}` (1 while a
    /// program holds the alternate screen) or `#{pane_pid}`.
    pub fn display(&self, format: &str) -> String {
        let out = self.cmd(&["display-message", "-p", "-t", &self.session, format]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn screen(&self) -> String {
        let out = self.cmd(&["capture-pane", "-p", "-t", &self.session]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until the screen contains `text`; panics with the screen after `secs`.
    pub fn wait_for(&self, text: &str, secs: u64) -> String {
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

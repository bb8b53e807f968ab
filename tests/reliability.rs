//! Nothing lost, nothing clobbered: the real binary against what users (and the machine)
//! do to it. Each case checks the exit status, the message, that nothing panicked, that no
//! file was left behind and that the inputs are unchanged. The scene is a 512-pixel demo
//! made by `chunkscope demo`; servers listen on 127.0.0.1 only.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is how a test fails (clippy.toml covers #[test] fns only)"
)]

mod common;

use common::{assert_no_panic, snapshot, stderr_of};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as StdCommand, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use serde_json::Value;

use common::files_in;
use common::tmux::{self, Tmux};

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("chunkscope")
}

fn chunkscope() -> Command {
    Command::new(bin())
}

struct Demo {
    _dir: tempfile::TempDir,
    catalog: PathBuf,
}

/// `chunkscope demo --size 512` into a folder of this test binary's own, made once.
fn demo() -> &'static Path {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    &DEMO
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let out = StdCommand::new(bin())
                .args(["demo", "--size", "512", "--items", "2", "--out"])
                .arg(dir.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            let catalog = dir.path().join("search.json");
            Demo { _dir: dir, catalog }
        })
        .catalog
}

fn demo_dir() -> &'static Path {
    demo().parent().unwrap()
}

/// The first item's id and the path of one of its assets.
fn first_item() -> (String, PathBuf) {
    let catalog: Value = serde_json::from_str(&std::fs::read_to_string(demo()).unwrap()).unwrap();
    let feature = &catalog["features"][0];
    let href = feature["assets"]["visual"]["href"].as_str().unwrap();
    (
        feature["id"].as_str().unwrap().to_string(),
        demo_dir().join(href.trim_start_matches("./")),
    )
}

/// Runs a chunkscope command (`args` start with its name) on the demo's catalog.
fn command_on_demo(args: &[&str]) -> Output {
    chunkscope()
        .args(args)
        .arg("--catalog")
        .arg(demo())
        .output()
        .unwrap()
}

/// Runs `chunkscope run` on the demo with `args`; returns the output.
fn run_on_demo(args: &[&str], out: &Path) -> Output {
    chunkscope()
        .args(["run", "--threads", "2", "--catalog"])
        .arg(demo())
        .arg("--out")
        .arg(out)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn out_refuses_inputs_the_catalog_fifos_and_folders() {
    let before = snapshot(demo_dir());
    let (_, visual) = first_item();
    let work = tempfile::tempdir().unwrap();
    let fifo = work.path().join("pipe.tif");
    let made = StdCommand::new("mkfifo").arg(&fifo).status();
    let scl_dotted = visual.parent().unwrap().join("..").join(
        visual
            .parent()
            .unwrap()
            .strip_prefix(demo_dir())
            .unwrap()
            .join("SCL.tif"),
    );
    let link_to_input = work.path().join("link.tif");
    std::os::unix::fs::symlink(&visual, &link_to_input).unwrap();
    let mut cases: Vec<(PathBuf, &str)> = vec![
        (visual.clone(), "it is asset \"visual\" of item"),
        (scl_dotted, "it is asset \"SCL\" of item"),
        (demo().to_path_buf(), "it is the catalog"),
        (link_to_input.clone(), "it is asset \"visual\" of item"),
        (
            work.path().to_path_buf(),
            "it is a folder, not a regular file",
        ),
    ];
    if made.is_ok_and(|s| s.success()) {
        cases.push((
            fifo.clone(),
            "it is a named pipe (FIFO), not a regular file",
        ));
    }
    let work_before = snapshot(work.path());
    for (out, reason) in &cases {
        let run = run_on_demo(&[], out);
        let stderr = stderr_of(&run);
        assert_eq!(run.status.code(), Some(1), "{}: {stderr}", out.display());
        assert!(
            stderr.contains(&format!(
                "refusing to write the output to \"{}\"",
                out.display()
            )),
            "{stderr}"
        );
        assert!(stderr.contains(reason), "{stderr}");
        assert!(stderr.contains("choose"), "says what to do: {stderr}");
        assert_no_panic(&stderr);
    }
    assert_eq!(snapshot(demo_dir()), before, "the inputs are unchanged");
    assert_eq!(snapshot(work.path()), work_before, "nothing left behind");
    assert!(
        std::fs::symlink_metadata(&link_to_input)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn out_follows_symbolic_links_and_says_when_it_replaces_a_file() {
    let before = snapshot(demo_dir());
    let work = tempfile::tempdir().unwrap();
    let real = work.path().join("real");
    std::fs::create_dir(&real).unwrap();
    let link = work.path().join("out.tif");
    std::os::unix::fs::symlink("real/masked.tif", &link).unwrap();

    let first = run_on_demo(&[], &link);
    let stderr = stderr_of(&first);
    assert!(first.status.success(), "{stderr}");
    assert!(
        stderr.contains("is a symbolic link: the output goes to"),
        "{stderr}"
    );
    assert!(!stderr.contains("replaces"), "nothing was there: {stderr}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link is still a link"
    );
    assert!(real.join("masked.tif").is_file());

    // Again: an earlier output is replaced, and that is said.
    let second = run_on_demo(&[], &link);
    let stderr = stderr_of(&second);
    assert!(second.status.success(), "{stderr}");
    assert!(
        stderr.contains("note: the output replaces the existing file"),
        "{stderr}"
    );
    assert_no_panic(&stderr);
    assert_eq!(files_in(&real), ["masked.tif"], "no staging file left");
    assert_eq!(files_in(work.path()), ["out.tif", "real"]);
    assert_eq!(snapshot(demo_dir()), before);
}

/// Starts a run of 786433 tasks, sends `signal` once it is handled (the task-count note
/// is printed after the handler is installed) and returns the exit code and stderr; `None`
/// if the run finished before the signal arrived (a machine far faster than expected).
fn signal_a_run(signal: libc::c_int, out: &Path) -> Option<(Option<i32>, String)> {
    signals_to_a_run(&[signal], out)
}

/// [`signal_a_run`] with each of `signals` sent in turn, 50 ms apart.
fn signals_to_a_run(signals: &[libc::c_int], out: &Path) -> Option<(Option<i32>, String)> {
    let mut child = StdCommand::new(bin())
        .args(["run", "--res", "10", "--chunks", "1", "--threads", "2"])
        .arg("--catalog")
        .arg(demo())
        .arg("--out")
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut text = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("the run ended before its task-count note: {text}");
        }
        text.push_str(&line);
        if line.contains("tasks per run") {
            break;
        }
    }
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    for &signal in signals {
        // SAFETY: kill only sends a signal to the child we spawned.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    stderr.read_to_string(&mut text).unwrap();
    let status = child.wait().unwrap();
    if text.contains("came after the last task") {
        return None;
    }
    Some((status.code(), text))
}

#[test]
fn sigterm_and_sighup_cancel_a_run_like_ctrl_c() {
    let before = snapshot(demo_dir());
    for (signal, name, code) in [
        (libc::SIGTERM, "SIGTERM", 143),
        (libc::SIGHUP, "SIGHUP", 129),
    ] {
        let work = tempfile::tempdir().unwrap();
        let out = work.path().join("masked.tif");
        let result = (0..3).find_map(|_| signal_a_run(signal, &out));
        let Some((status, stderr)) = result else {
            eprintln!("skipping {name}: three runs finished before the signal arrived");
            continue;
        };
        assert_eq!(status, Some(code), "{stderr}");
        assert!(
            stderr.contains(&format!(
                "{name}: cancelling after the running tasks (a second signal quits at once)"
            )),
            "{stderr}"
        );
        assert!(
            stderr.contains("cancelled: no output was written"),
            "{stderr}"
        );
        assert_no_panic(&stderr);
        assert_eq!(
            files_in(work.path()),
            Vec::<String>::new(),
            "no output and no staging file"
        );
    }
    assert_eq!(snapshot(demo_dir()), before);
}

#[test]
fn a_second_sigterm_quits_at_once_without_tearing_gdal_down_under_the_run() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("masked.tif");
    let result = (0..3).find_map(|_| signals_to_a_run(&[libc::SIGTERM, libc::SIGTERM], &out));
    let Some((status, stderr)) = result else {
        eprintln!("skipping: three runs finished before the signals arrived");
        return;
    };
    // 143, not 139: the process ends without its exit-time teardown while workers may be
    // inside GDAL.
    assert_eq!(status, Some(143), "{stderr}");
    assert!(stderr.contains("a second signal quits at once"), "{stderr}");
    assert_no_panic(&stderr);
}

/// The TUI on the demo in tmux, its pid written by the shell that becomes it.
fn tui_in_tmux(work: &Path, name: &str, extra: &str) -> (Tmux, libc::pid_t) {
    let tmux = Tmux::start(work, name, 100, 30);
    let pid_file = work.join("tui.pid");
    tmux.send(&[
        &format!(
            "sh -c 'echo $$ > {}; exec env NO_COLOR=1 {} tui {} {extra}'; echo EXIT=$?",
            pid_file.display(),
            bin().display(),
            demo().display()
        ),
        "Enter",
    ]);
    tmux.wait_for("Scenes 2/2", 30);
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (tmux, pid)
}

#[test]
fn the_tui_restores_the_terminal_on_sigterm_and_sighup() {
    tmux::require();
    for (signal, name, code) in [
        (libc::SIGTERM, "SIGTERM", 143),
        (libc::SIGHUP, "SIGHUP", 129),
    ] {
        let work = tempfile::tempdir().unwrap();
        // A tmux server (socket) per signal: the previous one may still be shutting down.
        let (tmux, pid) = tui_in_tmux(work.path(), &format!("rel-{name}"), "");
        // Alternate screen on, cursor hidden, mouse reporting on: the TUI holds the terminal.
        assert_eq!(
            tmux.display("#{alternate_on} #{cursor_flag} #{mouse_any_flag}"),
            "1 0 1"
        );
        // SAFETY: kill only sends a signal to the TUI this test started.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
        let screen = tmux.wait_for(&format!("EXIT={code}"), 30);
        assert!(
            screen.contains(&format!("{name}: stopped the TUI")),
            "{screen}"
        );
        assert_no_panic(&screen);
        assert_eq!(
            tmux.display("#{alternate_on} #{cursor_flag} #{mouse_any_flag}"),
            "0 1 0",
            "main screen, cursor shown, mouse reporting off"
        );
    }
}

/// Whether process `pid` still runs (a zombie no longer does).
fn running(pid: libc::pid_t) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // The state follows the command name, which is in parentheses.
            let after = &stat[stat.rfind(')')? + 1..];
            after
                .split_whitespace()
                .next()
                .map(|s| s != "Z" && s != "X")
        })
        .unwrap_or(false)
}

#[test]
fn the_tui_ends_when_its_terminal_goes_away_without_a_signal() {
    tmux::require();
    let work = tempfile::tempdir().unwrap();
    let (tmux, pid) = tui_in_tmux(work.path(), "rel-hangup", "");
    assert!(running(pid));
    // Killing tmux's server closes the terminal without sending SIGHUP to the TUI: it
    // used to stay behind, reading the dead terminal at full CPU.
    drop(tmux);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while running(pid) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let still = running(pid);
    if still {
        // SAFETY: only the TUI this test started, so the failure leaves nothing behind.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    assert!(!still, "the TUI outlived its terminal by 15 s");
}

#[test]
fn sigterm_during_a_tui_run_leaves_no_file() {
    tmux::require();
    let before = snapshot(demo_dir());
    let work = tempfile::tempdir().unwrap();
    // Every request waits 300 ms: the run is still loading when the signal comes.
    let (tmux, pid) = tui_in_tmux(work.path(), "rel-run", "--network 300ms");
    tmux.send(&["Enter"]);
    tmux.wait_for("per chunk", 30);
    tmux.send(&["r"]);
    tmux.wait_for("Task stream", 30);
    // SAFETY: kill only sends a signal to the TUI this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let screen = tmux.wait_for("EXIT=143", 60);
    assert_no_panic(&screen);
    let out = work.path().join("chunkscope-out");
    assert_eq!(files_in(&out), Vec::<String>::new(), "nothing left");
    assert_eq!(snapshot(demo_dir()), before);
}

#[test]
fn sigterm_during_an_inspection_waits_for_it_and_exits_143() {
    tmux::require();
    let work = tempfile::tempdir().unwrap();
    // Every request waits 150 ms: the second scene's assets take a second or two to
    // inspect. The inspection's thread is inside GDAL when the signal comes; the TUI waits
    // for it rather than exit under it (which crashed: status 139).
    let (tmux, pid) = tui_in_tmux(work.path(), "rel-inspect", "--network 150ms");
    tmux.send(&["Down"]);
    tmux.wait_for("inspecting", 30);
    // SAFETY: kill only sends a signal to the TUI this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    // "EXIT=1": 143 or the crash's 139 (the command line on screen has "EXIT=$?").
    let screen = tmux.wait_for("EXIT=1", 60);
    assert!(screen.contains("EXIT=143"), "{screen}");
    assert!(screen.contains("SIGTERM: stopped the TUI"), "{screen}");
    assert!(
        !screen.contains("did not stop within"),
        "it stopped by itself, not by the grace period: {screen}"
    );
    assert_no_panic(&screen);
    assert_eq!(
        tmux.display("#{alternate_on} #{cursor_flag} #{mouse_any_flag}"),
        "0 1 0",
        "main screen, cursor shown, mouse reporting off"
    );
}

#[test]
fn the_tui_refuses_without_a_usable_terminal() {
    // Standard output redirected (a pipe here): no escape codes in it, the same message
    // as plain `chunkscope`.
    for args in [
        vec!["tui".to_string(), demo().display().to_string()],
        vec![],
    ] {
        let out = chunkscope().args(&args).output().unwrap();
        let stderr = stderr_of(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("not a terminal: standard output is not a TTY"),
            "{stderr}"
        );
        assert!(
            stderr.contains("use `chunkscope run` for headless runs"),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "nothing drawn into stdout");
    }
    tmux::require();
    let work = tempfile::tempdir().unwrap();
    let tmux = Tmux::start(work.path(), "rel-tty", 120, 30);
    let bin = bin();
    let catalog = demo().display().to_string();
    tmux.send(&[
        &format!("TERM=dumb {} tui {catalog}; echo DUMB=$?", bin.display()),
        "Enter",
    ]);
    let screen = tmux.wait_for("DUMB=2", 30);
    assert!(screen.contains("TERM is \"dumb\""), "{screen}");
    // setsid: a new session without a controlling terminal, stdout still the pane.
    tmux.send(&[
        &format!(
            // Quoted apart so the typed command does not already show "NOTTY=".
            "clear; setsid -w {} tui {catalog} < /dev/null; echo NO''TTY=$?",
            bin.display()
        ),
        "Enter",
    ]);
    let screen = tmux.wait_for("NOTTY=", 30);
    if screen.contains("NOTTY=127") {
        eprintln!("skipping the no-TTY case: setsid is not installed");
        return;
    }
    assert!(screen.contains("NOTTY=2"), "{screen}");
    assert!(
        screen.contains("no controlling terminal to read keys from"),
        "{screen}"
    );
    assert_no_panic(&screen);
}

#[test]
fn thread_counts_are_bounded_unless_forced() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let limit = (cores * 4).min(1024);
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("m.tif");
    let over = (limit + 1).to_string();
    for (args, message) in [
        (
            vec!["run", "--threads", "100000"],
            "100000 threads is more than the 1024 worker threads chunkscope starts",
        ),
        (
            vec!["run", "--threads", "5000", "--force-threads"],
            "more than the 1024 worker threads",
        ),
        (vec!["run", "--threads", &over], "add --force-threads"),
        (vec!["bench", "--threads", &over], "add --force-threads"),
        (vec!["compare", "--threads", &over], "add --force-threads"),
        (vec!["sweep", "--threads", &over], "add --force-threads"),
        (vec!["memory", "--threads", &over], "add --force-threads"),
        (
            vec!["plan", "--calibrate", "--threads", "4096"],
            "more than the 1024",
        ),
    ] {
        let t0 = Instant::now();
        let run = command_on_demo(&args);
        let stderr = stderr_of(&run);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert_no_panic(&stderr);
        // Refused before anything started: not a timing claim, a hang guard.
        assert!(t0.elapsed() < Duration::from_secs(60), "{args:?}");
    }
    // Forced, within the hard bound: it runs.
    let forced = chunkscope()
        .args(["run", "--force-threads", "--threads", &over, "--catalog"])
        .arg(demo())
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(forced.status.success(), "{}", stderr_of(&forced));
    assert_eq!(files_in(work.path()), ["m.tif"]);
}

#[test]
fn chunk_sides_and_benchmark_sizes_are_bounded() {
    let bad_side = command_on_demo(&["bench", "--chunks", "512,0"]);
    let stderr = stderr_of(&bad_side);
    assert_eq!(bad_side.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("chunk side must be at least 1, got 0"),
        "{stderr}"
    );
    for args in [
        vec!["bench", "--repeat", "400"],
        vec!["sweep", "--repeat", "100"],
        vec!["compare", "--repeat", "999"],
        vec!["memory", "--repeat", "400"],
    ] {
        let run = command_on_demo(&args);
        let stderr = stderr_of(&run);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("runs, more than the 1000 one command schedules"),
            "{stderr}"
        );
    }
    // 1-pixel chunks of the 256 x 256 working grid: said, with the count, before the run.
    let work = tempfile::tempdir().unwrap();
    let run = run_on_demo(&["--chunks", "1"], &work.path().join("m.tif"));
    let stderr = stderr_of(&run);
    assert!(run.status.success(), "{stderr}");
    assert!(
        stderr.contains("note: chunks \"1\" (3,1,1) make 65536 chunks, 196609 tasks per run"),
        "{stderr}"
    );
    assert_no_panic(&stderr);
}

/// A copy of the demo's first item in its own folder, its visual asset replaced by
/// `visual` bytes, and its catalog.
fn catalog_with_visual(dir: &Path, visual: &[u8]) -> PathBuf {
    let text = std::fs::read_to_string(demo()).unwrap();
    let mut catalog: Value = serde_json::from_str(&text).unwrap();
    let features = catalog["features"].as_array_mut().unwrap();
    features.truncate(1);
    for asset in features[0]["assets"].as_object_mut().unwrap().values_mut() {
        let href = asset["href"].as_str().unwrap().trim_start_matches("./");
        let name = Path::new(href).file_name().unwrap();
        std::fs::copy(demo_dir().join(href), dir.join(name)).unwrap();
        asset["href"] = Value::String(format!("./{}", name.to_string_lossy()));
    }
    std::fs::write(dir.join("visual.tif"), visual).unwrap();
    let path = dir.join("search.json");
    std::fs::write(&path, serde_json::to_string(&catalog).unwrap()).unwrap();
    path
}

#[test]
fn unreadable_inputs_are_not_rasters_gdal_can_read() {
    for (content, why) in [
        (&b""[..], "the file is empty (0 bytes)"),
        (
            &b"<html>not a TIFF</html>"[..],
            "no driver chunkscope reads assets with (GTiff",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let catalog = catalog_with_visual(dir.path(), content);
        let before = snapshot(dir.path());
        for command in ["run", "inspect"] {
            let mut cmd = chunkscope();
            cmd.arg(command);
            if command == "run" {
                cmd.arg("--catalog")
                    .arg(&catalog)
                    .arg("--out")
                    .arg(dir.path().join("m.tif"));
            } else {
                cmd.arg(&catalog);
            }
            let out = cmd.output().unwrap();
            let stderr = stderr_of(&out);
            assert_eq!(out.status.code(), Some(1), "{stderr}");
            assert!(
                stderr.contains(&format!(
                    "\"{}\": not a raster GDAL can read: {why}",
                    dir.path().join("visual.tif").display()
                )),
                "{stderr}"
            );
            assert!(!stderr.contains("NULL pointer"), "{stderr}");
            assert_no_panic(&stderr);
        }
        assert_eq!(snapshot(dir.path()), before);
    }
}

/// A file GDAL's TIFF driver takes and fails on: the message keeps GDAL's own words (the
/// cause), once, and ends with what to do.
#[test]
fn a_broken_tiff_is_reported_with_gdals_words() {
    let dir = tempfile::tempdir().unwrap();
    // A little-endian TIFF header whose first directory lies past the end of the file.
    let catalog = catalog_with_visual(dir.path(), b"II*\0\xff\xff\x00\x00 not a directory");
    let out = chunkscope().arg("inspect").arg(&catalog).output().unwrap();
    let stderr = stderr_of(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line: {stderr}"));
    let said = line
        .split_once("not a raster GDAL can read: ")
        .unwrap_or_else(|| panic!("{line}"))
        .1;
    assert!(said.contains("TIFF"), "GDAL's words are kept: {line}");
    assert!(
        said.ends_with("generate the demo again with `chunkscope demo`"),
        "{line}"
    );
    assert!(!line.contains("NULL pointer"), "{line}");
    assert_no_panic(&stderr);
}

#[test]
fn item_ids_become_safe_file_names() {
    let text = std::fs::read_to_string(demo()).unwrap();
    let mut catalog: Value = serde_json::from_str(&text).unwrap();
    let features = catalog["features"].as_array_mut().unwrap();
    for feature in features.iter_mut() {
        for asset in feature["assets"].as_object_mut().unwrap().values_mut() {
            let href = asset["href"].as_str().unwrap().trim_start_matches("./");
            asset["href"] = Value::String(demo_dir().join(href).display().to_string());
        }
    }
    features[0]["id"] = Value::String("../../escaped".into());
    features[1]["id"] = Value::String(String::new());
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("a").join("b");
    std::fs::create_dir_all(&work).unwrap();
    let path = dir.path().join("ids.json");
    std::fs::write(&path, serde_json::to_string(&catalog).unwrap()).unwrap();
    for id in ["../../escaped", ""] {
        let out = chunkscope()
            .current_dir(&work)
            .args(["run", "--threads", "2", "--item", id, "--catalog"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr_of(&out));
    }
    assert_eq!(
        files_in(&work.join("chunkscope-out")),
        ["masked-_._.._escaped.tif", "masked-unnamed.tif"]
    );
    assert_eq!(files_in(&work), ["chunkscope-out"]);
    assert_eq!(files_in(dir.path()), ["a", "ids.json"]);
    assert_eq!(files_in(&dir.path().join("a")), ["b"]);
}

/// Stops a server with SIGTERM: it ends normally (status 0) with its summary.
fn stop(mut child: Child) -> String {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill only sends a signal to the server this test started.
    let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("served "), "{stderr}");
    assert_no_panic(&stderr);
    stderr
}

/// The status line and headers of a raw HTTP/1.1 GET, and the body's length.
fn get(base: &str, path: &str, range: Option<&str>) -> (String, usize) {
    let host = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(host).unwrap();
    let range = range.map_or(String::new(), |r| format!("Range: bytes={r}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{range}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    (
        String::from_utf8_lossy(&response[..split]).to_lowercase(),
        response.len() - split - 4,
    )
}

#[test]
fn serve_stays_inside_its_folder_and_answers_ranges_as_the_rfc_says() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "not yours").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("search.json"), std::fs::read(demo()).unwrap()).unwrap();
    std::fs::write(root.join("data.bin"), vec![7u8; 1000]).unwrap();
    std::fs::write(root.join(".hidden"), "staging").unwrap();
    std::os::unix::fs::symlink(outside.path(), root.join("out")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.join("s.txt")).unwrap();
    std::os::unix::fs::symlink(".hidden", root.join("visible.txt")).unwrap();
    std::os::unix::fs::symlink("data.bin", root.join("inside.bin")).unwrap();
    let (server, base) = common::serve(root, &[], true);

    for path in [
        "/out/secret.txt",
        "/s.txt",
        "/.hidden",
        "/visible.txt",
        "/%2e%2e/secret.txt",
        "/..%2Fsecret.txt",
    ] {
        let (head, _) = get(&base, path, None);
        assert!(head.starts_with("http/1.1 404"), "{path}: {head}");
    }
    let (head, len) = get(&base, "/inside.bin", None);
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert_eq!(len, 1000, "a link inside the folder is served");

    let (head, _) = get(&base, "/data.bin", Some("5000-"));
    assert!(head.starts_with("http/1.1 416"), "{head}");
    assert!(head.contains("content-range: bytes */1000"), "{head}");

    let many: Vec<String> = (0..300).map(|i| format!("{i}-{i}")).collect();
    let (head, len) = get(&base, "/data.bin", Some(&many.join(",")));
    assert!(head.starts_with("http/1.1 416"), "{head}");
    assert!(head.contains("content-range: bytes */1000"), "{head}");
    assert!(len < 1000, "a short refusal, not a multipart answer: {len}");

    let some: Vec<String> = (0..10).map(|i| format!("{}-{}", i * 10, i * 10)).collect();
    let (head, _) = get(&base, "/data.bin", Some(&some.join(",")));
    assert!(head.starts_with("http/1.1 206"), "{head}");
    assert!(head.contains("multipart/byteranges"), "{head}");
    stop(server);
}

#[test]
fn serve_warns_about_a_folder_without_a_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let (server, base) = common::serve(dir.path(), &[], true);
    let stderr = stop(server);
    assert!(
        stderr.contains(&format!(
            "warning: \"{}\" has no search.json",
            dir.path().display()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("--catalog {base}/search.json will fail")),
        "{stderr}"
    );
}

#[test]
fn a_stalled_server_is_reported_within_the_stall_budget() {
    let (server, base) = common::serve(demo_dir(), &["--fault", "stall"], true);
    // The demo's catalog with its hrefs pointing at the stalled server.
    let mut catalog: Value =
        serde_json::from_str(&std::fs::read_to_string(demo()).unwrap()).unwrap();
    for feature in catalog["features"].as_array_mut().unwrap() {
        for asset in feature["assets"].as_object_mut().unwrap().values_mut() {
            let href = asset["href"].as_str().unwrap().trim_start_matches("./");
            asset["href"] = Value::String(format!("{base}/{href}"));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("search.json");
    std::fs::write(&path, serde_json::to_string(&catalog).unwrap()).unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = chunkscope()
        .args(["run", "--stall-timeout", "1s", "--catalog"])
        .arg(&path)
        .arg("--out")
        .arg(out_dir.join("m.tif"))
        .output()
        .unwrap();
    let stderr = stderr_of(&out);
    stop(server);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("asset \"visual\" of item"), "{stderr}");
    assert!(
        stderr.contains("the server did not answer in time"),
        "{stderr}"
    );
    assert!(stderr.contains("--stall-timeout"), "{stderr}");
    assert_no_panic(&stderr);
    assert_eq!(files_in(&out_dir), Vec::<String>::new());

    let bad = chunkscope()
        .args(["run", "--stall-timeout", "10ms", "--catalog"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr_of(&bad).contains("use at least 1s"));
}

#[test]
fn a_catalog_url_reads_like_a_file() {
    let before = snapshot(demo_dir());
    let (server, base) = common::serve(demo_dir(), &[], true);
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("m.tif");
    let run = chunkscope()
        .args(["run", "--threads", "2", "--catalog"])
        .arg(format!("{base}/search.json"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let missing = chunkscope()
        .args(["inspect", &format!("{base}/nope.json")])
        .output()
        .unwrap();
    let not_json = chunkscope()
        .args(["run", "--catalog", &format!("{base}/search.json/x")])
        .output()
        .unwrap();
    stop(server);
    assert!(run.status.success(), "{}", stderr_of(&run));
    assert!(out.is_file());

    let stderr = stderr_of(&missing);
    assert_eq!(missing.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot read catalog \"{base}/nope.json\"")),
        "{stderr}"
    );
    assert!(stderr.contains("HTTP 404"), "{stderr}");
    assert_eq!(not_json.status.code(), Some(1));
    assert_no_panic(&stderr_of(&not_json));

    // Unreachable: the same kind of message.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let gone = chunkscope()
        .args(["inspect", &format!("http://127.0.0.1:{port}/search.json")])
        .output()
        .unwrap();
    let stderr = stderr_of(&gone);
    assert_eq!(gone.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("cannot read catalog \"http://127.0.0.1:"),
        "{stderr}"
    );
    assert!(stderr.contains("the host is unreachable"), "{stderr}");
    assert_eq!(snapshot(demo_dir()), before);
}

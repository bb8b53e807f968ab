//! The terminal front end: owns the terminal, runs the frame loop on the main thread and
//! leaves the engine's work to a background thread (see [`session`]). The app and its
//! update live in [`app`], the data the screens show in [`model`], the views in [`view`]
//! and the key table in [`keys`].
//!
//! Terminal safety: [`TerminalGuard`] restores the terminal when dropped, and a panic hook
//! restores it before the panic message is printed (a panic on another thread is routed to
//! the log panel instead, so it does not draw over the screen). A stop signal (SIGTERM,
//! SIGHUP, or SIGINT from outside: in raw mode Ctrl-C is a key) ends the frame loop like
//! `q`, so the guard restores the terminal; a second one restores it and exits at once.
//!
//! Threads: [`run`] returns only once every thread it started has ended — the background
//! work's (the session's [`work::Slot`] joins them) and the [`Watchdog`]'s — so the process
//! then exits normally. Only the watchdog may end it early, when the frame loop is stuck.

pub mod app;
mod dask_job;
mod dask_script;
pub mod export;
pub mod job;
pub mod keys;
pub mod lesson_job;
pub mod model;
mod panic_for_tests;
mod run_job;
pub mod screenshot;
pub mod session;
#[cfg(test)]
mod snapshots;
pub mod svg;
pub mod sweep_job;
#[cfg(test)]
pub mod testdata;
pub mod view;
pub mod work;

use std::io::{self, Stdout};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use anyhow::Context;
use chunkscope::network::Probe;
use crossbeam_channel::{Receiver, Sender};
use crossterm::event::{
    self as ct, DisableMouseCapture, EnableMouseCapture, Event as CtEvent, KeyEventKind,
    MouseButton, MouseEventKind,
};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use crossterm::{cursor, execute};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

use chunkscope::catalog::Catalog;

pub use model::sweep::SweepView;

use app::{App, Msg};
use session::Session;

/// One frame every 50 ms (20 fps), whatever the event rate.
const FRAME: Duration = Duration::from_millis(50);

/// How long a stop signal gives the frame loop to leave before the process ends anyway.
/// Leaving cancels a run in flight and waits for its tasks, which takes well under this.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Restores the terminal when dropped: raw mode off, main screen, cursor shown.
pub struct TerminalGuard {
    _private: (),
}

impl TerminalGuard {
    fn enter() -> io::Result<Self> {
        enable_raw_mode()?;
        let guard = TerminalGuard { _private: () };
        execute!(
            io::stdout(),
            EnterAlternateScreen,
            cursor::Hide,
            EnableMouseCapture
        )?;
        Ok(guard)
    }
}

/// Why the TUI cannot run here, if it cannot: it draws on standard output and reads keys
/// from the controlling terminal, and a dumb terminal has no cursor movement to draw with.
pub fn terminal_problem() -> Option<&'static str> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        return Some("not a terminal: standard output is not a TTY (redirected or piped)");
    }
    if std::env::var_os("TERM").is_some_and(|t| t == "dumb") {
        return Some("not a terminal the TUI can draw on: TERM is \"dumb\"");
    }
    // crossterm reads keys from /dev/tty when standard input is not the terminal.
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty");
    if tty.is_err() {
        return Some("not a terminal: there is no controlling terminal to read keys from");
    }
    None
}

fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        cursor::Show
    );
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

static UI_THREAD: OnceLock<ThreadId> = OnceLock::new();
static PANIC_LOG: OnceLock<Sender<String>> = OnceLock::new();

/// On the UI thread: restore the terminal, then print as usual. Elsewhere (the run
/// thread): put the message in the log panel; the run's result reports the failure.
fn install_panic_hook(log: Sender<String>) {
    let _ = UI_THREAD.set(std::thread::current().id());
    let _ = PANIC_LOG.set(log);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let on_ui = UI_THREAD.get() == Some(&std::thread::current().id());
        if !on_ui && let Some(tx) = PANIC_LOG.get() {
            let _ = tx.send(format!("internal error on a worker thread: {info}"));
            return;
        }
        restore_terminal();
        previous(info);
    }));
}

/// Whether colour is wanted: `NO_COLOR` set to anything non-empty turns it off
/// (https://no-color.org).
fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// What the TUI starts with besides the catalog.
#[derive(Debug, Default)]
pub struct Options {
    /// A sweep to show on the Sweep screen ([`SweepView::load`]).
    pub sweep: Option<SweepView>,
    /// Where `s` saves results; `chunkscope-out/` by default.
    pub export_dir: Option<PathBuf>,
    /// Labels a simulated network the catalog is read through (shown in the header).
    pub network: Option<String>,
    /// That network's server: the scenes of the catalog are read through it.
    pub server: Option<Probe>,
    /// A run imported from a Dask task stream (`tui --dask`): shown on the Run screen and
    /// first in Results.
    pub dask: Option<Box<chunkscope::pipeline::RunReport>>,
    /// Open in the lesson, on this catalog item (`chunkscope lesson`).
    pub lesson: Option<usize>,
    /// The Python `D` runs Dask with (`tui --python`); default: the environment
    /// `chunkscope dask setup` made.
    pub python: Option<PathBuf>,
    /// Where the lesson's steps take Dask's figures from (`--live-dask`: live runs).
    pub lesson_dask: chunkscope::lesson::DaskSide,
}

/// How the frame loop ended, for the exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `q`, or a stop signal (whose status the caller reads from [`crate::signals`]).
    Quit,
    /// Ctrl-C pressed in the TUI. In raw mode it is a key, not SIGINT, but the user asked
    /// what Ctrl-C asks anywhere else: the status is 130, as the README promises.
    Interrupted,
}

/// Runs the TUI on `catalog` until the user quits. Outputs go to `chunkscope-out/`.
pub fn run(catalog: Catalog, options: Options) -> anyhow::Result<Ending> {
    let (log_tx, log_rx) = crossbeam_channel::unbounded::<String>();
    {
        let tx = log_tx.clone();
        chunkscope::raster::route_gdal_messages(move |line| {
            let _ = tx.send(line.to_string());
        });
    }
    install_panic_hook(log_tx);
    // The frame loop looks at `signals::received` itself and leaves within a frame; the
    // watchdog ends the process if it does not (see there).
    let watchdog = Watchdog::start();
    crate::signals::before_forced_exit(restore_terminal);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut app = App::new(catalog, cores, color_wanted());
    // The lesson's scene (★, `items[-1]`) first, as every command takes it by default.
    app.selected = app.catalog.lesson_index().unwrap_or(0);
    app.results.sweep = options.sweep;
    app.network = options.network;
    if let Some(report) = options.dask {
        dask_script::open_imported(&mut app, *report);
    }
    let out = PathBuf::from("chunkscope-out");
    let mut session = Session::new(app, out.clone())
        .with_log(log_rx)
        .with_export_dir(options.export_dir.unwrap_or(out))
        .with_server(options.server)
        .with_exe(std::env::current_exe().ok())
        .with_python(options.python)
        .with_lesson_dask(options.lesson_dask)
        .in_background();
    if let Some(item) = options.lesson {
        session.open_lesson(item);
    }

    let result = {
        let _guard = TerminalGuard::enter().context("cannot set up the terminal")?;
        let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))
            .context("cannot set up the terminal")?;
        terminal.clear().ok();
        event_loop(&mut terminal, &mut session)
    };
    // The watchdog stays on while the work stops: a run finishing its tasks in flight,
    // an inspection waiting for a remote server.
    session.shutdown();
    watchdog.stop();
    chunkscope::raster::route_gdal_messages(|line| eprintln!("{line}"));
    result
}

/// Whether `k` is Ctrl-C.
fn is_ctrl_c(k: &crossterm::event::KeyEvent) -> bool {
    k.code == crossterm::event::KeyCode::Char('c')
        && k.modifiers
            .contains(crossterm::event::KeyModifiers::CONTROL)
}

/// Ends the process when the TUI is stuck for good, in the two ways it can be:
///
/// - Its terminal hung up. Closing a terminal's window or killing its tmux server does not
///   always send SIGHUP (tmux's kill-server does not), and crossterm then keeps reading the
///   dead terminal without returning to the frame loop, at full CPU, for ever. A hung-up
///   terminal answers every request with an I/O error: looked at twice a second, it ends
///   the TUI as SIGHUP would (status 129). Nothing is left to restore.
/// - A stop signal came and the TUI did not end within [`STOP_GRACE`] (stuck as above, or
///   its work did not stop): it restores what it can and ends with the signal's status.
///
/// Owned by [`run`], which stops and joins it once the work is over.
struct Watchdog {
    /// Dropped to stop the thread.
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    fn start() -> Self {
        let (stop_tx, stop) = crossbeam_channel::bounded::<()>(0);
        let (signal_tx, signalled) = crossbeam_channel::unbounded();
        crate::signals::on_stop(move |signal| {
            let _ = signal_tx.send(signal);
        });
        let thread = std::thread::Builder::new()
            .name("chunkscope-watchdog".into())
            .spawn(move || watch(&stop, &signalled))
            // Without it the TUI runs as before the watchdog: only a stuck loop stays.
            .ok();
        Self {
            stop: Some(stop_tx),
            thread,
        }
    }

    /// Stops the thread and waits for it (at once: it waits on the channel this closes).
    fn stop(mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn watch(stop: &Receiver<()>, signalled: &Receiver<crate::signals::Signal>) {
    let mut deadline = None;
    loop {
        crossbeam_channel::select! {
            recv(stop) -> _ => return,
            recv(signalled) -> signal => {
                if let Ok(signal) = signal {
                    deadline.get_or_insert((signal, Instant::now() + STOP_GRACE));
                }
            }
            default(Duration::from_millis(500)) => {}
        }
        // SAFETY: tcgetattr only fills the termios struct it is given.
        let gone = unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            libc::tcgetattr(libc::STDOUT_FILENO, &mut t) != 0
                && std::io::Error::last_os_error().raw_os_error() == Some(libc::EIO)
        };
        if gone {
            forced_exit(128 + libc::SIGHUP);
        }
        if let Some((signal, at)) = deadline
            && Instant::now() >= at
        {
            restore_terminal();
            eprintln!(
                "{}: the TUI did not stop within {} s; quitting",
                signal.describe(),
                STOP_GRACE.as_secs()
            );
            forced_exit(signal.status());
        }
    }
}

/// Ends the process at once with `status`, without the exit handlers of the C libraries.
/// There is no other way out here: the main thread, which owns the background work and
/// alone can join it, is stuck (reading a dead terminal, or waiting for work that does not
/// stop), so that work may be inside GDAL, and `exit` would run GDAL's teardown under it:
/// the process then crashed (status 139 after a SIGTERM instead of 143). The normal way out
/// joins the work first and returns from `main`.
fn forced_exit(status: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stderr().flush();
    // SAFETY: _exit ends the process at once; nothing after it runs.
    unsafe { libc::_exit(status) }
}

fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    session: &mut Session,
) -> anyhow::Result<Ending> {
    session.start();
    let mut next_frame = Instant::now();
    let mut ending = Ending::Quit;
    let mut first_frame = true;
    loop {
        session.pump();
        if session.quit_requested() || crate::signals::received().is_some() {
            return Ok(ending);
        }
        if Instant::now() >= next_frame {
            if let Ok(size) = terminal.size() {
                session.set_viewport(size.width, size.height);
            }
            terminal
                .draw(|f| view::render(&session.app, f.area(), f.buffer_mut()))
                .context("cannot draw")?;
            next_frame = Instant::now() + FRAME;
            if std::mem::take(&mut first_frame) {
                panic_for_tests::on_purpose();
            }
        }
        let wait = next_frame.saturating_duration_since(Instant::now());
        if ct::poll(wait).context("cannot read the terminal")? {
            match ct::read().context("cannot read the terminal")? {
                CtEvent::Key(k) if k.kind != KeyEventKind::Release => {
                    // Below the minimum size the screen only says "too small": keys that
                    // would act unseen (Enter starting a run) wait; quitting still works.
                    let small = terminal
                        .size()
                        .is_ok_and(|s| s.width < view::MIN_WIDTH || s.height < view::MIN_HEIGHT);
                    let quits =
                        matches!(k.code, crossterm::event::KeyCode::Char('q')) || is_ctrl_c(&k);
                    if small && !quits {
                        continue;
                    }
                    // The last key that may quit says how: Ctrl-C (which, typing a path, only
                    // leaves the path) or q.
                    if quits {
                        ending = if is_ctrl_c(&k) {
                            Ending::Interrupted
                        } else {
                            Ending::Quit
                        };
                    }
                    session.send(Msg::Key(k));
                    // Answer keys at once rather than at the next frame.
                    next_frame = Instant::now();
                }
                // Mouse is a convenience: a click on a chunk lists its tasks.
                CtEvent::Mouse(m) if m.kind == MouseEventKind::Down(MouseButton::Left) => {
                    let size = terminal.size().context("cannot read the terminal size")?;
                    let area = ratatui::layout::Rect::new(0, 0, size.width, size.height);
                    let chunk = view::chunk_at(&session.app, area, m.column, m.row);
                    session.send(Msg::SelectChunk(chunk));
                    next_frame = Instant::now();
                }
                CtEvent::Resize(_, _) => {
                    terminal.autoresize().ok();
                    next_frame = Instant::now();
                }
                _ => {}
            }
        }
    }
}

//! Stop signals, alike for both front ends: SIGINT (Ctrl-C), SIGTERM (`kill`, `timeout`,
//! a service manager) and SIGHUP (the terminal closed). The first one runs what the front
//! end registered with [`on_stop`] — the CLI cancels its run through the run's cancel flag,
//! so the engine stops after the tasks in flight and leaves no output; the TUI leaves its
//! loop and restores the terminal. A second signal ends the process at once, after the
//! hook set with [`before_forced_exit`]. Either way the exit status is 128 + the signal's
//! number, as a shell reports a process killed by it (130 for Ctrl-C, 143 for SIGTERM).
//!
//! The signals arrive on a thread of their own (signal-hook's iterator), so the registered
//! actions are ordinary code, not signal handlers: they may print, lock and send.

use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, Once};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

type Action = Box<dyn Fn(Signal) + Send>;

/// The first stop signal received, 0 before any.
static RECEIVED: AtomicI32 = AtomicI32::new(0);
static ON_STOP: Mutex<Vec<Action>> = Mutex::new(Vec::new());
static BEFORE_EXIT: Mutex<Option<Box<dyn Fn() + Send>>> = Mutex::new(None);
static INSTALL: Once = Once::new();

/// One of the stop signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(i32);

impl Signal {
    /// What the user did, for messages: `Ctrl-C`, `SIGTERM`, `SIGHUP`.
    pub fn describe(self) -> &'static str {
        match self.0 {
            SIGINT => "Ctrl-C",
            SIGTERM => "SIGTERM",
            SIGHUP => "SIGHUP",
            _ => "a signal",
        }
    }

    /// How to stop at once, for messages.
    pub fn again(self) -> &'static str {
        match self.0 {
            SIGINT => "Ctrl-C again to quit at once",
            _ => "a second signal quits at once",
        }
    }

    /// 128 + the signal's number, as a number.
    pub fn status(self) -> i32 {
        128 + self.0
    }

    /// 128 + the signal's number.
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(u8::try_from(128 + self.0).unwrap_or(1))
    }
}

/// Runs `action` (on the signal thread) when the first stop signal arrives. Installs the
/// handlers on first use; until then the signals keep their default effect.
pub fn on_stop(action: impl Fn(Signal) + Send + 'static) {
    ON_STOP
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Box::new(action));
    install();
}

/// Runs `hook` just before a second signal ends the process (the TUI restores the
/// terminal there).
pub fn before_forced_exit(hook: impl Fn() + Send + 'static) {
    *BEFORE_EXIT.lock().unwrap_or_else(|p| p.into_inner()) = Some(Box::new(hook));
}

/// The first stop signal received so far, if any.
pub fn received() -> Option<Signal> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        n => Some(Signal(n)),
    }
}

/// The exit status of a command whose work was cancelled: 128 + the signal that stopped
/// it, or 130 (as for Ctrl-C) when none was seen.
pub fn cancelled_exit_code() -> ExitCode {
    received().map_or(ExitCode::from(130), Signal::exit_code)
}

fn install() {
    INSTALL.call_once(|| {
        // Without the handlers the signals keep their default effect (the process ends),
        // which is what happened before; nothing better to do with the error.
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
            return;
        };
        // Never joined, on purpose: the thread lives as long as the process, since a
        // second signal must still end it while a front end winds down. It only waits for
        // signals, so the process's normal exit does not disturb it.
        let _ = std::thread::Builder::new()
            .name("chunkscope-signals".into())
            .spawn(move || {
                for sig in signals.forever() {
                    let first = RECEIVED
                        .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok();
                    if !first {
                        if let Some(hook) = &*BEFORE_EXIT.lock().unwrap_or_else(|p| p.into_inner())
                        {
                            hook();
                        }
                        let _ = std::io::Write::flush(&mut std::io::stderr());
                        // SAFETY: _exit ends the process at once, without the exit-time
                        // teardown that `process::exit` runs: the work a second signal cuts
                        // short may be inside GDAL on another thread, and GDAL tearing
                        // itself down under it crashed the process (139 instead of 143).
                        unsafe { libc::_exit(128 + sig) };
                    }
                    for action in ON_STOP.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                        action(Signal(sig));
                    }
                }
            });
    });
}

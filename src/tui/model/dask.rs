//! The lesson's code running on Dask from the TUI (`D`): what the status line says while
//! it runs. The run itself is the engine's ([`chunkscope::dask::runner`]), on a thread of
//! the session's ([`crate::tui::dask_job`]).

/// A Dask run in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct DaskLive {
    /// The settings run, as the history labels chunkscope's run of them.
    pub of: String,
    pub threads: usize,
    /// Time since it started (the session's clock, sent each frame).
    pub elapsed_ns: u64,
    /// The last line the script printed (Python's, Dask's).
    pub line: Option<String>,
    /// Esc was pressed: its processes are being ended.
    pub cancelling: bool,
}

impl DaskLive {
    pub fn new(of: String, threads: usize) -> Self {
        Self {
            of,
            threads,
            elapsed_ns: 0,
            line: None,
            cancelling: false,
        }
    }

    /// The status line: what runs, for how long, how to stop it, then its last output.
    pub fn status(&self) -> String {
        let t = chunkscope::profile::units::duration_ns(self.elapsed_ns);
        if self.cancelling {
            return format!("Dask: cancelling, ending its Python processes… {t}");
        }
        let threads = match self.threads {
            1 => "1 thread".to_string(),
            n => format!("{n} threads"),
        };
        let mut s = format!("Dask: running the lesson's code on {threads}… {t} (Esc cancels)");
        if let Some(line) = self.line.as_deref().filter(|l| !l.trim().is_empty()) {
            s.push_str(" · ");
            s.push_str(line.trim());
        }
        s
    }
}

/// Why a Dask run could not run or failed: a line for the status line, which leads with
/// what to do, and the whole message for the log.
#[derive(Debug, Clone, PartialEq)]
pub struct DaskFailure {
    pub short: String,
    pub detail: String,
}

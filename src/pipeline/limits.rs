//! Bounds on what a run or a benchmark may ask for, so that a slip of the keyboard fails at
//! once with a message instead of tying up the machine: `--threads 100000` on a 4-task job
//! started thousands of threads and printed nothing for minutes. Pure arithmetic; the
//! front ends phrase the messages with their own option names.

use super::PipelineError;

/// Worker threads per core a run may use unless the user insists. Beyond the cores,
/// threads only take turns on them; 2x already shows that, 4x leaves room for runs that
/// wait on a network.
pub const THREADS_PER_CORE: usize = 4;

/// Most worker threads any run starts, even when the user insists: each has a stack and
/// its own GDAL handles, and starting thousands takes seconds (`--threads 4096` made a
/// 0.2 s run take 18.5 s) before any work is done.
pub const MAX_THREADS: usize = 1024;

/// Runs with at least this many tasks are announced before they start: each task costs
/// its scheduling overhead, and such a run takes a while for reasons the chunk size, not
/// the data, explains.
pub const MANY_TASKS: usize = 100_000;

/// Most runs one benchmark command (bench, compare, sweep, memory) schedules.
pub const MAX_RUNS: usize = 1000;

/// The thread count allowed without insisting on a machine with `cores` cores.
pub fn thread_limit(cores: usize) -> usize {
    cores
        .max(1)
        .saturating_mul(THREADS_PER_CORE)
        .min(MAX_THREADS)
}

/// Tasks a chunked run of `chunks` chunks schedules: load, mask and write per chunk, plus
/// the finalize step.
pub fn task_count(chunks: usize) -> usize {
    chunks.saturating_mul(3).saturating_add(1)
}

/// Refuses a pool of more than [`MAX_THREADS`] threads, before any is started.
pub fn check_pool(threads: usize) -> Result<(), PipelineError> {
    if threads > MAX_THREADS {
        return Err(PipelineError::ThreadPool {
            threads,
            reason: format!("chunkscope starts at most {MAX_THREADS} worker threads"),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(thread_limit(2), 8);
        assert_eq!(thread_limit(0), 4);
        assert_eq!(thread_limit(10_000), MAX_THREADS);
        assert_eq!(task_count(16), 49);
        assert_eq!(task_count(usize::MAX), usize::MAX);
        assert!(check_pool(MAX_THREADS).is_ok());
        let err = check_pool(100_000).unwrap_err().to_string();
        assert!(err.contains("100000") && err.contains("1024"), "{err}");
    }
}

//! Bounds on what a run or a benchmark may ask for, so that a slip of the keyboard fails at
//! once with a message instead of tying up the machine: `--threads 100000` on a 4-task job
//! started thousands of threads and printed nothing for minutes. Pure arithmetic; the
//! front ends phrase the messages with their own option names.

use std::sync::atomic::{AtomicU64, Ordering};

use super::PipelineError;
use super::report::Grid;

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

/// Most pixels (bands x rows x cols of the working grid) a run allocates unless the user
/// raises the bound (`--max-pixels`): 4 Gi, ten times a full Sentinel-2 visual image at
/// 10 m. A header is a few bytes; a 601 KB TIFF declaring 1,000,000 x 1,000,000 pixels was
/// planned and run until the allocator gave up at 9.2 GB.
pub const DEFAULT_MAX_PIXELS: u64 = 1 << 32;

static MAX_PIXELS: AtomicU64 = AtomicU64::new(DEFAULT_MAX_PIXELS);

/// Sets the bound [`check_pixels`] applies, for this process.
pub fn set_max_pixels(limit: u64) {
    MAX_PIXELS.store(limit, Ordering::Relaxed);
}

/// The bound [`check_pixels`] applies.
pub fn max_pixels() -> u64 {
    MAX_PIXELS.load(Ordering::Relaxed)
}

/// Refuses, before any pixel buffer exists, a grid of more pixels than [`max_pixels`];
/// and a serial run (which holds the whole image, its mask and the SCL at once) that needs
/// more memory than the machine has available.
pub fn check_pixels(grid: &Grid, serial: bool) -> Result<(), PipelineError> {
    let plane = (grid.rows as u64).saturating_mul(grid.cols as u64);
    let pixels = plane.saturating_mul(grid.bands as u64);
    let limit = max_pixels();
    if pixels > limit {
        return Err(PipelineError::TooManyPixels {
            pixels,
            shape: format!("{} bands x {} x {}", grid.bands, grid.rows, grid.cols),
            limit,
        });
    }
    if serial {
        // The image and its masked copy, plus the SCL plane.
        let needed = pixels.saturating_mul(2).saturating_add(plane);
        if let Some(available) = available_memory_bytes()
            && needed > available
        {
            return Err(PipelineError::NotEnoughMemory {
                needed_mib: needed >> 20,
                available_mib: available >> 20,
            });
        }
    }
    Ok(())
}

/// `MemAvailable` of /proc/meminfo in bytes, when there is one to read.
fn available_memory_bytes() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib.saturating_mul(1024))
}

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
        return Err(PipelineError::TooManyThreads {
            threads,
            max: MAX_THREADS,
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

    #[test]
    fn declared_sizes_beyond_the_bound_are_refused_before_allocating() {
        let huge = Grid {
            bands: 3,
            rows: 1_000_000,
            cols: 1_000_000,
        };
        let err = check_pixels(&huge, false).unwrap_err().to_string();
        assert!(
            err.contains("3000000000000") && err.contains("--max-pixels"),
            "{err}"
        );
        let small = Grid {
            bands: 3,
            rows: 512,
            cols: 512,
        };
        assert!(check_pixels(&small, true).is_ok());
    }
}

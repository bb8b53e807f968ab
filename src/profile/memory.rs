//! Memory held in chunk pixel buffers over a run, folded from the task records: a chunk's
//! buffers are obtained just before its load task; its SCL is freed when its mask task
//! ends, its image when its write task ends. This
//! is the lesson's memory argument in numbers: the serial path and the staged schedule hold
//! the whole image at once, the fused one only the chunks in flight. Also the per-schedule
//! summary `chunkscope memory` prints. Pure arithmetic.

use std::collections::HashMap;

use serde::Serialize;

use super::stats;
use crate::task::{Stage, TaskRecord};

/// Bytes in chunk buffers at one moment of the run clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BufferLevel {
    pub at_ns: u64,
    pub bytes: u64,
}

/// The step series of bytes held in chunk buffers: one level per change, in time order.
/// A load task's `bytes` are exactly its buffers (image and SCL), counted from the start
/// of the image's allocation (`start_ns - alloc_ns`; the SCL's buffer is taken later in the
/// task, so a load's first moments are counted high by the SCL's bytes). The mask task's `bytes` are what it keeps
/// (the image): the rest (the SCL) is freed when it ends, the image when that chunk's
/// write ends. Whatever a cancelled run never reached stays held to the end of the series.
pub fn buffer_series(tasks: &[TaskRecord]) -> Vec<BufferLevel> {
    // Each chunk's mask and write, found once: a search per load made this quadratic,
    // minutes of work after a run of a few hundred thousand tasks.
    let mut mask_of = HashMap::new();
    let mut write_end = HashMap::new();
    for t in tasks {
        match t.stage {
            Stage::Mask => {
                mask_of.entry(t.chunk).or_insert((t.end_ns, t.bytes));
            }
            // The image is let go when the chunk's own write ends; helpers take tiles.
            Stage::Write if !t.helping => {
                write_end.entry(t.chunk).or_insert(t.end_ns);
            }
            _ => {}
        }
    }
    let mut changes: Vec<(u64, i128)> = Vec::new();
    for load in tasks.iter().filter(|t| t.stage == Stage::Load) {
        changes.push((
            load.start_ns.saturating_sub(load.alloc_ns),
            i128::from(load.bytes),
        ));
        let mut held = load.bytes;
        if let Some(&(end_ns, kept)) = mask_of.get(&load.chunk) {
            let kept = kept.min(held);
            changes.push((end_ns, -i128::from(held - kept)));
            held = kept;
        }
        if let Some(&end_ns) = write_end.get(&load.chunk) {
            changes.push((end_ns, -i128::from(held)));
        }
    }
    // Frees before allocations at the same instant: a buffer handed back and another taken
    // in the same nanosecond never coexisted.
    changes.sort_by_key(|&(at, delta)| (at, delta > 0));
    let mut level: i128 = 0;
    let mut out: Vec<BufferLevel> = Vec::with_capacity(changes.len());
    for (at_ns, delta) in changes {
        level += delta;
        let bytes = u64::try_from(level.max(0)).unwrap_or(u64::MAX);
        match out.last_mut() {
            Some(last) if last.at_ns == at_ns => last.bytes = bytes,
            _ => out.push(BufferLevel { at_ns, bytes }),
        }
    }
    out
}

/// The most bytes held in chunk buffers at any one time.
pub fn buffers_peak_bytes(tasks: &[TaskRecord]) -> u64 {
    buffer_series(tasks)
        .iter()
        .map(|l| l.bytes)
        .max()
        .unwrap_or(0)
}

/// The highest level in each of `buckets` equal slices of `0..end_ns`: a buffer series
/// resampled for a sparkline, where a short peak must stay visible.
pub fn peaks_per_bucket(series: &[BufferLevel], end_ns: u64, buckets: usize) -> Vec<u64> {
    let mut out = vec![0u64; buckets];
    if buckets == 0 || end_ns == 0 {
        return out;
    }
    let bucket_of = |t: u64| {
        let b = u128::from(t) * buckets as u128 / u128::from(end_ns);
        usize::try_from(b).unwrap_or(usize::MAX).min(buckets - 1)
    };
    for (i, level) in series.iter().enumerate() {
        // A level holds from its instant to the next change (or the end).
        let until = series.get(i + 1).map_or(end_ns, |next| next.at_ns);
        let (first, last) = (bucket_of(level.at_ns), bucket_of(until.max(level.at_ns)));
        for peak in &mut out[first..=last] {
            *peak = (*peak).max(level.bytes);
        }
    }
    out
}

/// One run's memory, as measured by a run in a process of its own (so that the kernel's
/// high-water mark belongs to that run alone).
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryRun {
    pub buffers_peak_bytes: u64,
    /// The high-water mark of the run's process since exec: exact, not sampled.
    pub process_max_rss_bytes: u64,
    pub rss_start_bytes: u64,
    pub wall_ns: u64,
    /// When the last load/mask/write task ended (the buffer series' natural end).
    pub pipeline_end_ns: u64,
    pub series: Vec<BufferLevel>,
}

impl MemoryRun {
    pub fn from_tasks(
        tasks: &[TaskRecord],
        process_max_rss_bytes: u64,
        rss_start_bytes: u64,
        wall_ns: u64,
    ) -> Self {
        let series = buffer_series(tasks);
        Self {
            buffers_peak_bytes: series.iter().map(|l| l.bytes).max().unwrap_or(0),
            process_max_rss_bytes,
            rss_start_bytes,
            wall_ns,
            pipeline_end_ns: tasks
                .iter()
                .filter(|t| t.stage != Stage::Finalize)
                .map(|t| t.end_ns)
                .max()
                .unwrap_or(0),
            series,
        }
    }
}

/// Median and range of one figure over repeated runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Spread {
    pub median: u64,
    pub min: u64,
    pub max: u64,
}

impl Spread {
    pub fn of(values: &[u64]) -> Option<Self> {
        let (min, max) = stats::range(values)?;
        Some(Self {
            median: stats::median(values)?,
            min,
            max,
        })
    }
}

/// One configuration's memory over its repeated runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryRow {
    /// e.g. `serial`, `chunked x 2 (3,2048,2048, staged)`.
    pub label: String,
    pub runs: usize,
    pub buffers_peak_bytes: Spread,
    pub process_max_rss_bytes: Spread,
    /// Max RSS minus RSS at the run's start: what the run itself added.
    pub rss_growth_bytes: Spread,
    pub wall_ns: Spread,
    /// The buffer series of the run with the median wall time, for drawing.
    pub series: Vec<BufferLevel>,
    pub pipeline_end_ns: u64,
}

impl MemoryRow {
    /// `None` without runs.
    pub fn from_runs(label: impl Into<String>, runs: &[MemoryRun]) -> Option<Self> {
        let pick = |f: fn(&MemoryRun) -> u64| runs.iter().map(f).collect::<Vec<u64>>();
        let wall = Spread::of(&pick(|r| r.wall_ns))?;
        let typical = runs
            .iter()
            .min_by_key(|r| r.wall_ns.abs_diff(wall.median))?;
        Some(Self {
            label: label.into(),
            runs: runs.len(),
            buffers_peak_bytes: Spread::of(&pick(|r| r.buffers_peak_bytes))?,
            process_max_rss_bytes: Spread::of(&pick(|r| r.process_max_rss_bytes))?,
            rss_growth_bytes: Spread::of(&pick(|r| {
                r.process_max_rss_bytes.saturating_sub(r.rss_start_bytes)
            }))?,
            wall_ns: wall,
            series: typical.series.clone(),
            pipeline_end_ns: typical.pipeline_end_ns,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(chunk: u32, stage: Stage, start_ns: u64, end_ns: u64, bytes: u64) -> TaskRecord {
        TaskRecord {
            chunk,
            stage,
            worker: 0,
            start_ns,
            end_ns,
            bytes,
            wait_ns: 0,
            alloc_ns: 1,
            append_wait_ns: 0,
            tiles: 0,
            lock_hold_ns: 0,
            helping: false,
        }
    }

    #[test]
    fn staged_holds_every_chunk_fused_only_those_in_flight() {
        // Staged: both loads before either write.
        let staged = [
            task(0, Stage::Load, 10, 20, 100),
            task(1, Stage::Load, 21, 30, 100),
            task(0, Stage::Write, 40, 50, 75),
            task(1, Stage::Write, 51, 60, 75),
        ];
        assert_eq!(buffers_peak_bytes(&staged), 200);
        // Fused on one worker: chunk 0 written before chunk 1 is loaded.
        let fused = [
            task(0, Stage::Load, 10, 20, 100),
            task(0, Stage::Write, 21, 30, 75),
            task(1, Stage::Load, 32, 40, 100),
            task(1, Stage::Write, 41, 50, 75),
        ];
        assert_eq!(buffers_peak_bytes(&fused), 100);
        let series = buffer_series(&fused);
        assert_eq!(
            series,
            vec![
                BufferLevel {
                    at_ns: 9,
                    bytes: 100
                },
                BufferLevel {
                    at_ns: 30,
                    bytes: 0
                },
                BufferLevel {
                    at_ns: 31,
                    bytes: 100
                },
                BufferLevel {
                    at_ns: 50,
                    bytes: 0
                },
            ]
        );
    }

    #[test]
    fn the_scl_is_freed_when_the_mask_ends_the_image_when_the_write_ends() {
        // Load 100 bytes (image 75, SCL 25); the mask keeps the image.
        let tasks = [
            task(0, Stage::Load, 10, 20, 100),
            task(0, Stage::Mask, 21, 25, 75),
            task(1, Stage::Load, 27, 30, 100),
            task(0, Stage::Write, 31, 40, 75),
        ];
        let levels: Vec<u64> = buffer_series(&tasks).iter().map(|l| l.bytes).collect();
        assert_eq!(levels, vec![100, 75, 175, 100]);
        assert_eq!(buffers_peak_bytes(&tasks), 175);
        // Without its mask record (a run cancelled before it), the SCL stays held.
        let unmasked = [tasks[0], tasks[2]];
        assert_eq!(buffers_peak_bytes(&unmasked), 200);
    }

    #[test]
    fn a_free_and_an_allocation_at_the_same_instant_do_not_add_up() {
        let tasks = [
            task(0, Stage::Load, 10, 20, 100),
            task(0, Stage::Write, 21, 30, 75),
            task(1, Stage::Load, 31, 40, 100),
        ];
        assert_eq!(buffers_peak_bytes(&tasks), 100);
        assert!(buffer_series(&[]).is_empty());
    }

    #[test]
    fn buckets_keep_short_peaks_visible() {
        let series = [
            BufferLevel {
                at_ns: 0,
                bytes: 10,
            },
            BufferLevel {
                at_ns: 51,
                bytes: 90,
            },
            BufferLevel {
                at_ns: 52,
                bytes: 10,
            },
        ];
        assert_eq!(peaks_per_bucket(&series, 100, 4), vec![10, 10, 90, 10]);
        assert_eq!(peaks_per_bucket(&series, 0, 4), vec![0; 4]);
    }

    #[test]
    fn a_row_takes_medians_and_the_median_runs_series() {
        let run = |wall_ns, peak| MemoryRun {
            buffers_peak_bytes: peak,
            process_max_rss_bytes: 1000 + peak,
            rss_start_bytes: 900,
            wall_ns,
            pipeline_end_ns: wall_ns / 2,
            series: vec![BufferLevel {
                at_ns: 0,
                bytes: peak,
            }],
        };
        let row = MemoryRow::from_runs("fused", &[run(30, 5), run(10, 7), run(20, 6)]).unwrap();
        assert_eq!(row.runs, 3);
        assert_eq!(
            row.wall_ns,
            Spread {
                median: 20,
                min: 10,
                max: 30
            }
        );
        assert_eq!(row.buffers_peak_bytes.median, 6);
        assert_eq!(
            row.rss_growth_bytes,
            Spread {
                median: 106,
                min: 105,
                max: 107
            }
        );
        assert_eq!(row.series[0].bytes, 6);
        assert!(MemoryRow::from_runs("none", &[]).is_none());
    }
}

//! The run as a whole, measured and reported: the process's CPU, memory and the other
//! programs' load around the tasks ([`Meters`]), then everything folded into the
//! [`RunReport`]: the workers' records, overhead, latency, stages, blocks and traffic.
//! Runs on the caller's thread once the tasks are done.

use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::state::{Exec, WorkerSlot};
use crate::network::TrafficCounts;
use crate::network::remote::{self, GdalNetStats};
use crate::pipeline::blocks::BlockReport;
use crate::pipeline::report::{
    NetworkReport, ReportAssets, ReportConfig, RunReport, SCHEMA_VERSION, StageLatency,
    StageReport, WorkerReport,
};
use crate::pipeline::{Mode, RunControl, Schedule};
use crate::profile::interference;
use crate::profile::latency::{self, LatencySummary};
use crate::profile::memory;
use crate::profile::overhead::{self, WorkerFacts};
use crate::profile::sampler::{self, CoreSource, CpuSeries, Sampler};
use crate::profile::{ProcessTimes, current_rss_bytes};
use crate::task::{RunClock, Stage, TaskRecord};

/// Resident memory at the run's start and end.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rss {
    start: u64,
    end: u64,
}

/// What the process and the machine did over the run: started just before the first
/// task, stopped after the last.
pub(super) struct Meters {
    rss_start_bytes: u64,
    cpu_before: ProcessTimes,
    /// What other processes take meanwhile, with or without the sampler.
    others: Option<interference::Probe>,
    sampler: Option<Sampler>,
}

/// What [`Meters::stop`] measured, for [`Exec::report`].
pub(super) struct Measured {
    cpu: ProcessTimes,
    series: CpuSeries,
    rss: Rss,
    others: Option<interference::Interference>,
}

impl Meters {
    /// Starts measuring; the sampler, when `control` asks for one, on `clock`'s origin.
    pub(super) fn start(control: &RunControl, clock: &RunClock) -> Meters {
        let rss_start_bytes = current_rss_bytes().unwrap_or(0);
        let cpu_before = ProcessTimes::now();
        let others = interference::Probe::start();
        let sampler = control.sample_every.map(|every| match &control.samples {
            Some(feed) => Sampler::start_feeding(every, clock.origin(), feed.clone()),
            None => Sampler::start(every, clock.origin()),
        });
        Meters {
            rss_start_bytes,
            cpu_before,
            others,
            sampler,
        }
    }

    /// Stops the sampler of a run that failed: nothing is reported.
    pub(super) fn abandon(self) {
        if let Some(s) = self.sampler {
            s.stop();
        }
    }

    /// Stops measuring.
    pub(super) fn stop(self) -> Measured {
        let cpu = ProcessTimes::now().since(&self.cpu_before);
        let others = self.others.and_then(|p| p.finish());
        let rss_now = current_rss_bytes().unwrap_or(0);
        let series = match self.sampler {
            Some(s) => s.stop(),
            None => CpuSeries::from_samples(Vec::new(), Duration::ZERO, 0, CoreSource::ProcStat),
        };
        Measured {
            cpu,
            series,
            rss: Rss {
                start: self.rss_start_bytes,
                end: rss_now,
            },
            others,
        }
    }
}

/// Every task record of the run, in start order, and each worker's figures: its own
/// tasks (help with another worker's write is busy time, not a task of its own).
fn fold_slots(slots: &[Mutex<WorkerSlot>]) -> (Vec<TaskRecord>, Vec<WorkerReport>) {
    let mut tasks = Vec::new();
    let mut workers = Vec::new();
    for (i, slot) in slots.iter().enumerate() {
        let slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        workers.push(WorkerReport {
            worker: crate::convert::clamp_u16(i),
            tasks: slot.records.iter().filter(|t| !t.helping).count(),
            busy_ns: slot.records.iter().map(TaskRecord::work_ns).sum(),
            open_ns: slot.open_ns,
            write_wait_ns: slot.write_wait_ns,
        });
        tasks.extend_from_slice(&slot.records);
    }
    tasks.sort_by_key(|t| (t.start_ns, t.chunk));
    (tasks, workers)
}

/// Latency percentiles per stage, for the stages whose histogram has a summary.
fn stage_latencies(tasks: &[TaskRecord]) -> Vec<StageLatency> {
    latency::per_stage(tasks)
        .into_iter()
        .filter_map(|(stage, h)| {
            LatencySummary::from_histogram(&h)
                .ok()
                .map(|summary| StageLatency { stage, summary })
        })
        .collect()
}

impl Exec<'_> {
    /// The report of the run whose tasks are done: its records folded, `measured` and the
    /// other figures gathered, `output` the file written (`None` when cancelled).
    pub(super) fn report(
        &self,
        threads: usize,
        wall_ns: u64,
        measured: Measured,
        output: Option<String>,
        cancelled: bool,
    ) -> RunReport {
        let Measured {
            cpu,
            series,
            rss,
            others,
        } = measured;
        let (tasks, workers) = fold_slots(&self.slots);
        let facts: Vec<WorkerFacts> = workers
            .iter()
            .map(|w| WorkerFacts { open_ns: w.open_ns })
            .collect();
        let staged = matches!(
            self.config.mode,
            Mode::Chunked {
                schedule: Schedule::Staged,
                ..
            }
        );
        let overhead = overhead::account(&tasks, &facts, staged);
        let latency = stage_latencies(&tasks);
        let stages = Stage::ALL
            .iter()
            .filter_map(|&s| StageReport::from_tasks(s, &tasks))
            .collect();
        RunReport {
            schema_version: SCHEMA_VERSION,
            config: self.report_config(threads),
            plan: self.prepared.plan.as_ref().map(|p| p.summary()),
            grid: self.prepared.grid,
            stages,
            wall_ns,
            cpu_user_ns: cpu.user_ns,
            cpu_sys_ns: cpu.sys_ns,
            utilisation: sampler::utilisation(cpu.user_ns + cpu.sys_ns, wall_ns, threads),
            others_cpu_ns: None,
            others_cores: None,
            disturbed: false,
            peak_rss_bytes: series.peak_rss_bytes.max(rss.end).max(rss.start),
            process_max_rss_bytes: cpu.max_rss_bytes,
            rss_start_bytes: rss.start,
            buffers_peak_bytes: memory::buffers_peak_bytes(&tasks),
            masked_pixels: self.masked.load(Ordering::Relaxed),
            output,
            output_tile_bytes: self.tile_bytes.load(Ordering::Relaxed),
            notes: self.notes.clone(),
            cancelled,
            workers,
            overhead,
            latency,
            cpu: series,
            events_dropped: self.control.events.dropped(),
            tasks,
            network: self.network_report(threads, wall_ns, cpu.user_ns + cpu.sys_ns),
            blocks: self.block_report(),
        }
        .with_interference(others)
    }

    /// The settings the run ran with, as the report names them.
    fn report_config(&self, threads: usize) -> ReportConfig {
        let (mode, chunks, schedule) = match &self.config.mode {
            Mode::Serial => ("serial", None, None),
            Mode::Chunked { schedule, .. } => {
                let s = self
                    .prepared
                    .plan
                    .as_ref()
                    .map(|p| [p.shape.bands, p.shape.rows, p.shape.cols]);
                ("chunked", s, Some(schedule.name().to_string()))
            }
        };
        ReportConfig {
            mode: mode.to_string(),
            chunks,
            threads,
            schedule,
            resolution_m: self.config.resolution.metres(),
            cloud_classes: self.config.cloud_classes.to_vec(),
            item: self.scene.item.clone(),
            assets: ReportAssets {
                visual: self.scene.visual.path.clone(),
                scl: self.scene.scl.path.clone(),
            },
            format: format!("{:?}", self.config.output.format).to_lowercase(),
            compress: self.config.output.codec().name().to_string(),
            level: self.config.output.codec().level(),
            writer: self.config.output.writer.name().to_string(),
            gdal_cache_bytes: Some(crate::raster::cache_max_bytes()),
        }
    }

    /// What a chunked run did with blocks; `None` for a serial run.
    fn block_report(&self) -> Option<BlockReport> {
        self.prepared
            .plan
            .as_ref()
            .filter(|_| matches!(self.config.mode, Mode::Chunked { .. }))
            .map(|plan| BlockReport {
                sharing: self.config.blocks,
                read_amplification_planned: plan.read_amplification(),
                read_amplification_measured: self.visual_blocks.amplification(),
                visual: self.visual_blocks.counts(),
                scl: self.scl_blocks.counts(),
                store_peak_bytes: self.blocks_held.peak(),
                store_end_bytes: self.blocks_held.held(),
            })
    }

    /// The run's traffic: from the simulated server when the assets come from one (per
    /// task), else from GDAL's statistics (per run).
    fn network_report(&self, threads: usize, wall_ns: u64, cpu_ns: u64) -> Option<NetworkReport> {
        let net = self.net.as_ref()?;
        let gdal = match (GdalNetStats::now(), net.gdal0) {
            (Some(now), Some(before)) => Some(now.since(&before)),
            _ => None,
        };
        let cache = remote::cache_policy();
        let Some(probe) = &net.probe else {
            let g = gdal.unwrap_or_default();
            return Some(NetworkReport {
                source: "gdal".into(),
                simulated: None,
                cache,
                requests: g.requests,
                bytes: g.bytes,
                ranges: None,
                open: None,
                load: None,
                tasks: Vec::new(),
                gdal,
                server_cpu_ns: None,
                client_utilisation: None,
            });
        };
        let total = probe.total().since(&net.server_total0);
        let mut tasks = Vec::new();
        let mut open = TrafficCounts::default();
        for slot in &self.slots {
            let slot = slot.lock().unwrap_or_else(|p| p.into_inner());
            tasks.extend_from_slice(&slot.traffic);
            open.add(&slot.open_traffic);
        }
        tasks.sort_by_key(|t| t.chunk);
        let mut load = TrafficCounts::default();
        for t in &tasks {
            load.add(&TrafficCounts {
                requests: t.requests,
                ranges: t.ranges,
                bytes: t.bytes,
            });
        }
        let server_cpu_ns = match (probe.server_cpu_ns(), net.server_cpu0) {
            (Some(now), Some(before)) => Some(now.saturating_sub(before)),
            _ => None,
        };
        Some(NetworkReport {
            source: "server".into(),
            simulated: Some(probe.settings().description()),
            cache,
            requests: total.requests,
            bytes: total.bytes,
            ranges: Some(total.ranges),
            open: Some(open),
            load: Some(load),
            tasks,
            gdal,
            server_cpu_ns,
            client_utilisation: server_cpu_ns
                .map(|s| sampler::utilisation(cpu_ns.saturating_sub(s), wall_ns, threads)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(chunk: u32, stage: Stage, start_ns: u64, end_ns: u64, helping: bool) -> TaskRecord {
        TaskRecord {
            chunk,
            stage,
            worker: 0,
            start_ns,
            end_ns,
            bytes: 0,
            wait_ns: 0,
            alloc_ns: 0,
            append_wait_ns: if stage == Stage::Write { 1 } else { 0 },
            tiles: 0,
            lock_hold_ns: 0,
            helping,
        }
    }

    fn slot(records: Vec<TaskRecord>, open_ns: u64) -> Mutex<WorkerSlot> {
        Mutex::new(WorkerSlot {
            records,
            open_ns,
            ..WorkerSlot::default()
        })
    }

    #[test]
    fn help_is_busy_time_but_not_a_task_and_records_come_out_in_start_order() {
        let slots = [
            slot(
                vec![
                    record(3, Stage::Load, 10, 20, false),
                    record(1, Stage::Write, 40, 50, true),
                ],
                7,
            ),
            slot(
                vec![
                    record(1, Stage::Load, 0, 10, false),
                    record(2, Stage::Load, 10, 15, false),
                    record(1, Stage::Write, 30, 60, false),
                ],
                0,
            ),
        ];
        let (tasks, workers) = fold_slots(&slots);
        let order: Vec<(u64, u32, bool)> = tasks
            .iter()
            .map(|t| (t.start_ns, t.chunk, t.helping))
            .collect();
        assert_eq!(
            order,
            [
                (0, 1, false),
                (10, 2, false),
                (10, 3, false),
                (30, 1, false),
                (40, 1, true)
            ]
        );
        let figures: Vec<(u16, usize, u64, u64)> = workers
            .iter()
            .map(|w| (w.worker, w.tasks, w.busy_ns, w.open_ns))
            .collect();
        // Busy time is work: a write's wait for the appender (1 ns here) is not counted.
        assert_eq!(figures, [(0, 1, 10 + 9, 7), (1, 3, 10 + 5 + 29, 0)]);
    }
}

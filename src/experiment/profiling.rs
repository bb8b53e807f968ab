//! What chunkscope's own measuring costs a run: runs with profiling on (events consumed as
//! the TUI's frame loop consumes them, the CPU sampler at 10 Hz) and off (events dropped at
//! the source, no sampler), alternated in pairs, and profiling's own work measured directly.
//! The front end prints the result; nothing here prints.

use serde::Serialize;

use crate::convert;
use crate::pipeline::{self, PipelineError, RunConfig, RunControl, RunReport, Scene};
use crate::profile::stats;
use crate::task::{self, CancelFlag};

/// The protocol's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfilingCost {
    /// The configuration's label, as a run report gives it.
    pub config: String,
    pub pairs: usize,
    /// Wall times of the runs with profiling on and off, in the order they ran.
    pub profiled_wall_ns: Vec<u64>,
    pub unprofiled_wall_ns: Vec<u64>,
    /// The median of the pairs' on/off wall ratios, and the middle half of those ratios
    /// (how much of the figure is noise).
    pub median_ratio: f64,
    pub ratio_quartiles: [f64; 2],
    /// What sending one event costs here, measured before the pairs.
    pub event_send_ns: f64,
    /// Medians over the profiled runs: events sent, profiling's own CPU (the sampler
    /// thread's clock plus events x the cost of a send), the run's CPU, and their share.
    pub events_per_run: u64,
    pub profiling_cpu_ns: u64,
    pub run_cpu_ns: u64,
    pub profiling_cpu_share: f64,
}

impl ProfilingCost {
    /// Median wall with profiling on and off.
    pub fn medians_ns(&self) -> (u64, u64) {
        (
            stats::median(&self.profiled_wall_ns).unwrap_or(0),
            stats::median(&self.unprofiled_wall_ns).unwrap_or(0),
        )
    }
}

/// The median and the first and third quartiles of `values`, each the value at its rank in
/// sorted order (no interpolation: with few pairs each figure is a measured ratio).
/// `None` when there is none.
pub fn rank_quartiles(values: &[f64]) -> Option<(f64, f64, f64)> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    (n > 0).then(|| (sorted[n / 2], sorted[n / 4], sorted[(n * 3) / 4]))
}

/// Runs `config` on `scene`: `warmup` unprofiled runs, then `pairs` pairs of a profiled and
/// an unprofiled run whose order alternates (on-off, off-on, ...) so that whatever the
/// second run of a pair inherits from the first hits both sides alike. `progress` hears
/// (pair, pairs) before each pair. `Ok(None)` when `cancel` stopped it.
pub fn measure(
    scene: &Scene,
    config: &RunConfig,
    warmup: usize,
    pairs: usize,
    cancel: &CancelFlag,
    progress: &dyn Fn(usize, usize),
) -> Result<Option<ProfilingCost>, PipelineError> {
    let profiled = || -> Result<(RunReport, u64), PipelineError> {
        let (sink, rx) = task::EventSink::bounded(4096);
        let drain = task::drain_per_frame(rx, std::time::Duration::from_millis(50));
        let control = RunControl {
            events: sink,
            cancel: cancel.clone(),
            ..RunControl::default()
        };
        let report = pipeline::run(scene, config, &control);
        let dropped = control.events.dropped();
        drop(control);
        let received = drain.join().unwrap_or(0);
        Ok((report?, received + dropped))
    };
    let unprofiled = || {
        let control = RunControl {
            cancel: cancel.clone(),
            ..RunControl::unprofiled()
        };
        pipeline::run(scene, config, &control)
    };
    // Unmeasured runs first: the first run reads the files from disk.
    for _ in 0..warmup {
        if unprofiled()?.cancelled {
            return Ok(None);
        }
    }
    // Profiling's own work, measured directly: the sampler thread's CPU clock, and the
    // events sent times what one send costs here. Unlike the wall ratio, noise-free.
    let send_ns = task::measure_send_ns(1_000_000);
    let (mut on, mut off, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut own_ns, mut run_cpu_ns, mut events) = (Vec::new(), Vec::new(), Vec::new());
    let mut label = String::new();
    for i in 0..pairs {
        progress(i, pairs);
        let ((with, sent), without) = if i % 2 == 0 {
            let with = profiled()?;
            (with, unprofiled()?)
        } else {
            let without = unprofiled()?;
            (profiled()?, without)
        };
        if with.cancelled || without.cancelled {
            return Ok(None);
        }
        #[allow(
            clippy::cast_precision_loss,
            reason = "an event count far below 2^52 times a cost in ns"
        )]
        own_ns.push(with.cpu.sampler_cpu_ns + convert::round_u64(sent as f64 * send_ns));
        run_cpu_ns.push(with.cpu_user_ns + with.cpu_sys_ns);
        events.push(sent);
        label = with.label();
        ratios.push(with.wall_ns as f64 / without.wall_ns.max(1) as f64);
        on.push(with.wall_ns);
        off.push(without.wall_ns);
    }
    let Some((median_ratio, q1, q3)) = rank_quartiles(&ratios) else {
        return Ok(None);
    };
    let own = stats::median(&own_ns).unwrap_or(0);
    let cpu = stats::median(&run_cpu_ns).unwrap_or(0);
    Ok(Some(ProfilingCost {
        config: label,
        pairs,
        profiled_wall_ns: on,
        unprofiled_wall_ns: off,
        median_ratio,
        ratio_quartiles: [q1, q3],
        event_send_ns: send_ns,
        events_per_run: stats::median(&events).unwrap_or(0),
        profiling_cpu_ns: own,
        run_cpu_ns: cpu,
        profiling_cpu_share: own as f64 / cpu.max(1) as f64,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quartiles_are_measured_ratios_at_their_ranks() {
        assert_eq!(rank_quartiles(&[]), None);
        assert_eq!(rank_quartiles(&[1.5]), Some((1.5, 1.5, 1.5)));
        // Unsorted in, ranks of the sorted: 0.9 1.0 1.01 1.02 1.2.
        assert_eq!(
            rank_quartiles(&[1.02, 0.9, 1.2, 1.0, 1.01]),
            Some((1.01, 1.0, 1.02))
        );
        // Even counts take the upper middle: no value is made up between two runs.
        assert_eq!(
            rank_quartiles(&[4.0, 1.0, 3.0, 2.0, 6.0, 5.0]),
            Some((4.0, 2.0, 5.0))
        );
    }
}

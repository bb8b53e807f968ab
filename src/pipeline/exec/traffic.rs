//! Where a run over remote assets gets its traffic figures: the simulated server's
//! counters per worker when the assets come from one in this process, else GDAL's own
//! statistics; and the counts at the run's start, which the report subtracts.

use crate::network::remote::GdalNetStats;
use crate::network::{Probe, TrafficCounts};
use crate::pipeline::Scene;

/// Where a run over remote assets gets its traffic figures, and the counts at its start.
pub(super) struct NetTracker {
    /// The in-process simulated server the assets come from, if any.
    pub(super) probe: Option<Probe>,
    pub(super) server_total0: TrafficCounts,
    pub(super) server_cpu0: Option<u64>,
    pub(super) gdal0: Option<GdalNetStats>,
}

impl NetTracker {
    /// `None` for a run over local files.
    pub(super) fn start(scene: &Scene) -> Option<NetTracker> {
        if !scene.is_remote() {
            return None;
        }
        let probe = scene
            .server
            .clone()
            .filter(|s| s.serves(&scene.visual.path));
        Some(NetTracker {
            server_total0: probe.as_ref().map(Probe::total).unwrap_or_default(),
            server_cpu0: probe.as_ref().and_then(Probe::server_cpu_ns),
            gdal0: GdalNetStats::now(),
            probe,
        })
    }

    /// This worker's traffic so far, as the simulated server counted it.
    pub(super) fn worker(&self, worker: usize) -> Option<TrafficCounts> {
        self.probe
            .as_ref()
            .map(|p| p.worker(crate::convert::clamp_u32(worker)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::{NetworkSim, SimSettings};
    use crate::raster::RasterSource;

    fn scene(root: &str, server: Option<Probe>) -> Scene {
        Scene {
            item: "item".into(),
            visual: RasterSource::new("visual", format!("{root}/visual.tif")),
            scl: RasterSource::new("scl", format!("{root}/scl.tif")),
            server,
        }
    }

    #[test]
    fn only_the_server_that_serves_the_scene_gives_per_worker_counts() {
        let dir = tempfile::tempdir().unwrap();
        let sim = NetworkSim::start(dir.path(), SimSettings::default(), 0).unwrap();
        let probe = Some(sim.probe());
        assert!(
            NetTracker::start(&scene("/data", probe.clone())).is_none(),
            "local files have no traffic"
        );
        let served = NetTracker::start(&scene(
            &format!("/vsicurl/{}", sim.base_url()),
            probe.clone(),
        ))
        .expect("a remote scene is tracked");
        assert_eq!(served.probe, probe);
        assert_eq!(served.worker(3), Some(TrafficCounts::default()));
        // Remote, but from elsewhere: GDAL's statistics only, nothing per worker.
        let elsewhere = NetTracker::start(&scene("/vsicurl/http://127.0.0.1:9", probe))
            .expect("a remote scene is tracked");
        assert_eq!(elsewhere.probe, None);
        assert_eq!(elsewhere.worker(3), None);
    }
}

//! GDAL's `/vsicurl/` cache between runs: cleared by default so each run pays for its
//! downloads, kept on request. Its own test binary: the cache policy is process-wide.

mod common;

use std::num::NonZeroUsize;

use chunkscope::catalog::Catalog;
use chunkscope::network::remote::{self, CachePolicy};
use chunkscope::network::{NetworkSim, SimSettings};
use chunkscope::output::{OutputFormat, OutputSpec};
use chunkscope::pipeline::{
    self, CloudClasses, Mode, Resolution, RunConfig, RunControl, Scene, Schedule,
};

fn network_bytes(scene: &Scene, mode: Mode, out: &std::path::Path) -> u64 {
    let config = RunConfig {
        mode,
        resolution: Resolution::R20,
        cloud_classes: CloudClasses::default(),
        output: OutputSpec::new(out.to_path_buf(), OutputFormat::Gtiff),
        gdal_cache_mb: None,
        blocks: Default::default(),
    };
    let report = pipeline::run(scene, &config, &RunControl::default()).expect("run succeeds");
    let net = report.network.expect("a network section");
    assert_eq!(net.cache, remote::cache_policy());
    net.bytes
}

#[test]
fn each_run_pays_for_its_downloads_unless_the_cache_is_kept() {
    let demo = common::small_demo();
    let sim = NetworkSim::start(demo.parent().unwrap(), SimSettings::default(), 0).unwrap();
    let catalog: Catalog = sim.catalog(demo).unwrap();
    let scene = Scene::from_item(catalog.item(None).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let chunked = || Mode::Chunked {
        // One block per chunk: GDAL reads single blocks through the /vsicurl/ cache (windows
        // over several blocks go as one multi-range read, which it does not cache).
        chunks: "3,128,128".parse().unwrap(),
        threads: NonZeroUsize::new(2).unwrap(),
        schedule: Schedule::Staged,
    };
    let mut runs = Vec::new();
    // Keep first, while the cache is cold (a new process).
    for policy in [CachePolicy::Keep, CachePolicy::ClearEachRun] {
        remote::set_cache_policy(policy);
        let first = network_bytes(&scene, chunked(), &dir.path().join("a.tif"));
        let second = network_bytes(&scene, chunked(), &dir.path().join("b.tif"));
        runs.push((policy, first, second));
    }
    remote::set_cache_policy(CachePolicy::ClearEachRun);
    let (_, first, second) = runs[0];
    assert!(first > 0 && second < first / 10, "kept: {runs:?}");
    let (_, first, second) = runs[1];
    assert!(first > 0 && second > first / 2, "cleared: {runs:?}");
}

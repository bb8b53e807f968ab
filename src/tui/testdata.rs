//! Real run reports and a real sweep, made once per test binary by the engine on a small
//! generated demo scene: the Results and Sweep views are tested on what runs produce.

use std::num::NonZeroUsize;
use std::sync::OnceLock;

use chunkscope::catalog::Catalog;
use chunkscope::chunks::ChunkRequest;
use chunkscope::demo::{self, DemoSpec};
use chunkscope::experiment::rounds::{Repetition, RunBase};
use chunkscope::experiment::sweep::{self, SweepResult, SweepSpec};
use chunkscope::output::{OutputFormat, OutputSpec};
use chunkscope::pipeline::{
    self, CloudClasses, Mode, Resolution, RunConfig, RunControl, RunReport, Scene, Schedule,
};
use chunkscope::task::CancelFlag;

pub struct Data {
    _dir: tempfile::TempDir,
    /// Serial, then chunked x 2 with 128 x 128 chunks (one block, staged), then chunked x
    /// 2 with 256 x 256 chunks (2x2 blocks, fused).
    pub serial: RunReport,
    pub chunked: RunReport,
    pub fused: RunReport,
    pub sweep: SweepResult,
}

pub fn data() -> &'static Data {
    static DATA: OnceLock<Data> = OnceLock::new();
    DATA.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let spec = DemoSpec::new(1024, 1).unwrap();
        let catalog = demo::generate(spec, &dir.path().join("demo"), &|_| {}).unwrap();
        let loaded = Catalog::load(&catalog).unwrap();
        let scene = Scene::from_item(&loaded.items[0]).unwrap();
        let output = OutputSpec::new(dir.path().join("out.tif"), OutputFormat::Cog);
        let base = RunBase {
            resolution: Resolution::R20,
            cloud_classes: CloudClasses::default(),
            output,
            gdal_cache_mb: None,
            blocks: Default::default(),
        };
        let two = NonZeroUsize::new(2).unwrap();
        let run = |mode: Mode| {
            let config: RunConfig = base.config(mode);
            // As if on a quiet machine, so screens drawn from these do not depend on
            // what else runs while the tests do.
            pipeline::run(&scene, &config, &RunControl::default())
                .unwrap()
                .with_interference(None)
        };
        let serial = run(Mode::Serial);
        let chunked = run(Mode::Chunked {
            chunks: ChunkRequest::Blocks(1),
            threads: two,
            schedule: Schedule::Staged,
        });
        let fused = run(Mode::Chunked {
            chunks: ChunkRequest::Blocks(2),
            threads: two,
            schedule: Schedule::Fused,
        });
        let spec = SweepSpec {
            chunks: vec![ChunkRequest::Blocks(1), ChunkRequest::Blocks(2)],
            threads: vec![NonZeroUsize::MIN, two],
            schedule: Schedule::Staged,
            repetition: Repetition {
                repeat: 1,
                warmup: 0,
            },
            budget: std::time::Duration::ZERO,
        };
        let mut sweep =
            sweep::sweep(&scene, &base, &spec, &CancelFlag::new(), &|_, _, _| {}).unwrap();
        // As if on a quiet machine, like the reports above.
        sweep.disturbed_runs = 0;
        for row in &mut sweep.rows {
            row.wall.disturbed_runs = 0;
        }
        let quiet = |reason: &mut String| {
            if let Some(at) = reason.find(" This verdict rests on disturbed runs") {
                reason.truncate(at);
            }
        };
        sweep.best.iter_mut().for_each(|b| quiet(&mut b.reason));
        sweep
            .no_clear_winner
            .iter_mut()
            .for_each(|n| quiet(&mut n.reason));
        Data {
            _dir: dir,
            serial,
            chunked,
            fused,
            sweep,
        }
    })
}

/// The setup fixture with `report` finished on the Run screen, its item in a catalog file
/// that exists in `dir` (a Dask script names the catalog by its absolute path).
pub fn app_after(report: &RunReport, dir: &std::path::Path) -> crate::tui::app::App {
    let mut app = crate::tui::view::fixtures::setup_app();
    let catalog = dir.join("search.json");
    std::fs::write(&catalog, "{}").expect("a catalog file in the test's folder");
    app.catalog.path = catalog;
    app.catalog.items.push(chunkscope::catalog::Item {
        id: report.config.item.clone(),
        datetime: None,
        cloud_cover: None,
        platform: None,
        assets: vec![],
    });
    app.run = Some(crate::tui::model::run::RunView::from_report(report));
    app.screen = crate::tui::model::screen::Screen::Run;
    app
}

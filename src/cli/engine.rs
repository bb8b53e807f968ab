//! `--engine chunkscope|dask|both` and the options of the Dask side (`--python`,
//! `--cluster`, `--dask-streams`), shared by run, compare and sweep; `chunkscope dask
//! setup`. The Python and the runner are the engine's ([`chunkscope::dask::python`],
//! [`chunkscope::dask::runner`]); this only turns options into them. Without `--engine`
//! nothing here starts Python.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};

use chunkscope::catalog::{AssetRole, Catalog};
use chunkscope::chunks::ChunkShape;
use chunkscope::convert;
use chunkscope::dask::export::{ExportSettings, Scheduler};
use chunkscope::dask::python::{self, PythonEnv};
use chunkscope::dask::runner::DaskRunner;
use chunkscope::experiment::engine::{Engine, TaskCost};
use chunkscope::output::OutputFormat;
use chunkscope::pipeline::{Resolution, Scene, Schedule};
use chunkscope::profile::units;

use super::UsageError;
use super::options::PipelineOptions;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// chunkscope's own engine (Rust, rayon, GDAL): the default.
    Chunkscope,
    /// The lesson's Python code on Dask's distributed scheduler, its task stream imported.
    Dask,
    /// Both, alternated run by run.
    Both,
}

/// Which engine runs the configurations, and how the Dask side runs.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// chunkscope (its own engine), dask (the lesson's code on a Dask LocalCluster with the
    /// same threads, or --cluster) or both, alternated; every row then names its engine.
    /// Without it, only chunkscope runs and nothing starts Python.
    #[arg(long, value_enum, value_name = "ENGINE")]
    pub engine: Option<EngineArg>,
    /// The Python that runs Dask (it must import dask, distributed, rioxarray and pystac);
    /// default: the environment `chunkscope dask setup` made.
    #[arg(long, value_name = "PATH", requires = "engine")]
    pub python: Option<PathBuf>,
    /// Run the Dask side on the cluster whose scheduler is at ADDRESS (tcp://HOST:PORT)
    /// instead of a LocalCluster; its workers must see the catalog's assets.
    #[arg(long, value_name = "ADDRESS", requires = "engine")]
    pub cluster: Option<String>,
    /// Keep each Dask run's task stream in DIR (for `chunkscope import-dask` or `tui
    /// --dask`); by default they go with the scratch folder.
    #[arg(long, value_name = "DIR", requires = "engine")]
    pub dask_streams: Option<PathBuf>,
}

impl EngineArgs {
    /// The engines asked, in the order their runs alternate; `None` when not asked.
    pub fn engines(&self) -> Option<Vec<Engine>> {
        self.engine.map(|e| match e {
            EngineArg::Chunkscope => vec![Engine::Chunkscope],
            EngineArg::Dask => vec![Engine::Dask],
            EngineArg::Both => vec![Engine::Chunkscope, Engine::Dask],
        })
    }

    fn wants_dask(&self) -> bool {
        matches!(self.engine, Some(EngineArg::Dask | EngineArg::Both))
    }

    /// The runner of the Dask side when Dask is asked (its Python checked first, said on
    /// stderr); `None` otherwise. Scripts and streams go into `dir`.
    #[allow(clippy::too_many_arguments)]
    pub fn dask_runner(
        &self,
        catalog: &Catalog,
        scene: &Scene,
        res: Resolution,
        network: bool,
        pipeline: &PipelineOptions,
        schedule: Schedule,
        dir: &Path,
    ) -> anyhow::Result<Option<DaskRunner>> {
        if !self.wants_dask() {
            return Ok(None);
        }
        if network {
            return Err(UsageError(
                "--network simulates a network inside chunkscope, which Dask cannot use; serve \
                 the catalog with `chunkscope serve` and pass its URL as --catalog instead"
                    .into(),
            )
            .into());
        }
        let base = export_base(
            catalog,
            scene,
            res,
            pipeline,
            schedule,
            self.cluster.clone(),
        )?;
        let env = python_env(self.python.as_deref())?;
        eprintln!("dask: {} ({})", env.describe(), env.python.display());
        let runner = DaskRunner::new(
            env.python,
            base,
            dir.to_path_buf(),
            self.dask_streams.clone(),
        );
        runner
            .check()
            .map_err(|e| UsageError(format!("the Dask side cannot run these settings: {e}")))?;
        Ok(Some(runner))
    }
}

/// Where the lesson takes Dask's figures from: live runs with the checked Python (its
/// description said on stderr) when `live` is asked, else the shipped recordings.
pub fn lesson_dask(
    live: bool,
    python: Option<&Path>,
    network: bool,
) -> anyhow::Result<chunkscope::lesson::DaskSide> {
    use chunkscope::lesson::DaskSide;
    if !live {
        return Ok(DaskSide::Recorded);
    }
    if network {
        return Err(UsageError(
            "--live-dask runs Dask on the catalog's own files, which it cannot read through \
             --network's simulated network; drop one of the two (the lesson's network step \
             simulates its own network either way)"
                .into(),
        )
        .into());
    }
    let env = python_env(python)?;
    eprintln!("dask: {} ({})", env.describe(), env.python.display());
    Ok(DaskSide::Live { python: env.python })
}

/// The Python to run Dask with, checked.
pub fn python_env(asked: Option<&Path>) -> anyhow::Result<PythonEnv> {
    Ok(python::resolve(asked)?)
}

/// What every Dask run of a command shares; chunks and threads are set per run.
fn export_base(
    catalog: &Catalog,
    scene: &Scene,
    res: Resolution,
    pipeline: &PipelineOptions,
    schedule: Schedule,
    cluster: Option<String>,
) -> anyhow::Result<ExportSettings> {
    let item = catalog.item(Some(&scene.item))?;
    let key = |role: AssetRole| -> anyhow::Result<String> { Ok(item.asset(role)?.key.clone()) };
    let format = pipeline.format_or(OutputFormat::Cog);
    let codec = pipeline
        .output(PathBuf::from("unused.tif"), format)?
        .codec();
    let prepared = chunkscope::pipeline::prepare(scene, res, None)
        .with_context(|| format!("cannot read the grid of item \"{}\"", scene.item))?;
    Ok(ExportSettings {
        catalog: super::export::catalog_for_script(&catalog.path)?,
        item: item.id.clone(),
        visual_key: key(AssetRole::Visual)?,
        scl_key: key(AssetRole::Scl)?,
        resolution: res,
        request: String::new(),
        chunks: ChunkShape {
            bands: 1,
            rows: 1,
            cols: 1,
        },
        threads: 1,
        schedule,
        cloud_classes: pipeline.clouds.clone(),
        format,
        codec,
        tile: prepared.output_geometry().block,
        gdal_cache_mb: pipeline.gdal_cache,
        scheduler: cluster.map_or(Scheduler::LocalCluster, Scheduler::Address),
        out: String::new(),
        stream: String::new(),
        source: format!("chunkscope --engine, {}", super::export::command_line()),
    })
}

/// `chunkscope dask ...`
#[derive(Debug, Subcommand)]
pub enum DaskCommand {
    /// Make (once) the Python environment the Dask side runs in: a virtual environment in
    /// the cache folder with the pinned dask, distributed, rioxarray and pystac (the
    /// versions chunkscope is tested with), from PyPI; then check it. With --python, check
    /// that interpreter instead.
    Setup {
        /// Check this interpreter instead of making the environment.
        #[arg(long, value_name = "PATH")]
        python: Option<PathBuf>,
        /// The Python 3 that makes the environment.
        #[arg(
            long,
            value_name = "PATH",
            default_value = "python3",
            conflicts_with = "python"
        )]
        base: PathBuf,
    },
}

pub fn dask(command: DaskCommand) -> anyhow::Result<ExitCode> {
    match command {
        DaskCommand::Setup { python, base } => {
            let env = match python {
                Some(p) => python::check(&p)?,
                None => python::setup(&base, &|line| eprintln!("{line}"))?,
            };
            println!("{}", env.python.display());
            eprintln!(
                "ready: {}; use it with --engine dask|both (it is the default --python)",
                env.describe()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Header and one line per configuration: the cost per task split into its parts.
pub fn cost_table(rows: &[(String, Engine, usize, &TaskCost)]) -> String {
    let mut out = String::from(
        "\nper-task cost (per load/mask/write task, medians over the runs; overhead as \
         import-dask computes it)\n",
    );
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(6).max(6);
    out.push_str(&format!(
        "  {:<width$}  {:>6}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}\n",
        "config",
        "tasks",
        "in task",
        "overhead",
        "gaps",
        "start",
        "idle",
        "waits",
        "transfer",
        "outside"
    ));
    let us = |v: f64| units::duration_ns(convert::us_to_ns(v));
    for (label, _engine, _threads, c) in rows {
        out.push_str(&format!(
            "  {:<width$}  {:>6}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}  {:>9}\n",
            label,
            c.tasks,
            us(c.work_us),
            us(c.overhead_us),
            us(c.gaps_us),
            us(c.start_us),
            us(c.idle_us),
            us(c.waits_us),
            c.transfer_us.map_or("-".into(), us),
            c.outside_tasks_us.map_or("-".into(), us),
        ));
    }
    out.push_str(
        "  (overhead = gaps + start + idle + waits: capacity minus time in tasks, over tasks; \
         gaps: between a thread's consecutive tasks; outside: Dask's calls before their first \
         and after their last task, graph and scheduler, not in the overhead)\n",
    );
    out
}

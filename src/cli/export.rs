//! `chunkscope export dask`: the lesson's pipeline as a Python script for Dask, with the
//! settings given here (the same options as `run`). The engine writes the text
//! ([`chunkscope::dask::export`]); this only resolves the scene and writes the file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use chunkscope::catalog::{self, AssetRole};
use chunkscope::dask::export::{self, ExportSettings, Scheduler};
use chunkscope::output::OutputFormat;

use super::options::{ChunkedOptions, PipelineOptions, ScheduleOption};
use super::{SceneArgs, UsageError, load_scene};

#[derive(Debug, Subcommand)]
pub enum ExportWhat {
    /// A Python script that runs the lesson's pipeline on Dask with these settings
    /// (rioxarray, isin / where, to_raster), on the threaded scheduler or a cluster; on a
    /// cluster it saves Client.get_task_stream() for `chunkscope import-dask`.
    Dask(ExportDaskArgs),
}

#[derive(Debug, Args)]
pub struct ExportDaskArgs {
    #[command(flatten)]
    scene: SceneArgs,
    #[command(flatten)]
    chunked: ChunkedOptions,
    #[command(flatten)]
    schedule: ScheduleOption,
    #[command(flatten)]
    pipeline: PipelineOptions,
    /// The script to write; default chunkscope-out/dask-<item>.py. `-` prints it.
    #[arg(long, value_name = "F.py")]
    out: Option<PathBuf>,
    /// Run on the Dask cluster whose scheduler is at ADDRESS (tcp://HOST:PORT) and save its
    /// task stream.
    #[arg(long, value_name = "ADDRESS", conflicts_with = "local_cluster")]
    cluster: Option<String>,
    /// Start a LocalCluster (1 worker, --threads threads, in the script's process) and save
    /// its task stream.
    #[arg(long)]
    local_cluster: bool,
    /// The raster the script writes; default chunkscope-out/masked-<item>-dask.tif, relative
    /// to where it runs.
    #[arg(long, value_name = "FILE")]
    raster: Option<String>,
    /// Where the script saves the task stream (on a cluster); default
    /// chunkscope-out/dask-stream-<item>.json, relative to where it runs.
    #[arg(long, value_name = "FILE")]
    stream: Option<String>,
}

pub fn export(what: ExportWhat) -> anyhow::Result<ExitCode> {
    match what {
        ExportWhat::Dask(args) => export_dask(args),
    }
}

fn export_dask(args: ExportDaskArgs) -> anyhow::Result<ExitCode> {
    if args.scene.network.network.is_some() {
        return Err(UsageError(
            "--network simulates a network inside chunkscope, which a Dask script cannot use; \
             serve the catalog with `chunkscope serve` and pass its URL as --catalog instead"
                .into(),
        )
        .into());
    }
    if args.pipeline.clouds.is_empty() {
        return Err(UsageError(
            "--clouds needs at least one SCL class (the lesson masks 8,9)".into(),
        )
        .into());
    }
    let (catalog, scene, _served) = load_scene(&args.scene)?;
    let item = super::chosen_item(&catalog, args.scene.item.as_deref())?;
    let prepared =
        chunkscope::pipeline::prepare(&scene, args.scene.res, Some(&args.chunked.chunks))
            .with_context(|| format!("cannot plan the chunks of item \"{}\"", item.id))?;
    let plan = prepared
        .plan
        .as_ref()
        .context("the chunk plan is missing")?;
    for notice in &plan.notices {
        eprintln!("note: {notice}");
    }
    if let Some(warning) =
        export::fewer_chunks_than_threads(plan.chunk_count(), args.chunked.threads().get())
    {
        eprintln!("warning: {warning}");
    }
    let format = args.pipeline.format_or(OutputFormat::Cog);
    let codec = args
        .pipeline
        .output(PathBuf::from("unused.tif"), format)?
        .codec();
    let scheduler = match (&args.cluster, args.local_cluster) {
        (Some(address), _) => Scheduler::Address(address.clone()),
        (None, true) => Scheduler::LocalCluster,
        (None, false) => Scheduler::Threads,
    };
    let (script_name, raster, stream) = export::default_names(&item.id);
    let key = |role: AssetRole| -> anyhow::Result<String> { Ok(item.asset(role)?.key.clone()) };
    let settings = ExportSettings {
        catalog: catalog_for_script(&catalog.path)?,
        item: item.id.clone(),
        visual_key: key(AssetRole::Visual)?,
        scl_key: key(AssetRole::Scl)?,
        resolution: args.scene.res,
        request: args.chunked.chunks.to_string(),
        chunks: plan.shape,
        threads: args.chunked.threads().get(),
        schedule: args.schedule.schedule(),
        cloud_classes: args.pipeline.clouds.clone(),
        format,
        codec,
        tile: prepared.output_geometry().block,
        gdal_cache_mb: args.pipeline.gdal_cache,
        scheduler,
        out: args
            .raster
            .unwrap_or_else(|| format!("chunkscope-out/{raster}")),
        stream: args
            .stream
            .unwrap_or_else(|| format!("chunkscope-out/{stream}")),
        source: format!("chunkscope export dask, {}", command_line()),
    };
    let text = settings
        .script()
        .map_err(|e| UsageError(format!("cannot export this run for Dask: {e}")))?;
    if args.out.as_deref() == Some(Path::new("-")) {
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    let out = match args.out {
        Some(path) => path,
        None => {
            let dir = Path::new("chunkscope-out");
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the folder \"{}\"", dir.display()))?;
            dir.join(script_name)
        }
    };
    super::write_guard(&catalog, &scene)
        .write(&out, text.as_bytes())
        .with_context(|| format!("cannot write the script \"{}\"", out.display()))?;
    println!("{}", out.display());
    match &settings.scheduler {
        Scheduler::Threads => eprintln!(
            "run it with `python3 {0}` (on Dask's threaded scheduler, which records no task \
             stream); for one, run `python3 {0} --local-cluster` (or export with \
             --local-cluster), then `chunkscope import-dask {1}`",
            out.display(),
            settings.stream
        ),
        Scheduler::LocalCluster => eprintln!(
            "run it with `python3 {}` (on a LocalCluster, saving its task stream); then \
             `chunkscope import-dask {}`",
            out.display(),
            settings.stream
        ),
        Scheduler::Address(a) => eprintln!(
            "run it with `python3 {}` (on the cluster at {a}, saving its task stream); then \
             `chunkscope import-dask {}`",
            out.display(),
            settings.stream
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// The catalog as a script run from anywhere can open it: a URL as it is, a file by its
/// absolute path.
pub(super) fn catalog_for_script(path: &Path) -> anyhow::Result<String> {
    let text = path.to_string_lossy();
    if catalog::is_http_url(&text) {
        return Ok(text.into_owned());
    }
    let absolute = std::fs::canonicalize(path)
        .with_context(|| format!("cannot find the catalog \"{}\"", path.display()))?;
    Ok(absolute.to_string_lossy().into_owned())
}

/// This command as typed, for the script's comments.
pub(super) fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("`chunkscope {}`", args.join(" "))
}

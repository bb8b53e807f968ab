//! `chunkscope run`: one pass of the pipeline (or serial then chunked with `--mode both`),
//! printed like the lesson's `%%time` cells or as the JSON report.

use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};

use chunkscope::chunks::ChunkRequest;
use chunkscope::output::{Codec, OutputFormat, OutputSpec, WriterKind};
use chunkscope::pipeline::{
    self, CloudClasses, Mode, Resolution, RunConfig, RunControl, RunReport, Schedule,
};
use chunkscope::profile::units;
use chunkscope::task::CancelFlag;

use super::progress::RunProgress;
use super::{ModeArg, SceneArgs, cancel_on_signals, load_scene, note_task_counts, output_target};

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    scene: SceneArgs,
    #[command(flatten)]
    pub pipeline: PipelineArgs,
    /// serial (whole arrays, one thread), chunked (chunks on a thread pool) or both.
    #[arg(long, value_enum, default_value = "chunked")]
    mode: ModeArg,
    /// Print the run report as JSON on stdout.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    limits: super::ThreadLimitArgs,
}

/// The pipeline settings shared by run and bench.
#[derive(Debug, Clone, Args)]
pub struct PipelineArgs {
    /// Chunk shape: BANDS,ROWS,COLS (e.g. 3,2048,2048), a side (2048), auto[:SIZE] or
    /// blocks:K. The default, 2 x 2 blocks, is 3,2048,2048 on a full-size scene (`auto`
    /// would make the 20 m image one single chunk).
    #[arg(long, value_name = "SPEC", default_value = "blocks:2")]
    pub chunks: String,
    /// Worker threads for the chunked path (may exceed the cores); default: the cores.
    #[arg(long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,
    /// staged: all loads, then masks, then writes; fused: each chunk flows through.
    #[arg(long, value_enum, default_value = "staged")]
    pub schedule: ScheduleArg,
    /// SCL classes masked as cloud, comma-separated.
    #[arg(
        long,
        value_name = "CLASSES",
        default_value = "8,9",
        value_delimiter = ','
    )]
    pub clouds: Vec<u8>,
    /// Output format: cog (compressed, overviews) or gtiff (tiled GeoTIFF, like to_raster).
    #[arg(long, value_enum, default_value = "cog")]
    pub format: FormatArg,
    /// Compression codec: DEFLATE, LZW, ZSTD or NONE; default DEFLATE for cog, NONE for gtiff.
    #[arg(long, value_name = "CODEC")]
    pub compress: Option<String>,
    /// Codec level: DEFLATE 1-12 (default 6, GDAL's), ZSTD 1-22 (default 9, GDAL's).
    #[arg(long, value_name = "N")]
    pub level: Option<u8>,
    /// chunked: the write tasks encode tiles and overviews in parallel; gdal: GDAL writes a
    /// staging file under a lock and its COG driver copies it (to compare against).
    #[arg(long, value_enum, default_value = "chunked")]
    pub writer: WriterArg,
    /// Output file; default chunkscope-out/masked-<item>.tif in the current folder.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleArg {
    Staged,
    Fused,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WriterArg {
    Chunked,
    Gdal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Cog,
    Gtiff,
}

impl PipelineArgs {
    pub fn threads(&self) -> NonZeroUsize {
        self.threads
            .or_else(|| std::thread::available_parallelism().ok())
            .unwrap_or(NonZeroUsize::MIN)
    }

    pub fn chunk_request(&self) -> anyhow::Result<ChunkRequest> {
        Ok(self.chunks.parse::<ChunkRequest>()?)
    }

    pub fn chunked_mode(&self, chunks: ChunkRequest, threads: NonZeroUsize) -> Mode {
        let schedule = match self.schedule {
            ScheduleArg::Staged => Schedule::Staged,
            ScheduleArg::Fused => Schedule::Fused,
        };
        Mode::Chunked {
            chunks,
            threads,
            schedule,
        }
    }

    /// The output spec; the default folder is created on demand.
    pub fn output(&self, item: &str) -> anyhow::Result<OutputSpec> {
        let path = match &self.out {
            Some(p) => p.clone(),
            None => {
                let dir = PathBuf::from("chunkscope-out");
                std::fs::create_dir_all(&dir).with_context(|| {
                    format!("cannot create the output folder \"{}\"", dir.display())
                })?;
                dir.join(chunkscope::output::target::default_output_name(item))
            }
        };
        let format = match self.format {
            FormatArg::Cog => OutputFormat::Cog,
            FormatArg::Gtiff => OutputFormat::Gtiff,
        };
        let codec = match (&self.compress, self.level) {
            (Some(name), level) => Some(Codec::parse(name, level)?),
            (None, Some(level)) => {
                let default = OutputSpec::new(&path, format).codec();
                Some(Codec::parse(default.name(), Some(level))?)
            }
            (None, None) => None,
        };
        Ok(OutputSpec {
            path,
            format,
            codec,
            writer: match self.writer {
                WriterArg::Chunked => WriterKind::Chunked,
                WriterArg::Gdal => WriterKind::Gdal,
            },
        })
    }

    pub fn config(
        &self,
        mode: Mode,
        resolution: Resolution,
        item: &str,
    ) -> anyhow::Result<RunConfig> {
        if self.clouds.is_empty() {
            anyhow::bail!("--clouds needs at least one SCL class (the lesson masks 8,9)");
        }
        Ok(RunConfig {
            mode,
            resolution,
            cloud_classes: CloudClasses::new(&self.clouds),
            output: self.output(item)?,
        })
    }
}

pub fn run(mut args: RunArgs) -> anyhow::Result<ExitCode> {
    let chunked_too = args.mode != ModeArg::Serial;
    if chunked_too {
        args.limits.check(&[args.pipeline.threads()])?;
    }
    let (catalog, scene) = load_scene(&args.scene)?;
    // Before the notes below, so that a note on stderr tells that signals are handled.
    let cancel = CancelFlag::new();
    cancel_on_signals(&cancel);
    args.pipeline.out = Some(output_target(&args.pipeline, &catalog, &scene)?);
    if chunked_too {
        note_task_counts(&scene, args.scene.res, &[args.pipeline.chunk_request()?]);
    }
    let chunked = || -> anyhow::Result<Mode> {
        Ok(args
            .pipeline
            .chunked_mode(args.pipeline.chunk_request()?, args.pipeline.threads()))
    };
    let modes = match args.mode {
        ModeArg::Serial => vec![Mode::Serial],
        ModeArg::Chunked => vec![chunked()?],
        ModeArg::Both => vec![Mode::Serial, chunked()?],
    };
    let mut reports: Vec<RunReport> = Vec::new();
    for mode in modes {
        let config = args.pipeline.config(mode, args.scene.res, &scene.item)?;
        let label = match &config.mode {
            Mode::Serial => "serial".to_string(),
            Mode::Chunked { threads, .. } => format!("chunked x {threads}"),
        };
        let progress = RunProgress::start(label);
        let control = RunControl {
            events: progress.sink.clone(),
            cancel: cancel.clone(),
            ..RunControl::default()
        };
        let result = pipeline::run(&scene, &config, &control);
        drop(control);
        progress.finish();
        let report =
            result.with_context(|| format!("the run on item \"{}\" failed", scene.item))?;
        if let Some(plan) = &report.plan {
            for notice in &plan.notices {
                eprintln!("note: {notice}");
            }
        }
        if !args.json {
            print!("{}", report.time_summary());
        }
        let cancelled = report.cancelled;
        reports.push(report);
        if cancelled {
            break;
        }
    }
    if args.json {
        let value = match reports.as_slice() {
            [one] => serde_json::to_value(one)?,
            [serial, chunked] => serde_json::json!({
                "schema_version": pipeline::SCHEMA_VERSION,
                "serial": serial,
                "chunked": chunked,
                "speedup": serial.wall_ns as f64 / chunked.wall_ns.max(1) as f64,
            }),
            many => serde_json::to_value(many)?,
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else if let [serial, chunked] = reports.as_slice() {
        let speedup = serial.wall_ns as f64 / chunked.wall_ns.max(1) as f64;
        println!(
            "speedup {} (serial {} / {} {}); one run each: use `chunkscope bench` for medians",
            units::ratio(speedup),
            units::duration_ns(serial.wall_ns),
            chunked.label(),
            units::duration_ns(chunked.wall_ns),
        );
    }
    if reports.iter().any(|r| r.cancelled) {
        eprintln!("cancelled: no output was written");
        return Ok(crate::signals::cancelled_exit_code());
    }
    if let Some(signal) = crate::signals::received() {
        eprintln!(
            "{} came after the last task: the run finished and its output is complete",
            signal.describe()
        );
    }
    Ok(ExitCode::SUCCESS)
}

//! The command-line options that describe runs, declared once and flattened into every
//! command that runs the pipeline (run, compare, sweep, bench, memory), so a flag has the
//! same name, meaning and default everywhere. Each set turns into the engine's own types.

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use chunkscope::chunks::ChunkRequest;
use chunkscope::experiment::rounds::{Repetition, RunBase};
use chunkscope::output::{Codec, OutputFormat, OutputSpec, WriterKind};
use chunkscope::pipeline::limits::{self, MAX_THREADS, THREADS_PER_CORE};
use chunkscope::pipeline::{BlockSharing, CloudClasses, Mode, Resolution, Schedule};

use super::UsageError;

/// How each run masks and writes: the same for every run of a command.
#[derive(Debug, Clone, Args)]
pub struct PipelineOptions {
    /// SCL classes masked as cloud, comma-separated.
    #[arg(
        long,
        value_name = "CLASSES",
        default_value = "8,9",
        value_delimiter = ','
    )]
    pub clouds: Vec<u8>,
    /// Output format: cog (compressed, overviews) or gtiff (tiled GeoTIFF, like the
    /// lesson's to_raster). Default: cog (gtiff for `memory`, the lesson's case).
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub format: Option<FormatArg>,
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
    /// GDAL's block cache for each run, in MiB (default GDAL_CACHEMAX, else 5 % of RAM).
    /// Load tasks let go of their decoded blocks and the chunked writer does not use the
    /// cache, so it matters mostly for `--writer gdal` runs, whose output blocks wait in it.
    #[arg(long, value_name = "MB")]
    pub gdal_cache: Option<u32>,
    /// shared: each COG block is decoded once and handed to every chunk that touches it;
    /// per-task: each load task decodes the blocks it touches (as a task engine without a
    /// block cache does), so chunks that share a block decode it again.
    #[arg(long, value_enum, default_value = "shared")]
    pub blocks: BlocksArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BlocksArg {
    Shared,
    PerTask,
}

impl From<BlocksArg> for BlockSharing {
    fn from(b: BlocksArg) -> Self {
        match b {
            BlocksArg::Shared => BlockSharing::Shared,
            BlocksArg::PerTask => BlockSharing::PerTask,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Cog,
    Gtiff,
}

impl From<FormatArg> for OutputFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Cog => OutputFormat::Cog,
            FormatArg::Gtiff => OutputFormat::Gtiff,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WriterArg {
    Chunked,
    Gdal,
}

impl From<WriterArg> for WriterKind {
    fn from(w: WriterArg) -> Self {
        match w {
            WriterArg::Chunked => WriterKind::Chunked,
            WriterArg::Gdal => WriterKind::Gdal,
        }
    }
}

impl PipelineOptions {
    /// The format asked for, or the command's default.
    pub fn format_or(&self, default: OutputFormat) -> OutputFormat {
        self.format.map_or(default, OutputFormat::from)
    }

    /// The output spec of a run writing `format` to `path`; the codec is checked here.
    pub fn output(&self, path: PathBuf, format: OutputFormat) -> anyhow::Result<OutputSpec> {
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
            writer: self.writer.into(),
        })
    }

    /// What every run of a command shares, writing `format` to `out`.
    pub fn run_base(
        &self,
        resolution: Resolution,
        out: PathBuf,
        format: OutputFormat,
    ) -> anyhow::Result<RunBase> {
        if self.clouds.is_empty() {
            anyhow::bail!("--clouds needs at least one SCL class (the lesson masks 8,9)");
        }
        Ok(RunBase {
            resolution,
            cloud_classes: CloudClasses::new(&self.clouds),
            output: self.output(out, format)?,
            gdal_cache_mb: self.gdal_cache,
            blocks: self.blocks.into(),
        })
    }

    /// The same options as `chunkscope run` arguments, for runs in child processes.
    pub fn to_args(&self, format: OutputFormat) -> Vec<String> {
        let clouds: Vec<String> = self.clouds.iter().map(u8::to_string).collect();
        let mut args = vec![
            "--clouds".to_string(),
            clouds.join(","),
            "--format".into(),
            format.name().into(),
            "--writer".into(),
            WriterKind::from(self.writer).name().into(),
        ];
        if let Some(codec) = &self.compress {
            args.extend(["--compress".into(), codec.clone()]);
        }
        if let Some(level) = self.level {
            args.extend(["--level".into(), level.to_string()]);
        }
        if let Some(mb) = self.gdal_cache {
            args.extend(["--gdal-cache".into(), mb.to_string()]);
        }
        args.extend([
            "--blocks".into(),
            BlockSharing::from(self.blocks).name().into(),
        ]);
        args
    }
}

/// `--schedule`, on the commands that run one schedule (memory runs them all).
#[derive(Debug, Clone, Copy, Args)]
pub struct ScheduleOption {
    /// staged: all loads, then masks, then writes; fused: each chunk flows through.
    #[arg(long, value_enum, default_value = "staged")]
    pub schedule: ScheduleArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleArg {
    Staged,
    Fused,
}

impl ScheduleOption {
    pub fn schedule(&self) -> Schedule {
        match self.schedule {
            ScheduleArg::Staged => Schedule::Staged,
            ScheduleArg::Fused => Schedule::Fused,
        }
    }
}

/// One chunk shape and one pool size: run and memory.
#[derive(Debug, Clone, Args)]
pub struct ChunkedOptions {
    /// Chunk shape: BANDS,ROWS,COLS (e.g. 3,2048,2048), a side (2048), auto[:SIZE] or
    /// blocks:K. The default, 2 x 2 blocks, is 3,2048,2048 on a full-size scene (`auto`
    /// would make the 20 m image one single chunk).
    #[arg(long, value_name = "SPEC", default_value = "blocks:2")]
    pub chunks: ChunkRequest,
    /// Worker threads for the chunked path (may exceed the cores); default: the cores.
    #[arg(long, value_name = "N")]
    pub threads: Option<NonZeroUsize>,
}

impl ChunkedOptions {
    pub fn threads(&self) -> NonZeroUsize {
        self.threads.unwrap_or_else(cores)
    }

    pub fn mode(&self, schedule: Schedule) -> Mode {
        Mode::Chunked {
            chunks: self.chunks.clone(),
            threads: self.threads(),
            schedule,
        }
    }
}

/// This machine's cores, at least 1.
pub fn cores() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// How often each configuration runs: compare, sweep and bench.
#[derive(Debug, Clone, Copy, Args)]
pub struct RoundsOptions {
    /// Runs per configuration, taken in alternated rounds (A B C A B C ...).
    #[arg(long, value_name = "R", default_value_t = 3)]
    pub repeat: usize,
    /// Unmeasured runs before the rounds, so the first measured run does not read its
    /// files from disk while the others read them from the OS page cache.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub warmup: usize,
}

impl RoundsOptions {
    pub fn repetition(&self) -> anyhow::Result<Repetition> {
        if self.repeat == 0 {
            anyhow::bail!("--repeat must be at least 1");
        }
        Ok(Repetition {
            repeat: self.repeat,
            warmup: self.warmup,
        })
    }
}

/// A list of chunk requests, as one `--chunks` value gives it: split on `;` if it has
/// one (so BANDS,ROWS,COLS shapes fit), else on `,`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkList(pub Vec<ChunkRequest>);

impl std::str::FromStr for ChunkList {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let sep = if value.contains(';') { ';' } else { ',' };
        let list = value
            .split(sep)
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| p.parse::<ChunkRequest>().map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        if list.is_empty() {
            return Err("needs at least one chunk request, like 512,1024,auto".into());
        }
        Ok(Self(list))
    }
}

/// All the requests of every `--chunks` given.
pub fn flatten_chunks(lists: &[ChunkList]) -> Vec<ChunkRequest> {
    lists.iter().flat_map(|l| l.0.iter().cloned()).collect()
}

/// `--force-threads`, on every command that takes a thread count.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct ThreadLimitArgs {
    /// Allow more than 4 worker threads per core (up to 1024), e.g. to measure what
    /// oversubscription costs.
    #[arg(long)]
    pub force_threads: bool,
}

impl ThreadLimitArgs {
    /// Refuses thread counts above 4 per core unless forced, and above 1024 always:
    /// threads beyond the cores only take turns on them, and thousands of them take longer
    /// to start than the work itself.
    pub fn check(&self, threads: &[NonZeroUsize]) -> anyhow::Result<()> {
        let Some(max) = threads.iter().map(|t| t.get()).max() else {
            return Ok(());
        };
        if max > MAX_THREADS {
            return Err(UsageError(format!(
                "{max} threads is more than the {MAX_THREADS} worker threads chunkscope starts; \
                 ask for fewer"
            ))
            .into());
        }
        let cores = cores().get();
        let limit = limits::thread_limit(cores);
        if max > limit && !self.force_threads {
            return Err(UsageError(format!(
                "{max} threads is more than {THREADS_PER_CORE} per core ({limit} on this \
                 machine's {cores} core(s)): threads beyond the cores only take turns on them, \
                 and starting many takes longer than the work; ask for at most {limit}, or add \
                 --force-threads to measure it anyway"
            ))
            .into());
        }
        Ok(())
    }
}

/// The default output file of a run: `chunkscope-out/masked-<item>.tif` in the current
/// folder, the folder created on demand.
pub fn default_output(item: &str) -> anyhow::Result<PathBuf> {
    let dir = Path::new("chunkscope-out");
    std::fs::create_dir_all(dir).map_err(|e| {
        anyhow::anyhow!("cannot create the output folder \"{}\": {e}", dir.display())
    })?;
    Ok(dir.join(chunkscope::output::target::default_output_name(item)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_lists_split_on_commas_or_semicolons() {
        let l: ChunkList = "256,auto, blocks:2".parse().unwrap();
        assert_eq!(
            l.0,
            [
                ChunkRequest::Square(256),
                ChunkRequest::default(),
                ChunkRequest::Blocks(2)
            ]
        );
        let l: ChunkList = "3,512,512;1024".parse().unwrap();
        assert_eq!(
            l.0,
            [
                ChunkRequest::Explicit {
                    bands: 3,
                    rows: 512,
                    cols: 512
                },
                ChunkRequest::Square(1024)
            ]
        );
        assert!("512,0".parse::<ChunkList>().is_err());
        assert!(",".parse::<ChunkList>().is_err());
    }
}

//! A sweep as files: JSON that loads back (checked `schema_version`) and a CSV table.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::SweepResult;
use crate::experiment::SCHEMA_VERSION;
use crate::output::guard::{WriteError, WriteGuard};
use crate::task::Stage;

/// Reading or writing a sweep file.
#[derive(Debug, thiserror::Error)]
pub enum SweepFileError {
    #[error("cannot read the sweep file \"{path}\"")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write \"{path}\"")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(transparent)]
    Guard(WriteError),
    #[error("\"{path}\" is not a chunkscope sweep file")]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("\"{path}\" is not a chunkscope sweep file: it has no schema_version")]
    NoVersion { path: PathBuf },
    #[error(
        "\"{path}\" is a sweep file of schema_version {found}, but this chunkscope reads \
         version {expected}; run the sweep again"
    )]
    Version {
        path: PathBuf,
        found: u64,
        expected: u32,
    },
}

impl SweepResult {
    /// Writes the result as pretty JSON, never over a special file.
    pub fn save(&self, path: &Path) -> Result<(), SweepFileError> {
        self.save_guarded(path, &WriteGuard::new())
    }

    /// Writes the result as pretty JSON where `guard` allows it.
    pub fn save_guarded(&self, path: &Path, guard: &WriteGuard) -> Result<(), SweepFileError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| SweepFileError::Write {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        guard
            .write(path, (text + "\n").as_bytes())
            .map_err(SweepFileError::Guard)?;
        Ok(())
    }

    /// Reads what [`SweepResult::save`] wrote, refusing other schema versions.
    pub fn load(path: &Path) -> Result<Self, SweepFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| SweepFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let parse_err = |source: serde_json::Error| SweepFileError::Parse {
            path: path.to_path_buf(),
            source,
        };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(parse_err)?;
        let found = value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| SweepFileError::NoVersion {
                path: path.to_path_buf(),
            })?;
        if found != u64::from(SCHEMA_VERSION) {
            return Err(SweepFileError::Version {
                path: path.to_path_buf(),
                found,
                expected: SCHEMA_VERSION,
            });
        }
        serde_json::from_value(value).map_err(parse_err)
    }

    /// The table as CSV (RFC 4180): a header, then one line per row. Durations in ns, sizes
    /// in bytes; empty cells where a figure does not apply (serial has no plan).
    pub fn write_csv(&self, out: &mut dyn Write) -> io::Result<()> {
        const HEADER: [&str; 30] = [
            "config",
            "chunks",
            "bands",
            "rows",
            "cols",
            "threads",
            "runs",
            "load_ns",
            "mask_ns",
            "write_ns",
            "finalize_ns",
            "wall_median_ns",
            "wall_mean_ns",
            "wall_stdev_ns",
            "wall_min_ns",
            "wall_max_ns",
            "speedup",
            "speedup_error",
            "efficiency",
            "overhead_share",
            "overhead_per_task_us",
            "task_overhead_share",
            "task_overhead_per_task_us",
            "task_median_us",
            "chunk_count",
            "chunk_bytes",
            "aligned",
            "read_amplification",
            "peak_rss_bytes",
            "decoded_mb_s",
        ];
        let mut out = csv::Writer::from_writer(out);
        out.write_record(HEADER)?;
        let opt = |v: Option<String>| v.unwrap_or_default();
        for r in &self.rows {
            let p = r.plan.as_ref();
            let stage = |s: Stage| opt(r.stage_ns(s).map(|v| v.to_string()));
            let cells = [
                r.label.clone(),
                r.chunks.clone().unwrap_or_default(),
                opt(p.map(|p| p.shape.bands.to_string())),
                opt(p.map(|p| p.shape.rows.to_string())),
                opt(p.map(|p| p.shape.cols.to_string())),
                r.threads.to_string(),
                r.runs.to_string(),
                stage(Stage::Load),
                stage(Stage::Mask),
                stage(Stage::Write),
                stage(Stage::Finalize),
                r.wall.median_ns.to_string(),
                format!("{:.0}", r.wall.mean_ns),
                opt(r.wall.stdev_ns.map(|s| format!("{s:.0}"))),
                r.wall.min_ns.to_string(),
                r.wall.max_ns.to_string(),
                opt(r.speedup.map(|s| format!("{:.4}", s.value))),
                opt(r.speedup.and_then(|s| s.error).map(|e| format!("{e:.4}"))),
                opt(r.efficiency.map(|e| format!("{e:.4}"))),
                format!("{:.4}", r.overhead_share),
                format!("{:.1}", r.overhead_per_task_us),
                format!("{:.4}", r.task_overhead_share),
                format!("{:.1}", r.task_overhead_per_task_us),
                format!("{:.1}", r.task_median_us),
                opt(p.map(|p| p.chunk_count.to_string())),
                opt(p.map(|p| p.chunk_bytes.to_string())),
                opt(p.map(|p| p.aligned.to_string())),
                opt(p.map(|p| format!("{:.4}", p.read_amplification))),
                r.peak_rss_bytes.to_string(),
                format!("{:.1}", r.decoded_mb_s),
            ];
            out.write_record(&cells)?;
        }
        out.flush()
    }

    /// Writes [`SweepResult::write_csv`] to a file where `guard` allows it.
    pub fn save_csv(&self, path: &Path, guard: &WriteGuard) -> Result<(), SweepFileError> {
        let mut buf = Vec::new();
        self.write_csv(&mut buf)
            .map_err(|source| SweepFileError::Write {
                path: path.to_path_buf(),
                source,
            })?;
        guard.write(path, &buf).map_err(SweepFileError::Guard)?;
        Ok(())
    }
}

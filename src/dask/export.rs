//! The way back to Dask: the lesson's pipeline as a Python script with the settings tuned in
//! chunkscope (catalog item, chunk shape, threads, cloud classes, output format and codec),
//! for Dask's threaded scheduler or a `dask.distributed` cluster. On a cluster the script
//! saves `Client.get_task_stream()` in the form [`super::DaskStream`] reads, which closes
//! the round trip. Pure text generation; the caller writes the file.

use std::fmt::Write as _;

use crate::catalog::{AssetRole, Item};
use crate::chunks::ChunkShape;
use crate::output::{Codec, OutputFormat};
use crate::pipeline::report::ReportConfig;
use crate::pipeline::{Resolution, Schedule};

/// Where the exported script runs its graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scheduler {
    /// Dask's local threaded scheduler with the chosen thread count (the lesson's
    /// `.compute()` on a laptop). No task stream: only the distributed scheduler records one.
    Threads,
    /// A `LocalCluster(n_workers=1, threads_per_worker=N, processes=False)` started by the
    /// script: the distributed scheduler on one machine, with a task stream.
    LocalCluster,
    /// An existing cluster's scheduler, e.g. `tcp://10.0.0.5:8786`.
    Address(String),
}

/// Everything the script needs, already resolved against the scene (the chunk shape is
/// the plan's, after clamping; the codec is the format's default when none was asked).
#[derive(Debug, Clone)]
pub struct ExportSettings {
    /// The catalog as the script should open it: an absolute local path or a URL.
    pub catalog: String,
    pub item: String,
    /// The item's asset keys for the true-colour image and the scene classification.
    pub visual_key: String,
    pub scl_key: String,
    pub resolution: Resolution,
    /// The chunk request as the user wrote it (`blocks:2`, `256`, ...), for the comments.
    pub request: String,
    /// The chunk shape it gives on the working grid, (bands, rows, cols).
    pub chunks: ChunkShape,
    pub threads: usize,
    pub schedule: Schedule,
    pub cloud_classes: Vec<u8>,
    pub format: OutputFormat,
    pub codec: Codec,
    /// Tile side of the output (the source's block size, as chunkscope writes it).
    pub tile: usize,
    pub gdal_cache_mb: Option<u32>,
    pub scheduler: Scheduler,
    /// Default output file and task stream file (the script takes `--out`/`--stream`).
    pub out: String,
    pub stream: String,
    /// Which chunkscope run or command the settings come from, for the script's comments.
    pub source: String,
}

/// Settings the lesson's code cannot express, refused with what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    #[error(
        "the 10 m grid repeats each SCL pixel 2x2, which the lesson's Dask code does not do; \
         export a 20 m run (--res 20)"
    )]
    TenMetres,
    #[error("no cloud classes to mask: the lesson masks 8,9")]
    NoCloudClasses,
    #[error("{0} threads: the script needs at least one")]
    NoThreads(usize),
    #[error("a serial run has no chunks for Dask to use; export a chunked run")]
    Serial,
    #[error(
        "\"{0}\" is not a Dask scheduler address: use tcp://HOST:PORT (or tls://, ws://, \
         wss://, inproc://), as Client() takes it"
    )]
    BadAddress(String),
}

/// A warning when `chunks` chunks leave some of `threads` threads without work: the
/// lesson's point that a chunk is the unit of parallelism.
pub fn fewer_chunks_than_threads(chunks: usize, threads: usize) -> Option<String> {
    (chunks < threads).then(|| {
        format!(
            "these chunks make {chunks} chunk(s) for {threads} threads, so {} thread(s) will \
             have nothing to do; use smaller chunks or fewer threads",
            threads - chunks
        )
    })
}

/// The default names of the exported script and of the stream it saves, for `item`.
pub fn default_names(item: &str) -> (String, String, String) {
    let stem = crate::output::target::file_safe(item);
    (
        format!("dask-{stem}.py"),
        format!("masked-{stem}-dask.tif"),
        format!("dask-stream-{stem}.json"),
    )
}

impl ExportSettings {
    /// The settings of a finished run, from its report: `catalog` as the script should
    /// open it, `item` the run's item (for its asset keys), `tile` the output's tile side.
    pub fn from_report(
        config: &ReportConfig,
        catalog: String,
        item: &Item,
        tile: usize,
        scheduler: Scheduler,
        source: String,
    ) -> Result<Self, ExportError> {
        let [bands, rows, cols] = config.chunks.ok_or(ExportError::Serial)?;
        let key = |role: AssetRole| {
            item.find_role(role)
                .map_or_else(|| role.to_string(), |a| a.key.clone())
        };
        let resolution = if config.resolution_m == 10 {
            Resolution::R10
        } else {
            Resolution::R20
        };
        let schedule = match config.schedule.as_deref() {
            Some("fused") => Schedule::Fused,
            _ => Schedule::Staged,
        };
        let format = if config.format == "gtiff" {
            OutputFormat::Gtiff
        } else {
            OutputFormat::Cog
        };
        let codec = Codec::parse(&config.compress, config.level).unwrap_or(Codec::DEFLATE);
        let (_, out, stream) = default_names(&item.id);
        Ok(Self {
            catalog,
            item: item.id.clone(),
            visual_key: key(AssetRole::Visual),
            scl_key: key(AssetRole::Scl),
            resolution,
            request: format!("{bands},{rows},{cols}"),
            chunks: ChunkShape { bands, rows, cols },
            threads: config.threads,
            schedule,
            cloud_classes: config.cloud_classes.clone(),
            format,
            codec,
            tile,
            gdal_cache_mb: config
                .gdal_cache_bytes
                .map(|b| u32::try_from(b >> 20).unwrap_or(u32::MAX)),
            scheduler,
            out: format!("chunkscope-out/{out}"),
            stream: format!("chunkscope-out/{stream}"),
            source,
        })
    }

    fn check(&self) -> Result<(), ExportError> {
        if self.resolution == Resolution::R10 {
            return Err(ExportError::TenMetres);
        }
        if self.cloud_classes.is_empty() {
            return Err(ExportError::NoCloudClasses);
        }
        if self.threads == 0 {
            return Err(ExportError::NoThreads(self.threads));
        }
        if let Scheduler::Address(address) = &self.scheduler {
            let ok = ["tcp://", "tls://", "ws://", "wss://", "inproc://"]
                .iter()
                .any(|scheme| {
                    address
                        .strip_prefix(scheme)
                        .is_some_and(|rest| !rest.is_empty())
                })
                && address
                    .chars()
                    .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\'' | '\\'));
            if !ok {
                return Err(ExportError::BadAddress(address.clone()));
            }
        }
        Ok(())
    }

    /// The script's text, or why these settings cannot be exported.
    pub fn script(&self) -> Result<String, ExportError> {
        self.check()?;
        let mut s = String::new();
        self.write_head(&mut s);
        self.write_settings(&mut s);
        s.push_str(BODY);
        Ok(s)
    }

    fn write_head(&self, s: &mut String) {
        let version = env!("CARGO_PKG_VERSION");
        let how = match &self.scheduler {
            Scheduler::Threads => format!(
                "Dask's threaded scheduler, {} thread(s); pass --local-cluster or \
                 --cluster ADDRESS for the distributed scheduler and its task stream",
                self.threads
            ),
            Scheduler::LocalCluster => format!(
                "a LocalCluster (1 worker, {} thread(s), in this process), saving \
                 Client.get_task_stream()",
                self.threads
            ),
            Scheduler::Address(a) => format!(
                "the Dask cluster at {a}, saving Client.get_task_stream() (the workers must \
                 see the catalog's assets and the output folder)"
            ),
        };
        let _ = writeln!(s, "#!/usr/bin/env python3");
        let _ = writeln!(
            s,
            "# The lesson's load / mask / write pipeline for Dask, exported by chunkscope {version}."
        );
        let _ = writeln!(s, "# From: {}", comment(&self.source));
        let _ = writeln!(s, "#   catalog   {}", comment(&self.catalog));
        let _ = writeln!(
            s,
            "#   item      {} (--item picks another; --item '' the catalog's last, as the \
             lesson's items[-1])",
            comment(&self.item)
        );
        let _ = writeln!(
            s,
            "#   chunks    {},{},{} (request \"{}\"), {} schedule",
            self.chunks.bands,
            self.chunks.rows,
            self.chunks.cols,
            comment(&self.request),
            self.schedule.name()
        );
        let _ = writeln!(s, "#   threads   {}", self.threads);
        let clouds: Vec<String> = self.cloud_classes.iter().map(u8::to_string).collect();
        let _ = writeln!(
            s,
            "#   grid      {} m: visual overview level 0, SCL as it is; cloud classes {}",
            self.resolution.metres(),
            clouds.join(",")
        );
        let codec = match self.codec.level() {
            Some(level) => format!("{} level {level}", self.codec.name()),
            None => self.codec.name().to_string(),
        };
        let written = match self.format {
            OutputFormat::Gtiff => format!("tiled GeoTIFF ({codec}), written by the chunks"),
            OutputFormat::Cog => format!(
                "COG ({codec}): a tiled GeoTIFF written by the chunks, then GDAL's COG driver \
                 copies it (as chunkscope's --writer gdal)"
            ),
        };
        let _ = writeln!(s, "#   output    {written}");
        let _ = writeln!(s, "#   runs on   {}", comment(&how));
        let _ = writeln!(s, "#");
        let _ = writeln!(
            s,
            "# Needs: pip install dask distributed rioxarray pystac (chunkscope tests it with the"
        );
        let _ = writeln!(
            s,
            "# versions in its tests/dask/requirements.txt). Run it with python3; --help lists"
        );
        let _ = writeln!(
            s,
            "# its options (--local-cluster, --cluster ADDRESS, --threads, --out, --stream)."
        );
        let _ = writeln!(
            s,
            "# Then: chunkscope import-dask STREAM.json  (or chunkscope tui --dask STREAM.json)"
        );
        let _ = writeln!(s);
    }

    fn write_settings(&self, s: &mut String) {
        let (scheduler, address) = match &self.scheduler {
            Scheduler::Threads => ("threads", None),
            Scheduler::LocalCluster => ("local-cluster", None),
            Scheduler::Address(a) => ("address", Some(a.as_str())),
        };
        let (format, options) = match self.format {
            OutputFormat::Gtiff => ("GTiff", self.codec.gdal_options(false)),
            OutputFormat::Cog => ("COG", self.codec.gdal_options(true)),
        };
        let options: Vec<String> = options
            .into_iter()
            .map(|(k, v)| format!("{}: {}", py_str(k), py_str(&v)))
            .collect();
        let clouds: Vec<String> = self.cloud_classes.iter().map(u8::to_string).collect();
        let _ = writeln!(
            s,
            "CHUNKSCOPE_VERSION = {}",
            py_str(env!("CARGO_PKG_VERSION"))
        );
        let _ = writeln!(s, "SOURCE = {}", py_str(&self.source));
        let _ = writeln!(s, "CATALOG = {}", py_str(&self.catalog));
        let _ = writeln!(s, "ITEM = {}", py_str(&self.item));
        let _ = writeln!(s, "VISUAL_KEY = {}", py_str(&self.visual_key));
        let _ = writeln!(s, "SCL_KEY = {}", py_str(&self.scl_key));
        let _ = writeln!(
            s,
            "VISUAL_OVERVIEW_LEVEL = 0  # the 20 m level of the 10 m true-colour image"
        );
        let _ = writeln!(s, "CHUNK_REQUEST = {}", py_str(&self.request));
        let _ = writeln!(
            s,
            "CHUNKS = ({}, {}, {})  # (band, y, x), as chunkscope planned them",
            self.chunks.bands, self.chunks.rows, self.chunks.cols
        );
        let _ = writeln!(s, "THREADS = {}", self.threads);
        let _ = writeln!(
            s,
            "STAGED = {}  # staged: persist the loads, then mask and write (the lesson); fused: one compute",
            if self.schedule == Schedule::Staged {
                "True"
            } else {
                "False"
            }
        );
        let _ = writeln!(s, "CLOUD_CLASSES = [{}]", clouds.join(", "));
        let _ = writeln!(s, "FORMAT = {}", py_str(format));
        let _ = writeln!(s, "CODEC_OPTIONS = {{{}}}", options.join(", "));
        let _ = writeln!(s, "TILE = {}", self.tile);
        let _ = writeln!(
            s,
            "GDAL_CACHE_MB = {}",
            self.gdal_cache_mb
                .map_or_else(|| "None".to_string(), |mb| mb.to_string())
        );
        let _ = writeln!(s, "SCHEDULER = {}", py_str(scheduler));
        let _ = writeln!(
            s,
            "ADDRESS = {}",
            address.map_or_else(|| "None".to_string(), py_str)
        );
        let _ = writeln!(s, "OUT = {}", py_str(&self.out));
        let _ = writeln!(s, "STREAM = {}", py_str(&self.stream));
    }
}

/// A Python string literal holding `text`: JSON's escapes are Python's too.
fn py_str(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".into())
}

/// `text` on one comment line.
fn comment(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// The part of the script that does not depend on the settings.
const BODY: &str = r#"

import argparse
import json
import os
import sys
import threading
import time
from contextlib import nullcontext
from urllib.parse import urljoin, urlparse


def arguments():
    p = argparse.ArgumentParser(
        description="The lesson's pipeline on Dask with the settings chunkscope exported."
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--cluster", metavar="ADDRESS",
                       help="run on the Dask scheduler at ADDRESS and save its task stream")
    where.add_argument("--local-cluster", action="store_true",
                       help="start a LocalCluster (1 worker, THREADS threads, this process)")
    where.add_argument("--threaded", action="store_true",
                       help="Dask's threaded scheduler (no task stream)")
    p.add_argument("--threads", type=int, default=THREADS)
    p.add_argument("--item", default=ITEM,
                   help="the catalog item to read (default %(default)s, the one chunkscope "
                        "ran; an empty value takes the catalog's last, as the lesson's items[-1])")
    p.add_argument("--out", default=OUT, help="output raster (default %(default)s)")
    p.add_argument("--stream", default=STREAM,
                   help="where the task stream goes, on a cluster (default %(default)s)")
    a = p.parse_args()
    if a.threads < 1:
        p.error("--threads must be at least 1")
    a.scheduler = ("address" if a.cluster else "local-cluster" if a.local_cluster
                   else "threads" if a.threaded else SCHEDULER)
    a.address = a.cluster or ADDRESS
    return a


def is_url(text):
    return urlparse(text).scheme not in ("", "file") and len(urlparse(text).scheme) > 1


def asset_hrefs(wanted):
    """The item's id and its visual and SCL hrefs, relative ones resolved against the
    catalog: the item `wanted`, or the catalog's last (the lesson's items[-1]) if empty."""
    import pystac

    items = list(pystac.ItemCollection.from_file(CATALOG))
    if not items:
        sys.exit(f"the catalog {CATALOG!r} has no items")
    item = items[-1] if not wanted else next((i for i in items if i.id == wanted), None)
    if item is None:
        sys.exit(f"item {wanted!r} is not in the catalog {CATALOG!r}")

    def href(key):
        if key not in item.assets:
            sys.exit(f"item {item.id!r} has no asset {key!r}")
        h = item.assets[key].href
        if is_url(h) or os.path.isabs(h):
            return h
        if is_url(CATALOG):
            return urljoin(CATALOG, h)
        return os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(CATALOG)), h))

    return item.id, href(VISUAL_KEY), href(SCL_KEY)


def main():
    a = arguments()
    if GDAL_CACHE_MB is not None:
        os.environ.setdefault("GDAL_CACHEMAX", str(GDAL_CACHE_MB))
    import dask
    import rasterio
    import rasterio.shutil
    import rioxarray

    t0 = time.time()
    client = None
    distributed = None
    if a.scheduler == "threads":
        dask.config.set(scheduler="threads", num_workers=a.threads)
        lock = threading.Lock()
        cluster = None
    else:
        import distributed
        from distributed import Client, LocalCluster

        if a.scheduler == "local-cluster":
            client = Client(LocalCluster(n_workers=1, threads_per_worker=a.threads,
                                         processes=False, dashboard_address=None))
            cluster = {"n_workers": 1, "threads_per_worker": a.threads, "processes": False}
        else:
            client = Client(a.address)
            workers = client.scheduler_info(n_workers=-1)["workers"].values()
            threads = sorted({w["nthreads"] for w in workers})
            cluster = {"n_workers": len(workers),
                       "threads_per_worker": threads[0] if len(threads) == 1 else None,
                       "processes": None}
        lock = distributed.Lock("chunkscope-to-raster")

    item_id, visual_href, scl_href = asset_hrefs(a.item)
    # On a cluster, the scheduler records every task from here on (Client.get_task_stream).
    recording = distributed.get_task_stream(client) if client is not None else nullcontext()
    wall = {}
    calls = {}  # when each timed call began, on the clock of the task stream's times
    with recording as task_stream:
        # Load: SCL and the visual's 20 m overview, chunked the same way, without a lock
        # (each task opens its own handle).
        start = calls["load"] = time.time()
        scl = rioxarray.open_rasterio(
            scl_href, chunks={"band": 1, "y": CHUNKS[1], "x": CHUNKS[2]}, lock=False)
        visual = rioxarray.open_rasterio(
            visual_href, overview_level=VISUAL_OVERVIEW_LEVEL,
            chunks={"band": CHUNKS[0], "y": CHUNKS[1], "x": CHUNKS[2]}, lock=False)
        if STAGED:
            scl = scl.persist()
            visual = visual.persist()
            if client is not None:
                distributed.wait([scl.data, visual.data])
        wall["load"] = time.time() - start
        chunks = visual.data.npartitions // max(1, len(visual.data.chunks[0]))
        if chunks < a.threads:
            print(f"warning: these chunks make {chunks} chunk(s) for {a.threads} threads, so "
                  f"{a.threads - chunks} thread(s) will have nothing to do", file=sys.stderr)

        # Mask: cloud classes to nodata (0). Write: every chunk into a tiled GeoTIFF under
        # one lock, then compute.
        start = calls["mask_write"] = time.time()
        mask = scl.sel(band=1).isin(CLOUD_CLASSES)
        masked = visual.where(~mask, 0)
        masked = masked.rio.write_nodata(0)
        out = a.out
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        target = out + ".staging.tif" if FORMAT == "COG" else out
        options = {} if FORMAT == "COG" else dict(CODEC_OPTIONS)
        delayed = masked.rio.to_raster(target, tiled=True, blockxsize=TILE, blockysize=TILE,
                                       lock=lock, compute=False, **options)
        delayed.compute()
        wall["mask_write"] = time.time() - start
    if FORMAT == "COG":
        start = time.time()
        rasterio.shutil.copy(target, out, driver="COG", BLOCKSIZE=TILE,
                             RESAMPLING="AVERAGE", **CODEC_OPTIONS)
        os.remove(target)
        wall["cog_copy"] = time.time() - start
    total = sum(wall.values())
    print(f"wrote {out}")
    print("  ".join(f"{k} {v:.3f} s" for k, v in wall.items()) + f"  total {total:.3f} s")

    if client is not None:
        stream = task_stream.data
        header = {
            "made_by": f"script exported by chunkscope {CHUNKSCOPE_VERSION} ({SOURCE})",
            "dask_version": dask.__version__,
            "distributed_version": distributed.__version__,
            "rioxarray_version": rioxarray.__version__,
            "cluster": cluster,
            "chunks": list(CHUNKS),
            "chunk_request": CHUNK_REQUEST,
            "scene_item": item_id,
            "catalog": CATALOG,
            "staged": STAGED,
            "wall_s": wall,
            "t0_epoch_s": t0,
            "calls_epoch_s": calls,
            "task_stream": stream,
        }
        os.makedirs(os.path.dirname(os.path.abspath(a.stream)), exist_ok=True)
        with open(a.stream, "w") as f:
            json.dump(header, f, default=str)
        print(f"task stream ({len(stream)} tasks) saved to {a.stream}")
        print(f"look at it with: chunkscope import-dask {a.stream}")
        client.close()
    else:
        print("no task stream: Dask's threaded scheduler records none. For one that "
              "`chunkscope import-dask` reads, run this again with --local-cluster (the same "
              "threads on the distributed scheduler, on this machine) or --cluster ADDRESS")


if __name__ == "__main__":
    main()
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ExportSettings {
        ExportSettings {
            catalog: "data/search.json".into(),
            item: "S2A_31UFU_20200530_0_L2A".into(),
            visual_key: "visual".into(),
            scl_key: "SCL".into(),
            resolution: Resolution::R20,
            request: "blocks:2".into(),
            chunks: ChunkShape {
                bands: 3,
                rows: 2048,
                cols: 2048,
            },
            threads: 4,
            schedule: Schedule::Staged,
            cloud_classes: vec![8, 9],
            format: OutputFormat::Gtiff,
            codec: Codec::DEFLATE,
            tile: 1024,
            gdal_cache_mb: None,
            scheduler: Scheduler::Threads,
            out: "chunkscope-out/masked-x-dask.tif".into(),
            stream: "chunkscope-out/dask-stream-x.json".into(),
            source: "chunkscope export dask".into(),
        }
    }

    #[test]
    fn the_script_carries_the_settings() {
        let text = settings().script().unwrap();
        for line in [
            "CHUNKS = (3, 2048, 2048)",
            "THREADS = 4",
            "CLOUD_CLASSES = [8, 9]",
            "ITEM = \"S2A_31UFU_20200530_0_L2A\"",
            "SCL_KEY = \"SCL\"",
            "FORMAT = \"GTiff\"",
            "CODEC_OPTIONS = {\"COMPRESS\": \"DEFLATE\", \"ZLEVEL\": \"6\"}",
            "SCHEDULER = \"threads\"",
            "ADDRESS = None",
            "STAGED = True",
            "#   item      S2A_31UFU_20200530_0_L2A (--item",
            "#   chunks    3,2048,2048 (request \"blocks:2\"), staged schedule",
        ] {
            assert!(text.contains(line), "missing {line:?}");
        }
    }

    #[test]
    fn cog_names_the_level_as_the_cog_driver_does() {
        let mut s = settings();
        s.format = OutputFormat::Cog;
        s.codec = Codec::Zstd { level: 3 };
        s.scheduler = Scheduler::Address("tcp://10.0.0.5:8786".into());
        let text = s.script().unwrap();
        assert!(text.contains("CODEC_OPTIONS = {\"COMPRESS\": \"ZSTD\", \"LEVEL\": \"3\"}"));
        assert!(text.contains("ADDRESS = \"tcp://10.0.0.5:8786\""));
    }

    #[test]
    fn quotes_and_newlines_cannot_escape_their_strings() {
        let mut s = settings();
        s.item = "x\"\nimport os; os.system('rm')".into();
        let text = s.script().unwrap();
        assert!(text.contains(r#"ITEM = "x\"\nimport os; os.system('rm')""#));
        assert!(!text.lines().any(|l| l.starts_with("import os; os.system")));
    }

    #[test]
    fn settings_the_lesson_cannot_express_are_refused() {
        let mut s = settings();
        s.resolution = Resolution::R10;
        assert_eq!(s.script().unwrap_err(), ExportError::TenMetres);
        let mut s = settings();
        s.cloud_classes.clear();
        assert_eq!(s.script().unwrap_err(), ExportError::NoCloudClasses);
        for bad in ["10.0.0.5:8786", "tcp://", "tcp://a\"b:1", "tcp://a b:1"] {
            let mut s = settings();
            s.scheduler = Scheduler::Address(bad.into());
            assert_eq!(
                s.script().unwrap_err(),
                ExportError::BadAddress(bad.into()),
                "{bad}"
            );
        }
    }

    #[test]
    fn default_names_keep_the_item_safe() {
        assert_eq!(
            default_names("../S2A x"),
            (
                "dask-_._S2A_x.py".to_string(),
                "masked-_._S2A_x-dask.tif".to_string(),
                "dask-stream-_._S2A_x.json".to_string()
            )
        );
    }
}

//! `chunkscope inspect` (each asset's structure: the lesson's `r.block_shapes` exercise)
//! and `chunkscope plan` (the chunk grid a request gives).

use std::process::ExitCode;

use clap::{Args, ValueEnum};

use chunkscope::catalog::AssetRole;
use chunkscope::chunks::{ChunkPlan, ChunkRequest};
use chunkscope::convert;
use chunkscope::pipeline::{self, calibrate::calibrate};
use chunkscope::profile::units;
use chunkscope::raster::{self, RasterInfo, RasterSource};

use super::options::{ScheduleOption, ThreadLimitArgs, cores};
use super::{SceneArgs, load_catalog, load_catalog_with};

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    catalog: super::CatalogArg,
    /// Item id; default: the catalog's last item, the lesson's `items[-1]`.
    #[arg(long, value_name = "ID")]
    item: Option<String>,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    scene: SceneArgs,
    /// Chunk shape: BANDS,ROWS,COLS, a side, auto[:SIZE] or blocks:K.
    #[arg(long, value_name = "SPEC", default_value = "auto")]
    chunks: ChunkRequest,
    /// Plan against one asset's full-resolution raster instead of the pipeline's grid.
    #[arg(long, value_enum)]
    asset: Option<AssetArg>,
    /// Print JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Also run the grid with empty tasks on a pool: the pure scheduling cost per task,
    /// beside Dask's documented 200 µs to 1 ms.
    #[arg(long)]
    calibrate: bool,
    /// Threads for --calibrate; default: the cores.
    #[arg(long, value_name = "N")]
    threads: Option<std::num::NonZeroUsize>,
    #[command(flatten)]
    schedule: ScheduleOption,
    #[command(flatten)]
    limits: ThreadLimitArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum AssetArg {
    Visual,
    Scl,
    B02,
}

#[derive(serde::Serialize)]
struct AssetInfo {
    role: AssetRole,
    key: String,
    #[serde(flatten)]
    info: RasterInfo,
}

pub fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let catalog = load_catalog(args.catalog.path())?;
    let item = super::chosen_item(&catalog, args.item.as_deref())?;
    let mut assets = Vec::new();
    for role in [AssetRole::Visual, AssetRole::Scl, AssetRole::Blue] {
        let asset = item.asset(role)?;
        let source = RasterSource::new(
            format!("asset \"{}\" of item \"{}\"", asset.key, item.id),
            &asset.gdal_path,
        );
        assets.push(AssetInfo {
            role,
            key: asset.key.clone(),
            info: raster::inspect(&source)?,
        });
    }
    if args.json {
        let value = serde_json::json!({ "schema_version": pipeline::SCHEMA_VERSION, "item": item, "assets": assets });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "item {}  {}  cloud cover {}  {}",
        item.id,
        item.datetime.as_deref().unwrap_or("(no date)"),
        item.cloud_cover
            .map_or("-".into(), |c| units::share(c / 100.0)),
        item.platform.as_deref().unwrap_or("")
    );
    for a in &assets {
        let i = &a.info;
        println!("\n{} ({})  {}", a.key, role_name(a.role), i.path);
        println!(
            "  size        {} rows x {} cols, {} band(s) of {}",
            i.rows, i.cols, i.bands, i.dtype
        );
        if let Some([x, y]) = i.resolution {
            println!(
                "  resolution  {x} x {y} (EPSG:{})",
                i.epsg.map_or("?".into(), |e| e.to_string())
            );
        }
        let blocks: Vec<String> = i
            .block_shapes
            .iter()
            .map(|[r, c]| format!("({r}, {c})"))
            .collect();
        println!(
            "  blocks      {}{}",
            blocks.join(" "),
            if i.tiled { "" } else { "  (strips: not tiled)" }
        );
        let ovs: Vec<String> = i
            .overviews
            .iter()
            .map(|[r, c]| format!("{r}x{c}"))
            .collect();
        println!(
            "  overviews   {}",
            if ovs.is_empty() {
                "none".into()
            } else {
                ovs.join(", ")
            }
        );
        println!(
            "  layout      {}, compression {}, interleave {:?}, nodata {}",
            if i.cog { "COG" } else { "not a COG" },
            i.compression.as_deref().unwrap_or("none"),
            i.interleave,
            i.nodata.map_or("none".into(), |v| v.to_string())
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn role_name(role: AssetRole) -> &'static str {
    match role {
        AssetRole::Visual => "true colour",
        AssetRole::Scl => "scene classification",
        AssetRole::Blue => "blue band",
    }
}

pub fn plan(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let request = args.chunks.clone();
    let (catalog, served) = load_catalog_with(args.scene.catalog.as_deref(), &args.scene.network)?;
    let item = super::chosen_item(&catalog, args.scene.item.as_deref())?;
    let plan = match args.asset {
        None => {
            let server = served.as_ref().map(chunkscope::network::NetworkSim::probe);
            let scene = pipeline::Scene::from_item(item)?.served_by(server);
            let prepared = pipeline::prepare(&scene, args.scene.res, Some(&request))?;
            prepared
                .plan
                .ok_or_else(|| anyhow::anyhow!("no chunk plan was made"))?
        }
        Some(a) => {
            let role = match a {
                AssetArg::Visual => AssetRole::Visual,
                AssetArg::Scl => AssetRole::Scl,
                AssetArg::B02 => AssetRole::Blue,
            };
            let asset = item.asset(role)?;
            let source = RasterSource::new(
                format!("asset \"{}\" of item \"{}\"", asset.key, item.id),
                &asset.gdal_path,
            );
            let info = raster::inspect(&source)?;
            let layout = info
                .layout(None)
                .ok_or_else(|| anyhow::anyhow!("\"{}\" has no block layout", info.path))?;
            ChunkPlan::new(layout, &request)?
        }
    };
    let summary = plan.summary();
    let calibration = if args.calibrate {
        let threads = args.threads.unwrap_or_else(cores);
        args.limits.check(&[threads])?;
        Some(calibrate(&plan, threads, args.schedule.schedule())?)
    } else {
        None
    };
    if args.json {
        let value = match &calibration {
            Some(c) => serde_json::json!({ "plan": summary, "calibration": c }),
            None => serde_json::to_value(&summary)?,
        };
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(ExitCode::SUCCESS);
    }
    for notice in &summary.notices {
        eprintln!("note: {notice}");
    }
    let l = plan.layout;
    println!(
        "raster      {} x {} x {} ({} byte(s) per sample), blocks {} x {}, {:?} interleaved",
        l.bands, l.rows, l.cols, l.dtype_bytes, l.block_rows, l.block_cols, l.interleave
    );
    println!(
        "chunks      {} ({}) = {} chunks, grid {:?}",
        summary.shape,
        units::bytes(summary.chunk_bytes),
        summary.chunk_count,
        summary.grid
    );
    println!(
        "aligned     {}",
        if summary.aligned {
            "yes: chunk sides are whole blocks"
        } else {
            "NO: chunks straddle blocks"
        }
    );
    println!(
        "blocks      {} max, {:.2} mean touched per chunk",
        summary.blocks_touched_max, summary.blocks_touched_mean
    );
    println!(
        "read amplification {:.3} (decoded block samples / chunk samples)",
        summary.read_amplification
    );
    if let Some(c) = calibration {
        println!(
            "calibration {} empty tasks on {} thread(s), {}: {} per task of scheduling and bookkeeping (measured; Dask documents {}-{} per task)",
            c.tasks,
            c.threads,
            c.schedule.name(),
            units::duration_ns(convert::us_to_ns(c.per_task_us)),
            units::duration_ns(convert::us_to_ns(c.dask_documented_us[0])),
            units::duration_ns(convert::us_to_ns(c.dask_documented_us[1])),
        );
    }
    Ok(ExitCode::SUCCESS)
}

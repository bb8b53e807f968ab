//! The headless front end: subcommands over the engine, human text or `--json` on stdout,
//! progress and diagnostics on stderr.

// Everything the headless commands print goes through `printable`: item ids, hrefs, Dask
// keys and paths come from input, and a control character in one must not reach the
// terminal raw. These shadow std's macros in every module below.
macro_rules! println {
    () => { $crate::cli::stdout_write("\n") };
    ($($arg:tt)*) => {
        $crate::cli::stdout_write(&::std::format!(
            "{}\n",
            ::chunkscope::printable::printable(&::std::format!($($arg)*))
        ))
    };
}
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::cli::stdout_write(&::chunkscope::printable::printable(&::std::format!($($arg)*)))
    };
}
macro_rules! eprintln {
    () => { ::std::eprintln!() };
    ($($arg:tt)*) => {
        ::std::eprintln!("{}", ::chunkscope::printable::printable(&::std::format!($($arg)*)))
    };
}

/// Writes to standard output. A reader that went away (`chunkscope inspect | head`) ends
/// the process as SIGPIPE ends other Unix tools, quietly: std's `println!` panics there,
/// as Rust ignores SIGPIPE so that sockets (serve's) get an error instead of a signal.
pub(crate) fn stdout_write(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            // SAFETY: restoring SIGPIPE's default action and raising it has no
            // preconditions; the default action ends the process.
            unsafe {
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                libc::raise(libc::SIGPIPE);
            }
        }
        // A full disk behind `> file`, say: said once, then stop, as nothing more can be
        // printed.
        Err(e) => {
            ::std::eprintln!("error: cannot write to standard output: {e}");
            std::process::exit(1);
        }
    }
}

mod bench;
mod compare;
mod dask;
mod demo;
mod engine;
mod export;
mod inspect;
pub(crate) mod memory;
mod network;
mod options;
mod progress;
mod run;
pub(crate) mod search;
mod sweep;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};

use chunkscope::catalog::Catalog;
use chunkscope::chunks::ChunkRequest;
use chunkscope::network::NetworkSim;
use chunkscope::output::guard::WriteGuard;
use chunkscope::pipeline::limits::{self, MANY_TASKS, MAX_RUNS};
use chunkscope::pipeline::{Resolution, Scene};
use chunkscope::task::CancelFlag;

/// Profile chunked raster computation live: the Carpentries "Parallel raster computations
/// using Dask" lesson (load / mask / write), watchable and tunable.
#[derive(Debug, Parser)]
#[command(name = "chunkscope", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Also read assets with this GDAL driver (e.g. VRT), for a catalog you trust: by
    /// default only GTiff, JP2OpenJPEG, PNG and JPEG, as drivers such as VRT can make a
    /// catalog read any file or address. Repeatable.
    #[arg(long = "allow-driver", value_name = "NAME", global = true)]
    allow_driver: Vec<String>,
    /// Most pixels (bands x rows x cols of the working grid) a run may allocate, checked
    /// before any allocation; raise it for an image this large that is real.
    #[arg(long = "max-pixels", value_name = "N", global = true,
          default_value_t = limits::DEFAULT_MAX_PIXELS)]
    max_pixels: u64,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate the offline demo scene (visual, SCL, B02 COGs and a search.json).
    Demo(demo::DemoArgs),
    /// Show each asset's COG structure: size, dtype, blocks, overviews, compression.
    Inspect(inspect::InspectArgs),
    /// Show the chunk grid a chunk request gives on the pipeline's grid (or an asset).
    Plan(inspect::PlanArgs),
    /// Run the load / mask / write pipeline once and print %%time-style figures.
    Run(run::RunArgs),
    /// A sweep preset: serial vs chunked x {1,2,4} over chunk sides 512 to 4096, with the
    /// sweep's statistics, table and files; or --profiling-cost.
    Bench(bench::BenchArgs),
    /// Serial vs chunked x N on one chunk shape: median ± σ per stage, speedup ± error,
    /// efficiency, Amdahl serial fraction; repeated, alternated runs.
    Compare(compare::CompareArgs),
    /// Chunk shapes x thread counts plus serial: a table of medians, the best configuration
    /// and why, and the lesson's flags; CSV and JSON files on request.
    Sweep(sweep::SweepArgs),
    /// Peak and live memory per schedule (serial, staged, fused), each run in a process of
    /// its own: chunk buffers held over time, max RSS, RSS growth.
    Memory(memory::MemoryArgs),
    /// Show a task stream recorded by Dask itself (Client.get_task_stream() around the
    /// lesson's pipeline): tasks per stage, lanes, busy time, overhead, latency per stage.
    ImportDask(dask::ImportDaskArgs),
    /// The Dask side: `dask setup` makes (once) and checks the Python environment that
    /// `--engine dask|both` runs the lesson's code in.
    Dask {
        #[command(subcommand)]
        command: engine::DaskCommand,
    },
    /// Export the pipeline with these settings for another tool: `export dask` writes the
    /// lesson's code for Dask (threaded scheduler or a cluster).
    Export {
        #[command(subcommand)]
        what: export::ExportWhat,
    },
    /// Open the terminal UI: pick a scene, tune chunks, watch runs (the default on a terminal).
    Tui {
        #[command(flatten)]
        catalog: CatalogArg,
        /// A sweep file (`chunkscope sweep --json FILE`) to show on the Sweep screen.
        #[arg(long, value_name = "FILE")]
        sweep: Option<PathBuf>,
        /// Folder where `s` saves results and screens; default: chunkscope-out.
        #[arg(long, value_name = "DIR")]
        export_dir: Option<PathBuf>,
        /// A Dask task stream (as `import-dask` reads it) to open on the Run screen and in
        /// Results, beside this session's runs.
        #[arg(long, value_name = "STREAM.json")]
        dask: Option<PathBuf>,
        /// The Python that D (the last chunked run's settings on Dask) and the lesson's live
        /// Dask runs use; default: the environment `chunkscope dask setup` made.
        #[arg(long, value_name = "PATH")]
        python: Option<PathBuf>,
        /// In the lesson (L), run the lesson's code on Dask live beside chunkscope's runs in
        /// the load, tiny-chunks and lock steps, instead of showing Dask's recorded figures.
        #[arg(long)]
        live_dask: bool,
        #[command(flatten)]
        network: network::NetworkArgs,
    },
    /// The lesson step by step in the terminal UI: each claim of the Dask raster lesson run on
    /// the scene, measured (medians of 3 runs with their spread) and explained; ←/→ move,
    /// r re-runs, s saves a step's figures, P is the presenter layout.
    Lesson {
        #[command(flatten)]
        catalog: CatalogArg,
        /// Item id; default: the catalog's last item, as the lesson takes (`items[-1]`).
        #[arg(long, value_name = "ID")]
        item: Option<String>,
        /// Folder where `s` saves a step's figures; default: chunkscope-out.
        #[arg(long, value_name = "DIR")]
        export_dir: Option<PathBuf>,
        /// Run the lesson's code on Dask live (a LocalCluster with the lesson's threads) beside
        /// chunkscope's runs in the load, tiny-chunks and lock steps, instead of showing Dask's
        /// recorded figures. Needs the environment `chunkscope dask setup` makes, or --python.
        #[arg(long)]
        live_dask: bool,
        /// With --live-dask: the Python that runs Dask (it must import dask, distributed,
        /// rioxarray and pystac).
        #[arg(long, value_name = "PATH", requires = "live_dask")]
        python: Option<PathBuf>,
        #[command(flatten)]
        network: network::NetworkArgs,
    },
    /// Search a STAC API for scenes, as the lesson's first step does with pystac-client,
    /// and save the ItemCollection (search.json) the other commands read.
    Search(search::SearchArgs),
    /// Serve a catalog folder over HTTP on 127.0.0.1 with simulated latency and bandwidth,
    /// its search.json pointing at the server and answered as a STAC API; until Ctrl-C.
    Serve(network::ServeArgs),
    /// Drive the TUI headlessly through scenes, setup, real runs, help and results, and save
    /// each screen as SVG; or, with --view, draw one screen from saved reports.
    Screenshot(ScreenshotArgs),
}

/// `chunkscope screenshot`'s options.
#[derive(Debug, Args)]
pub struct ScreenshotArgs {
    #[command(flatten)]
    catalog: CatalogArg,
    /// Folder for the SVG files.
    #[arg(long, value_name = "DIR", default_value = "screenshots")]
    out_dir: PathBuf,
    /// Terminal size, WIDTHxHEIGHT.
    #[arg(long, default_value = "120x36", value_parser = parse_size)]
    size: (u16, u16),
    /// Draw only this screen, from --report / --sweep files, without running anything.
    #[arg(long, value_name = "NAME")]
    view: Option<crate::tui::screenshot::View>,
    /// With --view: the SVG file to write (default: OUT_DIR/NAME.svg).
    #[arg(long, value_name = "FILE", requires = "view")]
    out: Option<PathBuf>,
    /// A run report (`chunkscope run --json`); repeat for a history, oldest first.
    #[arg(long, value_name = "FILE")]
    report: Vec<PathBuf>,
    /// A sweep file (`chunkscope sweep --json FILE`) for the sweep screen.
    #[arg(long, value_name = "FILE")]
    sweep: Option<PathBuf>,
    /// The lesson's steps run Dask live beside chunkscope (as `lesson --live-dask`).
    #[arg(long, conflicts_with = "view")]
    live_dask: bool,
    /// With --live-dask: the Python that runs Dask.
    #[arg(long, value_name = "PATH", requires = "live_dask")]
    python: Option<PathBuf>,
}

/// The catalog of the commands that have always taken it as an argument (`tui`, `lesson`,
/// `inspect`, `screenshot`): the argument still works, and `--catalog FILE` works as on
/// every other command, so one syntax fits all.
#[derive(Debug, Clone, Args)]
pub struct CatalogArg {
    /// STAC ItemCollection (search.json) or its URL; default: the demo scene, generated on
    /// first use. Also `--catalog FILE`, as the other commands take it.
    #[arg(value_name = "CATALOG", conflicts_with = "catalog_flag")]
    catalog: Option<PathBuf>,
    /// The same as CATALOG.
    #[arg(long = "catalog", id = "catalog_flag", value_name = "FILE")]
    catalog_flag: Option<PathBuf>,
}

impl CatalogArg {
    /// The catalog given either way, if any.
    pub fn path(&self) -> Option<&Path> {
        self.catalog.as_deref().or(self.catalog_flag.as_deref())
    }
}

/// The item a command works on: `id`, or else the catalog's last, the lesson's `items[-1]`
/// (the TUI marks it ★). One default for every command, so that `run`, `inspect`, `export`
/// and the lesson talk about the same scene unless told otherwise.
pub fn chosen_item<'a>(
    catalog: &'a Catalog,
    id: Option<&str>,
) -> Result<&'a chunkscope::catalog::Item, chunkscope::catalog::CatalogError> {
    match (id, catalog.lesson_index()) {
        (None, Some(last)) => Ok(&catalog.items[last]),
        // An id, or a catalog with no items (whose error `item` gives).
        _ => catalog.item(id),
    }
}

/// Which scene to work on; shared by the commands that read one.
#[derive(Debug, Clone, Args)]
pub struct SceneArgs {
    /// STAC ItemCollection (search.json); default: the demo scene, generated on first use.
    #[arg(long, value_name = "FILE")]
    catalog: Option<PathBuf>,
    /// Item id; default: the catalog's last item, the lesson's `items[-1]`.
    #[arg(long, value_name = "ID")]
    item: Option<String>,
    /// Working grid: 20 (the lesson: overview 0 of visual, SCL as is) or 10 (full
    /// resolution, SCL repeated 2x2).
    #[arg(long, value_name = "M", default_value = "20", value_parser = parse_resolution)]
    res: Resolution,
    #[command(flatten)]
    network: network::NetworkArgs,
}

/// A value beyond chunkscope's bounds (threads, runs): exit status 2, like clap's own
/// usage errors, with a message that says the bound and the way past it if there is one.
#[derive(Debug)]
pub struct UsageError(String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Refuses a benchmark of more than [`MAX_RUNS`] runs (`runs` counts warm-ups too).
fn check_runs(runs: usize) -> anyhow::Result<()> {
    if runs > MAX_RUNS {
        return Err(UsageError(format!(
            "that makes {runs} runs, more than the {MAX_RUNS} one command schedules; use fewer \
             chunk sizes or thread counts, or a smaller --repeat"
        ))
        .into());
    }
    Ok(())
}

/// Says on stderr, before anything runs, which chunk requests make runs of at least
/// [`MANY_TASKS`] tasks: such runs take long for a reason the chunk size explains.
/// Requests that cannot be planned are left for the run to report.
fn note_task_counts(scene: &Scene, resolution: Resolution, requests: &[ChunkRequest]) {
    let Ok(prepared) = chunkscope::pipeline::prepare(scene, resolution, None) else {
        return;
    };
    for request in requests {
        let Ok(plan) = prepared.plan_for(request) else {
            continue;
        };
        let tasks = limits::task_count(plan.chunk_count());
        if tasks >= MANY_TASKS {
            eprintln!(
                "note: chunks \"{request}\" ({}) make {} chunks, {tasks} tasks per run: each \
                 task pays its scheduling overhead, so this takes a while (Ctrl-C cancels); \
                 larger chunks such as blocks:1 finish sooner",
                plan.shape,
                plan.chunk_count()
            );
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ModeArg {
    Serial,
    Chunked,
    /// Serial, then chunked: one run each, with the speedup.
    Both,
}

fn parse_resolution(s: &str) -> Result<Resolution, String> {
    match s.trim().trim_end_matches('m') {
        "20" => Ok(Resolution::R20),
        "10" => Ok(Resolution::R10),
        other => Err(format!(
            "\"{other}\" is not a supported resolution: use 20 or 10"
        )),
    }
}

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    chunkscope::raster::allow_drivers(&cli.allow_driver)
        .map_err(|e| UsageError(format!("--allow-driver: {e}")))?;
    limits::set_max_pixels(cli.max_pixels);
    match cli.command {
        Some(Command::Demo(a)) => demo::demo(a),
        Some(Command::Inspect(a)) => inspect::inspect(a),
        Some(Command::Plan(a)) => inspect::plan(a),
        Some(Command::Run(a)) => run::run(a),
        Some(Command::Bench(a)) => bench::bench(a),
        Some(Command::Compare(a)) => compare::compare(a),
        Some(Command::Sweep(a)) => sweep::sweep(a),
        Some(Command::Memory(a)) => memory::memory(a),
        Some(Command::ImportDask(a)) => dask::import_dask(a),
        Some(Command::Export { what }) => export::export(what),
        Some(Command::Dask { command }) => engine::dask(command),
        Some(Command::Tui {
            catalog,
            sweep,
            export_dir,
            dask: dask_stream,
            python,
            live_dask,
            network,
        }) => {
            let lesson_dask =
                engine::lesson_dask(live_dask, python.as_deref(), network.network.is_some())?;
            if let Some(code) = refuse_without_terminal() {
                return Ok(code);
            }
            let options = crate::tui::Options {
                lesson_dask,
                dask: dask_stream
                    .as_deref()
                    .map(dask::load_report)
                    .transpose()?
                    .map(Box::new),
                sweep: sweep
                    .as_deref()
                    .map(crate::tui::SweepView::load)
                    .transpose()?,
                export_dir,
                network: network.label(),
                server: None,
                lesson: None,
                python,
            };
            let (catalog, served) = load_catalog_with(catalog.path(), &network)?;
            let options = crate::tui::Options {
                server: served.as_ref().map(NetworkSim::probe),
                ..options
            };
            let ending = crate::tui::run(catalog, options)?;
            drop(served);
            Ok(leave_tui(ending))
        }
        Some(Command::Lesson {
            catalog,
            item,
            export_dir,
            live_dask,
            python,
            network,
        }) => {
            let lesson_dask =
                engine::lesson_dask(live_dask, python.as_deref(), network.network.is_some())?;
            if let Some(code) = refuse_without_terminal() {
                return Ok(code);
            }
            let (catalog, served) = load_catalog_with(catalog.path(), &network)?;
            let found = chosen_item(&catalog, item.as_deref())?;
            let index = catalog
                .items
                .iter()
                .position(|i| std::ptr::eq(i, found))
                .unwrap_or(0);
            let options = crate::tui::Options {
                export_dir,
                network: network.label(),
                server: served.as_ref().map(NetworkSim::probe),
                lesson: Some(index),
                lesson_dask,
                ..crate::tui::Options::default()
            };
            let ending = crate::tui::run(catalog, options)?;
            drop(served);
            Ok(leave_tui(ending))
        }
        Some(Command::Search(a)) => search::search(a),
        Some(Command::Serve(a)) => network::serve(a),
        Some(Command::Screenshot(a)) => screenshot(a),
        None => match refuse_without_terminal() {
            Some(code) => Ok(code),
            None => tui(None),
        },
    }
}

/// Says why and returns exit status 2 when the TUI cannot run here; `None` when it can.
fn refuse_without_terminal() -> Option<ExitCode> {
    let problem = crate::tui::terminal_problem()?;
    eprintln!("{problem}; use `chunkscope run` for headless runs (`chunkscope --help` lists all)");
    Some(ExitCode::from(2))
}

fn parse_size(s: &str) -> Result<(u16, u16), String> {
    let bad = || format!("\"{s}\" is not a size like 120x36");
    let (w, h) = s.split_once('x').ok_or_else(bad)?;
    let (w, h) = (
        w.trim().parse::<u16>().map_err(|_| bad())?,
        h.trim().parse::<u16>().map_err(|_| bad())?,
    );
    if w < 60 || h < 16 {
        return Err(format!("\"{s}\" is below the TUI's minimum of 60x16"));
    }
    Ok((w, h))
}

fn tui(catalog: Option<&Path>) -> anyhow::Result<ExitCode> {
    let ending = crate::tui::run(load_catalog(catalog)?, crate::tui::Options::default())?;
    Ok(leave_tui(ending))
}

/// The exit status once the TUI is done: 0 when the user quit with `q`, 128 + the signal
/// when one stopped it, 130 when Ctrl-C was pressed in it, as for SIGINT (either said on
/// stderr, now that the terminal is restored). By the time `tui::run` returns, every thread
/// it started has ended (its background work is finished or cancelled, and joined), so
/// nothing is inside GDAL when its teardown runs at exit.
fn leave_tui(ending: crate::tui::Ending) -> ExitCode {
    match (crate::signals::received(), ending) {
        (Some(signal), _) => {
            eprintln!("{}: stopped the TUI", signal.describe());
            signal.exit_code()
        }
        (None, crate::tui::Ending::Interrupted) => {
            eprintln!("Ctrl-C: stopped the TUI");
            ExitCode::from(130)
        }
        (None, crate::tui::Ending::Quit) => ExitCode::SUCCESS,
    }
}

/// `chunkscope screenshot`: every screen after real runs, or one screen from files.
fn screenshot(a: ScreenshotArgs) -> anyhow::Result<ExitCode> {
    use crate::tui::screenshot;
    let ScreenshotArgs {
        catalog,
        out_dir,
        size,
        view,
        out,
        report: reports,
        sweep,
        live_dask,
        python,
    } = a;
    let catalog = catalog.path().map(Path::to_path_buf);
    let sweep = sweep
        .as_deref()
        .map(crate::tui::SweepView::load)
        .transpose()?;
    let Some(view) = view else {
        let lesson_dask = engine::lesson_dask(live_dask, python.as_deref(), false)?;
        let catalog = load_catalog(catalog.as_deref())?;
        let shots = screenshot::capture_all(catalog, sweep, lesson_dask, &out_dir, size);
        for path in shots? {
            println!("{}", path.display());
        }
        return Ok(ExitCode::SUCCESS);
    };
    let mut history = Vec::new();
    for path in &reports {
        history.extend(chunkscope::experiment::history::load_reports(path)?);
    }
    let catalog = match (catalog, reports.first()) {
        (Some(path), _) => load_catalog(Some(&path))?,
        (None, Some(first)) if !view.needs_catalog(true) => {
            screenshot::catalog_of_reports(&history, first)
        }
        (None, None) if view == screenshot::View::Sweep => {
            let shown = sweep.as_ref().map_or(String::new(), |s| s.source.clone());
            screenshot::catalog_of_reports(&[], Path::new(&shown))
        }
        (None, _) => load_catalog(None)?,
    };
    let catalog_for_guard = catalog.clone();
    let buf = screenshot::capture_view(view, catalog, history, sweep, size.0, size.1)?;
    let out = out.unwrap_or_else(|| {
        let name = format!("{view:?}").to_lowercase();
        out_dir.join(format!("{name}.svg"))
    });
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create \"{}\"", dir.display()))?;
    }
    WriteGuard::for_catalog(&catalog_for_guard, None)
        .write(&out, crate::tui::svg::to_svg(&buf).as_bytes())?;
    println!("{}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// The catalog named by the user (a file, or an http(s) URL), or the demo's (generated
/// with a progress bar if absent).
fn load_catalog(path: Option<&Path>) -> anyhow::Result<Catalog> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => demo::default_catalog_with_progress()?,
    };
    chunkscope::network::load_catalog(&path).context("cannot use the catalog")
}

/// Like [`load_catalog`], but through the simulated network with `--network`, with its
/// server: it serves until dropped, so hold it for as long as the command reads the
/// catalog's scenes.
fn load_catalog_with(
    path: Option<&Path>,
    network: &network::NetworkArgs,
) -> anyhow::Result<(Catalog, Option<NetworkSim>)> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => demo::default_catalog_with_progress()?,
    };
    if let Some((catalog, server)) = network.serve_catalog(&path)? {
        return Ok((catalog, Some(server)));
    }
    let catalog = chunkscope::network::load_catalog(&path).context("cannot use the catalog")?;
    Ok((catalog, None))
}

/// Where `run` writes: the path `asked`, checked so that it never replaces an input, the
/// catalog or anything but a regular file (links are followed); says on stderr when it
/// follows a link or replaces a file.
fn output_target(asked: &Path, catalog: &Catalog, scene: &Scene) -> anyhow::Result<PathBuf> {
    let target = write_guard(catalog, scene).check(asked)?;
    if target.via_link.is_some() {
        eprintln!(
            "note: \"{}\" is a symbolic link: the output goes to \"{}\", where it points",
            asked.display(),
            target.path.display()
        );
    }
    if target.replaces {
        eprintln!(
            "note: the output replaces the existing file \"{}\"",
            target.path.display()
        );
    }
    Ok(target.path)
}

/// The guard every file a command writes goes through: never over a file of `catalog`
/// (any item's asset, the catalog itself), a special file or through a link to one.
fn write_guard(catalog: &Catalog, scene: &Scene) -> WriteGuard {
    WriteGuard::for_catalog(catalog, scene.server.as_ref())
}

/// The scene a command works on, with its catalog and, with `--network`, the server it is
/// read through: hold that for as long as the command reads the scene.
fn load_scene(args: &SceneArgs) -> anyhow::Result<(Catalog, Scene, Option<NetworkSim>)> {
    let (catalog, served) = load_catalog_with(args.catalog.as_deref(), &args.network)?;
    let item = chosen_item(&catalog, args.item.as_deref())?;
    let scene = Scene::from_item(item)?.served_by(served.as_ref().map(NetworkSim::probe));
    Ok((catalog, scene, served))
}

/// A stop signal (Ctrl-C, SIGTERM, SIGHUP) sets the run's cancel flag and says so; a
/// second one exits at once (see [`crate::signals`]).
fn cancel_on_signals(cancel: &CancelFlag) {
    let cancel = cancel.clone();
    crate::signals::on_stop(move |signal| {
        eprintln!(
            "\n{}: cancelling after the running tasks ({})",
            signal.describe(),
            signal.again()
        );
        cancel.cancel();
    });
}

//! The TUI's model: [`App`] holds everything the screens show, [`Msg`] is what happens
//! (keys, engine events, results of commands) and [`App::update`] folds one message into
//! the model, returning at most one [`Cmd`] for the loop to execute. No I/O here: opening
//! rasters, starting runs and cancelling them are commands. Runs on the UI thread.

use std::collections::VecDeque;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use chunkscope::catalog::Catalog;
use chunkscope::chunks::{ChunkPlan, ChunkRequest, PlanSummary, RasterLayout};
use chunkscope::output::WriterKind;
use chunkscope::pipeline::report::Grid;
use chunkscope::pipeline::{Mode, RunReport, Schedule};
use chunkscope::profile::sampler::Sample;
use chunkscope::raster::RasterInfo;
use chunkscope::task::{Event, Stage};

use super::history::{Notice, Results};
use super::keys::{self, Action};
use super::live::{Live, REPEAT_RUNS, Repeat, Replay};

/// Recent tasks kept per worker lane.
const LANE_LEN: usize = 32;
/// Log lines kept (GDAL messages, errors).
const LOG_LEN: usize = 200;
/// Chunk sizes outside this range get a warning; Dask's docs suggest ~100 MB chunks.
pub const SMALL_CHUNK_BYTES: u64 = 10_000_000;
pub const LARGE_CHUNK_BYTES: u64 = 1_000_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Scenes,
    Setup,
    Run,
    /// Finished runs compared: stage bars, latency, history, A/B ([`super::history`]).
    Results,
    /// A chunk-size sweep's chart and table.
    Sweep,
}

/// One asset of the selected scene, as inspected (or why it could not be).
#[derive(Debug, Clone)]
pub struct AssetView {
    pub key: String,
    pub info: Result<RasterInfo, String>,
}

/// The fields of the chunk setup screen, top to bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Bands,
    Rows,
    Cols,
    Threads,
    Schedule,
    Mode,
    Writer,
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Bands,
        Field::Rows,
        Field::Cols,
        Field::Threads,
        Field::Schedule,
        Field::Mode,
        Field::Writer,
    ];
    pub fn label(self) -> &'static str {
        match self {
            Field::Bands => "bands",
            Field::Rows => "rows",
            Field::Cols => "cols",
            Field::Threads => "threads",
            Field::Schedule => "schedule",
            Field::Mode => "mode",
            Field::Writer => "writer",
        }
    }
}

/// The chunk setup for one scene, with the plan's figures for the current values.
#[derive(Debug, Clone)]
pub struct Setup {
    pub item: usize,
    /// The working grid's layout (overview 0 of visual), once `prepare` answered.
    pub layout: Option<RasterLayout>,
    pub grid: Option<Grid>,
    pub error: Option<String>,
    /// Requested chunk shape (bands, rows, cols); the plan clamps it to the raster.
    pub chunks: [usize; 3],
    pub free: bool,
    pub threads: usize,
    pub cores: usize,
    pub schedule: Schedule,
    pub serial: bool,
    /// Chunked writer (tiles encoded by the write tasks) or GDAL's writer and COG copy.
    pub writer: WriterKind,
    pub field: Field,
    pub plan: Option<Result<PlanSummary, String>>,
}

/// What a chunk is doing, as the run screen shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkState {
    Queued,
    Running(Stage),
    Done(Stage),
    Failed(Stage),
}

/// One worker's lane: what it does now and what it did last.
#[derive(Debug, Clone, Default)]
pub struct Lane {
    pub current: Option<(u32, Stage)>,
    pub recent: VecDeque<(u32, Stage, u64)>,
    pub tasks: usize,
    pub busy_ns: u64,
}

/// A run in progress or finished, folded from engine events.
#[derive(Debug, Clone)]
pub struct RunView {
    pub label: String,
    pub item: String,
    /// Chunks along (bands, rows, cols).
    pub grid: (usize, usize, usize),
    pub chunks: Vec<ChunkState>,
    pub lanes: Vec<Lane>,
    pub stage: Option<Stage>,
    pub tasks_done: usize,
    pub tasks_failed: usize,
    pub elapsed_ns: u64,
    pub dropped: u64,
    pub cancelling: bool,
    /// The engine said the run is over (the report may still be on its way).
    pub ended: bool,
    pub report: Option<RunReport>,
    pub error: Option<String>,
    /// Samples, task stream, stage progress (see [`Live`]).
    pub live: Live,
    /// Playing the finished run back (`p`).
    pub replay: Option<Replay>,
    /// Part of a repeat (`R`): carried from run to run until it is complete.
    pub repeat: Option<Repeat>,
    /// The chunk clicked on the map: its tasks are listed.
    pub selected: Option<usize>,
}

impl RunView {
    pub fn tasks_total(&self) -> usize {
        self.chunks.len() * 3
    }
    pub fn finished(&self) -> bool {
        self.report.is_some() || self.error.is_some()
    }
}

/// What the loop is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    /// Inspect the assets of catalog item `0` (answers with [`Msg::Inspected`]).
    Inspect(usize),
    /// `pipeline::prepare` for item `0` (answers with [`Msg::Prepared`]).
    Prepare(usize),
    /// Start a run of item `item` in `mode` (events arrive as [`Msg::Engine`]).
    StartRun {
        item: usize,
        mode: Mode,
        writer: WriterKind,
    },
    Cancel,
    /// Run a chunk-size sweep on catalog item `item` (answers with [`Msg::SweepProgress`]
    /// and [`Msg::SweepFinished`]). [`Cmd::Cancel`] stops it between runs.
    StartSweep {
        item: usize,
        request: super::sweep_job::SweepRequest,
    },
    /// Read a sweep file (answers with [`Msg::SweepFinished`]).
    LoadSweep(std::path::PathBuf),
    /// Save the results on screen (JSON, CSV) and the screen itself (SVG); answers with
    /// [`Msg::Exported`].
    Export,
    Quit,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Inspected {
        item: usize,
        assets: Vec<AssetView>,
    },
    Prepared {
        item: usize,
        result: Result<(RasterLayout, Grid), String>,
    },
    Engine(Event),
    /// Sent by the loop each frame while a run is alive.
    Tick {
        elapsed_ns: u64,
        dropped: u64,
        samples_dropped: u64,
    },
    /// A CPU and memory sample, taken while the run goes on.
    Sample(Sample),
    /// Real time passed since the previous frame, while a replay plays.
    Frame {
        dt_ns: u64,
    },
    /// A click on the run screen's chunk map (`None`: beside it).
    SelectChunk(Option<usize>),
    /// Boxed: a report is large next to the other messages.
    RunFinished(Result<Box<RunReport>, String>),
    /// A sweep's progress: runs done of planned, and the configuration starting.
    SweepProgress {
        done: usize,
        total: usize,
        label: String,
    },
    /// A sweep finished or loaded, with where it came from (shown with it).
    SweepFinished(Result<Box<(chunkscope::experiment::sweep::SweepResult, String)>, String>),
    /// What [`Cmd::Export`] wrote (paths as shown), or why it could not.
    Exported(Result<Vec<String>, String>),
    Log(String),
}

/// The whole UI state.
#[derive(Debug, Clone)]
pub struct App {
    pub catalog: Catalog,
    /// The simulated network the catalog is read through, as the header shows it.
    pub network: Option<String>,
    pub screen: Screen,
    pub help: bool,
    pub color: bool,
    pub filter: String,
    pub filtering: bool,
    /// Index into [`App::visible_items`].
    pub selected: usize,
    pub assets: Option<(usize, Vec<AssetView>)>,
    pub setup: Option<Setup>,
    pub run: Option<RunView>,
    pub log: VecDeque<String>,
    pub quit_pending: bool,
    pub cores: usize,
    /// Every finished run of this session, the marks on it, a sweep.
    pub results: Results,
}

impl App {
    pub fn new(catalog: Catalog, cores: usize, color: bool) -> Self {
        Self {
            catalog,
            network: None,
            screen: Screen::Scenes,
            help: false,
            color,
            filter: String::new(),
            filtering: false,
            selected: 0,
            assets: None,
            setup: None,
            run: None,
            log: VecDeque::new(),
            quit_pending: false,
            cores: cores.max(1),
            results: Results::default(),
        }
    }

    /// The first command: inspect the first scene.
    pub fn init(&self) -> Option<Cmd> {
        self.selected_item().map(Cmd::Inspect)
    }

    /// Catalog indices of the items the filter lets through, in catalog order.
    pub fn visible_items(&self) -> Vec<usize> {
        let f = self.filter.to_lowercase();
        self.catalog
            .items
            .iter()
            .enumerate()
            .filter(|(_, it)| {
                f.is_empty()
                    || it.id.to_lowercase().contains(&f)
                    || it.datetime.as_deref().unwrap_or("").contains(&f)
                    || it
                        .platform
                        .as_deref()
                        .unwrap_or("")
                        .to_lowercase()
                        .contains(&f)
            })
            .map(|(i, _)| i)
            .collect()
    }

    pub fn selected_item(&self) -> Option<usize> {
        self.visible_items().get(self.selected).copied()
    }

    pub fn running(&self) -> bool {
        self.run.as_ref().is_some_and(|r| !r.finished())
    }

    fn push_log(&mut self, line: String) {
        if self.log.len() == LOG_LEN {
            self.log.pop_front();
        }
        self.log.push_back(line);
    }

    pub fn update(&mut self, msg: Msg) -> Option<Cmd> {
        match msg {
            Msg::Key(key) => self.on_key(key),
            Msg::Inspected { item, assets } => {
                // Answers can arrive out of order when inspecting runs in the background:
                // only the selected scene's is kept.
                if Some(item) == self.selected_item() {
                    self.assets = Some((item, assets));
                }
                None
            }
            Msg::Prepared { item, result } => {
                if let Some(s) = self.setup.as_mut().filter(|s| s.item == item) {
                    match result {
                        Ok((layout, grid)) => {
                            s.layout = Some(layout);
                            s.grid = Some(grid);
                            s.error = None;
                            let shape = plan_shape(layout, &ChunkRequest::Blocks(2));
                            s.chunks = shape.unwrap_or([layout.bands, layout.rows, layout.cols]);
                            s.replan();
                        }
                        Err(e) => {
                            s.error = Some(e.clone());
                            self.push_log(e);
                        }
                    }
                }
                None
            }
            Msg::Engine(ev) => {
                if let Some(r) = self.run.as_mut() {
                    r.fold(ev);
                }
                None
            }
            Msg::Tick {
                elapsed_ns,
                dropped,
                samples_dropped,
            } => {
                if let Some(r) = self.run.as_mut().filter(|r| !r.finished()) {
                    r.elapsed_ns = elapsed_ns;
                    r.dropped = dropped;
                    r.live.samples_dropped = samples_dropped;
                }
                None
            }
            Msg::Sample(sample) => {
                if let Some(r) = self.run.as_mut().filter(|r| !r.finished()) {
                    r.live.sample(sample);
                }
                None
            }
            Msg::Frame { dt_ns } => {
                if let Some(p) = self.run.as_mut().and_then(|r| r.replay.as_mut()) {
                    p.advance(dt_ns);
                }
                None
            }
            Msg::SelectChunk(chunk) => {
                if let Some(r) = self.run.as_mut().filter(|_| self.screen == Screen::Run) {
                    r.selected = chunk.filter(|&i| i < r.chunks.len());
                }
                None
            }
            Msg::RunFinished(result) => {
                if let Some(r) = self.run.as_mut() {
                    match result {
                        Ok(report) => {
                            r.elapsed_ns = report.wall_ns;
                            r.dropped = report.events_dropped;
                            if let Some(rep) = r.repeat.as_mut() {
                                rep.record(&report);
                            }
                            self.results.push((*report).clone());
                            r.report = Some(*report);
                        }
                        Err(e) => {
                            if let Some(rep) = r.repeat.as_mut() {
                                rep.stopped = true;
                            }
                            r.error = Some(e);
                        }
                    }
                    if let Some(e) = r.error.clone() {
                        self.push_log(format!("run failed: {e}"));
                    }
                }
                if self.quit_pending {
                    return Some(Cmd::Quit);
                }
                self.continue_repeat()
            }
            Msg::SweepProgress { .. } | Msg::SweepFinished(_) => self.on_sweep_msg(msg),
            Msg::Exported(result) => {
                let notice = match result {
                    Ok(paths) => Notice::Saved(paths),
                    Err(e) => Notice::Failed(e),
                };
                self.push_log(notice.line());
                self.results.notice = Some(notice);
                None
            }
            Msg::Log(line) => {
                self.push_log(line);
                None
            }
        }
    }

    fn on_key(&mut self, key: KeyEvent) -> Option<Cmd> {
        if self.filtering {
            return self.on_filter_key(key);
        }
        if self.results.path_input.is_some() {
            return self.on_path_key(key);
        }
        let action = keys::action_for(self.screen, &key)?;
        if self.help && action != Action::Quit {
            // Any key closes the overlay.
            self.help = false;
            return None;
        }
        match action {
            Action::Quit => {
                if self.running() && !self.quit_pending {
                    self.quit_pending = true;
                    if let Some(r) = self.run.as_mut() {
                        r.cancelling = true;
                    }
                    return Some(Cmd::Cancel);
                }
                Some(Cmd::Quit)
            }
            Action::Help => {
                self.help = true;
                None
            }
            _ => match self.screen {
                Screen::Scenes => self.on_scenes(action),
                Screen::Setup => self.on_setup(action),
                Screen::Run => self.on_run(action),
                Screen::Results => self.on_results(action),
                Screen::Sweep => self.on_sweep(action),
            },
        }
    }

    fn on_filter_key(&mut self, key: KeyEvent) -> Option<Cmd> {
        let before = self.selected_item();
        match key.code {
            KeyCode::Enter => self.filtering = false,
            KeyCode::Esc => {
                self.filtering = false;
                self.filter.clear();
            }
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                return Some(Cmd::Quit);
            }
            KeyCode::Char(c) => self.filter.push(c),
            _ => {}
        }
        self.selected = 0;
        self.inspect_if_changed(before)
    }

    fn inspect_if_changed(&self, before: Option<usize>) -> Option<Cmd> {
        let now = self.selected_item()?;
        let have = self.assets.as_ref().map(|(i, _)| *i);
        (Some(now) != before || have != Some(now)).then_some(Cmd::Inspect(now))
    }

    fn on_scenes(&mut self, action: Action) -> Option<Cmd> {
        let n = self.visible_items().len();
        let before = self.selected_item();
        match action {
            Action::Up => self.selected = self.selected.saturating_sub(1),
            Action::Down => self.selected = (self.selected + 1).min(n.saturating_sub(1)),
            Action::Filter => {
                self.filtering = true;
                return None;
            }
            Action::Enter => {
                let item = self.selected_item()?;
                self.screen = Screen::Setup;
                if self
                    .setup
                    .as_ref()
                    .is_some_and(|s| s.item == item && s.layout.is_some())
                {
                    return None;
                }
                self.setup = Some(Setup::new(item, self.cores));
                return Some(Cmd::Prepare(item));
            }
            _ => return None,
        }
        self.inspect_if_changed(before)
    }

    fn on_setup(&mut self, action: Action) -> Option<Cmd> {
        let s = self.setup.as_mut()?;
        match action {
            Action::Back => self.screen = Screen::Scenes,
            Action::Up => s.field = step_field(s.field, -1),
            Action::Down => s.field = step_field(s.field, 1),
            Action::Left => s.adjust(-1),
            Action::Right => s.adjust(1),
            Action::FreeMode => s.free = !s.free,
            Action::Preset(p) => s.preset(p),
            Action::Schedule => s.toggle_schedule(),
            Action::Serial => s.serial = !s.serial,
            Action::Writer => s.toggle_writer(),
            Action::Run => return self.start_run(),
            Action::Repeat => return self.start_repeat(),
            Action::NextView => self.screen = Screen::Results,
            _ => {}
        }
        None
    }

    fn on_run(&mut self, action: Action) -> Option<Cmd> {
        let replaying = self.replaying();
        match action {
            Action::Cancel if self.running() => {
                if let Some(r) = self.run.as_mut() {
                    r.cancelling = true;
                    if let Some(rep) = r.repeat.as_mut() {
                        rep.stopped = true;
                    }
                }
                Some(Cmd::Cancel)
            }
            Action::Cancel if replaying => {
                self.run.as_mut()?.replay = None;
                None
            }
            Action::Cancel if self.run.as_ref().is_some_and(|r| r.selected.is_some()) => {
                self.run.as_mut()?.selected = None;
                None
            }
            Action::Cancel => {
                self.screen = Screen::Setup;
                None
            }
            Action::Run if !self.running() => self.start_run(),
            Action::Repeat if !self.running() => self.start_repeat(),
            Action::Replay => {
                let r = self.run.as_mut()?;
                let wall = r.report.as_ref().map(|rep| rep.wall_ns)?;
                r.replay = match r.replay {
                    Some(_) => None,
                    None => Some(Replay::new(wall)),
                };
                None
            }
            Action::NextView => {
                self.screen = Screen::Results;
                None
            }
            Action::Export if !self.running() => Some(Cmd::Export),
            _ if replaying => {
                let p = self.run.as_mut()?.replay.as_mut()?;
                match action {
                    Action::Pause => p.toggle_pause(),
                    Action::Left => p.scrub(-1),
                    Action::Right => p.scrub(1),
                    Action::Faster => p.faster(),
                    Action::Slower => p.slower(),
                    _ => {}
                }
                None
            }
            _ => None,
        }
    }

    /// Starts the first run of a repeat ([`REPEAT_RUNS`] runs of the current setup).
    fn start_repeat(&mut self) -> Option<Cmd> {
        let cmd = self.start_run();
        if let Some(r) = self.run.as_mut().filter(|_| cmd.is_some()) {
            r.repeat = Some(Repeat::new(REPEAT_RUNS));
        }
        cmd
    }

    /// Whether a finished run is being replayed.
    pub fn replaying(&self) -> bool {
        self.run.as_ref().is_some_and(|r| r.replay.is_some())
    }

    /// After a run of a repeat: the next run, carrying the repeat over.
    fn continue_repeat(&mut self) -> Option<Cmd> {
        let r = self.run.as_mut()?;
        if !r.repeat.as_ref().is_some_and(Repeat::wants_more) {
            return None;
        }
        let repeat = r.repeat.take();
        let cmd = self.start_run();
        if let Some(r) = self.run.as_mut() {
            r.repeat = repeat;
        }
        cmd
    }

    fn start_run(&mut self) -> Option<Cmd> {
        let s = self.setup.as_ref()?;
        s.layout?;
        let (mode, grid, label) = if s.serial {
            (Mode::Serial, (1, 1, 1), "serial".to_string())
        } else {
            let summary = s.plan.as_ref()?.as_ref().ok()?;
            let [bands, rows, cols] = s.chunks;
            let threads = std::num::NonZeroUsize::new(s.threads)?;
            (
                Mode::Chunked {
                    chunks: ChunkRequest::Explicit { bands, rows, cols },
                    threads,
                    schedule: s.schedule,
                },
                summary.grid,
                format!(
                    "chunked x {} ({},{},{}, {})",
                    s.threads,
                    summary.shape.bands,
                    summary.shape.rows,
                    summary.shape.cols,
                    s.schedule.name()
                ),
            )
        };
        let label = match s.writer {
            WriterKind::Chunked => label,
            WriterKind::Gdal => format!("{label} · GDAL writer"),
        };
        let s_writer = s.writer;
        let item = s.item;
        let n = grid.0 * grid.1 * grid.2;
        let threads = if s.serial { 1 } else { s.threads };
        self.run = Some(RunView {
            label,
            item: self.catalog.items[item].id.clone(),
            grid,
            chunks: vec![ChunkState::Queued; n],
            lanes: vec![Lane::default(); if s.serial { 1 } else { s.threads }],
            stage: None,
            tasks_done: 0,
            tasks_failed: 0,
            elapsed_ns: 0,
            dropped: 0,
            cancelling: false,
            ended: false,
            report: None,
            error: None,
            live: Live::new(n, threads),
            replay: None,
            repeat: None,
            selected: None,
        });
        self.screen = Screen::Run;
        Some(Cmd::StartRun {
            item,
            mode,
            writer: s_writer,
        })
    }
}

fn step_field(f: Field, d: isize) -> Field {
    let i = Field::ALL.iter().position(|x| *x == f).unwrap_or(0) as isize;
    let n = Field::ALL.len() as isize;
    Field::ALL[((i + d).rem_euclid(n)) as usize]
}

/// The shape a request resolves to on `layout`, as [bands, rows, cols].
fn plan_shape(layout: RasterLayout, req: &ChunkRequest) -> Option<[usize; 3]> {
    let p = ChunkPlan::new(layout, req).ok()?;
    Some([p.shape.bands, p.shape.rows, p.shape.cols])
}

/// Step used for rows and cols in free mode.
pub fn free_step(block: usize) -> usize {
    if block >= 256 { 100 } else { 10 }
}

/// The next value up (`dir > 0`) or down from `v` on a grid of `step`, within
/// `step..=max`.
fn snap(v: usize, step: usize, dir: isize, max: usize) -> usize {
    let step = step.max(1);
    let next = if dir > 0 {
        (v / step + 1) * step
    } else {
        (v.saturating_sub(1) / step) * step
    };
    next.clamp(step.min(max), max.max(step))
}

impl Setup {
    pub fn new(item: usize, cores: usize) -> Self {
        Self {
            item,
            layout: None,
            grid: None,
            error: None,
            chunks: [3, 1024, 1024],
            free: false,
            threads: cores,
            cores,
            schedule: Schedule::Staged,
            serial: false,
            writer: WriterKind::Chunked,
            field: Field::Rows,
            plan: None,
        }
    }

    /// Recomputes the plan's figures for the current request.
    pub fn replan(&mut self) {
        let Some(layout) = self.layout else { return };
        let [bands, rows, cols] = self.chunks;
        self.plan = Some(
            ChunkPlan::new(layout, &ChunkRequest::Explicit { bands, rows, cols })
                .map(|p| p.summary())
                .map_err(|e| e.to_string()),
        );
    }

    fn adjust(&mut self, dir: isize) {
        let Some(l) = self.layout else { return };
        match self.field {
            Field::Bands => {
                self.chunks[0] = snap(self.chunks[0], 1, dir, l.bands);
            }
            Field::Rows | Field::Cols => {
                let (i, block, whole) = if self.field == Field::Rows {
                    (1, l.block_rows, l.rows)
                } else {
                    (2, l.block_cols, l.cols)
                };
                let step = if self.free { free_step(block) } else { block };
                let max = whole.div_ceil(block) * block;
                self.chunks[i] = snap(self.chunks[i], step, dir, max);
            }
            Field::Threads => {
                let max = chunkscope::pipeline::limits::thread_limit(self.cores);
                self.threads = snap(self.threads, 1, dir, max);
            }
            Field::Schedule => self.toggle_schedule(),
            Field::Mode => self.serial = !self.serial,
            Field::Writer => self.toggle_writer(),
        }
        self.replan();
    }

    fn toggle_writer(&mut self) {
        self.writer = match self.writer {
            WriterKind::Chunked => WriterKind::Gdal,
            WriterKind::Gdal => WriterKind::Chunked,
        };
    }

    fn toggle_schedule(&mut self) {
        self.schedule = match self.schedule {
            Schedule::Staged => Schedule::Fused,
            Schedule::Fused => Schedule::Staged,
        };
    }

    fn preset(&mut self, p: u8) {
        let Some(l) = self.layout else { return };
        self.chunks = match p {
            1 => plan_shape(l, &ChunkRequest::Blocks(1)).unwrap_or(self.chunks),
            2 => plan_shape(l, &ChunkRequest::default()).unwrap_or(self.chunks),
            3 => [l.bands, 2048, 2048],
            _ => [l.bands, 6144, 6144],
        };
        self.replan();
    }

    /// Warnings about the current setup, for the user to read before running.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let Some(Ok(p)) = &self.plan else {
            return out;
        };
        if self.serial {
            return out;
        }
        if p.chunk_bytes < SMALL_CHUNK_BYTES {
            out.push(format!(
                "small chunks ({}): task overhead may dominate; Dask suggests ~100 MB",
                chunkscope::profile::units::bytes(p.chunk_bytes)
            ));
        } else if p.chunk_bytes > LARGE_CHUNK_BYTES {
            out.push(format!(
                "large chunks ({}): few tasks, much memory per worker; Dask suggests ~100 MB",
                chunkscope::profile::units::bytes(p.chunk_bytes)
            ));
        }
        if p.chunk_count < self.threads {
            out.push(format!(
                "{} chunk(s) for {} threads: some threads will idle",
                p.chunk_count, self.threads
            ));
        }
        if !p.aligned {
            out.push("chunks straddle blocks: some blocks are decoded more than once".into());
        }
        out.extend(p.notices.iter().cloned());
        out
    }
}

impl RunView {
    /// Folds one engine event into the view.
    pub fn fold(&mut self, ev: Event) {
        self.live.fold(&ev);
        match ev {
            Event::RunStarted { chunks, threads } => {
                let n = chunks as usize;
                if n != self.chunks.len() {
                    self.chunks = vec![ChunkState::Queued; n];
                    if self.grid.0 * self.grid.1 * self.grid.2 != n {
                        self.grid = (1, 1, n);
                    }
                }
                self.lanes
                    .resize(usize::from(threads).max(1), Lane::default());
            }
            Event::StageStarted { stage, .. } => self.stage = Some(stage),
            Event::StageFinished { .. } => {}
            Event::TaskStarted {
                chunk,
                stage,
                worker,
                ..
            } => {
                if stage != Stage::Finalize
                    && let Some(c) = self.chunks.get_mut(chunk as usize)
                {
                    *c = ChunkState::Running(stage);
                }
                if let Some(l) = self.lane(worker) {
                    l.current = Some((chunk, stage));
                }
            }
            Event::TaskFinished(rec) => {
                if rec.stage != Stage::Finalize {
                    if let Some(c) = self.chunks.get_mut(rec.chunk as usize) {
                        *c = ChunkState::Done(rec.stage);
                    }
                    self.tasks_done += 1;
                }
                if let Some(l) = self.lane(rec.worker) {
                    l.current = None;
                    l.tasks += 1;
                    l.busy_ns += rec.duration_ns();
                    if l.recent.len() == LANE_LEN {
                        l.recent.pop_front();
                    }
                    l.recent
                        .push_back((rec.chunk, rec.stage, rec.duration_ns()));
                }
            }
            Event::TaskFailed {
                chunk,
                stage,
                worker,
                ..
            } => {
                if let Some(c) = self.chunks.get_mut(chunk as usize) {
                    *c = ChunkState::Failed(stage);
                }
                self.tasks_failed += 1;
                if let Some(l) = self.lane(worker) {
                    l.current = None;
                }
            }
            Event::RunFinished { at_ns, .. } => {
                self.ended = true;
                self.elapsed_ns = at_ns;
            }
        }
    }

    fn lane(&mut self, worker: u16) -> Option<&mut Lane> {
        let w = usize::from(worker);
        if w >= self.lanes.len() && w < 256 {
            self.lanes.resize(w + 1, Lane::default());
        }
        self.lanes.get_mut(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapping_steps_to_the_grid() {
        assert_eq!(snap(1024, 1024, 1, 6144), 2048);
        assert_eq!(snap(1024, 1024, -1, 6144), 1024);
        assert_eq!(snap(1500, 1024, -1, 6144), 1024);
        assert_eq!(snap(1500, 1024, 1, 6144), 2048);
        assert_eq!(snap(6144, 1024, 1, 6144), 6144);
        assert_eq!(snap(1024, 100, -1, 6144), 1000);
        assert_eq!(snap(1000, 100, 1, 6144), 1100);
        assert_eq!(snap(1, 1, -1, 3), 1);
        assert_eq!(snap(3, 1, 1, 3), 3);
    }
}

//! The TUI's model and its one entry point: [`App`] holds everything the screens show,
//! [`Msg`] is what happens (keys, engine events, results of commands) and [`App::update`]
//! folds one message into the model, returning at most one [`Cmd`] for the loop to execute.
//! No I/O here: opening rasters, starting runs and cancelling them are commands. Each
//! screen's keys and messages are handled in a child module named after the screen; the
//! data they change lives in [`super::model`]. Runs on the UI thread.

mod dask;
mod lesson;
mod results;
mod run;
mod scenes;
mod search;
mod setup;
mod sweep;

use std::collections::VecDeque;

use crossterm::event::KeyEvent;

use chunkscope::catalog::Catalog;
use chunkscope::chunks::RasterLayout;
use chunkscope::pipeline::report::Grid;
use chunkscope::pipeline::{Mode, Resolution, RunReport};
use chunkscope::profile::sampler::Sample;
use chunkscope::task::Event;

use super::keys::{self, Action};
use super::model::assets::AssetView;
use super::model::busy::Kind;
use super::model::lesson::LessonView;
use super::model::results::Results;
use super::model::run::RunView;
use super::model::screen::Screen;
use super::model::setup::{RunSettings, Setup};
use super::model::sweep::SweepRequest;

/// Log lines kept (GDAL messages, errors).
const LOG_LEN: usize = 200;

/// What the loop is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Cmd {
    /// Inspect the assets of catalog item `0` (answers with [`Msg::Inspected`]).
    Inspect(usize),
    /// `pipeline::prepare` for `item` at `resolution` (answers with [`Msg::Prepared`]).
    Prepare {
        item: usize,
        resolution: Resolution,
    },
    /// Start a run of item `item` in `mode` with the setup's output and GDAL settings
    /// (events arrive as [`Msg::Engine`]).
    StartRun {
        item: usize,
        mode: Mode,
        settings: RunSettings,
    },
    Cancel,
    /// Run a chunk-size sweep on catalog item `item` (answers with [`Msg::SweepProgress`]
    /// and [`Msg::SweepFinished`]). [`Cmd::Cancel`] stops it between runs.
    StartSweep {
        item: usize,
        request: SweepRequest,
    },
    /// Read a sweep file (answers with [`Msg::SweepFinished`]).
    LoadSweep(std::path::PathBuf),
    /// Save the results on screen (JSON, CSV) and the screen itself (SVG); answers with
    /// [`Msg::Exported`].
    Export,
    /// Save the finished run on screen as the lesson's Dask script; answers with
    /// [`Msg::Exported`].
    ExportDask,
    /// Run lesson step `step` (an index into `lesson::STEPS`) on catalog item `item`
    /// (answers with [`Msg::LessonProgress`] and [`Msg::LessonFinished`]).
    StartLessonStep {
        item: usize,
        step: usize,
    },
    /// Save lesson step `0`'s figures as JSON (answers with [`Msg::Exported`]).
    SaveLessonStep(usize),
    /// Search a STAC API and save the result at `out` (answers with
    /// [`Msg::SearchFinished`]).
    Search {
        request: chunkscope::catalog::search::SearchRequest,
        out: std::path::PathBuf,
        /// Set by Esc while it runs: no further page is asked for and nothing is saved.
        cancel: chunkscope::task::CancelFlag,
    },
    /// Run the settings of `results.runs[run]` (a chunked run) on Dask (answers with
    /// [`Msg::DaskProgress`] and [`Msg::DaskFinished`]); [`Cmd::Cancel`] stops it.
    StartDask {
        run: usize,
    },
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
        resolution: Resolution,
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
    /// A lesson step's progress: runs done of planned, and the configuration starting.
    LessonProgress {
        step: usize,
        done: usize,
        total: usize,
        label: String,
    },
    /// The laziness step's graph, built before its runs start.
    LessonGraphBuilt {
        step: usize,
        graph: Box<chunkscope::graph::TaskGraph>,
    },
    /// A lesson step's figures, or why there are none.
    LessonFinished {
        step: usize,
        result: Result<Box<chunkscope::lesson::StepResult>, String>,
    },
    /// A Dask run's time so far (sent each frame) and the line its script printed last.
    DaskProgress {
        elapsed_ns: u64,
        line: Option<String>,
    },
    /// A Dask run's report (boxed: large), `None` when cancelled, or why it failed.
    DaskFinished(Result<Option<Box<RunReport>>, super::model::dask::DaskFailure>),
    /// A search's result, saved and read as a catalog, or why there is none.
    SearchFinished(Result<Box<SearchDone>, String>),
    Log(String),
}

pub use search::SearchDone;

/// The whole UI state.
#[derive(Debug, Clone)]
pub struct App {
    pub catalog: Catalog,
    /// The simulated network the catalog is read through, as the header shows it.
    pub network: Option<String>,
    pub screen: Screen,
    pub help: bool,
    /// The page of the `?` overlay shown (it wraps around; see `view::help`).
    pub help_page: i32,
    pub color: bool,
    pub filter: String,
    pub filtering: bool,
    /// Index into [`App::visible_items`].
    pub selected: usize,
    pub assets: Option<(usize, Vec<AssetView>)>,
    pub setup: Option<Setup>,
    pub run: Option<RunView>,
    pub log: VecDeque<String>,
    /// Whether the status line shows the last save's notice (set by a save, cleared by the
    /// next log message) rather than the last log message.
    pub notice_is_latest: bool,
    pub quit_pending: bool,
    pub cores: usize,
    /// Every finished run of this session, the marks on it, a sweep.
    pub results: Results,
    /// Whether the Run screen shows the task graph in place of the chunk map and the
    /// task stream (`g`); kept from run to run.
    pub graph_panel: bool,
    /// The lesson, once entered.
    pub lesson: Option<LessonView>,
    /// The Dask run in progress (`D`).
    pub dask: Option<super::model::dask::DaskLive>,
    /// The scenes screen's search form, while open (`F`).
    pub search: Option<super::model::search::SearchForm>,
    /// The last search that succeeded, to start the next one from.
    pub last_search: Option<super::model::search::SearchForm>,
    /// The search in flight's cancel flag, while it runs.
    pub search_cancel: Option<chunkscope::task::CancelFlag>,
    /// `v`: the chunked run (an index into `results.runs`) the serial run going now is to be
    /// compared with in Results once it finishes.
    pub compare_with: Option<usize>,
    /// The terminal's size as last drawn (columns, rows), for keys whose reach depends on
    /// the layout (scrolling the sweep's notes); 0 x 0 before the first frame.
    pub viewport: (u16, u16),
}

impl App {
    pub fn new(catalog: Catalog, cores: usize, color: bool) -> Self {
        Self {
            catalog,
            network: None,
            screen: Screen::Scenes,
            help: false,
            help_page: 0,
            color,
            filter: String::new(),
            filtering: false,
            selected: 0,
            assets: None,
            setup: None,
            run: None,
            log: VecDeque::new(),
            notice_is_latest: false,
            quit_pending: false,
            cores: cores.max(1),
            results: Results::default(),
            graph_panel: false,
            lesson: None,
            dask: None,
            search: None,
            last_search: None,
            search_cancel: None,
            compare_with: None,
            viewport: (0, 0),
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

    /// What holds the background work's slot, as the model sees it: a key that would
    /// start other work says [`Kind::busy_message`] instead. The session applies the same
    /// rule, with the same message, to the work it really runs (see [`crate::tui::work`]).
    pub fn busy(&self) -> Option<Kind> {
        if self.running() {
            Some(Kind::Run)
        } else if self.results.sweep_job.is_some() {
            Some(Kind::Sweep)
        } else if self.lesson.as_ref().is_some_and(|l| l.running.is_some()) {
            Some(Kind::LessonStep)
        } else if self.dask.is_some() {
            Some(Kind::Dask)
        } else {
            None
        }
    }

    fn push_log(&mut self, line: String) {
        if self.log.len() == LOG_LEN {
            self.log.pop_front();
        }
        self.log.push_back(line);
        self.notice_is_latest = false;
    }

    pub fn update(&mut self, msg: Msg) -> Option<Cmd> {
        match msg {
            Msg::Key(key) => self.on_key(key),
            Msg::Inspected { item, assets } => self.on_inspected(item, assets),
            Msg::Prepared {
                item,
                resolution,
                result,
            } => self.on_prepared(item, resolution, result),
            Msg::Engine(_)
            | Msg::Tick { .. }
            | Msg::Sample(_)
            | Msg::Frame { .. }
            | Msg::SelectChunk(_)
            | Msg::RunFinished(_) => self.on_run_msg(msg),
            Msg::SweepProgress { .. } | Msg::SweepFinished(_) => self.on_sweep_msg(msg),
            Msg::Exported(result) => self.on_exported(result),
            Msg::LessonProgress { .. }
            | Msg::LessonGraphBuilt { .. }
            | Msg::LessonFinished { .. } => self.on_lesson_msg(msg),
            Msg::DaskProgress { .. } | Msg::DaskFinished(_) => self.on_dask_msg(msg),
            Msg::SearchFinished(result) => self.on_search_finished(result),
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
        if self.search.is_some() && self.screen == Screen::Scenes {
            return self.on_search_key(key);
        }
        if self.results.path_input.is_some() {
            return self.on_path_key(key);
        }
        if self.help
            && let Some(step) = keys::help_page_step(&key)
        {
            self.help_page += step;
            return None;
        }
        let action = keys::action_for(self.screen, &key);
        if self.help && action != Some(Action::Quit) {
            // Any other key closes the overlay, also one the screen has no use for.
            self.help = false;
            return None;
        }
        let action = action?;
        let runs_screen = matches!(self.screen, Screen::Run | Screen::Results);
        match action {
            Action::Cancel | Action::Back if runs_screen && self.dask.is_some() => {
                self.cancel_dask()
            }
            Action::RunDask => self.start_dask(),
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
                self.help_page = 0;
                None
            }
            Action::Lesson if self.screen == Screen::Lesson => None,
            Action::Lesson => {
                let item = match self.screen {
                    Screen::Scenes => self.selected_item(),
                    _ => self.setup.as_ref().map(|s| s.item),
                };
                self.enter_lesson(item)
            }
            _ => match self.screen {
                Screen::Scenes => self.on_scenes(action),
                Screen::Setup => self.on_setup(action),
                Screen::Run => self.on_run(action),
                Screen::Results => self.on_results(action),
                Screen::Sweep => self.on_sweep(action),
                Screen::Lesson => self.on_lesson(action),
            },
        }
    }
}

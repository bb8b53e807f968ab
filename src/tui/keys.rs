//! The one table of key bindings. The footer hint line, the `?` overlay and the key
//! dispatch in [`action_for`] all read [`BINDINGS`], so what the screen says is what the
//! keys do. Runs on the UI thread.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::model::screen::Screen;

/// What a key asks the app to do; [`super::app::App::update`] interprets it per screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    Up,
    Down,
    Left,
    Right,
    Enter,
    Back,
    Filter,
    FreeMode,
    Preset(u8),
    Schedule,
    Serial,
    Writer,
    /// Output format: COG / tiled GeoTIFF.
    Format,
    /// Output codec: DEFLATE, LZW, ZSTD, NONE.
    Codec,
    /// Working resolution: 20 m / 10 m.
    Resolution,
    /// Load tasks share decoded blocks / decode per task.
    Blocks,
    Run,
    Cancel,
    /// Replay the finished run (toggle).
    Replay,
    /// Play / pause the replay.
    Pause,
    /// Replay speed up / down.
    Faster,
    Slower,
    /// Run the same settings several times.
    Repeat,
    /// After a chunked run with no serial run of its settings: run serial with them, then
    /// show the two side by side in Results.
    VsSerial,
    /// The sweep's engine: chunkscope, Dask or both.
    Engine,
    /// The sweep's time budget for extra runs of the tied leaders.
    Budget,
    /// Tab: on to the next results view (Run or Setup → Results → Sweep → Results).
    NextView,
    MarkA,
    MarkB,
    ClearMarks,
    /// Save results (JSON, CSV) and the screen (SVG).
    Export,
    /// Save the run on screen as the lesson's Dask script.
    ExportDask,
    /// Run the last chunked run's settings on Dask (the lesson's code, a child Python).
    RunDask,
    /// Type a file's path to open.
    Open,
    /// Show / hide the task graph panel.
    Graph,
    /// Select the scene the lesson uses (the catalog's last item).
    LessonScene,
    /// Open the search form: a STAC API search whose result replaces the scenes.
    Search,
    /// Open the lesson on the chosen scene.
    Lesson,
    /// Big numbers for a projector (toggle).
    Presenter,
}

/// Where a binding applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    On(Screen),
}

/// One row of the key table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    /// The keys as the footer and the overlay print them.
    pub keys: &'static str,
    /// Short label for the footer.
    pub hint: &'static str,
    /// What the overlay says it does.
    pub help: &'static str,
    pub action: Action,
    pub scope: Scope,
    matches: fn(&KeyEvent) -> bool,
}

fn code(k: &KeyEvent) -> KeyCode {
    k.code
}
fn is_char(k: &KeyEvent, c: char) -> bool {
    code(k) == KeyCode::Char(c) && !k.modifiers.contains(KeyModifiers::CONTROL)
}

/// Every binding, in the order the overlay lists them. Screen bindings come before global
/// ones so that a screen may give a key (Esc) its own meaning.
pub const BINDINGS: &[Binding] = &[
    // Scenes
    Binding {
        keys: "↑↓/jk",
        hint: "move",
        help: "select a scene",
        action: Action::Up,
        scope: Scope::On(Screen::Scenes),
        matches: |k| matches!(k.code, KeyCode::Up) || is_char(k, 'k'),
    },
    Binding {
        keys: "",
        hint: "",
        help: "",
        action: Action::Down,
        scope: Scope::On(Screen::Scenes),
        matches: |k| matches!(k.code, KeyCode::Down) || is_char(k, 'j'),
    },
    Binding {
        keys: "/",
        hint: "filter",
        help: "filter scenes by id, date or platform (Enter keeps, Esc clears)",
        action: Action::Filter,
        scope: Scope::On(Screen::Scenes),
        matches: |k| is_char(k, '/'),
    },
    Binding {
        keys: "G",
        hint: "lesson's scene",
        help: "select the lesson's scene, marked ★: the catalog's last item (items[-1] in the lesson); clears a filter that hides it",
        action: Action::LessonScene,
        scope: Scope::On(Screen::Scenes),
        matches: |k| is_char(k, 'G'),
    },
    Binding {
        keys: "Enter",
        hint: "chunks",
        help: "tune chunks for the selected scene",
        action: Action::Enter,
        scope: Scope::On(Screen::Scenes),
        matches: |k| k.code == KeyCode::Enter,
    },
    Binding {
        keys: "F",
        hint: "find (STAC)",
        help: "search a STAC API for scenes (the lesson's first step: area, dates, cloud cover, API URL); the result replaces the list and is saved as a search.json",
        action: Action::Search,
        scope: Scope::On(Screen::Scenes),
        matches: |k| is_char(k, 'F'),
    },
    // Setup
    Binding {
        keys: "↑↓/jk",
        hint: "field",
        help: "choose a field (bands, rows, cols, threads, schedule, mode, writer, format, codec, res, cache, blocks)",
        action: Action::Up,
        scope: Scope::On(Screen::Setup),
        matches: |k| matches!(k.code, KeyCode::Up) || is_char(k, 'k'),
    },
    Binding {
        keys: "",
        hint: "",
        help: "",
        action: Action::Down,
        scope: Scope::On(Screen::Setup),
        matches: |k| matches!(k.code, KeyCode::Down) || is_char(k, 'j'),
    },
    Binding {
        keys: "←→/hl",
        hint: "adjust",
        help: "decrease / increase the field (rows, cols snap to whole blocks; cache, the GDAL block cache, steps from GDAL's default to 4096 MiB)",
        action: Action::Left,
        scope: Scope::On(Screen::Setup),
        matches: |k| matches!(k.code, KeyCode::Left) || is_char(k, 'h') || is_char(k, '-'),
    },
    Binding {
        keys: "",
        hint: "",
        help: "",
        action: Action::Right,
        scope: Scope::On(Screen::Setup),
        matches: |k| matches!(k.code, KeyCode::Right) || is_char(k, 'l') || is_char(k, '+'),
    },
    Binding {
        keys: "f",
        hint: "free",
        help: "free mode: steps off the block grid (misaligned chunks)",
        action: Action::FreeMode,
        scope: Scope::On(Screen::Setup),
        matches: |k| is_char(k, 'f'),
    },
    Binding {
        keys: "1-4",
        hint: "preset",
        help: "presets: 1 one block, 2 auto, 3 2048, 4 6144 (the lesson's)",
        action: Action::Preset(1),
        scope: Scope::On(Screen::Setup),
        matches: |k| is_char(k, '1'),
    },
    Binding {
        keys: "",
        hint: "",
        help: "",
        action: Action::Preset(2),
        scope: Scope::On(Screen::Setup),
        matches: |k| is_char(k, '2'),
    },
    Binding {
        keys: "",
        hint: "",
        help: "",
        action: Action::Preset(3),
        scope: Scope::On(Screen::Setup),
        matches: |k| is_char(k, '3'),
    },
    Binding {
        keys: "",
        hint: "",
        help: "",
        action: Action::Preset(4),
        scope: Scope::On(Screen::Setup),
        matches: |k| is_char(k, '4'),
    },
    Binding {
        keys: "S",
        hint: "schedule",
        help: "schedule: staged / fused",
        action: Action::Schedule,
        scope: Scope::On(Screen::Setup),
        matches: |k| is_char(k, 'S'),
    },
    Binding {
        keys: "m",
        hint: "mode",
        help: "mode: chunked / serial",
        action: Action::Serial,
        scope: Scope::On(Screen::Setup),
        matches: |k| is_char(k, 'm'),
    },
    Binding {
        keys: "w",
        hint: "writer",
        help: "writer: chunked (the write tasks encode tiles) / gdal (COG copy at end)",
        action: Action::Writer,
        scope: Scope::On(Screen::Setup),
        matches: |k| is_char(k, 'w'),
    },
    Binding {
        keys: "O",
        hint: "format",
        help: "output format: COG / tiled GeoTIFF (the codec follows the format)",
        action: Action::Format,
        scope: Scope::On(Screen::Setup),
        matches: |k| is_char(k, 'O'),
    },
    Binding {
        keys: "C",
        hint: "codec",
        help: "output codec: DEFLATE, LZW, ZSTD, NONE (default levels)",
        action: Action::Codec,
        scope: Scope::On(Screen::Setup),
        matches: |k| is_char(k, 'C'),
    },
    Binding {
        keys: "Z",
        hint: "res",
        help: "pixel size (zoom): 20 m (overview 0, the lesson's) / 10 m (full res, 4x pixels)",
        action: Action::Resolution,
        scope: Scope::On(Screen::Setup),
        matches: |k| is_char(k, 'Z'),
    },
    Binding {
        keys: "B",
        hint: "blocks",
        help: "blocks: shared (each decoded once) / per-task (as a task engine)",
        action: Action::Blocks,
        scope: Scope::On(Screen::Setup),
        matches: |k| is_char(k, 'B'),
    },
    Binding {
        keys: "r/Enter",
        hint: "run",
        help: "start a run with these settings",
        action: Action::Run,
        scope: Scope::On(Screen::Setup),
        matches: |k| is_char(k, 'r') || k.code == KeyCode::Enter,
    },
    Binding {
        keys: "R",
        hint: "repeat",
        help: "run these settings 5 times and show the spread of wall time",
        action: Action::Repeat,
        scope: Scope::On(Screen::Setup),
        matches: |k| is_char(k, 'R'),
    },
    Binding {
        keys: "Esc",
        hint: "scenes",
        help: "back to the scenes",
        action: Action::Back,
        scope: Scope::On(Screen::Setup),
        matches: |k| k.code == KeyCode::Esc,
    },
    // Run
    Binding {
        keys: "c/Esc",
        hint: "cancel/back",
        help: "cancel the run; when done: leave the replay, then back to chunks",
        action: Action::Cancel,
        scope: Scope::On(Screen::Run),
        matches: |k| is_char(k, 'c') || k.code == KeyCode::Esc,
    },
    Binding {
        keys: "r",
        hint: "again",
        help: "run again with the same settings (when done)",
        action: Action::Run,
        scope: Scope::On(Screen::Run),
        matches: |k| is_char(k, 'r'),
    },
    Binding {
        keys: "s",
        hint: "save",
        help: "save the session's runs (JSON, CSV) and the screen (SVG)",
        action: Action::Export,
        scope: Scope::On(Screen::Run),
        matches: |k| is_char(k, 's'),
    },
    Binding {
        keys: "d",
        hint: "dask",
        help: "save the finished run as the lesson's Dask script (Python) in the export folder",
        action: Action::ExportDask,
        scope: Scope::On(Screen::Run),
        matches: |k| is_char(k, 'd'),
    },
    Binding {
        keys: "D",
        hint: "on Dask",
        help: "run the last chunked run's settings on Dask (Esc cancels)",
        action: Action::RunDask,
        scope: Scope::On(Screen::Run),
        matches: |k| is_char(k, 'D'),
    },
    Binding {
        keys: "Tab",
        hint: "results",
        help: "the results of this session's runs",
        action: Action::NextView,
        scope: Scope::On(Screen::Run),
        matches: |k| k.code == KeyCode::Tab,
    },
    Binding {
        keys: "R",
        hint: "repeat",
        help: "run the same settings 5 times and show the spread of wall time",
        action: Action::Repeat,
        scope: Scope::On(Screen::Run),
        matches: |k| is_char(k, 'R'),
    },
    Binding {
        keys: "v",
        hint: "vs serial",
        help: "after a chunked run with no serial run of its settings: run serial with them, then Results sets the two side by side",
        action: Action::VsSerial,
        scope: Scope::On(Screen::Run),
        matches: |k| is_char(k, 'v'),
    },
    Binding {
        keys: "p",
        hint: "replay",
        help: "replay the finished run slowed down; p again stops",
        action: Action::Replay,
        scope: Scope::On(Screen::Run),
        matches: |k| is_char(k, 'p'),
    },
    Binding {
        keys: "g",
        hint: "graph",
        help: "task graph: the run's tasks, barriers and writer, lit as they run, in place of the chunk map and task stream; g again hides it",
        action: Action::Graph,
        scope: Scope::On(Screen::Run),
        matches: |k| is_char(k, 'g'),
    },
    Binding {
        keys: "space",
        hint: "pause",
        help: "replay: pause / play (from the end: start over)",
        action: Action::Pause,
        scope: Scope::On(Screen::Run),
        matches: |k| is_char(k, ' '),
    },
    Binding {
        keys: "←→/hl/[]",
        hint: "scrub",
        help: "replay: step back / forward through the run",
        action: Action::Left,
        scope: Scope::On(Screen::Run),
        matches: |k| matches!(k.code, KeyCode::Left) || is_char(k, 'h') || is_char(k, '['),
    },
    Binding {
        keys: "",
        hint: "",
        help: "",
        action: Action::Right,
        scope: Scope::On(Screen::Run),
        matches: |k| matches!(k.code, KeyCode::Right) || is_char(k, 'l') || is_char(k, ']'),
    },
    Binding {
        keys: "+/-",
        hint: "speed",
        help: "replay: faster / slower (0.01x to 1x)",
        action: Action::Faster,
        scope: Scope::On(Screen::Run),
        matches: |k| is_char(k, '+') || is_char(k, '='),
    },
    Binding {
        keys: "",
        hint: "",
        help: "",
        action: Action::Slower,
        scope: Scope::On(Screen::Run),
        matches: |k| is_char(k, '-'),
    },
    Binding {
        keys: "Tab",
        hint: "results",
        help: "the results of this session's runs",
        action: Action::NextView,
        scope: Scope::On(Screen::Setup),
        matches: |k| k.code == KeyCode::Tab,
    },
    // Results
    Binding {
        keys: "↑↓/jk",
        hint: "run",
        help: "select a run: the bars and latency panels show it",
        action: Action::Up,
        scope: Scope::On(Screen::Results),
        matches: |k| matches!(k.code, KeyCode::Up) || is_char(k, 'k'),
    },
    Binding {
        keys: "",
        hint: "",
        help: "",
        action: Action::Down,
        scope: Scope::On(Screen::Results),
        matches: |k| matches!(k.code, KeyCode::Down) || is_char(k, 'j'),
    },
    Binding {
        keys: "a/b",
        hint: "mark",
        help: "mark the selected run as A or B: their stages side by side",
        action: Action::MarkA,
        scope: Scope::On(Screen::Results),
        matches: |k| is_char(k, 'a'),
    },
    Binding {
        keys: "",
        hint: "",
        help: "",
        action: Action::MarkB,
        scope: Scope::On(Screen::Results),
        matches: |k| is_char(k, 'b'),
    },
    Binding {
        keys: "D",
        hint: "on Dask",
        help: "run the last chunked run's settings on Dask (Esc cancels)",
        action: Action::RunDask,
        scope: Scope::On(Screen::Results),
        matches: |k| is_char(k, 'D'),
    },
    Binding {
        keys: "x",
        hint: "clear",
        help: "clear the A/B marks",
        action: Action::ClearMarks,
        scope: Scope::On(Screen::Results),
        matches: |k| is_char(k, 'x'),
    },
    Binding {
        keys: "s",
        hint: "save",
        help: "save the session's runs (JSON, CSV) and the screen (SVG)",
        action: Action::Export,
        scope: Scope::On(Screen::Results),
        matches: |k| is_char(k, 's'),
    },
    Binding {
        keys: "Tab",
        hint: "sweep",
        help: "the chunk-size sweep",
        action: Action::NextView,
        scope: Scope::On(Screen::Results),
        matches: |k| k.code == KeyCode::Tab,
    },
    Binding {
        keys: "Esc",
        hint: "back",
        help: "back to the run (or the chunk setup)",
        action: Action::Back,
        scope: Scope::On(Screen::Results),
        matches: |k| k.code == KeyCode::Esc,
    },
    // Sweep
    Binding {
        keys: "r",
        hint: "sweep",
        help: "sweep 256, 1 block, 2048, 2x2 blocks, 1000, auto and your chunks on 1 to 2x cores threads, 3 runs each, with the setup's settings",
        action: Action::Run,
        scope: Scope::On(Screen::Sweep),
        matches: |k| is_char(k, 'r'),
    },
    Binding {
        keys: "e",
        hint: "engine",
        help: "the engine r sweeps on: chunkscope, Dask (the lesson's code, needs `chunkscope dask setup`) or both, alternated",
        action: Action::Engine,
        scope: Scope::On(Screen::Sweep),
        matches: |k| is_char(k, 'e'),
    },
    Binding {
        keys: "t",
        hint: "budget",
        help: "time budget r spends after the rounds on more runs of the tied leaders (as --budget): 0, 10 s, 30 s, 1 min, 2 min, 5 min",
        action: Action::Budget,
        scope: Scope::On(Screen::Sweep),
        matches: |k| is_char(k, 't'),
    },
    Binding {
        keys: "↑↓/jk",
        hint: "scroll",
        help: "scroll the best configuration and the flags",
        action: Action::Up,
        scope: Scope::On(Screen::Sweep),
        matches: |k| matches!(k.code, KeyCode::Up) || is_char(k, 'k'),
    },
    Binding {
        keys: "",
        hint: "",
        help: "",
        action: Action::Down,
        scope: Scope::On(Screen::Sweep),
        matches: |k| matches!(k.code, KeyCode::Down) || is_char(k, 'j'),
    },
    Binding {
        keys: "o",
        hint: "open",
        help: "open a sweep file (`chunkscope sweep --json FILE`): type its path",
        action: Action::Open,
        scope: Scope::On(Screen::Sweep),
        matches: |k| is_char(k, 'o'),
    },
    Binding {
        keys: "c",
        hint: "cancel",
        help: "cancel the sweep (after the run in flight)",
        action: Action::Cancel,
        scope: Scope::On(Screen::Sweep),
        matches: |k| is_char(k, 'c'),
    },
    Binding {
        keys: "s",
        hint: "save",
        help: "save the sweep (JSON, CSV) and the screen (SVG)",
        action: Action::Export,
        scope: Scope::On(Screen::Sweep),
        matches: |k| is_char(k, 's'),
    },
    Binding {
        keys: "Tab",
        hint: "results",
        help: "the results of this session's runs",
        action: Action::NextView,
        scope: Scope::On(Screen::Sweep),
        matches: |k| k.code == KeyCode::Tab,
    },
    Binding {
        keys: "Esc",
        hint: "back",
        help: "back to the run (or the chunk setup)",
        action: Action::Back,
        scope: Scope::On(Screen::Sweep),
        matches: |k| k.code == KeyCode::Esc,
    },
    // Lesson
    Binding {
        keys: "←→/hl",
        hint: "step",
        help: "previous / next step of the lesson (a step runs when first shown)",
        action: Action::Right,
        scope: Scope::On(Screen::Lesson),
        matches: |k| k.code == KeyCode::Right || is_char(k, 'l'),
    },
    Binding {
        keys: "",
        hint: "",
        help: "",
        action: Action::Left,
        scope: Scope::On(Screen::Lesson),
        matches: |k| k.code == KeyCode::Left || is_char(k, 'h'),
    },
    Binding {
        keys: "r",
        hint: "re-run",
        help: "run the step again (3 runs of each configuration, alternated)",
        action: Action::Run,
        scope: Scope::On(Screen::Lesson),
        matches: |k| is_char(k, 'r'),
    },
    Binding {
        keys: "P",
        hint: "presenter",
        help: "presenter layout: the step's big numbers and conclusion, for a projector",
        action: Action::Presenter,
        scope: Scope::On(Screen::Lesson),
        matches: |k| is_char(k, 'P'),
    },
    Binding {
        keys: "s",
        hint: "save",
        help: "save the step's figures (JSON) into the export folder",
        action: Action::Export,
        scope: Scope::On(Screen::Lesson),
        matches: |k| is_char(k, 's'),
    },
    Binding {
        keys: "Esc",
        hint: "back",
        help: "cancel the running step (after the run in flight), else leave the lesson",
        action: Action::Back,
        scope: Scope::On(Screen::Lesson),
        matches: |k| k.code == KeyCode::Esc,
    },
    // Global
    Binding {
        keys: "?",
        hint: "help",
        help: "show / hide this help",
        action: Action::Help,
        scope: Scope::Global,
        matches: |k| is_char(k, '?'),
    },
    Binding {
        keys: "q",
        hint: "quit",
        help: "quit (cancels a running run first)",
        action: Action::Quit,
        scope: Scope::Global,
        matches: |k| {
            is_char(k, 'q')
                || (k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL))
        },
    },
    Binding {
        keys: "L",
        hint: "lesson",
        help: "the lesson step by step on the chosen scene (the catalog's last item if none)",
        action: Action::Lesson,
        scope: Scope::Global,
        matches: |k| is_char(k, 'L'),
    },
];

/// While the `?` overlay is open: the keys that turn its pages (↓, j, PgDn, space next;
/// ↑, k, PgUp back), as its title says; every other key closes it.
pub fn help_page_step(k: &KeyEvent) -> Option<i32> {
    match k.code {
        KeyCode::Down | KeyCode::PageDown | KeyCode::Char(' ') => Some(1),
        KeyCode::Char('j') if !k.modifiers.contains(KeyModifiers::CONTROL) => Some(1),
        KeyCode::Up | KeyCode::PageUp => Some(-1),
        KeyCode::Char('k') if !k.modifiers.contains(KeyModifiers::CONTROL) => Some(-1),
        _ => None,
    }
}

/// The action a key means on `screen`, if any.
pub fn action_for(screen: Screen, key: &KeyEvent) -> Option<Action> {
    BINDINGS
        .iter()
        .filter(|b| b.scope == Scope::Global || b.scope == Scope::On(screen))
        .find(|b| (b.matches)(key))
        .map(|b| b.action)
}

/// The keys as printed for `action` on `screen` (for a screen that names them beside what
/// they change).
pub fn keys_for(screen: Screen, action: Action) -> Option<&'static str> {
    BINDINGS
        .iter()
        .find(|b| b.scope == Scope::On(screen) && b.action == action && !b.keys.is_empty())
        .map(|b| b.keys)
}

/// The bindings shown for `screen` (rows with a label), screen ones first. `L` (the
/// lesson) is not listed on the lesson itself, where it has nothing to do.
pub fn visible(screen: Screen) -> impl Iterator<Item = &'static Binding> {
    BINDINGS
        .iter()
        .filter(move |b| !b.keys.is_empty())
        .filter(move |b| b.scope == Scope::On(screen) || b.scope == Scope::Global)
        .filter(move |b| !(screen == Screen::Lesson && b.action == Action::Lesson))
}

/// Whether the footer keeps `action` on `screen` before the others: the keys a learner
/// needs to go on (run, move, adjust, next screen, back), so a narrow terminal keeps them.
fn essential(screen: Screen, action: Action) -> bool {
    match action {
        Action::Run
        | Action::Repeat
        | Action::NextView
        | Action::Back
        | Action::Cancel
        | Action::Enter
        | Action::Export
        | Action::VsSerial => true,
        // The run screen's own views: the replay and the task graph.
        Action::Replay | Action::Graph => screen == Screen::Run,
        Action::Up | Action::Left => screen != Screen::Run,
        _ => false,
    }
}

/// The footer in at most `max_lines` lines of `width`: global keys, then the essential
/// ones (see [`essential`]), then the rest in table order. When they do not all fit with
/// their hints, the rest are listed by key alone (the chunk setup prints each field's key
/// beside it, and `?` says what every key does).
#[cfg(test)]
pub fn footer_lines(screen: Screen, width: u16, max_lines: usize) -> Vec<String> {
    footer_lines_offering(screen, width, max_lines, &|_| true)
}

/// [`footer_lines`] without the keys whose action `offered` says is not on offer now (a
/// key that only means something after a certain run).
pub fn footer_lines_offering(
    screen: Screen,
    width: u16,
    max_lines: usize,
    offered: &dyn Fn(Action) -> bool,
) -> Vec<String> {
    let (global, local): (Vec<&Binding>, Vec<&Binding>) = visible(screen)
        .filter(|b| offered(b.action))
        .partition(|b| b.scope == Scope::Global);
    let (first, rest): (Vec<&Binding>, Vec<&Binding>) =
        local.into_iter().partition(|b| essential(screen, b.action));
    let item = |b: &&Binding| format!("{} {}", b.keys, b.hint);
    let mut items: Vec<String> = global.iter().chain(&first).chain(&rest).map(item).collect();
    let mut lines = pack(&items, width);
    if lines.len() > max_lines && !rest.is_empty() {
        // Keep as many of the other keys with their words as fit; the rest are listed by
        // key alone, with the overlay named for their meaning.
        items.truncate(global.len() + first.len());
        for labelled in (0..rest.len()).rev() {
            let keys: Vec<&str> = rest[labelled..].iter().map(|b| b.keys).collect();
            let mut tried = items.clone();
            tried.extend(rest[..labelled].iter().map(item));
            tried.push(format!("{} (? says)", keys.join(" ")));
            lines = pack(&tried, width);
            if lines.len() <= max_lines {
                break;
            }
        }
    }
    lines.truncate(max_lines.max(1));
    lines
}

/// `items` joined by ` · ` into lines of at most `width` (an item never split).
fn pack(items: &[String], width: u16) -> Vec<String> {
    let width = usize::from(width).max(1);
    let mut lines: Vec<String> = Vec::new();
    for item in items {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 3 + item.chars().count() <= width => {
                line.push_str(" · ");
                line.push_str(item);
            }
            _ => lines.push(item.clone()),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_labelled_binding_is_reachable() {
        for b in BINDINGS.iter().filter(|b| !b.keys.is_empty()) {
            let screen = match b.scope {
                Scope::On(s) => s,
                Scope::Global => Screen::Scenes,
            };
            assert!(
                visible(screen).any(|v| v.keys == b.keys),
                "{} missing from footer",
                b.keys
            );
        }
        let q = KeyEvent::from(KeyCode::Char('q'));
        assert_eq!(action_for(Screen::Run, &q), Some(Action::Quit));
        let esc = KeyEvent::from(KeyCode::Esc);
        assert_eq!(action_for(Screen::Run, &esc), Some(Action::Cancel));
        assert_eq!(action_for(Screen::Setup, &esc), Some(Action::Back));
        assert!(footer_lines(Screen::Setup, u16::MAX, 1)[0].contains("f free"));
    }

    #[test]
    fn a_narrow_footer_keeps_the_keys_to_go_on() {
        for screen in [
            Screen::Scenes,
            Screen::Setup,
            Screen::Run,
            Screen::Results,
            Screen::Sweep,
            Screen::Lesson,
        ] {
            let lines = footer_lines(screen, 80, 2);
            assert!(lines.len() <= 2, "{lines:?}");
            assert!(lines.iter().all(|l| l.chars().count() <= 80), "{lines:?}");
            let text = lines.join(" · ");
            for b in visible(screen).filter(|b| essential(screen, b.action)) {
                let item = format!("{} {}", b.keys, b.hint);
                assert!(
                    text.contains(&item),
                    "{item:?} missing on {screen:?}: {text}"
                );
            }
            if screen == Screen::Lesson {
                assert!(text.starts_with("? help · q quit · r re-run"), "{text}");
                assert!(!text.contains("L lesson"), "L does nothing there: {text}");
            } else {
                assert!(text.starts_with("? help · q quit · L lesson"), "{text}");
            }
        }
        let setup = footer_lines(Screen::Setup, 80, 2).join(" · ");
        // Too many for two lines with hints: the setting keys by key alone.
        for key in ["r/Enter run", "R repeat", "S m w O C Z B (? says)"] {
            assert!(setup.contains(key), "{key:?}: {setup}");
        }
        // With room, every key has its hint.
        let wide = footer_lines(Screen::Setup, 200, 2).join(" · ");
        for key in ["O format", "C codec", "Z res", "B blocks"] {
            assert!(wide.contains(key), "{key:?}: {wide}");
        }
    }

    #[test]
    fn a_key_means_one_thing_on_every_screen() {
        // Every letter, digit and sign: on the screens that use it, one action.
        let screens = [
            Screen::Lesson,
            Screen::Scenes,
            Screen::Setup,
            Screen::Run,
            Screen::Results,
            Screen::Sweep,
        ];
        let mut clashes = Vec::new();
        for c in (b'!'..=b'~').map(char::from) {
            let key = KeyEvent::from(KeyCode::Char(c));
            let mut meanings: Vec<(Screen, Action)> = screens
                .iter()
                .filter_map(|&s| Some((s, action_for(s, &key)?)))
                .collect();
            // The setup's `+`/`-` adjust a field as ←→ do; the run's replay speed is the
            // same "more / less" on the one thing that screen has to adjust.
            if matches!(c, '+' | '-' | '=') {
                continue;
            }
            meanings.dedup_by_key(|m| m.1);
            if meanings.len() > 1 {
                clashes.push(format!("{c:?}: {meanings:?}"));
            }
        }
        assert!(clashes.is_empty(), "{clashes:#?}");
        // What issue #22 found: g and p on the chunk setup changed the cache and the
        // resolution, on the run screen they show the graph and replay.
        let g = KeyEvent::from(KeyCode::Char('g'));
        assert_eq!(action_for(Screen::Setup, &g), None);
        assert_eq!(action_for(Screen::Run, &g), Some(Action::Graph));
    }

    #[test]
    fn a_key_on_offer_only_after_some_runs_leaves_the_footer_otherwise() {
        let with = footer_lines(Screen::Run, 80, 2).join(" · ");
        assert!(with.contains("v vs serial"), "{with}");
        let without =
            footer_lines_offering(Screen::Run, 80, 2, &|a| a != Action::VsSerial).join(" · ");
        assert!(!without.contains("vs serial"), "{without}");
        assert!(without.contains("r again"), "{without}");
    }
}

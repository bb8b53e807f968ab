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
    /// Tab: on to the next results view (Run or Setup → Results → Sweep → Results).
    NextView,
    MarkA,
    MarkB,
    ClearMarks,
    /// Save results (JSON, CSV) and the screen (SVG).
    Export,
    /// Type a file's path to open.
    Open,
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
        keys: "Enter",
        hint: "chunks",
        help: "tune chunks for the selected scene",
        action: Action::Enter,
        scope: Scope::On(Screen::Scenes),
        matches: |k| k.code == KeyCode::Enter,
    },
    // Setup
    Binding {
        keys: "↑↓/jk",
        hint: "field",
        help: "choose a field (bands, rows, cols, threads, schedule, mode, writer)",
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
        help: "decrease / increase the field (rows, cols snap to whole blocks)",
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
        keys: "s",
        hint: "schedule",
        help: "schedule: staged / fused",
        action: Action::Schedule,
        scope: Scope::On(Screen::Setup),
        matches: |k| is_char(k, 's'),
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
        help: "writer: chunked (tiles and overviews encoded by the write tasks) / gdal (GDAL's COG copy at the end)",
        action: Action::Writer,
        scope: Scope::On(Screen::Setup),
        matches: |k| is_char(k, 'w'),
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
        keys: "p",
        hint: "replay",
        help: "replay the finished run slowed down; p again stops",
        action: Action::Replay,
        scope: Scope::On(Screen::Run),
        matches: |k| is_char(k, 'p'),
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
        help: "sweep 1x1, 2x2, 4x4 blocks and your chunks on 1 and your threads",
        action: Action::Run,
        scope: Scope::On(Screen::Sweep),
        matches: |k| is_char(k, 'r'),
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
];

/// The action a key means on `screen`, if any.
pub fn action_for(screen: Screen, key: &KeyEvent) -> Option<Action> {
    BINDINGS
        .iter()
        .filter(|b| b.scope == Scope::Global || b.scope == Scope::On(screen))
        .find(|b| (b.matches)(key))
        .map(|b| b.action)
}

/// The bindings shown for `screen` (rows with a label), screen ones first.
pub fn visible(screen: Screen) -> impl Iterator<Item = &'static Binding> {
    BINDINGS
        .iter()
        .filter(move |b| !b.keys.is_empty())
        .filter(move |b| b.scope == Scope::On(screen) || b.scope == Scope::Global)
}

/// The footer line: `key hint · key hint · ...`.
///
/// Global keys come first so that `?` and `q` survive a narrow terminal.
pub fn footer(screen: Screen) -> String {
    let (global, local): (Vec<&Binding>, Vec<&Binding>) =
        visible(screen).partition(|b| b.scope == Scope::Global);
    global
        .into_iter()
        .chain(local)
        .map(|b| format!("{} {}", b.keys, b.hint))
        .collect::<Vec<_>>()
        .join(" · ")
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
        assert!(footer(Screen::Setup).contains("f free"));
    }
}

//! The scenes screen's search form: its keys, sending the search, and the result replacing
//! the catalog on screen.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use chunkscope::catalog::Catalog;

use super::{App, Cmd};
use crate::tui::model::search::{FormStatus, SearchForm};

/// A finished search, saved and read back.
#[derive(Debug, Clone)]
pub struct SearchDone {
    /// The saved file read as a catalog, as the other commands would read it.
    pub catalog: Catalog,
    /// Where it was saved (a link's target when the name was a link).
    pub saved: PathBuf,
    pub pages: usize,
    /// Whether max items stopped it while the server had more.
    pub truncated: bool,
}

impl App {
    /// `F`: the form, as it was left (or with the lesson's defaults).
    pub(super) fn open_search(&mut self) -> Option<Cmd> {
        if self.search.is_none() {
            let form = self
                .last_search
                .clone()
                .unwrap_or_else(|| SearchForm::new(&self.catalog.path.to_string_lossy()));
            self.search = Some(form);
        }
        None
    }

    pub(super) fn on_search_key(&mut self, key: KeyEvent) -> Option<Cmd> {
        let form = self.search.as_mut()?;
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            return Some(Cmd::Quit);
        }
        match key.code {
            // Esc closes the form; a search in flight is cancelled: no further page, nothing
            // saved once the worker sees it, the scenes stay as they are.
            KeyCode::Esc => {
                if form.searching()
                    && let Some(cancel) = self.search_cancel.take()
                {
                    cancel.cancel();
                    self.push_log("search: cancelled; the scenes are unchanged".into());
                }
                self.search = None;
            }
            _ if form.searching() => {}
            KeyCode::Tab | KeyCode::Down => form.move_focus(1),
            KeyCode::BackTab | KeyCode::Up => form.move_focus(-1),
            KeyCode::Backspace => form.pop(),
            KeyCode::Enter => match form.request() {
                Ok((request, out)) => {
                    form.status = FormStatus::Searching;
                    let cancel = chunkscope::task::CancelFlag::new();
                    self.search_cancel = Some(cancel.clone());
                    return Some(Cmd::Search {
                        request,
                        out,
                        cancel,
                    });
                }
                Err(message) => form.status = FormStatus::Invalid(message),
            },
            KeyCode::Char(c) => form.push(c),
            _ => {}
        }
        None
    }

    /// The search's answer: on success its items become the scenes on screen.
    pub(super) fn on_search_finished(
        &mut self,
        result: Result<Box<SearchDone>, String>,
    ) -> Option<Cmd> {
        // Cancelled with Esc: the log has said so, and what comes back is not wanted.
        self.search_cancel.take()?;
        match result {
            Ok(done) => {
                let n = done.catalog.items.len();
                self.push_log(format!(
                    "search: {n} scene{} ({} page{}{}) saved to {}",
                    if n == 1 { "" } else { "s" },
                    done.pages,
                    if done.pages == 1 { "" } else { "s" },
                    if done.truncated {
                        "; max items reached, the API has more"
                    } else {
                        ""
                    },
                    done.saved.display()
                ));
                self.catalog = done.catalog;
                if let Some(mut form) = self.search.take() {
                    form.status = FormStatus::Editing;
                    form.focus = crate::tui::model::search::Field::Area;
                    self.last_search = Some(form);
                }
                // Everything that pointed into the old catalog goes with it.
                self.filter.clear();
                self.filtering = false;
                self.selected = 0;
                self.assets = None;
                self.setup = None;
                self.lesson = None;
                self.selected_item().map(Cmd::Inspect)
            }
            Err(message) => {
                match self.search.as_mut() {
                    Some(form) => form.status = FormStatus::Failed(message),
                    None => self.push_log(format!("search: {message}")),
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The form on a real session: keys in, a real search of the demo scene served as a
    //! STAC API on loopback, screens out at 80x24.
    use crossterm::event::KeyCode;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    use chunkscope::network::{NetworkSim, SimSettings};

    use crate::tui::app::{App, Msg};
    use crate::tui::session::Session;
    use crate::tui::view::{buffer_text, render};

    fn keys(s: &mut Session, text: &str) {
        for c in text.chars() {
            s.send(Msg::Key(KeyCode::Char(c).into()));
        }
    }

    fn key(s: &mut Session, code: KeyCode) {
        s.send(Msg::Key(code.into()));
    }

    fn screen(s: &Session) -> String {
        let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        term.draw(|f| render(&s.app, f.area(), f.buffer_mut()))
            .unwrap();
        buffer_text(term.backend().buffer())
    }

    /// Replaces the focused field's text.
    fn retype(s: &mut Session, text: &str) {
        for _ in 0..80 {
            key(s, KeyCode::Backspace);
        }
        keys(s, text);
    }

    #[test]
    fn the_form_searches_the_served_demo_and_its_scenes_replace_the_list() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::tui::session::tests::demo_catalog(dir.path(), 512, 2);
        let served = catalog.path.parent().unwrap().to_path_buf();
        let sim = NetworkSim::start(&served, SimSettings::default(), 0).unwrap();
        let before = catalog.items.len();
        let mut s = Session::new(App::new(catalog, 1, false), dir.path().join("out"));
        s.start();
        keys(&mut s, "F");
        let text = screen(&s);
        assert!(text.contains("Search a STAC API"), "{text}");
        assert!(text.contains("▶area"), "{text}");
        assert!(text.contains("Enter search · Esc close"), "{text}");
        // A bad value stays in the form, quoted.
        keys(&mut s, "1,2,3");
        key(&mut s, KeyCode::Enter);
        let text = screen(&s);
        assert!(
            text.contains("✗ area: \"1,2,3\" is not a bounding box"),
            "{text}"
        );
        // The served demo's north-west corner, through the server's own STAC API.
        retype(&mut s, "4.52,53.23");
        key(&mut s, KeyCode::Up);
        key(&mut s, KeyCode::Up);
        retype(&mut s, sim.base_url());
        let out = dir.path().join("found.json");
        key(&mut s, KeyCode::BackTab);
        retype(&mut s, &out.to_string_lossy());
        key(&mut s, KeyCode::Enter);
        assert!(s.app.search.is_none(), "the form closes on success");
        assert_eq!(s.app.catalog.path, out);
        assert_eq!(s.app.catalog.items.len(), before);
        assert!(
            s.app.catalog.items[0].assets[0]
                .href
                .starts_with(sim.base_url())
        );
        let text = screen(&s);
        assert!(text.contains("DEMO_31UFU_20230601_0_L2A"), "{text}");
        assert!(
            text.contains("search: 2 scenes (1 page) saved to"),
            "{text}"
        );
        assert!(text.contains("found.json"), "{text}");
        // A search that finds nothing says so in the form and keeps the list.
        keys(&mut s, "F");
        retype(&mut s, "27.95,36.33");
        key(&mut s, KeyCode::Enter);
        let text = screen(&s);
        assert!(text.contains("✗ the search found no items"), "{text}");
        key(&mut s, KeyCode::Esc);
        assert!(s.app.search.is_none());
        assert_eq!(s.app.catalog.path, out);
    }

    #[test]
    fn esc_cancels_a_search_in_flight_and_nothing_is_saved_or_opened() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = crate::tui::session::tests::demo_catalog(dir.path(), 512, 2);
        let served = catalog.path.parent().unwrap().to_path_buf();
        let sim = NetworkSim::start(&served, SimSettings::default(), 0).unwrap();
        let before = catalog.path.clone();
        let mut app = App::new(catalog, 1, false);
        let press = |app: &mut App, code: KeyCode| app.update(Msg::Key(code.into()));
        let typed = |app: &mut App, text: &str| {
            for _ in 0..80 {
                press(app, KeyCode::Backspace);
            }
            for c in text.chars() {
                press(app, KeyCode::Char(c));
            }
        };
        press(&mut app, KeyCode::Char('F'));
        typed(&mut app, "4.52,53.23");
        press(&mut app, KeyCode::Up);
        press(&mut app, KeyCode::Up);
        typed(&mut app, sim.base_url());
        let out = dir.path().join("found.json");
        press(&mut app, KeyCode::BackTab);
        typed(&mut app, &out.to_string_lossy());
        let Some(crate::tui::app::Cmd::Search {
            request,
            out: to,
            cancel,
        }) = press(&mut app, KeyCode::Enter)
        else {
            panic!("Enter starts the search");
        };
        assert!(!cancel.is_cancelled());
        // Esc while it runs: the flag is set, the form closes, the log says so.
        press(&mut app, KeyCode::Esc);
        assert!(cancel.is_cancelled());
        assert!(app.search.is_none());
        assert!(
            app.log
                .iter()
                .any(|l| l.contains("search: cancelled; the scenes are unchanged")),
            "{:?}",
            app.log
        );
        // The worker sees the flag: nothing is written, and its answer changes nothing.
        let msg = crate::tui::session::search(&request, &to, &cancel);
        assert!(!out.exists(), "a cancelled search saves nothing");
        app.update(msg);
        assert_eq!(app.catalog.path, before, "the scenes are unchanged");
    }
}

//! The lesson screen's keys and messages: `L` enters it on the chosen scene, ←/→ (p/n) move
//! between steps, `r` runs the step again, `s` saves its figures, `P` switches the presenter
//! layout, Esc cancels a running step or leaves. A step runs when first shown.

use chunkscope::lesson::{STEPS, StepResult};

use super::{App, Cmd, Msg};
use crate::tui::keys::Action;
use crate::tui::model::lesson::LessonView;
use crate::tui::model::screen::Screen;

impl App {
    /// `L`: the lesson on `item` (the chosen scene), kept if it is already on that item.
    pub(super) fn enter_lesson(&mut self, item: Option<usize>) -> Option<Cmd> {
        let item = item.or_else(|| self.catalog.items.len().checked_sub(1))?;
        let back_to = self.screen;
        if self.lesson.as_ref().is_none_or(|l| l.item != item) {
            if self.lesson.as_ref().is_some_and(|l| l.running.is_some()) {
                // A step of the other item is still running: keep that lesson until it ends.
                self.screen = Screen::Lesson;
                return None;
            }
            self.lesson = Some(LessonView::new(item, back_to));
        } else if let Some(l) = self.lesson.as_mut() {
            l.back_to = back_to;
        }
        self.screen = Screen::Lesson;
        self.run_lesson_step_if_needed()
    }

    /// Keys on the lesson screen.
    pub(super) fn on_lesson(&mut self, action: Action) -> Option<Cmd> {
        let lesson = self.lesson.as_mut()?;
        match action {
            Action::Right => {
                lesson.step = (lesson.step + 1).min(STEPS.len() - 1);
                self.run_lesson_step_if_needed()
            }
            Action::Left => {
                lesson.step = lesson.step.saturating_sub(1);
                self.run_lesson_step_if_needed()
            }
            Action::Run => {
                if lesson.running.is_some() {
                    return None;
                }
                let step = lesson.step;
                lesson.errors[step] = None;
                self.start_lesson_step(step)
            }
            Action::Presenter => {
                lesson.presenter = !lesson.presenter;
                None
            }
            Action::Export => {
                if lesson.running == Some(lesson.step) {
                    // The figures on screen are the previous run's: saving them now would
                    // pass them off as the run going on.
                    self.on_exported(Err(
                        "running again: s saves the new figures when done".into()
                    ))
                } else if lesson.result().is_some() {
                    Some(Cmd::SaveLessonStep(lesson.step))
                } else {
                    self.on_exported(Err("no figures to save yet: the step has not run".into()))
                }
            }
            Action::Back => {
                if lesson.running.is_some() {
                    lesson.cancelling = true;
                    return Some(Cmd::Cancel);
                }
                self.screen = lesson.back_to;
                None
            }
            _ => None,
        }
    }

    /// Starts the step in front when it has never run and nothing else is running.
    fn run_lesson_step_if_needed(&mut self) -> Option<Cmd> {
        let lesson = self.lesson.as_ref()?;
        if lesson.running.is_some() || !lesson.needs_run() {
            return None;
        }
        self.start_lesson_step(lesson.step)
    }

    fn start_lesson_step(&mut self, step: usize) -> Option<Cmd> {
        if let Some(kind) = self.busy() {
            let lesson = self.lesson.as_mut()?;
            lesson.errors[step] = Some(kind.busy_message());
            return None;
        }
        let lesson = self.lesson.as_mut()?;
        lesson.running = Some(step);
        lesson.progress = None;
        lesson.built[step] = None;
        lesson.cancelling = false;
        Some(Cmd::StartLessonStep {
            item: lesson.item,
            step,
        })
    }

    /// A step's progress and end.
    pub(super) fn on_lesson_msg(&mut self, msg: Msg) -> Option<Cmd> {
        let lesson = self.lesson.as_mut()?;
        match msg {
            Msg::LessonProgress {
                step,
                done,
                total,
                label,
            } if lesson.running == Some(step) => {
                lesson.progress = Some((done, total, label));
                None
            }
            Msg::LessonGraphBuilt { step, graph } if lesson.running == Some(step) => {
                lesson.built[step] = Some(*graph);
                None
            }
            Msg::LessonFinished { step, result } => {
                lesson.running = None;
                lesson.progress = None;
                lesson.cancelling = false;
                match result {
                    Ok(r) => {
                        lesson.results[step] = Some(*r);
                        lesson.errors[step] = None;
                    }
                    Err(e) => lesson.errors[step] = Some(e),
                }
                // On to the step in front, if the user moved while this one ran.
                if self.screen == Screen::Lesson {
                    self.run_lesson_step_if_needed()
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// The figures of step `step`, for saving.
    pub fn lesson_result(&self, step: usize) -> Option<&StepResult> {
        self.lesson.as_ref()?.results.get(step)?.as_ref()
    }
}

//! What holds the TUI's one slot for background work (see [`crate::tui::work`]) and the
//! busy rule's one message, shared by the app, which refuses keys from what its model
//! shows, and the session, which refuses work from what really runs. Runs on the UI thread.

/// What holds the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Run,
    Sweep,
    LessonStep,
    Dask,
}

impl Kind {
    /// The busy rule's one message: what holds the slot and how to go on.
    pub fn busy_message(self) -> String {
        let (what, cancel) = match self {
            Kind::Run => ("a run", "c on the run screen"),
            Kind::Sweep => ("a sweep", "c on the sweep screen"),
            Kind::LessonStep => ("a lesson step", "Esc in the lesson"),
            Kind::Dask => ("a Dask run", "Esc on the run or results screen"),
        };
        format!("{what} is going: wait for it, or cancel it ({cancel})")
    }
}

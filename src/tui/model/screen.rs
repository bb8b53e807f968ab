//! Which screen is in front. Beneath both the app and the key table, which binds keys per
//! screen.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Scenes,
    Setup,
    Run,
    /// Finished runs compared: stage bars, latency, history, A/B.
    Results,
    /// A chunk-size sweep's chart and table.
    Sweep,
    /// The lesson, step by step.
    Lesson,
}

//! Experimenting: the pipeline run again and again under chosen settings, and what the runs
//! say together. The round runner takes several configurations in alternation; compare
//! and sweep are built on it; the session's history lines up single runs. The statistics
//! they use live in [`crate::profile::stats`]; nothing here prints.

pub mod child;
pub mod compare;
pub mod engine;
pub mod history;
pub mod memory;
pub mod profiling;
pub mod rounds;
pub mod sweep;

/// Bumped whenever a field of [`compare::CompareResult`] or [`sweep::SweepResult`] changes
/// meaning or disappears.
pub const SCHEMA_VERSION: u32 = 1;

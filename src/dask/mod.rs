//! Dask's own task streams, imported: the list `Client.get_task_stream()` returns for the
//! lesson's pipeline, read into typed tasks (stage from the key's name, chunk from its
//! indices, a lane per worker thread) and measured with the engine's statistics, so a run
//! of the real Dask can be set beside chunkscope's; and the way there: the lesson's code
//! exported as a script, the Python that runs it, and a runner that runs it for one
//! configuration and imports what it recorded. No thread of its own; a run waits for its
//! child process on the caller's thread.

pub mod export;
pub mod key;
pub mod python;
pub mod report;
pub mod runner;
pub mod stream;
pub mod summary;

pub use key::ChunkIndex;
pub use stream::{Action, DaskError, DaskStream, DaskTask, Header, Lane, Span, TaskStage};
pub use summary::{DaskSummary, GapFigures, LaneFigures, StageFigures};

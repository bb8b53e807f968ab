//! Dask's own task streams, imported: the list `Client.get_task_stream()` returns for the
//! lesson's pipeline, read into typed tasks (stage from the key's name, chunk from its
//! indices, a lane per worker thread) and measured with the engine's statistics, so a run
//! of the real Dask can be set beside chunkscope's. Only reads files; no thread of its own.

pub mod export;
pub mod key;
pub mod report;
pub mod stream;
pub mod summary;

pub use key::ChunkIndex;
pub use stream::{Action, DaskError, DaskStream, DaskTask, Header, Lane, Span, TaskStage};
pub use summary::{DaskSummary, GapFigures, LaneFigures, StageFigures};

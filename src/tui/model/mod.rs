//! The view models: plain data the screens show, with their constructors and what is
//! derived from them. Keys are handled in [`super::app`], which changes these; views only
//! read them. No I/O. Runs on the UI thread.

pub mod assets;
pub mod busy;
pub mod dask;
pub mod graph;
pub mod lesson;
pub mod live;
pub mod results;
pub mod run;
pub mod screen;
pub mod search;
pub mod setup;
pub mod sweep;

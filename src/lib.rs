//! chunkscope's engine: everything that reads catalogs, plans chunks, runs the lesson's
//! load / mask / write pipeline and measures it. Nothing here knows about a terminal; the
//! TUI and the headless commands are thin consumers of these modules and their reports.

pub mod catalog;
pub mod chunks;
pub mod convert;
pub mod dask;
pub mod demo;
pub mod error;
pub mod experiment;
pub mod glossary;
pub mod graph;
pub mod lesson;
pub mod network;
pub mod output;
pub mod pipeline;
pub mod printable;
pub mod profile;
pub mod raster;
pub mod task;

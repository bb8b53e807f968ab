//! `chunkscope demo`: generate the offline demo scene, with a progress bar.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use chunkscope::convert;
use chunkscope::demo::{self, DemoProgress, DemoSpec};
use chunkscope::profile::units;

use super::progress::bar;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder to write into; default: the cache folder the app uses when given no catalog.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Side of the 10 m rasters (SCL is half); smaller sizes get proportionally smaller
    /// blocks, e.g. 2048 → 256.
    #[arg(long, value_name = "N", default_value_t = DemoSpec::FULL_SIZE)]
    size: usize,
    /// Number of items (scenes on different dates) in the catalog.
    #[arg(long, value_name = "K", default_value_t = 3)]
    items: usize,
}

pub fn demo(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let spec = DemoSpec::new(args.size, args.items)?;
    let out = args.out.unwrap_or_else(demo::default_dir);
    let started = Instant::now();
    // ensure: atomic (temporary folder renamed into place) and a no-op when complete.
    let catalog = with_bar(|progress| demo::ensure(spec, &out, progress))
        .with_context(|| format!("cannot generate the demo scene in \"{}\"", out.display()))?;
    eprintln!(
        "demo scene ({0}x{0}, {1} items) written in {2}",
        spec.size,
        spec.items,
        units::duration_ns(convert::duration_ns(started.elapsed()))
    );
    println!("{}", catalog.display());
    Ok(ExitCode::SUCCESS)
}

/// The default demo catalog, generated on first use with a bar.
pub fn default_catalog_with_progress() -> anyhow::Result<PathBuf> {
    with_bar(|progress| demo::default_catalog(progress))
        .context("cannot prepare the demo scene (set CHUNKSCOPE_DEMO_DIR to a writable folder, or pass --catalog)")
}

fn with_bar<T>(work: impl FnOnce(&(dyn Fn(DemoProgress) + Sync)) -> T) -> T {
    let bar = bar(0, "{prefix:>24} [{bar:30}] {percent:>3}% {msg} ({elapsed})");
    bar.set_prefix("demo scene");
    let progress = |p: DemoProgress| {
        if bar.length() != Some(p.total) {
            bar.set_length(p.total);
        }
        bar.set_position(p.done);
        bar.set_message(p.step);
    };
    let result = work(&progress);
    bar.finish_and_clear();
    result
}

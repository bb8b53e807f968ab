//! chunkscope's binary: parse the command line, hand it to the front end, map errors to
//! exit codes (0 ok, 1 error, 2 usage, 128 + signal when a stop signal cancelled the work:
//! 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP).

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod signals;
mod tui;

fn main() -> ExitCode {
    // Before any other GDAL call: GDAL would otherwise register all of its drivers.
    chunkscope::raster::register_few_drivers();
    // A write past the file-size limit (`ulimit -f`) should fail with EFBIG, which the
    // writers report and clean up after, not kill the process silently (exit 153).
    // SAFETY: setting a signal's disposition to SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let args = cli::Cli::parse();
    chunkscope::raster::route_gdal_messages(|line| {
        eprintln!("{}", chunkscope::printable::printable(line))
    });
    match cli::dispatch(args) {
        Ok(code) => code,
        Err(err) => {
            let message = chunkscope::error::chain(err.as_ref());
            eprintln!("error: {}", chunkscope::printable::printable(&message));
            // A value beyond chunkscope's bounds is a usage error, like clap's own.
            let usage = err.downcast_ref::<cli::UsageError>().is_some();
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}

//! `chunkscope serve` and the `--network` / `--keep-cache` options: reading a catalog
//! through the simulated network, in-process for a command or as a server of its own.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};

use chunkscope::catalog::Catalog;
use chunkscope::network::remote::{self, CachePolicy};
use chunkscope::network::{
    Fault, NetworkSim, NetworkSpec, Rate, SimSettings, parse_latency, parse_rate,
};
use chunkscope::profile::units;

/// Options of every command that reads a scene.
#[derive(Debug, Clone, Default, Args)]
pub struct NetworkArgs {
    /// Read the scene through a simulated network started for this command:
    /// LATENCY[,BANDWIDTH], e.g. 50ms,25MiB/s (the bandwidth is per connection, as object
    /// stores cap it). Shows a download-bound load offline.
    #[arg(long, value_name = "LATENCY,BANDWIDTH", value_parser = parse_network)]
    pub network: Option<NetworkSpec>,
    /// Keep GDAL's /vsicurl/ cache from one run to the next (remote or simulated data).
    /// By default each run downloads what it reads; keeping the cache shows what it hides.
    #[arg(long)]
    pub keep_cache: bool,
    /// Read s3:// assets without credentials (AWS_NO_SIGN_REQUEST=YES), for public buckets.
    #[arg(long)]
    pub s3_unsigned: bool,
    /// Give up on a request to a remote server after this long without a byte, e.g. 5s
    /// (the default) or 30s on a poor link. GDAL tries 4 times, so a server that never
    /// answers is reported after about 6 times this.
    #[arg(long, value_name = "DURATION", value_parser = parse_stall)]
    pub stall_timeout: Option<Duration>,
}

fn parse_stall(s: &str) -> Result<Duration, String> {
    let d = parse_latency(s).map_err(|e| e.to_string())?;
    if d < Duration::from_secs(1) {
        return Err(format!(
            "\"{s}\" is too short to wait for a server: use at least 1s"
        ));
    }
    Ok(d)
}

fn parse_network(s: &str) -> Result<NetworkSpec, String> {
    s.parse()
        .map_err(|e: chunkscope::network::ParseError| e.to_string())
}

fn parse_latency_arg(s: &str) -> Result<Duration, String> {
    parse_latency(s).map_err(|e| e.to_string())
}

fn parse_rate_arg(s: &str) -> Result<Rate, String> {
    parse_rate(s).map_err(|e| e.to_string())
}

impl NetworkArgs {
    /// Applies `--keep-cache`, and with `--network` starts the simulated server on the
    /// catalog's folder and returns the catalog as served (hrefs pointing at the server)
    /// with the server, whose probe scenes of that catalog are read through. The caller
    /// owns the server: it serves until dropped, so the command holds it for as long as it
    /// reads through it. Returns `None` without `--network`. Says on stderr what it
    /// started.
    pub fn serve_catalog(&self, path: &Path) -> anyhow::Result<Option<(Catalog, NetworkSim)>> {
        remote::set_cache_policy(if self.keep_cache {
            CachePolicy::Keep
        } else {
            CachePolicy::ClearEachRun
        });
        let mut stall = self.stall_timeout.unwrap_or(remote::DEFAULT_STALL);
        if let Some(spec) = self.network {
            // The simulated latency is silence on purpose, not a stalled server.
            stall = stall.max(spec.latency * 2 + Duration::from_secs(1));
        }
        remote::configure_with(&remote::RemoteOptions {
            unsigned_s3: self.s3_unsigned,
            stall,
            ..remote::RemoteOptions::default()
        });
        let Some(spec) = self.network else {
            return Ok(None);
        };
        if chunkscope::catalog::is_http_url(&path.to_string_lossy()) {
            anyhow::bail!(
                "--network serves a local catalog's folder, but \"{}\" is already remote: \
                 leave out --network, or name a local search.json",
                path.display()
            );
        }
        let root = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let sim = NetworkSim::start(root, spec.settings(), 0)
            .context("cannot start the simulated network")?;
        let catalog = sim
            .catalog(path)
            .with_context(|| format!("cannot serve the catalog \"{}\"", path.display()))?;
        eprintln!(
            "reading through a {} at {}",
            sim.settings().description(),
            sim.base_url()
        );
        Ok(Some((catalog, sim)))
    }

    /// The TUI's label for the network, e.g. `simulated network: 50 ms latency, 25 MiB/s
    /// per connection`.
    pub fn label(&self) -> Option<String> {
        self.network.map(|spec| spec.settings().description())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FaultArg {
    /// Ignore Range headers and send whole files (200), as some plain web servers do.
    IgnoreRange,
    /// Answer every file with 403 Forbidden.
    Forbidden,
    /// Accept connections but never answer.
    Stall,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Folder to serve, holding a search.json; default: the demo scene's folder.
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Added before each response starts, e.g. 40ms.
    #[arg(long, value_name = "LATENCY", default_value = "0ms", value_parser = parse_latency_arg)]
    latency: Duration,
    /// Cap on each connection's bandwidth, e.g. 25MiB/s; default: no cap.
    #[arg(long, value_name = "RATE", value_parser = parse_rate_arg)]
    bandwidth: Option<Rate>,
    /// Cap on all connections together, e.g. 100MiB/s; default: no cap.
    #[arg(long, value_name = "RATE", value_parser = parse_rate_arg)]
    total_bandwidth: Option<Rate>,
    /// Port on 127.0.0.1 (0: any free port).
    #[arg(long, value_name = "P", default_value_t = 8080)]
    port: u16,
    /// Misbehave on purpose, to see what chunkscope says when a server fails.
    #[arg(long, value_enum)]
    fault: Option<FaultArg>,
}

/// Serves the folder until Ctrl-C, then prints what was served.
pub fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let dir = match args.dir {
        Some(d) => d,
        None => {
            let catalog = super::demo::default_catalog_with_progress()?;
            catalog
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| PathBuf::from("."))
        }
    };
    let settings = SimSettings {
        latency: args.latency,
        bandwidth: args.bandwidth,
        total_bandwidth: args.total_bandwidth,
        fault: match args.fault {
            None => Fault::None,
            Some(FaultArg::IgnoreRange) => Fault::IgnoreRange,
            Some(FaultArg::Forbidden) => Fault::Forbidden,
            Some(FaultArg::Stall) => Fault::Stall,
        },
    };
    let sim = NetworkSim::start(&dir, settings, args.port)
        .with_context(|| format!("cannot serve \"{}\"", dir.display()))?;
    let (tx, rx) = crossbeam_channel::bounded::<()>(1);
    // Any stop signal ends serving normally, with the summary below (and status 0).
    crate::signals::on_stop(move |_| {
        let _ = tx.try_send(());
    });
    println!("serving \"{}\" at {}/", dir.display(), sim.base_url());
    let catalog = dir.join("search.json");
    if catalog.is_file() {
        println!("catalog: {}/search.json", sim.base_url());
        println!(
            "STAC API: {0}/ (pystac_client.Client.open(\"{0}\"), or chunkscope search --url {0})",
            sim.base_url()
        );
    } else {
        eprintln!(
            "warning: \"{}\" has no search.json, so there is no catalog to read from this \
             server (--catalog {}/search.json will fail); serve the folder that holds it, \
             e.g. one made by `chunkscope demo --out DIR`",
            dir.display(),
            sim.base_url()
        );
    }
    println!("{}", settings.description());
    println!("Ctrl-C to stop");
    let _ = rx.recv();
    let probe = sim.probe();
    let total = probe.total();
    drop(sim);
    let statuses: Vec<String> = probe
        .statuses()
        .iter()
        .map(|(s, n)| format!("{n} x {s}"))
        .collect();
    eprintln!(
        "served {} requests ({} byte ranges), {}; responses: {}",
        total.requests,
        total.ranges,
        units::bytes(total.bytes),
        if statuses.is_empty() {
            "none".to_string()
        } else {
            statuses.join(", ")
        }
    );
    Ok(ExitCode::SUCCESS)
}

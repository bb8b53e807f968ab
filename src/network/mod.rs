//! Remote data and a simulated network.
//!
//! - [`remote`]: how GDAL reads `https://` and `s3://` assets (`/vsicurl/`, `/vsis3/`): the
//!   configuration options chunkscope sets, the cache policy between runs, GDAL's own
//!   network statistics, and messages that say which asset, which URL and what went wrong.
//! - [`server`]: a loopback HTTP server ([`NetworkSim`]) that serves a catalog folder with
//!   injected per-request latency and a per-connection bandwidth cap, and counts requests
//!   and bytes per worker. It runs on its own thread with its own tokio runtime, so the
//!   synchronous engine can start it in-process for a run and stop it by dropping it.
//! - `stac_api`: the same server's STAC API over the served catalog (landing page,
//!   collections, item search with paging), for pystac-client and `chunkscope search`.
//! - [`NetworkSpec`] and the parsers for latencies and rates, shared by every front end
//!   (`--network 50ms,25MiB/s`, `serve --latency 40ms --bandwidth 25MiB/s`).
//!
//! Nothing here knows about a terminal.

mod ranges;
pub mod remote;
mod rewrite;
pub mod server;
mod stac_api;

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use crate::catalog::{Catalog, CatalogError};

pub use rewrite::{RewriteError, rewrite_catalog};

/// Loads a catalog from a local file or, for an `http://` or `https://` URL (what
/// `chunkscope serve` prints, and where real catalogs live), over the network through
/// GDAL. A URL fails with the same error as a file that cannot be read, saying why.
pub fn load_catalog(location: &Path) -> Result<Catalog, CatalogError> {
    let text = location.to_string_lossy();
    if !crate::catalog::is_http_url(&text) {
        return Catalog::load(location);
    }
    let body = remote::read_text(&text).map_err(|reason| CatalogError::Read {
        path: location.to_owned(),
        io: std::io::Error::other(reason),
    })?;
    Catalog::from_json_str(&body, location)
}
pub use server::{Fault, NetworkSim, Probe, ServerError, SimSettings, Timeouts, TrafficCounts};

/// A transfer rate, in bytes per second (never zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Rate {
    bytes_per_s: u64,
}

impl Rate {
    /// `None` for zero: a rate of nothing would never finish a transfer.
    pub fn from_bytes_per_s(bytes_per_s: u64) -> Option<Rate> {
        (bytes_per_s > 0).then_some(Rate { bytes_per_s })
    }

    pub fn bytes_per_s(self) -> u64 {
        self.bytes_per_s
    }

    /// How long `bytes` take at this rate.
    pub fn time_for(self, bytes: u64) -> Duration {
        Duration::from_secs_f64(bytes as f64 / self.bytes_per_s as f64)
    }
}

/// `25 MiB/s`, `800 KiB/s`, `1.5 GiB/s` (binary units, as the flag is usually written).
impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.bytes_per_s as f64;
        let (value, unit) = if b >= 1024.0 * 1024.0 * 1024.0 {
            (b / (1024.0 * 1024.0 * 1024.0), "GiB/s")
        } else if b >= 1024.0 * 1024.0 {
            (b / (1024.0 * 1024.0), "MiB/s")
        } else if b >= 1024.0 {
            (b / 1024.0, "KiB/s")
        } else {
            (b, "B/s")
        };
        if value.fract().abs() < 1e-9 {
            write!(f, "{value:.0} {unit}")
        } else {
            write!(f, "{value:.2} {unit}")
        }
    }
}

/// A value the user wrote that is not a latency, rate or network spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{value}\" is not {what}: {hint}")]
pub struct ParseError {
    value: String,
    what: &'static str,
    hint: &'static str,
}

fn parse_error(value: &str, what: &'static str, hint: &'static str) -> ParseError {
    ParseError {
        value: value.to_string(),
        what,
        hint,
    }
}

/// Splits `40ms` into (40.0, "ms"); the unit may follow a space.
fn number_and_unit(s: &str) -> Option<(f64, &str)> {
    let s = s.trim();
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let number: f64 = s[..end].parse().ok()?;
    number
        .is_finite()
        .then_some((number, s[end..].trim_start()))
}

/// A latency: `40ms`, `0.5s`, `250us` (or `250µs`), `0` for none. A unit is required for
/// anything but zero, so that `40` is not silently read as seconds or milliseconds.
pub fn parse_latency(s: &str) -> Result<Duration, ParseError> {
    const HINT: &str = "use e.g. 40ms, 0.2s or 0";
    let bad = || parse_error(s, "a latency", HINT);
    let (number, unit) = number_and_unit(s).ok_or_else(bad)?;
    let seconds = match unit.to_ascii_lowercase().as_str() {
        "" if number == 0.0 => 0.0,
        "ns" => number / 1e9,
        "us" | "µs" => number / 1e6,
        "ms" => number / 1e3,
        "s" | "sec" => number,
        _ => return Err(bad()),
    };
    if seconds > 3600.0 {
        return Err(parse_error(s, "a usable latency", "keep it under an hour"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// The slowest simulated bandwidth accepted, bytes per second.
pub const MIN_RATE_BYTES_PER_S: u32 = 1000;

/// A rate: `25MiB/s`, `100MB/s`, `512KiB/s`, `1GiB/s`, `2000000B/s` (the `/s` may be left
/// out). `MB` is 10^6 bytes and `MiB` 2^20, as usual; bits are not accepted, to avoid an
/// eightfold mistake.
pub fn parse_rate(s: &str) -> Result<Rate, ParseError> {
    const HINT: &str = "use e.g. 25MiB/s, 100MB/s or 512KiB/s (bytes per second)";
    let bad = || parse_error(s, "a bandwidth", HINT);
    let (number, unit) = number_and_unit(s).ok_or_else(bad)?;
    let unit = unit.strip_suffix("/s").unwrap_or(unit).trim();
    let factor: f64 = match unit {
        "B" => 1.0,
        "kB" | "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" | "kiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let bytes = (number * factor).round();
    // Below this no read finishes: GDAL asks for 16 KB at a time and gives a request 60 s
    // (GDAL_HTTP_TIMEOUT), so 1 B/s failed every read, blamed on "the network connection".
    if !(f64::from(MIN_RATE_BYTES_PER_S)..=1e15).contains(&bytes) {
        return Err(parse_error(
            s,
            "a usable bandwidth",
            "give at least 1KB/s: below that, one 16 KB read takes longer than GDAL's 60 s \
             request timeout (leave the bandwidth out for no cap)",
        ));
    }
    Rate::from_bytes_per_s(crate::convert::round_u64(bytes)).ok_or_else(bad)
}

/// `--network LATENCY[,BANDWIDTH]`: the simulated network a run reads through. The
/// bandwidth is a cap per connection (as object stores have); without it, only latency is
/// added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkSpec {
    pub latency: Duration,
    pub bandwidth: Option<Rate>,
}

impl FromStr for NetworkSpec {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (latency, bandwidth) = match s.split_once(',') {
            Some((l, b)) => (l, Some(b)),
            None => (s, None),
        };
        if latency.trim().is_empty() {
            return Err(parse_error(
                s,
                "a network setting",
                "use LATENCY,BANDWIDTH, e.g. 50ms,25MiB/s",
            ));
        }
        let bandwidth = match bandwidth.map(str::trim) {
            None | Some("unlimited") | Some("none") => None,
            Some(b) => Some(parse_rate(b)?),
        };
        Ok(NetworkSpec {
            latency: parse_latency(latency)?,
            bandwidth,
        })
    }
}

/// `50 ms latency, 25 MiB/s per connection` — how front ends label a simulated network.
impl fmt::Display for NetworkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} latency", format_latency(self.latency))?;
        match self.bandwidth {
            Some(b) => write!(f, ", {b} per connection"),
            None => write!(f, ", no bandwidth cap"),
        }
    }
}

/// `50 ms`, `250 µs`, `1.5 s`, `0 ms`.
pub fn format_latency(d: Duration) -> String {
    if d.as_nanos().is_multiple_of(1_000_000) {
        format!("{} ms", d.as_millis())
    } else {
        crate::profile::units::duration_ns(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}

impl NetworkSpec {
    /// The server settings this spec asks for (no total cap, no fault).
    pub fn settings(&self) -> SimSettings {
        SimSettings {
            latency: self.latency,
            bandwidth: self.bandwidth,
            ..SimSettings::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies() {
        assert_eq!(parse_latency("40ms").unwrap(), Duration::from_millis(40));
        assert_eq!(parse_latency("0.5s").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_latency("250 us").unwrap(), Duration::from_micros(250));
        assert_eq!(parse_latency("0").unwrap(), Duration::ZERO);
        let e = parse_latency("abc").unwrap_err().to_string();
        assert_eq!(e, "\"abc\" is not a latency: use e.g. 40ms, 0.2s or 0");
        assert!(parse_latency("40").is_err(), "a unit is required");
        assert!(parse_latency("-3ms").is_err());
        assert!(parse_latency("2h").is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("25MiB/s").unwrap().bytes_per_s(), 25 << 20);
        assert_eq!(parse_rate("100MB/s").unwrap().bytes_per_s(), 100_000_000);
        assert_eq!(parse_rate("512 KiB").unwrap().bytes_per_s(), 512 << 10);
        assert_eq!(parse_rate("1.5GiB/s").unwrap().to_string(), "1.50 GiB/s");
        assert_eq!(parse_rate("25MiB/s").unwrap().to_string(), "25 MiB/s");
        assert!(parse_rate("25Mbit/s").is_err());
        assert!(parse_rate("0MiB/s").is_err());
        assert!(
            parse_rate("fast")
                .unwrap_err()
                .to_string()
                .starts_with("\"fast\" is not a bandwidth")
        );
    }

    #[test]
    fn network_specs() {
        let s: NetworkSpec = "50ms,25MiB/s".parse().unwrap();
        assert_eq!(s.latency, Duration::from_millis(50));
        assert_eq!(s.bandwidth.map(Rate::bytes_per_s), Some(25 << 20));
        assert_eq!(s.to_string(), "50 ms latency, 25 MiB/s per connection");
        let s: NetworkSpec = "10ms".parse().unwrap();
        assert_eq!(s.bandwidth, None);
        assert!("".parse::<NetworkSpec>().is_err());
        assert!("50ms,abc".parse::<NetworkSpec>().is_err());
        assert!("abc,25MiB/s".parse::<NetworkSpec>().is_err());
    }
}

//! `chunkscope search`: the lesson's first step, a STAC API item search saved as the
//! `search.json` the other commands read. Progress on stderr, the items found on stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{ArgGroup, Args, ValueEnum};

use chunkscope::catalog::search::{
    self, Area, DEFAULT_API_URL, DEFAULT_COLLECTION, DEFAULT_MAX_PAGES, Method, QueryTerm,
    SearchError, SearchRequest,
};
use chunkscope::output::guard::WriteGuard;
use chunkscope::profile::units;
use chunkscope::task::CancelFlag;

use super::UsageError;

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("area").args(["bbox", "intersects", "point"])))]
pub struct SearchArgs {
    /// The STAC API's landing page; default: earth-search v1, the lesson's. `chunkscope
    /// serve` answers as one at http://127.0.0.1:8080.
    #[arg(long, value_name = "URL", default_value = DEFAULT_API_URL, value_parser = parse_url)]
    url: String,
    /// Collections to search, comma-separated.
    #[arg(long, value_name = "ID,...", value_delimiter = ',', default_value = DEFAULT_COLLECTION)]
    collections: Vec<String>,
    /// Scenes that intersect this box, W,S,E,N in degrees.
    #[arg(long, value_name = "W,S,E,N", value_parser = parse_bbox_arg, allow_hyphen_values = true)]
    bbox: Option<Area>,
    /// Scenes that intersect this GeoJSON geometry: inline JSON or a file.
    #[arg(long, value_name = "GEOJSON", value_parser = parse_intersects_arg)]
    intersects: Option<Area>,
    /// Scenes that contain this point, LON,LAT in degrees (the lesson's `intersects=point`).
    #[arg(long, value_name = "LON,LAT", value_parser = parse_point_arg, allow_hyphen_values = true)]
    point: Option<Area>,
    /// Dates: 2023-07-01/2023-08-31, 2023-07, 2023-07-01T00:00:00Z/.. (open end).
    #[arg(long, value_name = "RANGE", value_parser = parse_datetime_arg)]
    datetime: Option<String>,
    /// A property condition, e.g. 'eo:cloud_cover<5' (also <=, >, >=, =, !=); repeatable,
    /// all must hold.
    #[arg(long, value_name = "EXPR", value_parser = parse_query_arg)]
    query: Vec<QueryTerm>,
    /// Sort by these fields, comma-separated, `-` for descending, e.g.
    /// -properties.datetime or properties.eo:cloud_cover.
    #[arg(
        long,
        value_name = "FIELD,...",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    sortby: Vec<String>,
    /// Items per page asked of the server; default: the server's (10 on earth-search).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=10_000))]
    limit: Option<u64>,
    /// Keep at most this many items (pystac-client's max_items); default: all.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    max_items: Option<u64>,
    /// Follow at most this many pages; a server with more is an error, not a hang.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_PAGES as u64,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    max_pages: u64,
    /// Ask with this method only; default: POST, and GET if the server refuses POST.
    #[arg(long, value_enum)]
    method: Option<MethodArg>,
    /// Where to save the ItemCollection.
    #[arg(long, value_name = "FILE", default_value = "search.json")]
    out: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MethodArg {
    Get,
    Post,
}

fn parse_url(s: &str) -> Result<String, String> {
    let s = s.trim();
    if !chunkscope::catalog::is_http_url(s) {
        return Err(format!(
            "\"{s}\" is not an http:// or https:// URL: give a STAC API's landing page, \
             e.g. {DEFAULT_API_URL}"
        ));
    }
    Ok(s.to_owned())
}

fn parse_bbox_arg(s: &str) -> Result<Area, String> {
    search::parse_bbox(s).map_err(|e| e.to_string())
}

fn parse_point_arg(s: &str) -> Result<Area, String> {
    search::parse_point(s).map_err(|e| e.to_string())
}

fn parse_intersects_arg(s: &str) -> Result<Area, String> {
    search::parse_intersects(s).map_err(|e| e.to_string())
}

fn parse_datetime_arg(s: &str) -> Result<String, String> {
    search::parse_datetime(s).map_err(|e| e.to_string())
}

fn parse_query_arg(s: &str) -> Result<QueryTerm, String> {
    search::parse_query(s).map_err(|e| e.to_string())
}

impl SearchArgs {
    fn request(&self) -> SearchRequest {
        SearchRequest {
            url: self.url.clone(),
            collections: self
                .collections
                .iter()
                .map(|c| c.trim().to_owned())
                .filter(|c| !c.is_empty())
                .collect(),
            area: self
                .bbox
                .clone()
                .or_else(|| self.intersects.clone())
                .or_else(|| self.point.clone()),
            datetime: self.datetime.clone(),
            query: self.query.clone(),
            sortby: self
                .sortby
                .iter()
                .filter(|s| !s.trim().is_empty())
                .filter_map(|s| s.trim().parse().ok())
                .collect(),
            limit: self.limit,
            max_items: self.max_items.and_then(|n| usize::try_from(n).ok()),
            max_pages: usize::try_from(self.max_pages).unwrap_or(usize::MAX),
            method: self.method.map(|m| match m {
                MethodArg::Get => Method::Get,
                MethodArg::Post => Method::Post,
            }),
        }
    }
}

pub fn search(args: SearchArgs) -> anyhow::Result<ExitCode> {
    let request = args.request();
    // Checked before the search, so a refused name costs no request.
    let guard = WriteGuard::for_search_result(&args.out);
    guard.check(&args.out)?;
    eprintln!("searching {} for {}", request.url, request.describe());
    let cancel = CancelFlag::new();
    super::cancel_on_signals(&cancel);
    let outcome = search::search(&request, &cancel, |p| {
        let matched = p
            .matched
            .map_or(String::new(), |m| format!(" of {m} matched"));
        eprintln!("page {}: {} items so far{matched}", p.pages, p.items);
    })
    .map_err(|e| match e {
        SearchError::BadUrl { .. } => anyhow::Error::new(UsageError(e.to_string())),
        other => anyhow::Error::new(other),
    })?;
    if outcome.truncated {
        eprintln!(
            "note: kept the first {} items (--max-items); the server has more",
            outcome.items
        );
    }
    let catalog = outcome.to_catalog(&args.out).with_context(|| {
        format!(
            "the STAC API at \"{}\" answered items chunkscope cannot use",
            request.url
        )
    })?;
    let text = outcome.to_json();
    let written = guard
        .write(&args.out, text.as_bytes())
        .with_context(|| format!("cannot save the search as \"{}\"", args.out.display()))?;
    println!(
        "saved {} item{} ({} page{}, {}, {}) to {}",
        outcome.items,
        if outcome.items == 1 { "" } else { "s" },
        outcome.pages,
        if outcome.pages == 1 { "" } else { "s" },
        outcome.method,
        units::bytes(text.len() as u64),
        written.display()
    );
    println!("  {:<34} {:<10} {:>6}  platform", "id", "date", "cloud");
    for item in &catalog.items {
        let date = item.datetime.as_deref().unwrap_or("-");
        println!(
            "  {:<34} {:<10} {:>6}  {}",
            item.id,
            date.get(..10).unwrap_or(date),
            item.cloud_cover
                .map_or("-".to_owned(), |c| units::share(c / 100.0)),
            item.platform.as_deref().unwrap_or("-")
        );
    }
    eprintln!(
        "next: chunkscope tui {0}, or chunkscope run --catalog {0}",
        written.display()
    );
    Ok(ExitCode::SUCCESS)
}

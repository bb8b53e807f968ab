//! One request's answer: counted, delayed by the latency, then a file (with its ranges
//! planned), a catalog with its hrefs rewritten, a STAC API answer ([`super::api`]) or an
//! error, in a body paced by the connection's bandwidth. Runs on the server thread.

use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_staticfile::Static;

use super::activity::Activity;
use super::api::api_response;
use super::body::{BoxedBody, ShapedBody, Whole, text_response};
use super::files::SyncOpener;
use super::pacer::{Pacer, piece_size};
use super::settings::Fault;
use super::shared::Shared;
use crate::network::ranges::{self, RangePlan};
use crate::network::{RewriteError, remote, rewrite_catalog, stac_api};

/// Most byte ranges served in one request. GDAL asks for at most 250 at once (its
/// `CPL_VSIL_CURL_MAX_RANGES`); thousands of tiny ranges only make a multipart answer many
/// times larger than the bytes asked for, which RFC 9110 (14.2) allows a server to reject.
pub const MAX_RANGES: u64 = 256;

/// Answers one request on a connection paced by `pacer`: counted, held for the latency,
/// answered by the STAC API or from the folder, then sent through a [`ShapedBody`].
pub(super) async fn handle(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    pacer: Option<Arc<Mutex<Pacer>>>,
    activity: Arc<Activity>,
) -> Result<Response<ShapedBody>, Infallible> {
    let hold = activity.hold();
    let worker = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .and_then(remote::worker_from_user_agent);
    let ranges = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map_or(0, |r| r.split(',').count() as u64);
    shared.counters().request(worker, ranges);
    let settings = shared.settings;
    if !settings.latency.is_zero() {
        tokio::time::sleep(settings.latency).await;
    }
    let path = req.uri().path().to_string();
    let api = stac_api::Endpoint::at(&path).filter(|_| settings.fault != Fault::Stall);
    let response: Response<BoxedBody> = match api {
        // The STAC API, over the same latency, pacing and counting as the files.
        Some(endpoint) => api_response(req, &endpoint, &shared).await,
        None => folder_response(req, &path, ranges, &shared).await,
    };
    shared.counters().status(response.status());
    drop(hold);
    Ok(response.map(|inner| ShapedBody::new(inner, pacer, shared, activity, worker)))
}

/// The answer to a request for `path` in the served folder, which asks for `ranges` byte
/// ranges: the file, the catalog, or why not; never, under [`Fault::Stall`].
async fn folder_response(
    req: Request<Incoming>,
    path: &str,
    ranges: u64,
    shared: &Shared,
) -> Response<BoxedBody> {
    let settings = shared.settings;
    let is_catalog = path.ends_with(".json");
    let file = shared.resolve(path);
    let read_only = matches!(*req.method(), http::Method::GET | http::Method::HEAD);
    match (settings.fault, file) {
        (Fault::Stall, _) => std::future::pending().await,
        // A folder of files to read: nothing here takes a body or changes anything.
        _ if !read_only => {
            let mut r = text_response(
                StatusCode::METHOD_NOT_ALLOWED,
                format!(
                    "405 Method Not Allowed: this server only reads files; {} is not GET or \
                     HEAD",
                    req.method()
                ),
            );
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            r
        }
        // Outside the folder, hidden or missing: all look the same from outside.
        (_, None) => not_found(),
        (Fault::Forbidden, Some(_)) if !is_catalog => text_response(
            StatusCode::FORBIDDEN,
            "403 Forbidden: the simulated server refuses every file".into(),
        ),
        (_, Some(file)) if is_catalog => serve_catalog(shared, &file),
        (_, Some(file)) if ranges > MAX_RANGES && settings.fault != Fault::IgnoreRange => {
            let mut r = text_response(
                StatusCode::RANGE_NOT_SATISFIABLE,
                format!(
                    "416: {ranges} byte ranges in one request; this server serves at most \
                     {MAX_RANGES}: ask for fewer, larger ranges"
                ),
            );
            set_unsatisfied_range(&mut r, &file);
            r
        }
        (fault, Some(file)) => serve_file(req, &file, fault, shared).await,
    }
}

/// `file` (resolved inside the folder) by `hyper-staticfile`: with the ranges planned, or
/// whole when the fault ignores `Range`.
async fn serve_file(
    mut req: Request<Incoming>,
    file: &Path,
    fault: Fault,
    shared: &Shared,
) -> Response<BoxedBody> {
    if fault == Fault::IgnoreRange {
        req.headers_mut().remove(header::RANGE);
    } else {
        plan_ranges(&mut req, file);
    }
    let opener = SyncOpener {
        real_root: shared.real_root.clone(),
        piece: piece_size(shared.settings.bandwidth),
    };
    match Static::with_opener(opener).serve(req).await {
        Ok(r) => {
            let mut r = r.map(|b| Box::pin(b) as BoxedBody);
            if fault == Fault::IgnoreRange {
                r.headers_mut().remove(header::ACCEPT_RANGES);
            }
            if r.status() == StatusCode::RANGE_NOT_SATISFIABLE {
                set_unsatisfied_range(&mut r, file);
            }
            r
        }
        Err(e) => text_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Rewrites the request's `Range` to what it is served ([`ranges::plan`]): merged where
/// ranges overlap, none where they add up past the file's size. A 416 is left to the file
/// server, which answers it.
fn plan_ranges(req: &mut Request<Incoming>, file: &Path) {
    let Some(range) = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    let Ok(meta) = std::fs::metadata(file) else {
        return;
    };
    match ranges::plan(range, meta.len()) {
        RangePlan::Whole => {
            req.headers_mut().remove(header::RANGE);
        }
        RangePlan::Parts(parts) => {
            if let Ok(value) = HeaderValue::from_str(&RangePlan::header(&parts)) {
                req.headers_mut().insert(header::RANGE, value);
            }
        }
        RangePlan::Unsatisfiable => {}
    }
}

/// `Content-Range: bytes */SIZE` on a 416 answer, as RFC 9110 (15.5.17) asks, so that a
/// client learns the file's size.
fn set_unsatisfied_range(response: &mut Response<BoxedBody>, file: &Path) {
    let Ok(meta) = std::fs::metadata(file) else {
        return;
    };
    if let Ok(value) = HeaderValue::from_str(&format!("bytes */{}", meta.len())) {
        response.headers_mut().insert(header::CONTENT_RANGE, value);
    }
}

fn not_found() -> Response<BoxedBody> {
    text_response(StatusCode::NOT_FOUND, "404 Not Found".into())
}

/// A catalog (`file`, already resolved inside the folder) with its hrefs pointing here;
/// other JSON files as they are.
fn serve_catalog(shared: &Shared, file: &Path) -> Response<BoxedBody> {
    let Ok(text) = std::fs::read_to_string(file) else {
        return not_found();
    };
    let body = match rewrite_catalog(&text, file, &shared.root, &shared.base_url) {
        Ok((rewritten, _)) => rewritten,
        Err(RewriteError::NotJson { .. }) => text,
        Err(e) => return text_response(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let mut r = Response::new(Box::pin(Whole(Some(Bytes::from(body)))) as BoxedBody);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

//! How GDAL reads remote assets (`/vsicurl/` for `http(s)://`, `/vsis3/` for `s3://`) in
//! chunkscope, and what it says when that fails.
//!
//! [`configure`] sets GDAL's process-wide options once, before the first remote read,
//! unless the user set them already (environment or `--config`):
//!
//! | option | value | why |
//! |---|---|---|
//! | `GDAL_DISABLE_READDIR_ON_OPEN` | `EMPTY_DIR` | no directory listing and no probing for `.aux.xml`/`.ovr`/`.msk` siblings on open: one request less per file, and no 404s in the server log |
//! | `GDAL_HTTP_MAX_RETRY` / `GDAL_HTTP_RETRY_DELAY` | `3` / `0.5` | retry 429 and 5xx answers (and requests that time out), with GDAL's exponential backoff starting at 0.5 s |
//! | `GDAL_HTTP_LOW_SPEED_TIME` / `GDAL_HTTP_LOW_SPEED_LIMIT` | `5` / `1` | a request that receives nothing for 5 s (the stall time) fails: with the retries and one diagnostic request a silent server is reported within about 30 s, however long a healthy transfer takes |
//! | `GDAL_HTTP_CONNECTTIMEOUT` / `GDAL_HTTP_TIMEOUT` | the stall time / `60` | an unreachable host fails as fast as a silent one; a transfer that trickles still ends |
//! | `CPL_VSIL_NETWORK_STATS_ENABLED` | `YES` | GDAL counts requests and bytes, read by [`GdalNetStats`] |
//! | `AWS_NO_SIGN_REQUEST` | `YES`, only with [`RemoteOptions::unsigned_s3`] | public buckets without credentials |
//!
//! Caching: `/vsicurl/` keeps downloaded ranges in a process-wide cache, so a second run
//! in the same process could read from memory and hide the download cost. By default
//! [`before_run`] clears that cache ([`CachePolicy::ClearEachRun`]); [`CachePolicy::Keep`]
//! shows what the cache does. Measured with GDAL 3.6: the cache holds headers and blocks
//! read one at a time (a chunk inside one block), while GTiff fetches a window over several
//! blocks with one multi-range read that bypasses it, so those are downloaded on every run
//! whatever the policy. Within a run the cache is shared by all workers, as it is in a Dask
//! process.
//!
//! Each worker names itself in its HTTP User-Agent ([`worker_user_agent`]), a thread-local
//! option set on the worker before it opens its handles; the simulated server counts
//! traffic per worker from it.

use std::ffi::CStr;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Whether the `/vsicurl/` cache survives from one run to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CachePolicy {
    /// Every run downloads what it reads, like a fresh notebook kernel (the default).
    #[default]
    ClearEachRun,
    /// Later runs reuse ranges earlier runs downloaded.
    Keep,
}

static KEEP_CACHE: AtomicBool = AtomicBool::new(false);

/// Sets the cache policy for the runs that follow (process-wide, as GDAL's cache is).
pub fn set_cache_policy(policy: CachePolicy) {
    KEEP_CACHE.store(policy == CachePolicy::Keep, Ordering::Relaxed);
}

pub fn cache_policy() -> CachePolicy {
    if KEEP_CACHE.load(Ordering::Relaxed) {
        CachePolicy::Keep
    } else {
        CachePolicy::ClearEachRun
    }
}

/// How long a request may receive nothing before it fails, by default: GDAL tries 4 times
/// (with 0.5, 1.2 and 2.7 s between tries) and [`diagnose`] once more, so a server that
/// never answers is reported after about 6 x 5 s = 30 s.
pub const DEFAULT_STALL: Duration = Duration::from_secs(5);

/// Settings a front end may change before the first remote read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RemoteOptions {
    /// Fail a request after this long in all (`GDAL_HTTP_TIMEOUT`), however it goes.
    pub timeout: Duration,
    /// Fail a request that receives nothing for this long (`GDAL_HTTP_LOW_SPEED_TIME`,
    /// under 1 byte/s), and a connection not made in this time (`GDAL_HTTP_CONNECTTIMEOUT`).
    pub stall: Duration,
    /// Retries of 429/5xx answers (`GDAL_HTTP_MAX_RETRY`).
    pub max_retry: u32,
    /// First retry delay; GDAL doubles it on each retry (`GDAL_HTTP_RETRY_DELAY`).
    pub retry_delay: Duration,
    /// Read `s3://` without credentials (`AWS_NO_SIGN_REQUEST=YES`).
    pub unsigned_s3: bool,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            stall: DEFAULT_STALL,
            max_retry: 3,
            retry_delay: Duration::from_millis(500),
            unsigned_s3: false,
        }
    }
}

static CONFIGURED: Once = Once::new();

/// Sets GDAL's remote-reading options (see the module docs) with the defaults, once.
pub fn configure() {
    CONFIGURED.call_once(|| apply(&RemoteOptions::default(), false));
}

/// Sets GDAL's remote-reading options with `options`, replacing earlier ones (but never
/// what the user set in the environment).
pub fn configure_with(options: &RemoteOptions) {
    CONFIGURED.call_once(|| {});
    apply(options, true);
}

fn apply(options: &RemoteOptions, replace: bool) {
    let set = |key: &str, value: &str| {
        // The user's environment wins; so do earlier explicit settings unless replacing.
        if std::env::var_os(key).is_some() {
            return;
        }
        if !replace
            && gdal::config::get_config_option(key, "")
                .map(|v| !v.is_empty())
                .unwrap_or(false)
        {
            return;
        }
        let _ = gdal::config::set_config_option(key, value);
    };
    set("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR");
    set("GDAL_HTTP_MAX_RETRY", &options.max_retry.to_string());
    set(
        "GDAL_HTTP_RETRY_DELAY",
        &format!("{}", options.retry_delay.as_secs_f64()),
    );
    // GDAL takes whole seconds here; round up so a short test timeout is never 0 (none).
    let secs = |d: Duration| d.as_secs_f64().ceil().max(1.0).to_string();
    set("GDAL_HTTP_TIMEOUT", &secs(options.timeout));
    set("GDAL_HTTP_CONNECTTIMEOUT", &secs(options.stall));
    set("GDAL_HTTP_LOW_SPEED_TIME", &secs(options.stall));
    set("GDAL_HTTP_LOW_SPEED_LIMIT", "1");
    set("CPL_VSIL_NETWORK_STATS_ENABLED", "YES");
    if options.unsigned_s3 {
        set("AWS_NO_SIGN_REQUEST", "YES");
    }
}

/// Whether GDAL reads `path` over the network.
pub fn is_remote(gdal_path: &str) -> bool {
    [
        "/vsicurl/",
        "/vsis3/",
        "/vsigs/",
        "/vsiaz/",
        "/vsiadls/",
        "/vsioss/",
        "/vsiswift/",
        "/vsihdfs/",
        "/vsiwebhdfs/",
    ]
    .iter()
    .any(|p| gdal_path.starts_with(p))
}

/// What every run over remote assets does first: configure GDAL, and clear the
/// `/vsicurl/` cache unless [`CachePolicy::Keep`] is set. Returns the policy applied.
pub fn before_run() -> CachePolicy {
    configure();
    let policy = cache_policy();
    if policy == CachePolicy::ClearEachRun {
        // SAFETY: no arguments; GDAL clears its process-wide /vsicurl/ (and /vsis3/...)
        // caches under its own lock. Handles opened later start cold.
        unsafe { gdal_sys::VSICurlClearCache() };
    }
    policy
}

/// Most bytes read from a remote text file such as a catalog; a real search result of a
/// few hundred items is a few MB.
const MAX_TEXT_BYTES: usize = 64 << 20;

/// Reads a whole remote file (a `search.json` at an `http(s)://` URL) as text through
/// GDAL's `/vsicurl/`, so it is fetched with the same options, retries and time limits as
/// the assets. The error says what went wrong, as [`explain`] does for assets.
pub fn read_text(url: &str) -> Result<String, String> {
    use std::ffi::{CString, c_void};
    configure();
    let gdal_path = format!("/vsicurl/{url}");
    let c_path =
        CString::new(gdal_path.as_str()).map_err(|_| "the URL holds a NUL byte".to_string())?;
    // SAFETY: the path and mode are NUL-terminated strings that outlive the calls; the
    // handle is used only between a successful open and the one close, and every read
    // writes at most `chunk.len()` bytes into `chunk`.
    let bytes = unsafe {
        let fp = gdal_sys::VSIFOpenExL(c_path.as_ptr(), c"rb".as_ptr(), 1);
        if fp.is_null() {
            // GDAL's own message, even when empty: then `explain` asks the server why.
            let message = CStr::from_ptr(gdal_sys::CPLGetLastErrorMsg());
            return Err(explain_as(
                message.to_string_lossy().trim(),
                &gdal_path,
                "the server has no such file (HTTP 404): check the URL",
            ));
        }
        let mut bytes = Vec::new();
        let mut chunk = vec![0u8; 1 << 16];
        loop {
            let n = gdal_sys::VSIFReadL(chunk.as_mut_ptr().cast::<c_void>(), 1, chunk.len(), fp);
            bytes.extend_from_slice(&chunk[..n]);
            if n < chunk.len() || bytes.len() > MAX_TEXT_BYTES {
                break;
            }
        }
        gdal_sys::VSIFCloseL(fp);
        bytes
    };
    if bytes.len() > MAX_TEXT_BYTES {
        return Err(format!(
            "it is larger than {} MiB, too large for a catalog",
            MAX_TEXT_BYTES >> 20
        ));
    }
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text, so not a JSON catalog".to_string())
}

/// The User-Agent a worker sends: `chunkscope/0.1.0 (worker 3)`.
pub fn worker_user_agent(worker: usize) -> String {
    format!("chunkscope/{} (worker {worker})", env!("CARGO_PKG_VERSION"))
}

/// The worker a User-Agent names, if it is one of [`worker_user_agent`]'s.
pub fn worker_from_user_agent(ua: &str) -> Option<u32> {
    let rest = ua.strip_prefix("chunkscope/")?;
    let (_, worker) = rest.split_once("(worker ")?;
    worker.strip_suffix(')')?.parse().ok()
}

/// Names the calling thread as `worker` in the HTTP requests of GDAL handles it opens
/// from now on (a thread-local GDAL option).
pub fn tag_thread_as_worker(worker: usize) {
    let _ = gdal::config::set_thread_local_config_option(
        "GDAL_HTTP_USERAGENT",
        &worker_user_agent(worker),
    );
}

/// GDAL's own count of network requests and downloaded bytes (all remote file systems,
/// process-wide), from `VSINetworkStatsGetAsSerializedJSON`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GdalNetStats {
    pub requests: u64,
    pub bytes: u64,
}

impl GdalNetStats {
    /// The counts so far; `None` if GDAL gives none (statistics disabled, or no JSON).
    pub fn now() -> Option<GdalNetStats> {
        // SAFETY: the function returns a newly allocated string (or NULL) that we own and
        // free with VSIFree after copying it.
        let text = unsafe {
            let ptr = gdal_sys::VSINetworkStatsGetAsSerializedJSON(std::ptr::null_mut());
            if ptr.is_null() {
                return None;
            }
            let text = CStr::from_ptr(ptr).to_string_lossy().into_owned();
            gdal_sys::VSIFree(ptr.cast());
            text
        };
        Self::from_json(&text)
    }

    /// Sums the top-level `methods` of GDAL's statistics: `{"methods": {"GET": {"count":
    /// 3, "downloaded_bytes": 1234}, "HEAD": {"count": 1}}, "handlers": {...}}`.
    pub fn from_json(text: &str) -> Option<GdalNetStats> {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let methods = value.get("methods")?.as_object()?;
        let mut stats = GdalNetStats::default();
        for m in methods.values() {
            stats.requests += m.get("count").and_then(|c| c.as_u64()).unwrap_or(0);
            stats.bytes += m
                .get("downloaded_bytes")
                .and_then(|c| c.as_u64())
                .unwrap_or(0);
        }
        Some(stats)
    }

    pub fn since(&self, earlier: &GdalNetStats) -> GdalNetStats {
        GdalNetStats {
            requests: self.requests.saturating_sub(earlier.requests),
            bytes: self.bytes.saturating_sub(earlier.bytes),
        }
    }
}

/// Explains a GDAL failure on a remote asset in words a user can act on, keeping GDAL's own
/// text. `gdal_path` is the asset's GDAL path (`/vsicurl/...`, `/vsis3/...`).
///
/// GDAL often fails to open a `/vsicurl/` file without saying why (an empty message, or
/// "HTTP response code ...: 0"); then one diagnostic request ([`diagnose`]) finds the HTTP
/// status or the connection error.
pub fn explain(gdal_message: &str, gdal_path: &str) -> String {
    explain_as(
        gdal_message,
        gdal_path,
        "the server has no such file (HTTP 404): check the href in the catalog",
    )
}

/// [`explain`], saying `not_found` for a 404.
fn explain_as(gdal_message: &str, gdal_path: &str, not_found: &str) -> String {
    let url = url_of(gdal_path);
    let vague = gdal_message.is_empty()
        || gdal_message.contains("NULL pointer")
        || gdal_message.trim_end().ends_with(": 0");
    let detail = match vague.then(|| diagnose(gdal_path)).flatten() {
        Some(found) if gdal_message.is_empty() => found,
        Some(found) => format!("{gdal_message}; {found}"),
        None => gdal_message.to_string(),
    };
    // URLs hold ports and paths whose digits must not read as status codes.
    let m = detail.replace(&url, "URL").to_ascii_lowercase();
    let what = if has_code(&m, 404) {
        not_found
    } else if has_code(&m, 403) || has_code(&m, 401) {
        if gdal_path.starts_with("/vsis3/") {
            "access denied (HTTP 403): the bucket needs credentials, or is public and needs \
             unsigned requests (AWS_NO_SIGN_REQUEST=YES)"
        } else {
            "access denied (HTTP 403): the server refuses this file; signed or expired URLs \
             need renewing"
        }
    } else if m.contains("range downloading not supported")
        || (m.contains("range") && m.contains("not supported"))
    {
        "the server does not support HTTP Range requests, which reading a COG needs; serve \
         the files from a server that does (chunkscope serve does)"
    } else if m.contains("timed out") || m.contains("timeout") || m.contains("too slow") {
        "the server did not answer in time, even after retries (no data for \
         GDAL_HTTP_LOW_SPEED_TIME seconds, or all of GDAL_HTTP_TIMEOUT); check the server, or \
         allow longer with --stall-timeout"
    } else if m.contains("couldn't connect")
        || m.contains("could not connect")
        || m.contains("failed to connect")
        || m.contains("connection refused")
        || m.contains("resolve host")
    {
        "the host is unreachable: check the network connection and the URL, or use the \
         offline demo scene (run without --catalog), or --network to simulate one"
    } else if [429, 500, 502, 503, 504].iter().any(|&c| has_code(&m, c)) {
        "the server is overloaded or failing (HTTP 429/5xx), even after retries \
         (GDAL_HTTP_MAX_RETRY); try again later"
    } else {
        "cannot read it over the network: check the network connection and the URL"
    };
    if detail.is_empty() {
        format!("{what} (at {url})")
    } else {
        format!("{what} (at {url}) [{detail}]")
    }
}

/// Whether `text` holds `code` as a whole number (not inside a longer one).
fn has_code(text: &str, code: u16) -> bool {
    let code = code.to_string();
    text.match_indices(&code).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + code.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// The first fields of GDAL's `CPLHTTPResult` (`cpl_http.h`, unchanged from GDAL 2 to
/// 3.x), all [`diagnose`] reads; only ever read through a pointer GDAL allocated.
#[repr(C)]
struct HttpResultPrefix {
    /// curl's error code, 0 on success.
    n_status: std::ffi::c_int,
    content_type: *mut std::ffi::c_char,
    /// curl's error message, or GDAL's "HTTP error code : 404".
    err_buf: *mut std::ffi::c_char,
}

unsafe extern "C" {
    // Not in gdal-sys' bindings; part of GDAL's public C API since 1.x.
    fn CPLHTTPFetch(
        url: *const std::ffi::c_char,
        options: *const *const std::ffi::c_char,
    ) -> *mut HttpResultPrefix;
    fn CPLHTTPDestroyResult(result: *mut HttpResultPrefix);
}

/// One small request (the first byte) to a `/vsicurl/` URL through GDAL's HTTP client
/// (same proxy, TLS and timeout settings): the HTTP error or connection error it meets,
/// or `None` if it succeeds or the path is not a plain URL.
pub fn diagnose(gdal_path: &str) -> Option<String> {
    let url = gdal_path.strip_prefix("/vsicurl/")?;
    // As long as one try of a real request may wait, and never long: it adds to the time
    // a silent server takes to be reported.
    let setting = |key: &str| {
        gdal::config::get_thread_local_config_option(key, "")
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| gdal::config::get_config_option(key, "").ok())
            .and_then(|v| v.parse::<f64>().ok())
    };
    let timeout = setting("GDAL_HTTP_LOW_SPEED_TIME")
        .into_iter()
        .chain(setting("GDAL_HTTP_TIMEOUT"))
        .fold(10.0, f64::min)
        .clamp(1.0, 10.0);
    let c_url = std::ffi::CString::new(url).ok()?;
    configure();
    let options: Vec<std::ffi::CString> = [
        "HEADERS=Range: bytes=0-0".to_string(),
        "MAX_RETRY=0".to_string(),
        format!("TIMEOUT={timeout}"),
    ]
    .into_iter()
    .filter_map(|o| std::ffi::CString::new(o).ok())
    .collect();
    let mut option_ptrs: Vec<*const std::ffi::c_char> =
        options.iter().map(|o| o.as_ptr()).collect();
    option_ptrs.push(std::ptr::null());
    // SAFETY: `c_url` and the NULL-terminated option list outlive the call; GDAL returns
    // a result it allocated (or NULL), which we only read and then destroy with GDAL's own
    // function.
    unsafe {
        let result = CPLHTTPFetch(c_url.as_ptr(), option_ptrs.as_ptr());
        if result.is_null() {
            return None;
        }
        let err = (*result).err_buf;
        let found = (!err.is_null())
            .then(|| CStr::from_ptr(err).to_string_lossy().trim().to_string())
            .filter(|e| !e.is_empty());
        CPLHTTPDestroyResult(result);
        found
    }
}

/// The URL behind a GDAL path, for messages: `/vsicurl/http://h/x.tif` → `http://h/x.tif`,
/// `/vsis3/b/k` → `s3://b/k`.
pub fn url_of(gdal_path: &str) -> String {
    if let Some(url) = gdal_path.strip_prefix("/vsicurl/") {
        url.to_string()
    } else if let Some(key) = gdal_path.strip_prefix("/vsis3/") {
        format!("s3://{key}")
    } else if let Some(key) = gdal_path.strip_prefix("/vsigs/") {
        format!("gs://{key}")
    } else {
        gdal_path.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_round_trip() {
        assert_eq!(worker_from_user_agent(&worker_user_agent(7)), Some(7));
        assert_eq!(worker_from_user_agent("GDAL/3.6.2"), None);
        assert_eq!(worker_from_user_agent("chunkscope/0.1.0"), None);
    }

    #[test]
    fn gdal_stats_json() {
        let s = GdalNetStats::from_json(
            r#"{"methods":{"GET":{"count":3,"downloaded_bytes":1234},"HEAD":{"count":1}},"handlers":{}}"#,
        )
        .unwrap();
        assert_eq!(
            s,
            GdalNetStats {
                requests: 4,
                bytes: 1234
            }
        );
        assert_eq!(GdalNetStats::from_json("{}"), None);
    }

    #[test]
    fn messages_say_what_to_do() {
        let url = "/vsicurl/http://h:40404/x.tif";
        assert!(explain("HTTP response code: 404", url).contains("no such file"));
        assert!(explain("HTTP response code: 403", "/vsis3/b/k").contains("AWS_NO_SIGN_REQUEST"));
        assert!(explain("Couldn't connect to server", url).contains("unreachable"));
        assert!(explain("Operation timed out after 1000 ms", url).contains("in time"));
        // The port's digits are not a status code.
        assert!(!explain("Something else on http://h:40404/x.tif", url).contains("404)"));
        assert!(has_code("error code : 404", 404));
        assert!(!has_code("port 14040", 404));
        assert_eq!(url_of("/vsis3/bucket/key.tif"), "s3://bucket/key.tif");
        assert_eq!(url_of("/vsicurl/http://h/x.tif"), "http://h/x.tif");
    }
}

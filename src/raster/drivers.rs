//! Which GDAL drivers the process registers. GDAL's usual start registers all of its
//! drivers (about 200); their registration code is spread over the library, and the pages
//! it touches, about 7.5 MiB, then count in every run's RSS. The lesson's data are
//! GeoTIFFs, so a front end registers only the drivers chunkscope itself uses, and the
//! rest when a source turns out to be in another format.

use std::sync::Mutex;

// Exported by libgdal (gdal_frmts.h); gdal-sys does not bind them.
unsafe extern "C" {
    fn GDALRegister_GTiff();
    fn GDALRegister_COG();
    fn GDALRegister_MEM();
}

/// What [`register_few`] started with, and whether the rest has been registered since.
enum Registered {
    /// GDAL's usual way: the gdal crate registers every driver on first use.
    All,
    Few,
    /// Few at start, then all when a source needed another driver.
    FewThenAll,
}

static REGISTERED: Mutex<Registered> = Mutex::new(Registered::All);

/// Registers GTiff (reading and the output), COG (the `--writer gdal` copy and the demo)
/// and MEM (the demo's scratch rasters), instead of all drivers. Call it first thing, before
/// any other GDAL call: once GDAL has registered all drivers this changes nothing.
pub fn register_few() {
    gdal::DriverManager::prevent_auto_registration();
    *REGISTERED.lock().unwrap_or_else(|p| p.into_inner()) = Registered::Few;
    // SAFETY: GDAL's registration functions take no arguments and are safe to call more
    // than once (a registered driver is not registered again).
    unsafe {
        GDALRegister_GTiff();
        GDALRegister_COG();
        GDALRegister_MEM();
    }
}

/// Registers the other source drivers if only the few are, and says whether a source GDAL
/// did not recognise is worth opening again: it is if the process started with the few
/// drivers, as they may not have been all when it was opened. Workers opening at once wait
/// here until the registration is done.
pub(crate) fn register_rest() -> bool {
    let mut registered = REGISTERED.lock().unwrap_or_else(|p| p.into_inner());
    match *registered {
        Registered::All => false,
        Registered::FewThenAll => true,
        Registered::Few => {
            gdal::DriverManager::register_all();
            deregister_unlisted();
            *registered = Registered::FewThenAll;
            true
        }
    }
}

/// The drivers a scene's asset may be read with: GeoTIFF first (a COG is a GeoTIFF to
/// GDAL's reader), then the raster formats catalogs of imagery serve (the JPEG 2000 twins
/// of earth-search v1, PNG and JPEG previews). Never a driver that reads other files or
/// URLs named inside its input (VRT, GTI, STAC, WMS, the HTTP driver, ...): a catalog could
/// then copy any file this user can read into the output, or make requests anywhere.
pub const SOURCE_DRIVERS: &[&str] = &["GTiff", "JP2OpenJPEG", "PNG", "JPEG"];

/// Drivers chunkscope itself writes or builds rasters with; never used to read an asset.
const OWN_DRIVERS: &[&str] = &["GTiff", "COG", "MEM"];

/// Drivers the user allowed beyond [`SOURCE_DRIVERS`] (`--allow-driver NAME`).
static EXTRA: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Allows reading assets with `names` too, e.g. `VRT` for a catalog the user trusts. Call it
/// before any source is opened; an unknown name is refused, naming the known ones.
pub fn allow_drivers(names: &[String]) -> Result<(), String> {
    if names.is_empty() {
        return Ok(());
    }
    {
        // Listed before the registration below, which keeps only listed drivers.
        let mut extra = EXTRA.lock().unwrap_or_else(|p| p.into_inner());
        for name in names {
            if !extra.contains(name) && !SOURCE_DRIVERS.contains(&name.as_str()) {
                extra.push(name.clone());
            }
        }
    }
    register_rest();
    for name in names {
        if gdal::DriverManager::get_driver_by_name(name).is_err() {
            return Err(format!(
                "\"{name}\" is not a driver of this GDAL (`gdalinfo --formats` lists them)"
            ));
        }
    }
    Ok(())
}

/// The drivers allowed beyond [`SOURCE_DRIVERS`], to pass on to a child run.
pub fn extra_drivers() -> Vec<String> {
    EXTRA.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Every driver an asset may be opened with now: [`SOURCE_DRIVERS`] and the allowed extras.
pub(crate) fn source_drivers() -> Vec<String> {
    let mut all: Vec<String> = SOURCE_DRIVERS.iter().map(|d| (*d).to_string()).collect();
    all.extend(extra_drivers());
    all
}

/// Removes from GDAL's registry every driver that neither reads a source nor is
/// chunkscope's own, so that nothing GDAL opens on its own account (a GeoTIFF's external
/// `.ovr`, a side file) can reach one either.
fn deregister_unlisted() {
    let extra = extra_drivers();
    let keep = |name: &str| {
        SOURCE_DRIVERS.contains(&name)
            || OWN_DRIVERS.contains(&name)
            || extra.iter().any(|e| e == name)
    };
    // SAFETY: GDAL's driver registry calls, made while REGISTERED is locked (no other
    // registration runs) and before any dataset of these drivers is open: a driver is only
    // registered here, in this same locked call. The index walks down, so deregistering one
    // does not shift the drivers still to visit.
    unsafe {
        let count = gdal_sys::GDALGetDriverCount();
        for i in (0..count).rev() {
            let driver = gdal_sys::GDALGetDriver(i);
            if driver.is_null() {
                continue;
            }
            let name = std::ffi::CStr::from_ptr(gdal_sys::GDALGetDriverShortName(driver));
            if !keep(&name.to_string_lossy()) {
                gdal_sys::GDALDeregisterDriver(driver);
            }
        }
    }
}

/// Why an asset path is refused before GDAL sees it, if it is: GDAL's virtual file systems
/// reach archives, memory, standard input, sub-processes and arbitrary URLs, so only the
/// prefixes chunkscope itself puts before a catalog's URLs pass (`/vsicurl/` for http(s),
/// `/vsis3/` for s3, `/vsigs/` for gs); anything else GDAL would read as a connection
/// string or inline XML is refused too.
pub(crate) fn refused_path(path: &str) -> Option<super::Refusal> {
    if let Some(rest) = path.strip_prefix("/vsi") {
        let ok = match rest.split_once('/') {
            Some(("curl", url)) => {
                let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
                matches!(scheme.as_deref(), Some("http" | "https"))
            }
            Some(("s3" | "gs", key)) => !key.is_empty() && !key.contains("/vsi"),
            _ => false,
        };
        if !ok {
            return Some(super::Refusal::VirtualFileSystem);
        }
    }
    if path.contains("<VRTDataset") || path.trim_start().starts_with('<') {
        return Some(super::Refusal::InlineXml);
    }
    None
}

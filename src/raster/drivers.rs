//! Which GDAL drivers the process registers. GDAL's usual start registers all of its
//! drivers (about 200); their registration code is spread over the library, and the pages
//! it touches, about 7.5 MiB, then count in every run's RSS. The lesson's data are
//! GeoTIFFs, so a front end registers only the drivers chunkscope itself uses, and the
//! rest when a source turns out to be in another format.

use std::sync::atomic::{AtomicBool, Ordering};

// Exported by libgdal (gdal_frmts.h); gdal-sys does not bind them.
unsafe extern "C" {
    fn GDALRegister_GTiff();
    fn GDALRegister_COG();
    fn GDALRegister_MEM();
}

/// Whether only the few drivers are registered (set by [`register_few`]).
static FEW: AtomicBool = AtomicBool::new(false);

/// Registers GTiff (reading and the output), COG (the `--writer gdal` copy and the demo)
/// and MEM (the demo's scratch rasters), instead of all drivers. Call it first thing, before
/// any other GDAL call: once GDAL has registered all drivers this changes nothing.
pub fn register_few() {
    gdal::DriverManager::prevent_auto_registration();
    FEW.store(true, Ordering::SeqCst);
    // SAFETY: GDAL's registration functions take no arguments and are safe to call more
    // than once (a registered driver is not registered again).
    unsafe {
        GDALRegister_GTiff();
        GDALRegister_COG();
        GDALRegister_MEM();
    }
}

/// Registers every driver if only the few are, and says whether it did: a source GDAL
/// did not recognise is then worth opening again.
pub(crate) fn register_rest() -> bool {
    if FEW.swap(false, Ordering::SeqCst) {
        gdal::DriverManager::register_all();
        true
    } else {
        false
    }
}

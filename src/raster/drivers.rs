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

/// Registers every driver if only the few are, and says whether a source GDAL did not
/// recognise is worth opening again: it is if the process started with the few drivers,
/// as they may not have been all when it was opened. Workers opening at once wait here
/// until the registration is done.
pub(crate) fn register_rest() -> bool {
    let mut registered = REGISTERED.lock().unwrap_or_else(|p| p.into_inner());
    match *registered {
        Registered::All => false,
        Registered::FewThenAll => true,
        Registered::Few => {
            gdal::DriverManager::register_all();
            *registered = Registered::FewThenAll;
            true
        }
    }
}

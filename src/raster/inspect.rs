//! What a raster looks like inside: size, bands, dtype, block shapes, overviews,
//! compression, interleaving, whether it is laid out as a COG, georeferencing.

use gdal::{Dataset, Metadata};

use super::{Crs, RasterError, RasterSource};
use crate::chunks::{Interleave, RasterLayout};

/// One raster's structure, as `chunkscope inspect` prints it. Sizes are [rows, cols].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RasterInfo {
    pub path: String,
    pub rows: usize,
    pub cols: usize,
    pub bands: usize,
    pub dtype: String,
    pub dtype_bytes: usize,
    /// Block shape of each band, [rows, cols] (the lesson's `r.block_shapes`).
    pub block_shapes: Vec<[usize; 2]>,
    /// Overview sizes of band 1, [rows, cols], finest first.
    pub overviews: Vec<[usize; 2]>,
    /// Block shape of each overview of band 1, [rows, cols].
    pub overview_blocks: Vec<[usize; 2]>,
    pub compression: Option<String>,
    pub interleave: Interleave,
    /// Tiled (square-ish blocks) rather than strips of whole rows.
    pub tiled: bool,
    /// GDAL reports `LAYOUT=COG` for files written with the COG layout.
    pub cog: bool,
    pub geo_transform: Option<[f64; 6]>,
    /// Pixel size in CRS units, [x, y] (positive).
    pub resolution: Option<[f64; 2]>,
    pub epsg: Option<i32>,
    pub nodata: Option<f64>,
    /// The coordinate system, for writing outputs on the same grid (left out of JSON:
    /// verbose).
    #[serde(skip)]
    pub crs: Option<Crs>,
}

impl RasterInfo {
    /// The geometry the chunk planner needs, for the full image (`None`) or an overview.
    pub fn layout(&self, overview: Option<usize>) -> Option<RasterLayout> {
        let ([rows, cols], [block_rows, block_cols]) = match overview {
            None => ([self.rows, self.cols], *self.block_shapes.first()?),
            Some(l) => (*self.overviews.get(l)?, *self.overview_blocks.get(l)?),
        };
        Some(RasterLayout {
            bands: self.bands,
            rows,
            cols,
            block_rows,
            block_cols,
            dtype_bytes: self.dtype_bytes,
            interleave: self.interleave,
        })
    }
}

/// Opens and inspects a raster.
pub fn inspect(source: &RasterSource) -> Result<RasterInfo, RasterError> {
    let ds = source.open(None)?;
    inspect_dataset(&ds, source)
}

/// Inspects an open dataset (for callers that already hold one).
pub fn inspect_dataset(ds: &Dataset, source: &RasterSource) -> Result<RasterInfo, RasterError> {
    let band_err = |e: gdal::errors::GdalError| RasterError::Band {
        what: source.what.clone(),
        path: source.path.clone(),
        source: Box::new(e),
    };
    let bands = ds.raster_count();
    if bands == 0 {
        return Err(RasterError::NoBands {
            what: source.what.clone(),
            path: source.path.clone(),
        });
    }
    let (cols, rows) = ds.raster_size();
    let mut block_shapes = Vec::with_capacity(bands);
    for b in 1..=bands {
        let band = ds.rasterband(b).map_err(band_err)?;
        let (bc, br) = band.block_size();
        block_shapes.push([br, bc]);
    }
    let band1 = ds.rasterband(1).map_err(band_err)?;
    let dtype = band1.band_type();
    let mut overviews = Vec::new();
    let mut overview_blocks = Vec::new();
    let count = usize::try_from(band1.overview_count().unwrap_or(0)).unwrap_or(0);
    for i in 0..count {
        if let Ok(ov) = band1.overview(i) {
            let (c, r) = ov.size();
            let (bc, br) = ov.block_size();
            overviews.push([r, c]);
            overview_blocks.push([br, bc]);
        }
    }
    let structure = |key: &str| ds.metadata_item(key, "IMAGE_STRUCTURE");
    let interleave = match structure("INTERLEAVE").as_deref() {
        Some("BAND") => Interleave::Band,
        // GDAL reports PIXEL for multi-band pixel-interleaved files and nothing (or PIXEL)
        // for single-band ones, where the two are the same thing.
        _ if bands == 1 => Interleave::Band,
        _ => Interleave::Pixel,
    };
    let [br, bc] = block_shapes[0];
    let geo_transform = ds.geo_transform().ok();
    let resolution = geo_transform.map(|g| [g[1].abs(), g[5].abs()]);
    // A GeoTIFF's own keys when it has them; GDAL's reading of the coordinate system
    // (through PROJ) for other formats, for a GeoTIFF without keys, and for one with a
    // side file, which GDAL lets override the keys.
    let geokeys = if ds.driver().short_name() == "GTiff" && !super::crs::has_side_file(ds) {
        Crs::read_geokeys(&source.path).ok().flatten()
    } else {
        None
    };
    let (crs, epsg) = match geokeys {
        Some(keys) => {
            let epsg = keys.epsg();
            (Some(keys), epsg)
        }
        None => {
            let srs = ds.spatial_ref().ok();
            (
                srs.as_ref().and_then(|s| s.to_wkt().ok()).map(Crs::Wkt),
                srs.as_ref().and_then(|s| s.auth_code().ok()),
            )
        }
    };
    Ok(RasterInfo {
        path: source.path.clone(),
        rows,
        cols,
        bands,
        dtype: dtype.name(),
        dtype_bytes: usize::from(dtype.bytes()),
        block_shapes,
        overviews,
        overview_blocks,
        compression: structure("COMPRESSION"),
        interleave,
        tiled: !(bc == cols && br < rows),
        cog: structure("LAYOUT").as_deref() == Some("COG"),
        geo_transform,
        resolution,
        epsg,
        nodata: band1.no_data_value(),
        crs,
    })
}

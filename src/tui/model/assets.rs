//! A scene's assets as the Scenes screen shows them: each one's raster figures, or why it
//! could not be opened.

use chunkscope::raster::RasterInfo;

/// One asset of the selected scene, as inspected (or why it could not be).
#[derive(Debug, Clone)]
pub struct AssetView {
    pub key: String,
    pub info: Result<RasterInfo, String>,
}

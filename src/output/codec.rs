//! Tile codecs: what `--compress` and `--level` name, checked against what the chunked
//! writer can encode, and the encoding itself. Runs on the worker that completes a tile.

use std::fmt;
use std::str::FromStr;

/// A TIFF compression the output can be written with, with its level where it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    None,
    /// zlib-wrapped DEFLATE (TIFF compression 8); level 1-12 as libdeflate counts, GDAL's
    /// ZLEVEL default is 6.
    Deflate {
        level: u8,
    },
    /// TIFF LZW (compression 5), no level.
    Lzw,
    /// Zstandard (TIFF compression 50000); level 1-22, GDAL's ZSTD_LEVEL default is 9.
    Zstd {
        level: u8,
    },
}

/// The codec names `--compress` accepts, for messages.
pub const CODEC_NAMES: &str = "DEFLATE, LZW, ZSTD, NONE";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    #[error("unknown codec \"{0}\": use one of {CODEC_NAMES}")]
    Unknown(String),
    #[error("level {level} is out of range for {codec}: use {range}")]
    Level {
        codec: &'static str,
        level: u8,
        range: &'static str,
    },
    #[error("{0} has no level; leave --level out")]
    NoLevel(&'static str),
}

impl Codec {
    pub const DEFLATE: Codec = Codec::Deflate { level: 6 };
    pub const ZSTD: Codec = Codec::Zstd { level: 9 };

    /// A codec by name (any case) and an optional level, checked.
    pub fn parse(name: &str, level: Option<u8>) -> Result<Codec, CodecError> {
        let codec = name.parse::<Codec>()?;
        match level {
            None => Ok(codec),
            Some(level) => codec.with_level(level),
        }
    }

    fn with_level(self, level: u8) -> Result<Codec, CodecError> {
        match self {
            Codec::Deflate { .. } if (1..=12).contains(&level) => Ok(Codec::Deflate { level }),
            Codec::Deflate { .. } => Err(CodecError::Level {
                codec: "DEFLATE",
                level,
                range: "1-12",
            }),
            Codec::Zstd { .. } if (1..=22).contains(&level) => Ok(Codec::Zstd { level }),
            Codec::Zstd { .. } => Err(CodecError::Level {
                codec: "ZSTD",
                level,
                range: "1-22",
            }),
            Codec::None => Err(CodecError::NoLevel("NONE")),
            Codec::Lzw => Err(CodecError::NoLevel("LZW")),
        }
    }

    /// GDAL's name for it, as in `COMPRESS=`.
    pub fn name(self) -> &'static str {
        match self {
            Codec::None => "NONE",
            Codec::Deflate { .. } => "DEFLATE",
            Codec::Lzw => "LZW",
            Codec::Zstd { .. } => "ZSTD",
        }
    }

    pub fn level(self) -> Option<u8> {
        match self {
            Codec::Deflate { level } | Codec::Zstd { level } => Some(level),
            Codec::None | Codec::Lzw => None,
        }
    }

    /// The TIFF Compression tag value.
    pub fn tiff_code(self) -> u16 {
        match self {
            Codec::None => 1,
            Codec::Lzw => 5,
            Codec::Deflate { .. } => 8,
            Codec::Zstd { .. } => 50000,
        }
    }

    /// GDAL creation options that ask GDAL's GTiff driver (`cog_driver` false) or COG
    /// driver for the same encoding: the drivers name the level differently.
    pub fn gdal_options(self, cog_driver: bool) -> Vec<(&'static str, String)> {
        let mut options = vec![("COMPRESS", self.name().to_string())];
        let key = match (self, cog_driver) {
            (Codec::None | Codec::Lzw, _) => None,
            (_, true) => Some("LEVEL"),
            (Codec::Deflate { .. }, false) => Some("ZLEVEL"),
            (Codec::Zstd { .. }, false) => Some("ZSTD_LEVEL"),
        };
        if let (Some(key), Some(level)) = (key, self.level()) {
            options.push((key, level.to_string()));
        }
        options
    }

    /// Encodes one whole tile (pixel-interleaved samples, padding included).
    pub fn encode(self, tile: &[u8]) -> Result<Vec<u8>, EncodeError> {
        match self {
            Codec::None => Ok(tile.to_vec()),
            Codec::Deflate { level } => {
                let level = libdeflater::CompressionLvl::new(i32::from(level))
                    .map_err(|_| EncodeError::DeflateLevel(level))?;
                let mut compressor = libdeflater::Compressor::new(level);
                let mut out = vec![0; compressor.zlib_compress_bound(tile.len())];
                let n = compressor
                    .zlib_compress(tile, &mut out)
                    .map_err(EncodeError::Deflate)?;
                out.truncate(n);
                Ok(out)
            }
            Codec::Lzw => tiff_writer::compress::compress(tile, tiff_core::Compression::Lzw, 0)
                .map_err(EncodeError::Lzw),
            Codec::Zstd { level } => {
                zstd::bulk::compress(tile, i32::from(level)).map_err(EncodeError::Zstd)
            }
        }
    }
}

/// Why a tile could not be compressed: the codec, and the library's error as the source.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// libdeflater refused the level (its error says nothing more).
    #[error("DEFLATE level {0} is not one libdeflater accepts")]
    DeflateLevel(u8),
    #[error("DEFLATE")]
    Deflate(#[source] libdeflater::CompressionError),
    #[error("LZW")]
    Lzw(#[source] tiff_writer::Error),
    #[error("ZSTD")]
    Zstd(#[source] std::io::Error),
}

impl FromStr for Codec {
    type Err = CodecError;

    /// A codec by name with its default level.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "NONE" => Ok(Codec::None),
            "DEFLATE" => Ok(Codec::DEFLATE),
            "LZW" => Ok(Codec::Lzw),
            "ZSTD" => Ok(Codec::ZSTD),
            _ => Err(CodecError::Unknown(s.to_string())),
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.level() {
            Some(level) => write!(f, "{} level {level}", self.name()),
            None => f.write_str(self.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_levels_are_checked() {
        assert_eq!(
            Codec::parse("deflate", None),
            Ok(Codec::Deflate { level: 6 })
        );
        assert_eq!(Codec::parse("ZSTD", Some(3)), Ok(Codec::Zstd { level: 3 }));
        assert_eq!(
            Codec::parse("BOGUS", None).unwrap_err().to_string(),
            "unknown codec \"BOGUS\": use one of DEFLATE, LZW, ZSTD, NONE"
        );
        assert!(matches!(
            Codec::parse("DEFLATE", Some(13)),
            Err(CodecError::Level { .. })
        ));
        assert_eq!(
            Codec::parse("LZW", Some(2)),
            Err(CodecError::NoLevel("LZW"))
        );
    }

    #[test]
    fn every_codec_round_trips_a_tile() {
        let tile: Vec<u8> = (0..64 * 64 * 3)
            .map(|i| u8::try_from(i % 7 * 30).unwrap())
            .collect();
        for codec in [Codec::None, Codec::DEFLATE, Codec::Lzw, Codec::ZSTD] {
            let encoded = codec.encode(&tile).unwrap();
            let decoded = match codec {
                Codec::None => encoded,
                Codec::Deflate { .. } => {
                    let mut out = vec![0; tile.len()];
                    let n = libdeflater::Decompressor::new()
                        .zlib_decompress(&encoded, &mut out)
                        .unwrap();
                    out.truncate(n);
                    out
                }
                Codec::Zstd { .. } => zstd::bulk::decompress(&encoded, tile.len()).unwrap(),
                // LZW is checked by GDAL reading the whole file back (tests/writer.rs).
                Codec::Lzw => continue,
            };
            assert_eq!(decoded, tile, "{codec}");
        }
    }
}

//! Laying out the output file from tiles already encoded: the tags of each image and the
//! two layouts. A COG as GDAL's COG driver writes it (header, GDAL's structural-metadata
//! "ghost" area, every IFD, then the tiles of the smallest overview first and full
//! resolution last, row-major, each with a 4-byte size leader and its last 4 bytes repeated
//! as trailer), assembled at the end from the scratch file the tiles were appended to; or a
//! tiled GeoTIFF whose tiles were written in place as they finished, closed by one IFD at
//! the end. IFD encoding itself is `tiff-writer`'s.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;

use tiff_core::{
    ByteOrder, TAG_BITS_PER_SAMPLE, TAG_COMPRESSION, TAG_EXTRA_SAMPLES, TAG_IMAGE_LENGTH,
    TAG_IMAGE_WIDTH, TAG_NEW_SUBFILE_TYPE, TAG_PHOTOMETRIC_INTERPRETATION,
    TAG_PLANAR_CONFIGURATION, TAG_SAMPLE_FORMAT, TAG_SAMPLES_PER_PIXEL, TAG_TILE_BYTE_COUNTS,
    TAG_TILE_LENGTH, TAG_TILE_OFFSETS, TAG_TILE_WIDTH, Tag, TagValue,
};
use tiff_writer::encoder;

use super::codec::Codec;

const ORDER: ByteOrder = ByteOrder::LittleEndian;
/// Bytes every file keeps free at its start for the header, classic (8) or BigTIFF (16).
pub const HEADER_RESERVE: u64 = encoder::BIGTIFF_HEADER_LEN;
/// Classic TIFF offsets are 32-bit; stay well below so IFDs always fit.
const CLASSIC_LIMIT: u64 = u32::MAX as u64 - (16 << 20);

/// What an image (full resolution or one overview) is, apart from where its tiles are.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub width: u32,
    pub height: u32,
    pub tile: u32,
    pub bands: u16,
    pub codec: Codec,
    /// A reduced-resolution image (NewSubfileType 1).
    pub overview: bool,
    /// Further tags: georeferencing on the full-resolution image, nodata on every one.
    pub extra: Vec<Tag>,
}

/// Where one tile's encoded bytes are: (offset, length).
pub type TileSpan = (u64, u64);

impl ImageSpec {
    fn tags(&self, offsets: &[u64], counts: &[u64], bigtiff: bool) -> Vec<Tag> {
        let bands = usize::from(self.bands);
        let rgb = bands == 3;
        let mut tags = vec![
            Tag::new(TAG_IMAGE_WIDTH, TagValue::Long(vec![self.width])),
            Tag::new(TAG_IMAGE_LENGTH, TagValue::Long(vec![self.height])),
            Tag::new(TAG_BITS_PER_SAMPLE, TagValue::Short(vec![8; bands])),
            Tag::new(
                TAG_COMPRESSION,
                TagValue::Short(vec![self.codec.tiff_code()]),
            ),
            // RGB for three bands (GDAL's default for 3-band Byte), else grey with extras.
            Tag::new(
                TAG_PHOTOMETRIC_INTERPRETATION,
                TagValue::Short(vec![if rgb { 2 } else { 1 }]),
            ),
            Tag::new(TAG_SAMPLES_PER_PIXEL, TagValue::Short(vec![self.bands])),
            Tag::new(TAG_PLANAR_CONFIGURATION, TagValue::Short(vec![1])),
            Tag::new(TAG_TILE_WIDTH, TagValue::Long(vec![self.tile])),
            Tag::new(TAG_TILE_LENGTH, TagValue::Long(vec![self.tile])),
            Tag::new(TAG_SAMPLE_FORMAT, TagValue::Short(vec![1; bands])),
        ];
        if self.overview {
            tags.push(Tag::new(TAG_NEW_SUBFILE_TYPE, TagValue::Long(vec![1])));
        }
        if !rgb && bands > 1 {
            tags.push(Tag::new(
                TAG_EXTRA_SAMPLES,
                TagValue::Short(vec![0; bands - 1]),
            ));
        }
        if bigtiff {
            tags.push(Tag::new(
                TAG_TILE_OFFSETS,
                TagValue::Long8(offsets.to_vec()),
            ));
            tags.push(Tag::new(
                TAG_TILE_BYTE_COUNTS,
                TagValue::Long8(counts.to_vec()),
            ));
        } else {
            #[allow(
                clippy::cast_possible_truncation,
                reason = "a classic TIFF is only planned when the whole file stays under \
                          CLASSIC_LIMIT (4 GiB), so every offset and count fits a u32"
            )]
            let narrow = |v: &[u64]| v.iter().map(|&x| x as u32).collect();
            tags.push(Tag::new(TAG_TILE_OFFSETS, TagValue::Long(narrow(offsets))));
            tags.push(Tag::new(
                TAG_TILE_BYTE_COUNTS,
                TagValue::Long(narrow(counts)),
            ));
        }
        tags.extend(self.extra.iter().cloned());
        tags.sort_by_key(|t| t.code);
        tags
    }

    fn ifd_size(&self, tiles: usize, bigtiff: bool) -> io::Result<u64> {
        let zeros = vec![0u64; tiles];
        let size = encoder::estimate_ifd_size(ORDER, bigtiff, &self.tags(&zeros, &zeros, bigtiff))
            .map_err(io::Error::other)?;
        Ok(size + size % 2)
    }
}

/// GDAL's COG structural metadata, declared the way GDAL 3.x's COG driver writes it.
fn ghost_area() -> Vec<u8> {
    let body = "LAYOUT=IFDS_BEFORE_DATA\nBLOCK_ORDER=ROW_MAJOR\nBLOCK_LEADER=SIZE_AS_UINT4\n\
BLOCK_TRAILER=LAST_4_BYTES_REPEATED\nKNOWN_INCOMPATIBLE_EDITION=NO\n ";
    format!(
        "GDAL_STRUCTURAL_METADATA_SIZE={:06} bytes\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Writes a COG into `out` (empty) from tiles in `spool`. `images` is full resolution
/// first, then overviews by decreasing size, each with its tiles' spans in the spool in
/// row-major order. `cancelled` is asked between tiles. Returns the file's length.
pub fn write_cog(
    out: &File,
    spool: &File,
    images: &[(ImageSpec, Vec<TileSpan>)],
    cancelled: &dyn Fn() -> bool,
) -> io::Result<u64> {
    let ghost = ghost_area();
    let payload: u64 = images
        .iter()
        .flat_map(|(_, spans)| spans.iter().map(|s| s.1 + 8))
        .sum();
    let plan = |bigtiff: bool| -> io::Result<(u64, Vec<u64>, u64)> {
        let first = encoder::header_len(bigtiff) + ghost.len() as u64;
        let first = first + first % 2;
        let mut ifds = Vec::new();
        let mut at = first;
        for (spec, spans) in images {
            ifds.push(at);
            at += spec.ifd_size(spans.len(), bigtiff)?;
        }
        Ok((first, ifds, at))
    };
    let (mut bigtiff, mut layout) = (false, plan(false)?);
    if layout.2 + payload > CLASSIC_LIMIT {
        bigtiff = true;
        layout = plan(true)?;
    }
    let (_, ifds, data_start) = layout;

    // Tile data: the smallest overview first, full resolution last.
    let mut offsets: Vec<Vec<u64>> = images.iter().map(|_| Vec::new()).collect();
    let mut at = data_start;
    for (i, (_, spans)) in images.iter().enumerate().rev() {
        for &(_, len) in spans {
            offsets[i].push(at + 4);
            at += len + 8;
        }
    }
    let total = at;
    super::staging::reserve(out, total)?;

    let mut w = BufWriter::with_capacity(1 << 20, out);
    encoder::write_header(&mut w, ORDER, bigtiff).map_err(io::Error::other)?;
    encoder::patch_first_ifd(&mut w, 0, ORDER, bigtiff, ifds[0]).map_err(io::Error::other)?;
    w.seek(SeekFrom::Start(encoder::header_len(bigtiff)))?;
    w.write_all(&ghost)?;
    for (i, (spec, spans)) in images.iter().enumerate() {
        w.seek(SeekFrom::Start(ifds[i]))?;
        let counts: Vec<u64> = spans.iter().map(|s| s.1).collect();
        let tags = spec.tags(&offsets[i], &counts, bigtiff);
        let written = write_tiled_ifd(&mut w, bigtiff, &tags, spans.len())?;
        let next = ifds.get(i + 1).copied().unwrap_or(0);
        encoder::patch_next_ifd(
            &mut w,
            ORDER,
            bigtiff,
            written.next_ifd_pointer_offset,
            next,
        )
        .map_err(io::Error::other)?;
    }
    w.flush()?;
    drop(w);
    // The tiles move from the scratch file inside the kernel: the bytes are not read into
    // this process and written back, which was two copies of the whole compressed image.
    let mut at = data_start;
    for (_, spans) in images.iter().rev() {
        for &(from, len) in spans {
            if cancelled() {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "cancelled"));
            }
            let leader =
                u32::try_from(len).map_err(|_| io::Error::other("a tile of 4 GiB or more"))?;
            out.write_all_at(&leader.to_le_bytes(), at)?;
            copy_range(spool, from, out, at + 4, len)?;
            out.write_all_at(&trailer(spool, from, len)?, at + 4 + len)?;
            at += len + 8;
        }
    }
    Ok(total)
}

/// The last four bytes of a tile, repeated after it (zero-padded for tiny tiles).
fn trailer(spool: &File, from: u64, len: u64) -> io::Result<[u8; 4]> {
    let mut t = [0u8; 4];
    let n = len.min(4) as usize;
    spool.read_exact_at(&mut t[4 - n..], from + len - n as u64)?;
    Ok(t)
}

/// Copies `len` bytes at `from` in `src` to `to` in `dst`: with `copy_file_range` where the
/// kernel and file system offer it (Linux), else through a buffer.
#[cfg(target_os = "linux")]
fn copy_range(src: &File, from: u64, dst: &File, to: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let too_far = || io::Error::other("a tile offset beyond the file system's range");
    let mut off_in = libc::loff_t::try_from(from).map_err(|_| too_far())?;
    let mut off_out = libc::loff_t::try_from(to).map_err(|_| too_far())?;
    let mut left = usize::try_from(len).map_err(|_| too_far())?;
    while left > 0 {
        // SAFETY: both descriptors are open for the duration of the call and the offsets
        // are this function's own; the kernel copies between the files only.
        let n = unsafe {
            libc::copy_file_range(
                src.as_raw_fd(),
                &mut off_in,
                dst.as_raw_fd(),
                &mut off_out,
                left,
                0,
            )
        };
        if n > 0 {
            left -= n.unsigned_abs();
            continue;
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the scratch file ended before its tiles did",
            ));
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            // Not offered here (another file system, an old kernel): copy the rest by hand.
            Some(libc::EXDEV | libc::ENOSYS | libc::EOPNOTSUPP | libc::EINVAL) => {
                // The offsets only grew from values that fit a u64.
                return copy_by_buffer(
                    src,
                    off_in.unsigned_abs(),
                    dst,
                    off_out.unsigned_abs(),
                    left as u64,
                );
            }
            _ => return Err(e),
        }
    }
    Ok(())
}

/// Copies `len` bytes at `from` in `src` to `to` in `dst` (systems without
/// `copy_file_range`).
#[cfg(not(target_os = "linux"))]
fn copy_range(src: &File, from: u64, dst: &File, to: u64, len: u64) -> io::Result<()> {
    copy_by_buffer(src, from, dst, to, len)
}

/// The portable copy: through a buffer of at most 4 MiB.
fn copy_by_buffer(src: &File, from: u64, dst: &File, to: u64, len: u64) -> io::Result<()> {
    let mut buf = vec![0u8; usize::try_from(len.min(4 << 20)).unwrap_or(4 << 20)];
    let mut done = 0u64;
    while done < len {
        let part = crate::convert::clamp_usize((len - done).min(buf.len() as u64));
        src.read_exact_at(&mut buf[..part], from + done)?;
        dst.write_all_at(&buf[..part], to + done)?;
        done += part as u64;
    }
    Ok(())
}

/// Closes a tiled GeoTIFF whose tiles already stand in `file` at `spans` (row-major), with
/// the first `HEADER_RESERVE` bytes left free: writes the IFD after the data and the
/// header. Returns the file's length.
pub fn close_streamed(file: &File, spec: &ImageSpec, spans: &[TileSpan]) -> io::Result<u64> {
    let data_end = file.metadata()?.len().max(HEADER_RESERVE);
    let ifd = data_end + data_end % 2;
    let offsets: Vec<u64> = spans.iter().map(|s| s.0).collect();
    let counts: Vec<u64> = spans.iter().map(|s| s.1).collect();
    let bigtiff = ifd + spec.ifd_size(spans.len(), false)? > CLASSIC_LIMIT;
    let tags = spec.tags(&offsets, &counts, bigtiff);
    let mut w = BufWriter::new(file);
    w.seek(SeekFrom::Start(ifd))?;
    write_tiled_ifd(&mut w, bigtiff, &tags, spans.len())?;
    let end = w.stream_position()?;
    w.seek(SeekFrom::Start(0))?;
    encoder::write_header(&mut w, ORDER, bigtiff).map_err(io::Error::other)?;
    encoder::patch_first_ifd(&mut w, 0, ORDER, bigtiff, ifd).map_err(io::Error::other)?;
    w.flush()?;
    Ok(end)
}

/// One tiled image's IFD at the writer's position, its tile offsets and byte counts in
/// the tags named for tiles.
fn write_tiled_ifd<W: Write + Seek>(
    w: &mut W,
    bigtiff: bool,
    tags: &[Tag],
    tiles: usize,
) -> io::Result<encoder::IfdWriteResult> {
    encoder::write_ifd(
        w,
        ORDER,
        bigtiff,
        tags,
        TAG_TILE_OFFSETS,
        TAG_TILE_BYTE_COUNTS,
        tiles,
    )
    .map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both copies put the same bytes at the same offsets, over more than one buffer.
    #[test]
    fn ranges_copy_by_the_kernel_and_by_buffer_alike() {
        let dir = tempfile::tempdir().unwrap();
        let src_path = dir.path().join("src");
        let data: Vec<u8> = (0..(9u32 << 20)).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&src_path, &data).unwrap();
        let src = File::open(&src_path).unwrap();
        let (from, to, len) = (12_345u64, 777u64, (9u64 << 20) - 20_000);
        let copy = |name: &str, f: fn(&File, u64, &File, u64, u64) -> io::Result<()>| {
            let path = dir.path().join(name);
            let dst = File::options()
                .create(true)
                .truncate(true)
                .read(true)
                .write(true)
                .open(&path)
                .unwrap();
            f(&src, from, &dst, to, len).unwrap();
            std::fs::read(&path).unwrap()
        };
        let kernel = copy("kernel", copy_range);
        let buffer = copy("buffer", copy_by_buffer);
        assert_eq!(kernel, buffer);
        assert_eq!(kernel.len() as u64, to + len);
        let [to, from, end] = [to, from, from + len].map(|n| usize::try_from(n).unwrap());
        assert!(kernel[..to].iter().all(|&b| b == 0));
        assert_eq!(&kernel[to..], &data[from..end]);
    }
}

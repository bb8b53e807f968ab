//! Just enough TIFF to read chosen tags of a file's first IFD: classic TIFF and BigTIFF,
//! either byte order, values of type ASCII, SHORT or DOUBLE (the GeoTIFF tags' types).
//! Files are read through a `read_at(offset, len)` function, so a file in memory and one
//! behind GDAL's virtual file layer (local or remote) are read alike.

use tiff_core::{Tag, TagValue};

/// A value larger than this is not a georeferencing tag: refuse it rather than allocate.
const MAX_VALUE_BYTES: usize = 1 << 20;

/// Reads `len` bytes at `offset`; fewer is an error.
pub type ReadAt<'a> = dyn FnMut(u64, usize) -> Result<Vec<u8>, String> + 'a;

/// The tags `wanted` that the first IFD holds, in the IFD's order. A tag of another type
/// than ASCII, SHORT or DOUBLE is an error.
pub fn first_ifd_tags(read_at: &mut ReadAt<'_>, wanted: &[u16]) -> Result<Vec<Tag>, String> {
    let header = read_at(0, 16).or_else(|_| read_at(0, 8))?;
    let big_endian = match header.get(0..2) {
        Some(b"II") => false,
        Some(b"MM") => true,
        _ => return Err("not a TIFF".into()),
    };
    let order = Order { big_endian };
    let (big_tiff, ifd) = match order.u16(&header[2..4]) {
        42 => (false, u64::from(order.u32(&header[4..8]))),
        43 if header.len() >= 16 => (true, order.u64(&header[8..16])),
        _ => return Err("not a TIFF".into()),
    };
    let (count_bytes, entry_bytes, inline_bytes) = if big_tiff { (8, 20, 8) } else { (2, 12, 4) };
    let raw_count = read_at(ifd, count_bytes)?;
    let count = if big_tiff {
        order.u64(&raw_count)
    } else {
        u64::from(order.u16(&raw_count))
    };
    if count > 4096 {
        return Err(format!("an IFD of {count} entries"));
    }
    let entries = read_at(
        ifd + count_bytes as u64,
        crate::convert::clamp_usize(count) * entry_bytes,
    )?;
    let mut tags = Vec::new();
    for e in entries.chunks_exact(entry_bytes) {
        let code = order.u16(&e[0..2]);
        if !wanted.contains(&code) {
            continue;
        }
        let kind = order.u16(&e[2..4]);
        let n = if big_tiff {
            order.u64(&e[4..12])
        } else {
            u64::from(order.u32(&e[4..8]))
        };
        let size = match kind {
            2 => 1,  // ASCII
            3 => 2,  // SHORT
            12 => 8, // DOUBLE
            _ => return Err(format!("tag {code} has type {kind}")),
        };
        let len = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(size))
            .filter(|&len| len <= MAX_VALUE_BYTES)
            .ok_or_else(|| format!("tag {code} holds {n} values"))?;
        let field = &e[entry_bytes - inline_bytes..];
        let raw = if len <= inline_bytes {
            field[..len].to_vec()
        } else {
            let at = if big_tiff {
                order.u64(field)
            } else {
                u64::from(order.u32(field))
            };
            read_at(at, len)?
        };
        let value = match kind {
            2 => TagValue::Ascii(
                String::from_utf8_lossy(&raw)
                    .trim_end_matches('\0')
                    .to_string(),
            ),
            3 => TagValue::Short(raw.chunks_exact(2).map(|b| order.u16(b)).collect()),
            _ => TagValue::Double(
                raw.chunks_exact(8)
                    .map(|b| f64::from_bits(order.u64(b)))
                    .collect(),
            ),
        };
        tags.push(Tag::new(code, value));
    }
    Ok(tags)
}

/// `read_at` over bytes in memory.
pub fn in_memory(bytes: &[u8]) -> impl FnMut(u64, usize) -> Result<Vec<u8>, String> + '_ {
    move |at, len| {
        usize::try_from(at)
            .ok()
            .and_then(|at| bytes.get(at..at.checked_add(len)?))
            .map(<[u8]>::to_vec)
            .ok_or_else(|| "truncated".to_string())
    }
}

#[derive(Clone, Copy)]
struct Order {
    big_endian: bool,
}

impl Order {
    fn u16(self, b: &[u8]) -> u16 {
        let b = [b[0], b[1]];
        if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }

    fn u32(self, b: &[u8]) -> u32 {
        let b = [b[0], b[1], b[2], b[3]];
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    fn u64(self, b: &[u8]) -> u64 {
        let b: [u8; 8] = b[..8].try_into().unwrap_or([0; 8]);
        if self.big_endian {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        }
    }
}

//! Which bytes of a file a `Range` request gets, decided before the file is served, so
//! that no request makes the server send more than the file.
//!
//! As nginx and Apache do: ranges that add up to more than the file are not a partial
//! request, and get the whole file once with 200 (nginx's range filter, Apache's "Sum of
//! ranges larger than file, ignoring"); overlapping or touching ranges are merged into one
//! (Apache's byterange filter, allowed by RFC 9110 14.2). Ranges that neither overlap nor
//! touch are kept as asked, in their order: GDAL's multi-range reads of a window's blocks
//! come back part for part.

/// Bytes `first..=last` of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub first: u64,
    pub last: u64,
}

impl ByteRange {
    fn len(&self) -> u64 {
        self.last - self.first + 1
    }
}

/// What to answer a `Range` header with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangePlan {
    /// The whole file with 200: a header that is not a list of byte ranges (RFC 9110 14.2
    /// lets a server ignore it), or ranges that add up to more than the file.
    Whole,
    /// These ranges with 206, in this order.
    Parts(Vec<ByteRange>),
    /// No range starts inside the file: 416.
    Unsatisfiable,
}

impl RangePlan {
    /// The `Range` header asking for exactly `parts`.
    pub fn header(parts: &[ByteRange]) -> String {
        let specs: Vec<String> = parts
            .iter()
            .map(|r| format!("{}-{}", r.first, r.last))
            .collect();
        format!("bytes={}", specs.join(","))
    }
}

/// The plan for `header` on a file of `size` bytes. The syntax read is the one the file
/// server reads after (`http-range`): `bytes=` in any case, `a-b`, `a-` and `-n`.
pub fn plan(header: &str, size: u64) -> RangePlan {
    let Some(specs) = header
        .get(..6)
        .filter(|unit| unit.eq_ignore_ascii_case("bytes="))
        .map(|_| &header[6..])
    else {
        return RangePlan::Whole;
    };
    let mut asked = Vec::new();
    for spec in specs.split(',').map(|s| s.trim_matches([' ', '\t'])) {
        if spec.is_empty() {
            continue;
        }
        match parse_spec(spec, size) {
            Spec::Range(r) => asked.push(r),
            Spec::Outside => {}
            Spec::Invalid => return RangePlan::Whole,
        }
    }
    if asked.is_empty() {
        return RangePlan::Unsatisfiable;
    }
    let total = asked
        .iter()
        .fold(0u64, |sum, r| sum.saturating_add(r.len()));
    if total > size {
        return RangePlan::Whole;
    }
    let mut merged = asked.clone();
    merged.sort_unstable_by_key(|r| r.first);
    merged.dedup_by(|next, kept| {
        // `next` overlaps or touches `kept`: one range covers both.
        if next.first <= kept.last.saturating_add(1) {
            kept.last = kept.last.max(next.last);
            true
        } else {
            false
        }
    });
    if merged.len() == asked.len() {
        RangePlan::Parts(asked)
    } else {
        RangePlan::Parts(merged)
    }
}

enum Spec {
    Range(ByteRange),
    /// Well formed, but starting past the end (or an empty suffix): left out.
    Outside,
    Invalid,
}

fn parse_spec(spec: &str, size: u64) -> Spec {
    let Some((first, last)) = spec.split_once('-') else {
        return Spec::Invalid;
    };
    let (first, last) = (
        first.trim_matches([' ', '\t']),
        last.trim_matches([' ', '\t']),
    );
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    if first.is_empty() {
        // The last `n` bytes.
        let Some(n) = number(last) else {
            return Spec::Invalid;
        };
        if n == 0 || size == 0 {
            return Spec::Outside;
        }
        return Spec::Range(ByteRange {
            first: size - n.min(size),
            last: size - 1,
        });
    }
    let Some(first) = number(first) else {
        return Spec::Invalid;
    };
    let last = if last.is_empty() {
        None
    } else {
        match number(last) {
            Some(l) if l >= first => Some(l),
            _ => return Spec::Invalid,
        }
    };
    if first >= size {
        return Spec::Outside;
    }
    Spec::Range(ByteRange {
        first,
        last: last.map_or(size - 1, |l| l.min(size - 1)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(plan: RangePlan) -> String {
        match plan {
            RangePlan::Parts(p) => RangePlan::header(&p),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn disjoint_ranges_stay_as_asked() {
        assert_eq!(
            parts(plan("bytes=500-599,0-99", 1000)),
            "bytes=500-599,0-99"
        );
        assert_eq!(parts(plan("bytes=-100", 1000)), "bytes=900-999");
        assert_eq!(parts(plan("bytes=900-", 1000)), "bytes=900-999");
        assert_eq!(parts(plan("bytes=990-2000", 1000)), "bytes=990-999");
    }

    #[test]
    fn overlapping_and_touching_ranges_merge() {
        assert_eq!(parts(plan("bytes=0-99,50-149", 1000)), "bytes=0-149");
        assert_eq!(
            parts(plan("bytes=500-599,0-99,100-199", 1000)),
            "bytes=0-199,500-599"
        );
    }

    #[test]
    fn more_than_the_file_is_the_whole_file() {
        let many = vec!["0-"; 256].join(",");
        assert_eq!(plan(&format!("bytes={many}"), 1000), RangePlan::Whole);
        assert_eq!(plan("bytes=0-999,0-0", 1000), RangePlan::Whole);
    }

    #[test]
    fn bad_headers_are_ignored_and_outside_ranges_refused() {
        assert_eq!(plan("lines=0-1", 1000), RangePlan::Whole);
        assert_eq!(plan("bytes=5-1", 1000), RangePlan::Whole);
        assert_eq!(plan("bytes=x-1", 1000), RangePlan::Whole);
        assert_eq!(plan("bytes=1000-", 1000), RangePlan::Unsatisfiable);
        assert_eq!(plan("bytes=-0", 1000), RangePlan::Unsatisfiable);
        assert_eq!(parts(plan("bytes=1000-,0-0", 1000)), "bytes=0-0");
    }
}

//! Facts about a merge batch's primary keys that let a backend skip work.

use arrow::array::ArrayRef;
use arrow::record_batch::RecordBatch;

/// Which values of a merge stream's first key column (a BIGINT) the table can hold: the range
/// it held when the load began, widened by every batch since. A batch whose keys lie outside it
/// replaces nothing, so its DELETE is skipped: for keys that only grow (ids, cursors), merges
/// then cost what appends cost (measured: the DELETEs were ~15% of a 1M-record merge's database
/// CPU, probing the transaction's own new rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyCover {
    /// Not tracked (not a BIGINT, NULL keys, a widened column): always delete.
    Unknown,
    /// No key yet.
    Empty,
    /// Every key lies within these bounds.
    Range(i64, i64),
}

impl KeyCover {
    /// Records a batch with first-key range `range` (None: untracked keys) and says whether
    /// its DELETE can be skipped.
    pub(crate) fn admit(&mut self, range: Option<(i64, i64)>) -> bool {
        let Some((lo, hi)) = range else {
            *self = Self::Unknown;
            return false;
        };
        match *self {
            Self::Unknown => false,
            Self::Empty => {
                *self = Self::Range(lo, hi);
                true
            }
            Self::Range(a, b) => {
                *self = Self::Range(a.min(lo), b.max(hi));
                hi < a || lo > b
            }
        }
    }
}

/// Whether the primary keys of a merge batch are certainly all different, so that the batch
/// can be inserted without deduplication. Keys are compared as the values the table receives
/// (hashes of typed values; a hash collision or a key type not handled here only costs the
/// deduplicating insert).
pub(crate) fn keys_distinct(batch: &RecordBatch, pk_idx: &[usize]) -> bool {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Int64Type};
    use std::hash::{BuildHasher, Hasher};

    let columns: Vec<&ArrayRef> = pk_idx.iter().map(|&i| batch.column(i)).collect();
    if columns.is_empty()
        || columns
            .iter()
            .any(|c| !matches!(c.data_type(), DataType::Int64 | DataType::Utf8))
    {
        return false;
    }
    let state = std::hash::RandomState::new();
    let mut seen = std::collections::HashSet::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        let mut h = state.build_hasher();
        for c in &columns {
            if c.is_null(row) {
                h.write_u8(0);
            } else if let Some(ints) = c.as_primitive_opt::<Int64Type>() {
                h.write_u8(1);
                h.write_i64(ints.value(row));
            } else {
                h.write_u8(2);
                h.write(c.as_string::<i32>().value(row).as_bytes());
                h.write_u8(0xff);
            }
        }
        if !seen.insert(h.finish()) {
            return false;
        }
    }
    true
}

/// The smallest and largest first key column value of a merge batch, when that column is a
/// BIGINT without NULLs.
pub(crate) fn key_range(batch: &RecordBatch, pk_idx: &[usize]) -> Option<(i64, i64)> {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::Int64Type;
    let keys = batch
        .column(*pk_idx.first()?)
        .as_primitive_opt::<Int64Type>()?;
    if keys.null_count() > 0 {
        return None;
    }
    Some((arrow::compute::min(keys)?, arrow::compute::max(keys)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_cover_skips_only_disjoint_batches() {
        let mut c = KeyCover::Empty;
        assert!(c.admit(Some((10, 20))));
        assert!(c.admit(Some((21, 30))));
        assert!(c.admit(Some((-5, 9))));
        assert!(!c.admit(Some((30, 40))), "touches the last key");
        assert_eq!(c, KeyCover::Range(-5, 40));
        assert!(!c.admit(Some((0, 1))));
        assert!(!c.admit(None), "untracked keys end tracking");
        assert!(!c.admit(Some((100, 200))));
        let mut existing = KeyCover::Range(100, 200);
        assert!(!existing.admit(Some((150, 150))));
        assert!(existing.admit(Some((201, 300))));
    }
}

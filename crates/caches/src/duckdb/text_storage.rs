//! How the tables a load creates store their long, nearly-unique text columns.
//!
//! DuckDB picks each column segment's compression by estimated size. For long strings that are
//! nearly all different (e-mail addresses, JSON objects, URLs) its dictionary + FSST encoding
//! ends up within a few percent of ZSTD's size but costs about twice the CPU, and compressing
//! such columns is the largest part of a load's database work (docs/PERFORMANCE.md). So a
//! table that a load creates gets `USING COMPRESSION zstd` for those columns, judged from its
//! first batch; every other column keeps DuckDB's own choice, and existing tables are never
//! changed.

use std::collections::HashSet;

use ::duckdb::Connection;
use arrow::array::{Array, StringArray};

/// Fewer values than this say too little about a column.
const MIN_SAMPLE: usize = 1024;

/// The average length, in bytes, from which a column counts as long.
const MIN_AVG_BYTES: usize = 24;

/// Whether a column whose first values are `values` is better stored with ZSTD: at least
/// [`MIN_SAMPLE`] values, [`MIN_AVG_BYTES`] bytes each on average, and at least half of them
/// distinct (below that, DuckDB's dictionary wins on size and speed).
pub(crate) fn prefers_zstd(values: &StringArray) -> bool {
    let n = values.len() - values.null_count();
    if n < MIN_SAMPLE {
        return false;
    }
    let offsets = values.value_offsets();
    let bytes = match (offsets.first(), offsets.last()) {
        (Some(&first), Some(&last)) => (last - first) as usize,
        _ => 0,
    };
    if bytes < n * MIN_AVG_BYTES {
        return false;
    }
    let mut seen = HashSet::with_capacity(n);
    for value in values.iter().flatten() {
        seen.insert(value);
    }
    seen.len() * 2 >= n
}

/// Whether the connection's database stores text with ZSTD: from storage version v1.2.0 on
/// (a cache file written by an older DuckDB may use an older one).
pub(crate) fn zstd_available(conn: &Connection) -> bool {
    conn.query_row(
        "SELECT CAST(tags AS VARCHAR) FROM duckdb_databases() \
         WHERE database_name = current_database()",
        [],
        |row| row.get::<_, String>(0),
    )
    .ok()
    .and_then(|tags| storage_version(&tags))
    .is_some_and(|version| version >= (1, 2))
}

/// The major and minor storage version in `duckdb_databases().tags` as text
/// (`{storage_version=v1.4.0+}`).
fn storage_version(tags: &str) -> Option<(u32, u32)> {
    const KEY: &str = "storage_version=v";
    let rest = tags.get(tags.find(KEY)? + KEY.len()..)?;
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_distinct_text_prefers_zstd() {
        let emails: StringArray = (0..2000)
            .map(|i| Some(format!("someone.{i}@example-mail.com")))
            .collect();
        assert!(prefers_zstd(&emails));
        // Short, repeated, too few, or mostly NULL: DuckDB's choice.
        let names: StringArray = (0..2000)
            .map(|i| Some(format!("Ada Lovelace {}", i % 10)))
            .collect();
        assert!(!prefers_zstd(&names));
        let short: StringArray = (0..2000).map(|i| Some(format!("{i}"))).collect();
        assert!(!prefers_zstd(&short));
        let few: StringArray = (0..100)
            .map(|i| Some(format!("someone.{i}@example-mail.com")))
            .collect();
        assert!(!prefers_zstd(&few));
        let repeated: StringArray = (0..2000)
            .map(|i| Some(format!("a rather long but repeated value {}", i % 900)))
            .collect();
        assert!(!prefers_zstd(&repeated));
        let sparse: StringArray = (0..4000)
            .map(|i| (i % 10 == 0).then(|| format!("someone.{i}@example-mail.com")))
            .collect();
        assert!(!prefers_zstd(&sparse));
    }

    #[test]
    fn storage_versions_are_read_from_tags() {
        assert_eq!(storage_version("{storage_version=v1.4.0+}"), Some((1, 4)));
        assert_eq!(storage_version("{storage_version=v1.0.0+}"), Some((1, 0)));
        assert_eq!(storage_version("{storage_version=v2.0.0+}"), Some((2, 0)));
        assert_eq!(storage_version("{}"), None);
        assert_eq!(storage_version("{storage_version=vX}"), None);
    }
}

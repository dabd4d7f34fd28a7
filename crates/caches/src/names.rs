//! Name normalization: PyAirbyte's `LowerCaseNormalizer`, exactly.
//!
//! Stream names become table names and top-level property names become column names through
//! [`normalize`]. The rules (PyAirbyte 0.71, `_util/name_normalizers.py`):
//!
//! * lower-case the name;
//! * replace every character outside `[A-Za-z0-9]` with `_`, one `_` per character (so Unicode
//!   letters become `_` too: `"Ünïcode Näme"` → `"_n_code_n_me"`);
//! * prefix `_` when the result starts with a digit (`"1st col"` → `"_1st_col"`);
//! * an empty name, or one that is only underscores after the above, is an error.
//!
//! Only top-level keys are normalized; nested object keys keep their case.
//!
//! Two properties may normalize to the same column (`"a b"` and `"a-b"`). PyAirbyte would then
//! crash at DDL time; [`ColumnNamer`] instead gives the later ones a deterministic suffix
//! (`_1`, `_2`, … in schema order), skipping suffixes that are themselves taken.

use std::collections::HashSet;

/// A name that cannot become an SQL identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot normalize the name {original:?}: nothing but underscores would remain; \
     rename the stream or property so that it contains at least one letter or digit"
)]
pub struct NameNormalizationError {
    /// The name as given.
    pub original: String,
}

/// Normalizes a name the way PyAirbyte's `LowerCaseNormalizer` does.
///
/// ```
/// use abrs_caches::names::normalize;
/// assert_eq!(normalize("Hello World!").unwrap(), "hello_world_");
/// assert_eq!(normalize("1st col").unwrap(), "_1st_col");
/// assert!(normalize("+#$").is_err());
/// ```
pub fn normalize(name: &str) -> Result<String, NameNormalizationError> {
    let mut out = String::with_capacity(name.len() + 1);
    for c in name.chars() {
        if c.is_ascii() {
            out.push(if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            });
        } else {
            // Python lower-cases first (full Unicode mapping), then replaces per character:
            // "İ" lowers to two characters ("i" + a combining dot) and the Kelvin sign to "k".
            for l in c.to_lowercase() {
                out.push(if l.is_ascii_alphanumeric() { l } else { '_' });
            }
        }
    }
    if out.bytes().all(|b| b == b'_') {
        return Err(NameNormalizationError {
            original: name.to_string(),
        });
    }
    if out.as_bytes()[0].is_ascii_digit() {
        out.insert(0, '_');
    }
    Ok(out)
}

/// PostgreSQL keeps at most this many bytes of an identifier (`NAMEDATALEN - 1`).
pub const POSTGRES_MAX_IDENTIFIER: usize = 63;

/// A backend's name rules: PyAirbyte's `LowerCaseNormalizer` (DuckDB), or its
/// `PostgresNormalizer` (the same, cut to 63 bytes, which is all PostgreSQL keeps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Normalizer {
    /// [`normalize`].
    #[default]
    LowerCase,
    /// [`normalize`], then the first 63 bytes.
    Postgres,
}

impl Normalizer {
    /// The longest identifier (in bytes) this backend keeps, if there is a limit.
    pub fn max_len(self) -> Option<usize> {
        match self {
            Self::LowerCase => None,
            Self::Postgres => Some(POSTGRES_MAX_IDENTIFIER),
        }
    }

    /// Normalizes a name by this backend's rules.
    ///
    /// ```
    /// use abrs_caches::names::Normalizer;
    /// let long = "x".repeat(70);
    /// assert_eq!(Normalizer::Postgres.normalize(&long).unwrap().len(), 63);
    /// ```
    pub fn normalize(self, name: &str) -> Result<String, NameNormalizationError> {
        let mut out = normalize(name)?;
        if let Some(max) = self.max_len() {
            truncate_to(&mut out, max);
        }
        Ok(out)
    }

    /// The table name of a stream: `normalize(table_prefix + stream_name)` by these rules.
    pub fn table_name(
        self,
        table_prefix: &str,
        stream_name: &str,
    ) -> Result<String, NameNormalizationError> {
        self.normalize(&format!("{table_prefix}{stream_name}"))
    }
}

/// Cuts `s` to at most `max` bytes, on a character boundary.
pub(crate) fn truncate_to(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// Whether `name` is already in normalized form (normalizing it changes nothing).
pub fn is_normalized(name: &str) -> bool {
    normalize(name).is_ok_and(|n| n == name)
}

/// The table name of a stream: `normalize(table_prefix + stream_name)`.
pub fn table_name(table_prefix: &str, stream_name: &str) -> Result<String, NameNormalizationError> {
    normalize(&format!("{table_prefix}{stream_name}"))
}

/// Assigns unique column names to a stream's properties, in schema order.
///
/// The first property that normalizes to a name gets it; later ones get `<name>_1`,
/// `<name>_2`, … (the smallest suffix not already taken). Names listed in `reserved` (the
/// `_airbyte_*` columns) are never handed out, so a property named `_airbyte_raw_id` becomes
/// `_airbyte_raw_id_1`.
#[derive(Debug, Clone, Default)]
pub struct ColumnNamer {
    taken: HashSet<String>,
    normalizer: Normalizer,
}

impl ColumnNamer {
    /// A namer that never hands out any of `reserved`.
    pub fn new<I, S>(reserved: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            taken: reserved.into_iter().map(Into::into).collect(),
            normalizer: Normalizer::LowerCase,
        }
    }

    /// Uses a backend's normalizer. With a length limit, a suffix replaces the end of a name
    /// that would otherwise grow past it (`<first 61 bytes>_1`), so that names stay unique.
    pub fn with_normalizer(mut self, normalizer: Normalizer) -> Self {
        self.normalizer = normalizer;
        self
    }

    /// Marks an existing column name as taken (e.g. one already in the table).
    pub fn reserve(&mut self, name: impl Into<String>) {
        self.taken.insert(name.into());
    }

    /// The unique column name for the next property.
    pub fn assign(&mut self, property: &str) -> Result<String, NameNormalizationError> {
        let base = self.normalizer.normalize(property)?;
        if self.taken.insert(base.clone()) {
            return Ok(base);
        }
        let mut n: u32 = 1;
        loop {
            let suffix = format!("_{n}");
            let mut stem = base.clone();
            if let Some(max) = self.normalizer.max_len() {
                truncate_to(&mut stem, max.saturating_sub(suffix.len()));
            }
            let candidate = format!("{stem}{suffix}");
            if self.taken.insert(candidate.clone()) {
                return Ok(candidate);
            }
            n += 1;
        }
    }
}

/// Quotes an SQL identifier with double quotes (doubling any embedded quote).
pub fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Quotes an SQL string literal with single quotes (doubling any embedded quote).
pub fn quote_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        if c == '\'' {
            out.push('\'');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyairbyte_examples() {
        let cases = [
            ("Hello World!", "hello_world_"),
            ("Hello, World!", "hello__world_"),
            ("sales (%)", "sales____"),
            ("+1", "_1"),
            ("1st col", "_1st_col"),
            ("Ünïcode Näme", "_n_code_n_me"),
            ("___x___", "___x___"),
            ("CamelCase", "camelcase"),
            ("some.col", "some_col"),
            ("My-Stream.Name", "my_stream_name"),
            ("table1.Column1", "table1_column1"),
            ("\u{212A}elvin", "kelvin"),
            ("\u{130}d", "i_d"),
        ];
        for (input, want) in cases {
            assert_eq!(normalize(input).unwrap(), want, "{input}");
        }
        for bad in ["", "*", "+#$", "___", "ä"] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn collisions_get_suffixes() {
        let mut namer = ColumnNamer::new(["_airbyte_raw_id"]);
        assert_eq!(namer.assign("a b").unwrap(), "a_b");
        assert_eq!(namer.assign("a-b").unwrap(), "a_b_1");
        assert_eq!(namer.assign("a_b_2").unwrap(), "a_b_2");
        assert_eq!(namer.assign("A.B").unwrap(), "a_b_3");
        assert_eq!(
            namer.assign("_airbyte_raw_id").unwrap(),
            "_airbyte_raw_id_1"
        );
    }

    #[test]
    fn postgres_names_are_cut_to_63_bytes_and_stay_unique() {
        let long_a = format!("{}A", "x".repeat(70));
        let long_b = format!("{}B", "x".repeat(70));
        let mut namer = ColumnNamer::new(["_airbyte_raw_id"]).with_normalizer(Normalizer::Postgres);
        let a = namer.assign(&long_a).unwrap();
        let b = namer.assign(&long_b).unwrap();
        assert_eq!(a, "x".repeat(63));
        assert_eq!(b, format!("{}_1", "x".repeat(61)));
        assert_eq!(
            Normalizer::Postgres
                .table_name("p_", &"S".repeat(80))
                .unwrap()
                .len(),
            63
        );
        assert_eq!(Normalizer::LowerCase.normalize(&long_a).unwrap().len(), 71);
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}

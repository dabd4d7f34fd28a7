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
        }
    }

    /// Marks an existing column name as taken (e.g. one already in the table).
    pub fn reserve(&mut self, name: impl Into<String>) {
        self.taken.insert(name.into());
    }

    /// The unique column name for the next property.
    pub fn assign(&mut self, property: &str) -> Result<String, NameNormalizationError> {
        let base = normalize(property)?;
        if self.taken.insert(base.clone()) {
            return Ok(base);
        }
        let mut n: u32 = 1;
        loop {
            let candidate = format!("{base}_{n}");
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
    fn quoting() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}

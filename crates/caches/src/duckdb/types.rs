//! How DuckDB spells the cache's column types.

use crate::types::SqlType;

impl SqlType {
    /// The type as written in DDL.
    ///
    /// `json_available` says whether DuckDB's JSON type exists in this build (it comes with the
    /// `json` extension); without it JSON columns are created as VARCHAR holding JSON text.
    pub fn ddl(&self, json_available: bool) -> &str {
        match self {
            Self::BigInt => "BIGINT",
            Self::Double => "DOUBLE",
            Self::Boolean => "BOOLEAN",
            Self::Varchar => "VARCHAR",
            Self::Json if json_available => "JSON",
            Self::Json => "VARCHAR",
            Self::Date => "DATE",
            Self::Time => "TIME",
            Self::Timestamp => "TIMESTAMP",
            Self::TimestampTz => "TIMESTAMP WITH TIME ZONE",
            Self::Other(s) => s,
        }
    }

    /// The type of a DuckDB column as reported by `duckdb_columns().data_type`.
    pub fn from_duckdb(data_type: &str) -> Self {
        match data_type.trim().to_ascii_uppercase().as_str() {
            "BIGINT" | "INT8" | "LONG" => Self::BigInt,
            "DOUBLE" | "FLOAT8" => Self::Double,
            "BOOLEAN" | "BOOL" => Self::Boolean,
            "VARCHAR" | "TEXT" | "STRING" => Self::Varchar,
            "JSON" => Self::Json,
            "DATE" => Self::Date,
            "TIME" => Self::Time,
            "TIMESTAMP" | "DATETIME" => Self::Timestamp,
            "TIMESTAMP WITH TIME ZONE" | "TIMESTAMPTZ" => Self::TimestampTz,
            _ => Self::Other(data_type.trim().to_string()),
        }
    }
}

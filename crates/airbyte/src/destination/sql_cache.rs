//! Destinations ↔ caches: the cache that reads what a DuckDB or Postgres destination wrote
//! ([`Destination::get_sql_cache`], PyAirbyte's `caches/_utils/_dest_to_cache.py`), and the
//! destination config that writes where a cache is ([`paired_destination_config`],
//! `_cache_to_dest.py`).

use std::path::PathBuf;

use abrs_caches::{Cache, DuckDbCache, Password, PostgresCache};
use serde_json::{Value, json};

use super::Destination;
use crate::error::{Error, Result};

/// Destination types with a cache (PyAirbyte's list also has BigQuery, MotherDuck and
/// Snowflake, which have no cache here yet).
pub const SQL_CACHE_DESTINATION_TYPES: &[&str] = &["duckdb", "postgres"];

/// The DuckDB destination's container directory, mounted from
/// `<project dir>/destination-duckdb` on the host.
const DUCKDB_CONTAINER_DIR: &str = "/local/";

impl Destination {
    /// Whether [`Destination::get_sql_cache`] can build a cache for this destination.
    pub fn is_cache_supported(&self) -> bool {
        self.get_config()
            .ok()
            .and_then(|c| destination_type(self.name(), &c))
            .is_some_and(|t| SQL_CACHE_DESTINATION_TYPES.contains(&t.as_str()))
    }

    /// A cache over what this destination wrote, built from its config (secrets resolved):
    /// `destination-duckdb` (`destination_path`, `schema` default `main`; a container path
    /// under `/local/` is the host's `<AIRBYTE_PROJECT_DIR or cwd>/destination-duckdb/…`) and
    /// `destination-postgres` (`host`, `port` default 5432, `database`, `username`,
    /// `password`, `schema` default `public`). `schema_name` overrides the schema.
    ///
    /// The type comes from the config's `destinationType` (or `DESTINATION_TYPE`), else from
    /// the connector name without `destination-`. Unlike PyAirbyte, a Postgres config without
    /// a password is accepted (servers with trust or peer authentication need none).
    ///
    /// ```no_run
    /// # fn f(destination: airbyte::Destination) -> airbyte::Result<()> {
    /// let cache = destination.get_sql_cache(None)?;
    /// let batches = cache.query("SELECT count(*) FROM users")?;
    /// # Ok(()) }
    /// ```
    pub fn get_sql_cache(&self, schema_name: Option<&str>) -> Result<Cache> {
        let config = self.hydrated_config()?;
        let kind = destination_type(self.name(), &config).unwrap_or_default();
        let cache = destination_config_to_cache(&kind, &config)?;
        Ok(match (cache, schema_name) {
            (Cache::DuckDb(c), Some(s)) => c.with_schema_name(s).into(),
            (Cache::Postgres(c), Some(s)) => c.with_schema_name(s).into(),
            (c, None) => c,
        })
    }
}

/// The destination type of a config: `destinationType`/`DESTINATION_TYPE`, else the
/// connector's name without `destination-`.
fn destination_type(name: &str, config: &Value) -> Option<String> {
    let from_config = ["destinationType", "DESTINATION_TYPE"]
        .iter()
        .find_map(|k| config.get(*k).and_then(Value::as_str));
    let name = name.rsplit('/').next().unwrap_or(name);
    let name = name.split(':').next().unwrap_or(name);
    from_config
        .map(str::to_string)
        .or_else(|| name.strip_prefix("destination-").map(str::to_string))
}

fn field<'a>(config: &'a Value, key: &str) -> Option<&'a str> {
    config
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn required<'a>(kind: &str, config: &'a Value, key: &str) -> Result<&'a str> {
    field(config, key).ok_or_else(|| {
        Error::input(
            format!("the {kind} destination's config has no `{key}`"),
            format!("set `{key}` in the destination's config"),
        )
    })
}

/// A cache from a destination config of type `kind` (`duckdb` or `postgres`).
pub fn destination_config_to_cache(kind: &str, config: &Value) -> Result<Cache> {
    match kind {
        "duckdb" => {
            let path = required(kind, config, "destination_path")?;
            let path = match path.strip_prefix(DUCKDB_CONTAINER_DIR) {
                Some(rest) => abrs_connectors::project_dir()
                    .join("destination-duckdb")
                    .join(rest),
                None => PathBuf::from(path),
            };
            Ok(DuckDbCache::new(path)
                .with_schema_name(field(config, "schema").unwrap_or("main"))
                .into())
        }
        "postgres" => {
            let port = match config.get("port") {
                None | Some(Value::Null) => Some(5432),
                Some(Value::Number(n)) => n.as_u64().and_then(|p| u16::try_from(p).ok()),
                Some(Value::String(s)) => s.trim().parse::<u16>().ok(),
                Some(_) => None,
            }
            .map_or_else(
                || {
                    Err(Error::input(
                        format!(
                            "the postgres destination's `port` ({}) is not a port number",
                            config["port"]
                        ),
                        "set `port` to a number from 1 to 65535",
                    ))
                },
                Ok,
            )?;
            let mut cache = PostgresCache::new(
                required(kind, config, "host")?,
                port,
                required(kind, config, "database")?,
                required(kind, config, "username")?,
            )
            .with_schema_name(field(config, "schema").unwrap_or("public"));
            if let Some(p) = field(config, "password") {
                cache = cache.with_password(Password::new(p));
            }
            Ok(cache.into())
        }
        other => Err(Error::input(
            format!(
                "destination type {other:?} has no cache (supported: {})",
                SQL_CACHE_DESTINATION_TYPES.join(", ")
            ),
            "use a DuckDB or Postgres destination, or read the data from the destination itself",
        )),
    }
}

/// The config of the destination that writes where `cache` is (PyAirbyte's
/// `cache.paired_destination_config`): for DuckDB `{"destinationType": "duckdb",
/// "destination_path", "schema"}`, for Postgres `{"destinationType": "postgres", "host",
/// "port", "database", "schema", "username", "password"}` (the password only when the cache
/// has one: the value is a connector config, keep it private).
pub fn paired_destination_config(cache: &Cache) -> Value {
    match cache {
        Cache::DuckDb(c) => json!({
            "destinationType": "duckdb",
            "destination_path": c.db_path().display().to_string(),
            "schema": c.schema_name(),
        }),
        Cache::Postgres(c) => {
            let mut v = json!({
                "destinationType": "postgres",
                "host": c.host(),
                "port": c.port(),
                "database": c.database(),
                "schema": c.schema_name(),
                "username": c.username(),
            });
            if let Some(p) = c.password() {
                v["password"] = json!(p.expose());
            }
            v
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_config_to_cache_and_back() {
        let config = json!({"host": "db", "port": "6543", "database": "d", "username": "u",
            "password": "pw", "schema": "s", "ssl_mode": {"mode": "disable"}});
        let cache = destination_config_to_cache("postgres", &config).unwrap();
        let pg = cache.as_postgres().unwrap();
        assert_eq!(
            (
                pg.host(),
                pg.port(),
                pg.database(),
                pg.username(),
                pg.schema_name()
            ),
            ("db", 6543, "d", "u", "s")
        );
        assert_eq!(pg.password().map(Password::expose), Some("pw"));
        let back = paired_destination_config(&cache);
        assert_eq!(
            back,
            json!({"destinationType": "postgres", "host": "db", "port": 6543, "database": "d",
                "schema": "s", "username": "u", "password": "pw"})
        );
        assert_eq!(
            destination_config_to_cache("postgres", &back)
                .unwrap()
                .describe(),
            cache.describe()
        );
        // PyAirbyte's default schema of the destination is `public`, the port 5432.
        let c = destination_config_to_cache(
            "postgres",
            &json!({"host": "h", "database": "d", "username": "u"}),
        )
        .unwrap();
        let pg = c.as_postgres().unwrap();
        assert_eq!(
            (pg.port(), pg.schema_name(), pg.password()),
            (5432, "public", None)
        );
        let e = destination_config_to_cache("postgres", &json!({"host": "h", "username": "u"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`database`"), "{e}");
    }

    #[test]
    fn duckdb_config_to_cache_and_back() {
        let c = destination_config_to_cache(
            "duckdb",
            &json!({"destination_path": "/tmp/x.duckdb", "schema": "raw"}),
        )
        .unwrap();
        let d = c.as_duckdb().unwrap();
        assert_eq!(
            (d.db_path().to_str(), d.schema_name()),
            (Some("/tmp/x.duckdb"), "raw")
        );
        assert_eq!(
            paired_destination_config(&c),
            json!({"destinationType": "duckdb", "destination_path": "/tmp/x.duckdb",
                "schema": "raw"})
        );
        let c = destination_config_to_cache("duckdb", &json!({"destination_path": "/local/a.db"}))
            .unwrap();
        let d = c.as_duckdb().unwrap();
        assert!(
            d.db_path().ends_with("destination-duckdb/a.db"),
            "{:?}",
            d.db_path()
        );
        assert_eq!(d.schema_name(), "main");
        let e = destination_config_to_cache("snowflake", &json!({})).unwrap_err();
        assert!(e.to_string().contains("snowflake"), "{e}");
    }

    #[test]
    fn the_type_comes_from_the_config_or_the_name() {
        assert_eq!(
            destination_type("destination-postgres", &json!({})).as_deref(),
            Some("postgres")
        );
        assert_eq!(
            destination_type("airbyte/destination-duckdb:0.4", &json!({})).as_deref(),
            Some("duckdb")
        );
        assert_eq!(
            destination_type("x", &json!({"destinationType": "postgres"})).as_deref(),
            Some("postgres")
        );
        assert_eq!(destination_type("/usr/bin/thing", &json!({})), None);
    }
}

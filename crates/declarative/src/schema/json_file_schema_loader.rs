//! `JsonFileSchemaLoader`: a schema read from the connector's package data, as the CDK reads
//! it with `pkgutil.get_data`.
//!
//! `file_path` (Jinja with `config` and `parameters`) names a package and a file in it:
//! `./source_x/schemas/users.json` is `schemas/users.json` of package `source_x`, a folder
//! beside the manifest (or the manifest's own folder, when it is that package). Without
//! `file_path`, it is `./<package>/schemas/{{ parameters['name'] }}.json`, the package being
//! the one `source_*` package beside the manifest (the CDK takes the first `source_` module
//! imported). References in the file are resolved (see [`super::refs`]).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::SchemaError;
use super::refs::resolve_schema_references;
use crate::engine_error::Result;
use crate::factory::{BuildEnv, Node};
use crate::interpolation::{Context, InterpolatedString};

/// A `JsonFileSchemaLoader`.
#[derive(Debug, Clone)]
pub struct JsonFileSchemaLoader {
    file_path: InterpolatedString,
    config: Value,
    directory: Option<PathBuf>,
}

impl JsonFileSchemaLoader {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>, stream_name: &str) -> Result<Self> {
        let mut parameters = node.parameters().clone();
        // The loader's `{{ parameters['name'] }}` is the stream's name when the loader's own
        // parameters lack it (they normally carry it, pushed down from the stream).
        if !parameters.contains_key("name") && !stream_name.is_empty() {
            parameters.insert("name".into(), Value::String(stream_name.to_string()));
        }
        let file_path = node.opt_str("file_path")?;
        Ok(Self::new(file_path.as_deref(), &parameters, node.env))
    }

    /// The loader of `file_path` (the default path when `None` or empty).
    pub fn new(file_path: Option<&str>, parameters: &Map<String, Value>, env: &BuildEnv) -> Self {
        let directory = env.directory.clone();
        let file_path = match file_path {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => match directory.as_deref().and_then(default_package) {
                Some(package) => format!("./{package}/schemas/{{{{parameters['name']}}}}.json"),
                None => "./{{parameters['name']}}.json".to_string(),
            },
        };
        Self {
            file_path: InterpolatedString::new(file_path, parameters),
            config: env.config.clone(),
            directory,
        }
    }

    /// The schema.
    pub fn get_json_schema(&self) -> Result<Value, SchemaError> {
        let path = self
            .file_path
            .eval_to_string(&Context::new(&self.config))
            .map_err(|e| SchemaError::Other(e.to_string()))?;
        let (package, file) = split_resource(&path);
        if package.is_empty() {
            return Err(SchemaError::Value(format!(
                "Empty module name (schema file {path})"
            )));
        }
        let Some(package_dir) = self
            .directory
            .as_deref()
            .and_then(|d| package_dir(d, &package))
        else {
            return Err(SchemaError::Os(format!("Cannot find file {path}")));
        };
        let full = file
            .split('/')
            .fold(package_dir.clone(), |p, part| p.join(part));
        let bytes = std::fs::read(&full).map_err(|e| {
            SchemaError::Os(format!(
                "[Errno 2] No such file or directory: '{}' ({e})",
                full.display()
            ))
        })?;
        if bytes.is_empty() {
            return Err(SchemaError::Os(format!("Cannot find file {path}")));
        }
        let raw: Value = serde_json::from_slice(&bytes).map_err(|e| {
            SchemaError::Other(format!("Invalid JSON file format for file {path}: {e}"))
        })?;
        resolve_schema_references(raw, &package_dir)
    }
}

/// `extract_resource_and_schema_path`: (package, path in it).
fn split_resource(path: &str) -> (String, String) {
    let mut parts: Vec<&str> = path.split('/').collect();
    if parts.first().is_some_and(|p| p.is_empty() || *p == ".") {
        parts.remove(0);
    }
    match parts.len() {
        0 => (String::new(), String::new()),
        1 => (String::new(), parts[0].to_string()),
        _ => (parts[0].to_string(), parts[1..].join("/")),
    }
}

fn is_package(dir: &Path) -> bool {
    dir.join("__init__.py").is_file()
}

/// The folder of package `name` for a manifest in `directory`: `directory/name`, or
/// `directory` itself when it is that package.
fn package_dir(directory: &Path, name: &str) -> Option<PathBuf> {
    let beside = directory.join(name);
    if is_package(&beside) {
        return Some(beside);
    }
    let own = directory.file_name().and_then(|n| n.to_str()) == Some(name);
    (own && is_package(directory)).then(|| directory.to_path_buf())
}

/// The connector's package: the manifest's own folder when it is a `source_*` package, else
/// the first `source_*` package beside it.
fn default_package(directory: &Path) -> Option<String> {
    if let Some(name) = directory.file_name().and_then(|n| n.to_str())
        && name.contains("source_")
        && is_package(directory)
    {
        return Some(name.to_string());
    }
    let mut names: Vec<String> = std::fs::read_dir(directory)
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.contains("source_") && is_package(&directory.join(n)))
        .collect();
    names.sort();
    names.into_iter().next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn package(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("abrs-jfsl-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("source_x/schemas/shared")).unwrap();
        std::fs::write(dir.join("source_x/__init__.py"), "").unwrap();
        std::fs::write(
            dir.join("source_x/schemas/users.json"),
            r#"{"type": "object", "properties": {"a": {"$ref": "a.json"}}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("source_x/schemas/shared/a.json"),
            r#"{"type": "string"}"#,
        )
        .unwrap();
        std::fs::write(dir.join("source_x/schemas/bad.json"), "{not json").unwrap();
        dir
    }

    fn env(dir: &Path) -> BuildEnv {
        BuildEnv {
            config: json!({"which": "users"}),
            directory: Some(dir.to_path_buf()),
            ..Default::default()
        }
    }

    #[test]
    fn paths_as_the_cdk() {
        assert_eq!(
            split_resource("./source_x/schemas/a.json"),
            ("source_x".into(), "schemas/a.json".into())
        );
        assert_eq!(
            split_resource("source_x/a.json"),
            ("source_x".into(), "a.json".into())
        );
        assert_eq!(split_resource("./a.json"), (String::new(), "a.json".into()));
        assert_eq!(
            split_resource("/abs/x/a.json"),
            ("abs".into(), "x/a.json".into())
        );
    }

    #[test]
    fn loads_and_resolves() {
        let dir = package("load");
        let env = env(&dir);
        let mut params = Map::new();
        params.insert("name".into(), json!("users"));
        let expected = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        // Default path: the package beside the manifest.
        assert_eq!(
            JsonFileSchemaLoader::new(None, &params, &env)
                .get_json_schema()
                .unwrap(),
            expected
        );
        let explicit = JsonFileSchemaLoader::new(
            Some("./source_x/schemas/{{ config.which }}.json"),
            &params,
            &env,
        );
        assert_eq!(explicit.get_json_schema().unwrap(), expected);
        // Missing file, unknown package, empty package name: errors the default loader absorbs.
        let missing =
            JsonFileSchemaLoader::new(Some("./source_x/schemas/none.json"), &params, &env);
        assert!(matches!(missing.get_json_schema(), Err(SchemaError::Os(_))));
        let unknown =
            JsonFileSchemaLoader::new(Some("./source_y/schemas/users.json"), &params, &env);
        assert!(matches!(unknown.get_json_schema(), Err(SchemaError::Os(_))));
        let no_package = JsonFileSchemaLoader::new(Some("users.json"), &params, &env);
        assert!(matches!(
            no_package.get_json_schema(),
            Err(SchemaError::Value(_))
        ));
        let bad = JsonFileSchemaLoader::new(Some("./source_x/schemas/bad.json"), &params, &env);
        assert!(matches!(bad.get_json_schema(), Err(SchemaError::Other(_))));
        // The default loader: `{}` for a missing file, an error for a bad one.
        params.insert("name".into(), json!("none"));
        assert_eq!(
            super::super::DefaultSchemaLoader::new(&params, &env)
                .get_json_schema()
                .unwrap(),
            json!({})
        );
        params.insert("name".into(), json!("bad"));
        assert!(
            super::super::DefaultSchemaLoader::new(&params, &env)
                .get_json_schema()
                .is_err()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

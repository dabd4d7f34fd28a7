//! [`Manifest`]: a loaded declarative manifest.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::{DeclarativeError, ManifestPath};
use crate::loader::{self, LoadOptions};

/// A declarative manifest after loading: references resolved, default types filled in,
/// `$parameters` pushed down (and, with [`LoadOptions::migrate`], deprecated fields migrated).
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    tree: Map<String, Value>,
    directory: Option<PathBuf>,
}

impl Manifest {
    /// Loads a manifest from YAML or JSON text, with the default options.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str) -> Result<Self, DeclarativeError> {
        Self::from_str_with(text, LoadOptions::default())
    }

    /// Loads a manifest from YAML or JSON text.
    pub fn from_str_with(text: &str, options: LoadOptions) -> Result<Self, DeclarativeError> {
        Self::from_value_with(loader::parse_manifest_text(text)?, options)
    }

    /// Loads a manifest already parsed into a JSON tree (e.g. `__injected_declarative_manifest`),
    /// with the default options.
    pub fn from_value(value: Value) -> Result<Self, DeclarativeError> {
        Self::from_value_with(value, LoadOptions::default())
    }

    /// Loads a manifest already parsed into a JSON tree, with options.
    pub fn from_value_with(value: Value, options: LoadOptions) -> Result<Self, DeclarativeError> {
        let tree = loader::preprocess(value, options)?;
        let Value::Object(tree) = tree else {
            return Err(DeclarativeError::NotAMapping {
                found: "something else",
            });
        };
        let manifest = Self {
            tree,
            directory: None,
        };
        manifest.check_shape()?;
        Ok(manifest)
    }

    /// Loads a manifest file (YAML or JSON). Its directory is kept: schema files are found
    /// relative to it.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Self, DeclarativeError> {
        Self::from_path_with(path, LoadOptions::default())
    }

    /// Loads a manifest file with options.
    pub fn from_path_with(
        path: impl AsRef<Path>,
        options: LoadOptions,
    ) -> Result<Self, DeclarativeError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| DeclarativeError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mut manifest = Self::from_str_with(&text, options)?;
        manifest.directory = path.parent().map(Path::to_path_buf);
        Ok(manifest)
    }

    fn check_shape(&self) -> Result<(), DeclarativeError> {
        let root = ManifestPath::root();
        for (key, expected) in [("streams", "a list"), ("dynamic_streams", "a list")] {
            if let Some(v) = self.tree.get(key)
                && !v.is_array()
            {
                return Err(DeclarativeError::Invalid {
                    at: root.key(key),
                    message: format!("expected {expected}"),
                });
            }
        }
        for key in ["spec", "check", "definitions"] {
            if let Some(v) = self.tree.get(key)
                && !v.is_object()
            {
                return Err(DeclarativeError::Invalid {
                    at: root.key(key),
                    message: "expected a mapping".into(),
                });
            }
        }
        if let Some(Value::Array(streams)) = self.tree.get("streams") {
            for (i, stream) in streams.iter().enumerate() {
                if !stream.is_object() {
                    return Err(DeclarativeError::Invalid {
                        at: root.key("streams").index(i),
                        message: "a stream must be a mapping".into(),
                    });
                }
            }
        }
        Ok(())
    }

    /// The whole loaded tree.
    pub fn tree(&self) -> &Map<String, Value> {
        &self.tree
    }

    /// The manifest's `version` (the CDK version it was written for), if any.
    pub fn version(&self) -> Option<&str> {
        self.tree.get("version").and_then(Value::as_str)
    }

    /// The `streams` components (empty when the manifest has only `dynamic_streams`).
    pub fn streams(&self) -> &[Value] {
        self.tree
            .get("streams")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// The stream component named `name`.
    pub fn stream(&self, name: &str) -> Option<&Value> {
        self.streams()
            .iter()
            .find(|s| s.get("name").and_then(Value::as_str) == Some(name))
    }

    /// The `dynamic_streams` components.
    pub fn dynamic_streams(&self) -> &[Value] {
        self.tree
            .get("dynamic_streams")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice)
    }

    /// The `spec` component (`type: Spec`), if the manifest has one.
    pub fn spec(&self) -> Option<&Map<String, Value>> {
        self.tree.get("spec").and_then(Value::as_object)
    }

    /// The `check` component (`CheckStream`, `CheckDynamicStream`), if any.
    pub fn check(&self) -> Option<&Map<String, Value>> {
        self.tree.get("check").and_then(Value::as_object)
    }

    /// The `definitions` mapping (resolved), if any.
    pub fn definitions(&self) -> Option<&Map<String, Value>> {
        self.tree.get("definitions").and_then(Value::as_object)
    }

    /// The top-level `schemas` mapping (`#/schemas/...` targets), if any.
    pub fn schemas(&self) -> Option<&Map<String, Value>> {
        self.tree.get("schemas").and_then(Value::as_object)
    }

    /// The manifest with `directory` as its folder (where its schema files are looked up).
    pub fn with_directory(mut self, directory: Option<PathBuf>) -> Self {
        self.directory = directory;
        self
    }

    /// The directory of the manifest file, when it was loaded from one.
    pub fn directory(&self) -> Option<&Path> {
        self.directory.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MANIFEST: &str = r##"
version: 6.44.0
type: DeclarativeSource
check:
  stream_names: ["users"]
definitions:
  requester:
    url_base: "https://api.example.com/v1"
    http_method: GET
    authenticator:
      type: BearerAuthenticator
      api_token: "{{ config['api_key'] }}"
  base_stream:
    retriever:
      requester:
        $ref: "#/definitions/requester"
      record_selector:
        extractor:
          field_path: ["data"]
      paginator:
        type: DefaultPaginator
        pagination_strategy:
          type: CursorPagination
          cursor_value: "{{ response.next }}"
streams:
  - $ref: "#/definitions/base_stream"
    $parameters:
      name: users
      path: /users
      primary_key: id
spec:
  connection_specification:
    type: object
    required: [api_key]
    properties:
      api_key: {type: string, airbyte_secret: true}
"##;

    #[test]
    fn a_manifest_loads_as_the_cdk_preprocesses_it() {
        let m = Manifest::from_str(MANIFEST).unwrap();
        assert_eq!(m.version(), Some("6.44.0"));
        assert_eq!(m.check().unwrap()["type"], "CheckStream");
        assert_eq!(m.spec().unwrap()["type"], "Spec");
        let s = m.stream("users").unwrap();
        assert_eq!(s["type"], "DeclarativeStream");
        assert_eq!(s["primary_key"], "id");
        let requester = &s["retriever"]["requester"];
        assert_eq!(requester["type"], "HttpRequester");
        assert_eq!(requester["path"], "/users");
        assert_eq!(requester["url_base"], "https://api.example.com/v1");
        assert_eq!(requester["$parameters"]["name"], "users");
        assert_eq!(requester["authenticator"]["type"], "BearerAuthenticator");
        assert_eq!(
            s["retriever"]["record_selector"]["extractor"]["type"],
            "DpathExtractor"
        );
        assert_eq!(
            s["retriever"]["paginator"]["pagination_strategy"]["$parameters"]["path"],
            "/users"
        );
        let schema = &m.spec().unwrap()["connection_specification"];
        assert!(
            schema.get("$parameters").is_none(),
            "a JSON schema gets no parameters"
        );
        assert!(m.definitions().unwrap().contains_key("base_stream"));
    }

    #[test]
    fn migrate_option_gives_url() {
        let m = Manifest::from_str_with(MANIFEST, LoadOptions { migrate: true }).unwrap();
        let requester = &m.stream("users").unwrap()["retriever"]["requester"];
        assert_eq!(requester["url"], "https://api.example.com/v1/users");
        assert!(requester.get("path").is_none() && requester.get("url_base").is_none());
    }

    #[test]
    fn from_path_keeps_the_directory_and_names_a_missing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.yaml");
        std::fs::write(&path, MANIFEST).unwrap();
        let m = Manifest::from_path(&path).unwrap();
        assert_eq!(m.directory(), Some(dir.path()));
        let e = Manifest::from_path(dir.path().join("nope.yaml")).unwrap_err();
        assert!(e.to_string().contains("nope.yaml"), "{e}");
    }

    #[test]
    fn errors_name_the_path() {
        let text = "streams:\n  - name: a\n  - name: b\n  - retriever:\n      requester:\n        $ref: '#/definitions/nope'\n";
        let e = Manifest::from_str(text).unwrap_err();
        assert_eq!(
            e.to_string(),
            "streams[2].retriever.requester.$ref: #/definitions/nope not found (no such key in the manifest)"
        );
        let e = Manifest::from_str("streams: {a: 1}\n").unwrap_err();
        assert_eq!(e.to_string(), "streams: expected a list");
        let e = Manifest::from_str("streams:\n  - $parameters: [1]\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "streams[0].$parameters: $parameters must be a mapping, found a list"
        );
    }

    #[test]
    fn json_text_loads_too() {
        let m = Manifest::from_str(
            r#"{"streams": [{"name": "x", "retriever": {"requester": {"url": "u"}}}]}"#,
        )
        .unwrap();
        assert_eq!(
            m.streams()[0]["retriever"]["requester"]["type"],
            json!("HttpRequester")
        );
        assert_eq!(m.tree()["type"], "DeclarativeSource");
    }
}

//! PyAirbyte's keyword arguments (`get_source`, `get_destination`, `read`, `write`) as the
//! library's option structs.

use std::path::PathBuf;
use std::sync::Arc;

use airbyte as ab;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString};
use serde_json::Value;

use crate::errors::{IntoPyResult, input_error};
use crate::json_values::{map_to_py, py_to_json};

/// The connector arguments shared by `get_source` and `get_destination`.
pub(crate) struct ConnectorArgs<'py> {
    pub(crate) config_change_callback: Option<Bound<'py, PyAny>>,
    pub(crate) version: Option<String>,
    pub(crate) use_python: Option<Bound<'py, PyAny>>,
    pub(crate) pip_url: Option<String>,
    pub(crate) local_executable: Option<Bound<'py, PyAny>>,
    pub(crate) docker_image: Option<Bound<'py, PyAny>>,
    pub(crate) use_host_network: bool,
    pub(crate) install_if_missing: bool,
    pub(crate) install_root: Option<Bound<'py, PyAny>>,
    pub(crate) no_executor: bool,
}

impl ConnectorArgs<'_> {
    fn check_supported(&self) -> PyResult<()> {
        if self.no_executor {
            return Err(input_error(
                "`no_executor=True` is not supported by airbyte_rs",
                "give the connector a way to run (a registry name, `local_executable`, \
                 `pip_url` or `docker_image`), or validate the config with `set_config()` \
                 after `get_source()`",
            ));
        }
        Ok(())
    }

    fn use_python(&self) -> PyResult<Option<ab::UsePython>> {
        let Some(v) = &self.use_python else {
            return Ok(None);
        };
        if v.is_none() {
            return Ok(None);
        }
        if let Ok(b) = v.cast::<PyBool>() {
            return Ok(Some(if b.is_true() {
                ab::UsePython::Yes
            } else {
                ab::UsePython::No
            }));
        }
        Ok(Some(ab::UsePython::Interpreter(path_text(v)?)))
    }

    fn docker_image(&self) -> PyResult<Option<String>> {
        let Some(v) = &self.docker_image else {
            return Ok(None);
        };
        if v.is_none() {
            return Ok(None);
        }
        if let Ok(b) = v.cast::<PyBool>() {
            return Ok(b.is_true().then(|| "true".to_string()));
        }
        Ok(Some(v.extract::<String>()?))
    }

    fn callback(&self) -> Option<ab::ConfigCallback> {
        let cb = self.config_change_callback.as_ref()?.clone().unbind();
        Some(Arc::new(move |config: &serde_json::Map<String, Value>| {
            Python::attach(|py| {
                let result = map_to_py(py, config).and_then(|d| cb.call1(py, (d,)));
                if let Err(e) = result {
                    // The connector goes on; the callback's failure is shown, as Python shows
                    // an exception in a callback it cannot propagate.
                    e.print(py);
                }
            });
        }))
    }

    /// As source options (with the source-only `streams` and `source_manifest` given apart).
    pub(crate) fn source_options(
        &self,
        name: &str,
        source_manifest: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<ab::SourceOptions> {
        self.check_supported()?;
        Ok(ab::SourceOptions {
            streams: None,
            version: self.version.clone(),
            pip_url: self.pip_url.clone(),
            pip_overrides: Vec::new(),
            local_executable: optional_path(self.local_executable.as_ref())?,
            docker_image: self.docker_image()?,
            use_host_network: self.use_host_network,
            install_if_missing: self.install_if_missing,
            install_root: optional_path(self.install_root.as_ref())?,
            use_python: self.use_python()?,
            source_manifest: source_manifest
                .map(|m| manifest(name, m))
                .transpose()?
                .flatten(),
            config_change_callback: self.callback(),
        })
    }

    /// As destination options: the source options' conversions, without the source-only
    /// fields.
    pub(crate) fn destination_options(&self) -> PyResult<ab::DestinationOptions> {
        let s = self.source_options("", None)?;
        Ok(ab::DestinationOptions {
            version: s.version,
            pip_url: s.pip_url,
            pip_overrides: s.pip_overrides,
            local_executable: s.local_executable,
            docker_image: s.docker_image,
            use_host_network: s.use_host_network,
            install_if_missing: s.install_if_missing,
            install_root: s.install_root,
            use_python: s.use_python,
            config_change_callback: s.config_change_callback,
        })
    }
}

/// `source_manifest`: `True` (the registry's manifest), a `dict` (the manifest), or a path or
/// URL (`str` or `os.PathLike`).
fn manifest(name: &str, value: &Bound<'_, PyAny>) -> PyResult<Option<ab::SourceManifest>> {
    if value.is_none() {
        return Ok(None);
    }
    if let Ok(b) = value.cast::<PyBool>() {
        return Ok(b.is_true().then_some(ab::SourceManifest::Registry));
    }
    if value.cast::<PyDict>().is_ok() {
        return Ok(Some(ab::SourceManifest::Inline(py_to_json(value)?)));
    }
    if value.cast::<PyString>().is_ok() || value.hasattr("__fspath__")? {
        return Ok(Some(ab::SourceManifest::from_arg(&path_text(value)?)));
    }
    Err(input_error(
        format!("`source_manifest` of `{name}` must be True, a dict, a path or a URL"),
        "pass the manifest as a dict, or the path or URL of its YAML file",
    ))
}

/// An optional `str` or `os.PathLike` argument as a path.
fn optional_path(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<PathBuf>> {
    value
        .filter(|v| !v.is_none())
        .map(|v| path_text(v).map(PathBuf::from))
        .transpose()
}

/// A `str` or `os.PathLike` as text.
pub(crate) fn path_text(value: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(s.to_str()?.to_owned());
    }
    if value.hasattr("__fspath__")? {
        return Ok(value
            .call_method0("__fspath__")?
            .str()?
            .to_str()?
            .to_owned());
    }
    Ok(value.str()?.to_str()?.to_owned())
}

/// `streams=`: `None`, `"*"`, one name, or a list of names.
pub(crate) fn stream_selection(
    value: Option<&Bound<'_, PyAny>>,
) -> PyResult<Option<ab::StreamSelection>> {
    let Some(value) = value else {
        return Ok(None);
    };
    if value.is_none() {
        return Ok(None);
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Ok(Some(ab::StreamSelection::from(s.to_str()?)));
    }
    let names: Vec<String> = value.extract().map_err(|_| {
        input_error(
            "`streams` must be \"*\", a stream name or a list of stream names",
            "pass e.g. streams=[\"users\", \"products\"]",
        )
    })?;
    Ok(Some(ab::StreamSelection::Names(names)))
}

/// `write_strategy=`: `"auto"`, `"append"`, `"merge"`, `"replace"` (or an enum whose `value`
/// is one of them).
pub(crate) fn write_strategy(value: Option<&Bound<'_, PyAny>>) -> PyResult<ab::WriteStrategy> {
    let Some(value) = value else {
        return Ok(ab::WriteStrategy::Auto);
    };
    if value.is_none() {
        return Ok(ab::WriteStrategy::Auto);
    }
    let text: String = match value.getattr("value") {
        Ok(v) if !value.is_instance_of::<PyString>() => v.extract()?,
        _ => value.extract()?,
    };
    text.parse::<ab::WriteStrategy>().map_err(|_| {
        input_error(
            format!("Invalid strategy `{text}`"),
            "use one of \"auto\", \"append\", \"merge\" or \"replace\"",
        )
    })
}

/// A config argument: a `dict` (or any mapping), a path to a JSON/YAML file, or `None`.
pub(crate) fn config_value(value: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Value>> {
    let Some(value) = value else {
        return Ok(None);
    };
    if value.is_none() {
        return Ok(None);
    }
    if value.cast::<PyString>().is_ok() || value.hasattr("__fspath__")? {
        let path = PathBuf::from(path_text(value)?);
        return ab::config::load_config_file(&path).py().map(Some);
    }
    py_to_json(value).map(Some)
}

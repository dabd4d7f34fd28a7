//! From manifest text to the tree the components are built from, in the CDK's order:
//! parse → `type: DeclarativeSource` at the top → references → types and `$parameters` →
//! (optionally) migrations of deprecated fields.

mod migrations;
mod parse;
mod propagation;
mod references;

pub use migrations::apply_migrations;
pub use parse::parse_manifest_text;
pub use propagation::{
    CUSTOM_COMPONENTS_MAPPING, DEFAULT_MODEL_TYPES, PARAMETERS_KEY, propagate_types_and_parameters,
};
pub use references::resolve_references;

use serde_json::{Map, Value};

use crate::error::{DeclarativeError, ManifestPath};

/// How a manifest is loaded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Apply the CDK's manifest migrations (`url_base`/`path` → `url`, request bodies →
    /// `request_body`). The CDK's `source-declarative-manifest` does not (its default is
    /// `migrate_manifest=False`; the Connector Builder does): a migrated `url` joins the
    /// templates before rendering, which differs when a path renders with a leading `/` or to a
    /// full URL. Off by default, as in the CDK.
    pub migrate: bool,
}

/// Runs the loading pipeline on a parsed manifest.
pub fn preprocess(manifest: Value, options: LoadOptions) -> Result<Value, DeclarativeError> {
    let Value::Object(mut root) = manifest else {
        return Err(DeclarativeError::NotAMapping {
            found: "something else",
        });
    };
    if !root.contains_key("type") {
        root.insert("type".into(), Value::String("DeclarativeSource".into()));
    }
    let resolved = resolve_references(&Value::Object(root))?;
    let Value::Object(resolved) = resolved else {
        return Err(DeclarativeError::NotAMapping {
            found: "a reference to a non-mapping",
        });
    };
    let propagated =
        propagate_types_and_parameters("", &resolved, &Map::new(), false, &ManifestPath::root())?;
    let tree = Value::Object(propagated);
    Ok(if options.migrate {
        apply_migrations(&tree)
    } else {
        tree
    })
}

//! `KeysToLower`: lower-cases the record's top-level keys, as the CDK's
//! `KeysToLowerTransformation`.

use serde_json::{Map, Value};

use super::{Transformation, record_map};
use crate::engine_error::Result;
use crate::error::ManifestPath;
use crate::factory::Node;
use crate::interpolation::Context;

/// A `KeysToLower` transformation.
#[derive(Debug)]
pub struct KeysToLower {
    at: ManifestPath,
}

impl KeysToLower {
    /// Builds it from its node.
    pub fn from_node(node: Node<'_>) -> Result<Self> {
        Ok(Self {
            at: node.path.clone(),
        })
    }
}

impl Transformation for KeysToLower {
    fn transform(&self, record: &mut Value, _context: &Context) -> Result<()> {
        let map = record_map(record, "KeysToLower", &self.at)?;
        // The CDK pops every key and sets it lower-cased: a key that changes always overwrites
        // one that was already lower-case (whatever the order), so those are written last.
        let old = std::mem::take(map);
        let mut out = Map::with_capacity(old.len());
        let mut changed = Vec::new();
        for (key, value) in old {
            let lower = key.to_lowercase();
            if lower == key {
                out.insert(lower, value);
            } else {
                changed.push((lower, value));
            }
        }
        for (lower, value) in changed {
            out.insert(lower, value);
        }
        *map = out;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lowers_top_level_keys() {
        let t = KeysToLower {
            at: ManifestPath::root(),
        };
        let mut r = json!({"ID": 1, "Name": {"Inner": 2}, "id": 0, "ok": true});
        t.transform(&mut r, &Context::default()).unwrap();
        assert_eq!(r, json!({"id": 1, "name": {"Inner": 2}, "ok": true}));
        assert!(t.transform(&mut json!([1]), &Context::default()).is_err());
    }
}

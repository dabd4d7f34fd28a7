//! Typed errors of loading a manifest and of evaluating its Jinja.

use std::path::PathBuf;

/// Where a value sits in a manifest, as the user wrote it: `streams[2].retriever.requester`.
///
/// Built while the loader walks the tree, so that every error names the node it is about.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestPath(Vec<PathSegment>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum PathSegment {
    Key(String),
    Index(usize),
}

impl ManifestPath {
    /// The root of the manifest.
    pub fn root() -> Self {
        Self::default()
    }

    /// This path followed by the member `key`.
    pub fn key(&self, key: &str) -> Self {
        let mut next = self.clone();
        next.0.push(PathSegment::Key(key.to_string()));
        next
    }

    /// This path followed by the list index `index`.
    pub fn index(&self, index: usize) -> Self {
        let mut next = self.clone();
        next.0.push(PathSegment::Index(index));
        next
    }
}

impl std::fmt::Display for ManifestPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("<root>");
        }
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                PathSegment::Key(key) if i == 0 => f.write_str(key)?,
                PathSegment::Key(key) => write!(f, ".{key}")?,
                PathSegment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Why a manifest could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DeclarativeError {
    /// The manifest file could not be read.
    #[error("cannot read the manifest {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is neither valid YAML nor JSON.
    #[error("the manifest is not valid YAML: {message}")]
    Parse {
        /// The parser's message (with line and column).
        message: String,
    },
    /// The document parsed but its top level is not a mapping.
    #[error("the manifest must be a mapping at its top level, found {found}")]
    NotAMapping {
        /// What was found instead.
        found: &'static str,
    },
    /// A `$ref` or `#/...` string points at nothing.
    #[error("{at}: {reference} not found (no such key in the manifest)")]
    UndefinedReference {
        /// Where the reference was written.
        at: ManifestPath,
        /// The reference as written.
        reference: String,
    },
    /// A reference leads back to itself.
    #[error("{at}: circular reference {reference}")]
    CircularReference {
        /// Where the cycle was entered.
        at: ManifestPath,
        /// The reference that closes the cycle.
        reference: String,
    },
    /// A `$ref` value that is not a reference string.
    #[error("{at}: invalid reference {reference}: a reference is written \"#/definitions/name\"")]
    InvalidReference {
        /// Where it was written.
        at: ManifestPath,
        /// What was written.
        reference: String,
    },
    /// The manifest's structure is wrong where the loader needs it (e.g. `streams` is not a list).
    #[error("{at}: {message}")]
    Invalid {
        /// Where.
        at: ManifestPath,
        /// What is wrong and what was expected.
        message: String,
    },
}

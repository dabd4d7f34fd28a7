//! Running Airbyte connectors: local executables, Python packages in venvs (uv or pip), and
//! Docker images, all behind one [`Executor`] trait.
//!
//! ```no_run
//! use abrs_connectors::{Executor, Flow, Invocation, PathExecutor};
//! use abrs_protocol::Decoded;
//!
//! let source = PathExecutor::new("source-fixture", "./source-fixture")?;
//! let spec = abrs_connectors::spec(&source)?;
//! let catalog = abrs_connectors::discover(&source, &serde_json::json!({"count": 3}))?;
//! # let configured: abrs_protocol::ConfiguredAirbyteCatalog = todo!();
//! let process = source.execute(Invocation::read(serde_json::json!({"count": 3}), configured))?;
//! let summary = process.for_each(|msg| {
//!     if let Decoded::Record(r) = msg {
//!         println!("{}: {}", r.stream, r.data.get());
//!     }
//!     Ok::<_, abrs_connectors::ConnectorError>(Flow::Continue)
//! })?;
//! println!("{} records", summary.records);
//! # Ok::<(), abrs_connectors::ConnectorError>(())
//! ```

mod docker;
mod error;
mod executor;
mod input;
mod invocation;
mod log;
mod manifest_cdk;
mod ops;
mod package_files;
mod process;
mod venv;

pub use docker::{CONTAINER_LOCAL_DIR, CONTAINER_TEMP_DIR, DockerExecutor, project_dir};
pub use error::{ConnectorError, ConnectorFailure, ExitInfo};
pub use executor::{Executor, PathExecutor, which};
pub use input::ConnectorStdin;
pub use invocation::{
    ConfigChangeCallback, DEFAULT_GRACE_PERIOD, Invocation, PreparedFiles, StdinSource, Verb,
    prepare_files, temp_root,
};
pub use log::{ConnectorLog, LOG_TAIL_LINES, connector_log_path, logging_root};
pub use manifest_cdk::{
    CDK_MANIFEST_RUNNER, DEFAULT_CDK_VERSION, INJECTED_MANIFEST_KEY, ManifestCdkExecutor,
};
pub use ops::{check, check_with, discover, discover_with, expect_message, spec, spec_with};
pub use package_files::unpack_package;
pub use process::{
    ConnectorCommand, ConnectorProcess, Flow, InProcessDestination, InProcessProducer, MessageIter,
    PassLine, RunSummary, StopHandle,
};
pub use venv::{Installer, VenvExecutor, default_install_root, tools_dir};

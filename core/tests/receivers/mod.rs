//! Where the receivers' Python is: the venv `make test-deps` makes
//! (`$AGENTAUTHZ_TEST_PYTHON`, set by the Makefile to the venv under the
//! cargo target dir in use), else the workspace's `target/otlp-venv`.

use std::path::PathBuf;

pub fn python() -> PathBuf {
    let path = std::env::var_os("AGENTAUTHZ_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/otlp-venv/bin/python")
        });
    assert!(
        path.exists(),
        "{} is missing: run `make test-deps` (a venv with the PyPI packages of core/tests/requirements.txt)",
        path.display()
    );
    path
}

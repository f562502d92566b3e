//! `agentauthz._native`: the Python binding, a thin adapter over agentauthz's
//! typed Engine API (and its `agentauthz::ffi` facade where the input is a
//! free-form document: bundle strings, session keys, a journal change).
//!
//! - `args`: Python arguments → typed core values (bounded walk, cycles refused);
//! - `engine`: the `Engine` class, one core call per method, GIL released;
//! - `clock`: `ManualClock`, a clock for tests;
//! - `types`: `Decision`, `Grant` and other results → Python objects;
//! - `errors`: core errors → `agentauthz.errors` classes, chosen in Python
//!   by the core's stable code; every call runs under `ffi::catch_panic`, so a
//!   panic reaches Python as `agentauthz.InternalError`, never as `PanicException`.

mod args;
mod clock;
mod engine;
mod errors;
mod types;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", agentauthz::VERSION)?;
    m.add_class::<engine::PyEngine>()?;
    m.add_class::<types::PyDecision>()?;
    m.add_class::<types::PyGrant>()?;
    m.add_class::<clock::PyManualClock>()?;
    m.add_function(wrap_pyfunction!(errors::error_codes, m)?)?;
    m.add_function(wrap_pyfunction!(engine::flush_decision_logs, m)?)?;
    m.add_function(wrap_pyfunction!(errors::_raise_error, m)?)?;
    m.add_function(wrap_pyfunction!(errors::_panic, m)?)?;
    m.add_function(wrap_pyfunction!(engine::generate_session_key, m)?)?;
    m.add_function(wrap_pyfunction!(engine::store_init, m)?)?;
    m.add_function(wrap_pyfunction!(engine::schema_from_mcp, m)?)?;
    m.add_function(wrap_pyfunction!(engine::mcp_denied_result, m)?)?;
    m.add_function(wrap_pyfunction!(engine::to_ocsf, m)?)?;
    m.add_function(wrap_pyfunction!(engine::verify_bundle, m)?)?;
    Ok(())
}

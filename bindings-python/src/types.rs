//! What the engine returns, as Python objects: `Decision`, `Grant`, and the
//! conversions of core results.

use crate::errors::at_index;
use agentauthz::{Decision, Grant};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pythonize::pythonize;
use std::sync::{Mutex, PoisonError};

// ---------------------------------------------------------------- Decision

/// The answer to one request. A deny is data, not an error.
#[pyclass(frozen, module = "agentauthz._native", name = "Decision")]
#[derive(Debug)]
pub(crate) struct PyDecision(pub(crate) Decision);

#[pymethods]
impl PyDecision {
    /// True when the decision is "allow".
    #[getter]
    fn allowed(&self) -> bool {
        self.0.allowed()
    }

    /// "allow", "deny" or "needs_approval".
    #[getter]
    fn decision(&self) -> &'static str {
        self.0.decision.as_str()
    }

    /// Ids of the policies (or built-in guards) that determined the decision, sorted.
    #[getter]
    fn reasons(&self) -> Vec<String> {
        self.0.reasons.clone()
    }

    /// Policies whose evaluation errored: [{"policy": ..., "message": ...}].
    #[getter]
    fn errors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &self.0.errors)?)
    }

    #[getter]
    fn decision_id(&self) -> &str {
        self.0.decision_id()
    }

    /// True for "needs_approval": a human must approve this exact request.
    #[getter]
    fn requires_approval(&self) -> bool {
        self.0.requires_approval
    }

    /// Who may approve ("owner", "team:ID", "user:ID"); empty unless approval is needed.
    #[getter]
    fn approvers(&self) -> Vec<String> {
        self.0.approvers.clone()
    }

    /// "sha256:<hex>" of the request, when approval is needed or was used.
    #[getter]
    fn request_digest(&self) -> Option<String> {
        self.0.request_digest.clone()
    }

    #[getter]
    fn policy_revision(&self) -> &str {
        self.0.policy_revision()
    }

    /// The Decision JSON as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &self.0)?)
    }

    /// Refused: `if decision:` would read a deny as true. Use `.allowed`.
    fn __bool__(&self) -> PyResult<bool> {
        Err(PyTypeError::new_err(
            "a Decision has no truth value; use decision.allowed",
        ))
    }

    fn __repr__(&self) -> String {
        let errors: Vec<String> = self
            .0
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.policy, e.message))
            .collect();
        format!(
            "<Decision {} reasons={:?} errors={:?} decision_id={:?} policy_revision={:?}>",
            self.0.decision.as_str(),
            self.0.reasons,
            errors,
            self.0.decision_id,
            self.0.policy_revision
        )
    }
}

// ---------------------------------------------------------------- Grant

/// A just-in-time grant: `agent` may do `actions` on `resource` (and anything
/// in it) from `starts` until `expires`, optionally only within `task`.
#[pyclass(frozen, eq, module = "agentauthz._native", name = "Grant")]
#[derive(Debug, PartialEq)]
pub(crate) struct PyGrant(pub(crate) Grant);

#[pymethods]
impl PyGrant {
    /// The grant id; decisions it allows have the reason `grant/<id>`.
    #[getter]
    fn id(&self) -> &str {
        &self.0.id
    }

    #[getter]
    fn agent(&self) -> &str {
        &self.0.agent
    }

    #[getter]
    fn actions(&self) -> Vec<String> {
        self.0.actions.clone()
    }

    /// `(type, id)`.
    #[getter]
    fn resource(&self) -> (String, String) {
        (
            self.0.resource.type_name.clone(),
            self.0.resource.id.clone(),
        )
    }

    /// RFC 3339, UTC, millisecond precision.
    #[getter]
    fn starts(&self) -> &str {
        &self.0.starts
    }

    /// RFC 3339, UTC, millisecond precision (exclusive).
    #[getter]
    fn expires(&self) -> &str {
        &self.0.expires
    }

    #[getter]
    fn task(&self) -> Option<&str> {
        self.0.task.as_deref()
    }

    #[getter]
    fn reason(&self) -> &str {
        &self.0.reason
    }

    #[getter]
    fn granted_by(&self) -> &str {
        &self.0.granted_by
    }

    /// The grant JSON as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &self.0)?)
    }

    fn __repr__(&self) -> String {
        format!(
            "<Grant {:?} agent={:?} actions={:?} resource={:?} starts={:?} expires={:?}>",
            self.0.id,
            self.0.agent,
            self.0.actions,
            (&self.0.resource.type_name, &self.0.resource.id),
            self.0.starts,
            self.0.expires
        )
    }
}

// ---------------------------------------------------------------- conversions

/// The decisions of a batch; the first request that failed is the error, its
/// index in the message.
pub(crate) fn batch_decisions(
    results: Vec<agentauthz::Result<Decision>>,
) -> agentauthz::Result<Vec<PyDecision>> {
    results
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.map(PyDecision).map_err(|e| at_index(e, i)))
        .collect()
}

/// `{"seq": ..., "hash": ...}` of a decision log's last record, or None.
pub(crate) fn log_head(py: Python<'_>, head: Option<(u64, String)>) -> PyResult<Bound<'_, PyAny>> {
    let Some((seq, hash)) = head else {
        return Ok(py.None().into_bound(py));
    };
    let dict = PyDict::new(py);
    dict.set_item("seq", seq)?;
    dict.set_item("hash", hash)?;
    Ok(dict.into_any())
}

// ---------------------------------------------------------------- restored engine

/// An engine `Engine.restore` built, handed to the constructor (so a subclass
/// gets an instance of itself) and taken by it once.
#[pyclass(frozen, module = "agentauthz._native", name = "_RestoredEngine")]
pub(crate) struct RestoredEngine(Mutex<Option<agentauthz::Engine>>);

impl RestoredEngine {
    pub(crate) fn new(engine: agentauthz::Engine) -> RestoredEngine {
        RestoredEngine(Mutex::new(Some(engine)))
    }

    /// The engine, the first time only.
    pub(crate) fn take(&self) -> Option<agentauthz::Engine> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

//! `agentauthz.ManualClock`: a clock for tests, thin over
//! `agentauthz::ffi::manual_clock*`. An engine built with `clock=` judges
//! every check, change and session at the clock's time.

use crate::args::{time_arg, type_name};
use crate::errors::{authz_err, core, guarded};
use agentauthz::{ffi, Clock, Error, ErrorCode, ManualClock};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyFloat, PyInt, PyType};
use std::sync::Arc;

/// A clock that reads what it was last set to: `ManualClock("2026-11-29T10:00:00Z")`,
/// then `clock.advance(seconds)` / `clock.set(time)`; pass it as `Engine(..., clock=clock)`.
#[pyclass(frozen, module = "agentauthz._native", name = "ManualClock")]
#[derive(Debug)]
pub(crate) struct PyManualClock(Arc<ManualClock>);

#[pymethods]
impl PyManualClock {
    /// A clock at `start`: an RFC 3339 str or an aware datetime.
    #[new]
    fn new(py: Python<'_>, start: &Bound<'_, PyAny>) -> PyResult<Self> {
        guarded(py, || {
            let start = time(py, start, "start")?;
            core(py, ffi::manual_clock(&start)).map(PyManualClock)
        })
    }

    /// Sets the clock to `at` (an RFC 3339 str or an aware datetime; earlier is allowed).
    fn set(&self, py: Python<'_>, at: &Bound<'_, PyAny>) -> PyResult<()> {
        guarded(py, || {
            let at = time(py, at, "at")?;
            core(py, ffi::manual_clock_set(&self.0, &at))
        })
    }

    /// Moves the clock by `seconds` (an int, a float or a timedelta; negative moves it back).
    fn advance(&self, py: Python<'_>, seconds: &Bound<'_, PyAny>) -> PyResult<()> {
        guarded(py, || {
            let seconds = core(py, seconds_arg(py, seconds)?)?;
            core(py, ffi::manual_clock_advance(&self.0, seconds))
        })
    }

    /// The clock's time, RFC 3339 (`2026-11-29T10:00:00.000Z`).
    #[getter]
    fn now(&self) -> String {
        ffi::manual_clock_now(&self.0)
    }

    fn __repr__(&self) -> String {
        format!("<ManualClock now={:?}>", ffi::manual_clock_now(&self.0))
    }
}

/// A required time argument as RFC 3339 text; a wrong type is `request_invalid`.
fn time(py: Python<'_>, obj: &Bound<'_, PyAny>, what: &str) -> PyResult<String> {
    let code = ErrorCode::RequestInvalid;
    match time_arg(py, Some(obj), what, code, code)? {
        Ok(Some(text)) => Ok(text),
        Ok(None) => Err(authz_err(
            py,
            &Error::new(code, format!("`{what}` is required")),
        )),
        Err(e) => Err(authz_err(py, &e)),
    }
}

/// Seconds from an int, a float or a timedelta; anything else is `request_invalid`.
fn seconds_arg(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Result<f64, Error>> {
    static TIMEDELTA: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let number = obj.cast::<PyInt>().is_ok() && obj.cast::<PyBool>().is_err()
        || obj.cast::<PyFloat>().is_ok();
    if number {
        return Ok(Ok(obj.extract::<f64>()?));
    }
    if obj.is_instance(TIMEDELTA.import(py, "datetime", "timedelta")?)? {
        return Ok(Ok(obj.call_method0("total_seconds")?.extract::<f64>()?));
    }
    Ok(Err(Error::new(
        ErrorCode::RequestInvalid,
        format!(
            "seconds must be an int, a float or a timedelta, not {}",
            type_name(obj)
        ),
    )))
}

/// The `clock=` argument of `Engine(...)`: None, or a `ManualClock`.
pub(crate) fn clock_arg(obj: Option<&Bound<'_, PyAny>>) -> Result<Option<Arc<dyn Clock>>, Error> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(None);
    };
    let clock = obj.cast::<PyManualClock>().map_err(|_| {
        Error::new(
            ErrorCode::BundleInvalid,
            format!(
                "`clock` must be an agentauthz.ManualClock, not {}",
                type_name(obj)
            ),
        )
    })?;
    Ok(Some(clock.get().0.clone()))
}

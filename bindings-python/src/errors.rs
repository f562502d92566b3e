//! Core errors as the exception classes of `agentauthz.errors`, and the guard
//! every native call runs under.
//!
//! The class is picked in Python from the core's stable code (`error_codes()`),
//! so this file holds no table of its own.

use agentauthz::{error_codes as core_error_codes, ffi, Error, ErrorCode, ErrorFamily};
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList};
use pythonize::pythonize;

/// The core error as an instance of the matching `agentauthz.AuthzError` subclass.
pub(crate) fn authz_err(py: Python<'_>, e: &Error) -> PyErr {
    static FROM_NATIVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let build = || -> PyResult<PyErr> {
        let from_native = FROM_NATIVE.import(py, "agentauthz.errors", "_from_native")?;
        let exc = from_native.call1((error_dict(py, e)?,))?;
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|err| err)
}

/// `{code, family, message, details: [{message, location?}]}`, what `_from_native` reads.
fn error_dict<'py>(py: Python<'py>, e: &Error) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("code", e.code.as_str())?;
    dict.set_item("family", e.code.family().as_str())?;
    dict.set_item("message", e.to_string())?;
    dict.set_item("details", pythonize(py, &e.details)?)?;
    Ok(dict)
}

/// Runs `f` under `ffi::catch_panic`: a panic becomes an `internal` AuthzError.
pub(crate) fn guarded<T>(py: Python<'_>, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match ffi::catch_panic(|| Ok(f())) {
        Ok(result) => result,
        Err(e) => Err(authz_err(py, &e)),
    }
}

/// A core result as a Python result.
pub(crate) fn core<T>(py: Python<'_>, r: agentauthz::Result<T>) -> PyResult<T> {
    r.map_err(|e| authz_err(py, &e))
}

pub(crate) fn request_parse(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::RequestParse, message)
}

/// The same error under another code (an argument of a grant is a
/// `grant_invalid`); a limit error keeps its code.
pub(crate) fn recode(mut e: Error, code: ErrorCode) -> Error {
    if e.code.family() != ErrorFamily::Limit {
        e.code = code;
    }
    e
}

/// The error of the `i`-th request of a batch: its index in every message.
pub(crate) fn at_index(mut e: Error, i: usize) -> Error {
    for d in &mut e.details {
        d.message = format!("request [{i}]: {}", d.message);
    }
    e
}

/// An argument that could not be converted: a coded error (with the Python
/// exception a user object raised while being read, kept as `__cause__`), or
/// a Python exception that propagates unchanged (a `BaseException` that is
/// not an `Exception`, such as KeyboardInterrupt, or a failure of the
/// interpreter itself).
pub(crate) enum ArgError {
    Coded(Error, Option<PyErr>),
    Raise(PyErr),
}

impl From<Error> for ArgError {
    fn from(e: Error) -> ArgError {
        ArgError::Coded(e, None)
    }
}

impl From<PyErr> for ArgError {
    fn from(e: PyErr) -> ArgError {
        ArgError::Raise(e)
    }
}

impl ArgError {
    /// The same failure under the argument's own code (limits keep theirs).
    pub(crate) fn recode(self, code: ErrorCode) -> ArgError {
        match self {
            ArgError::Coded(e, cause) => ArgError::Coded(recode(e, code), cause),
            raise => raise,
        }
    }
}

/// A conversion result as a Python result.
pub(crate) fn arg<T>(py: Python<'_>, r: Result<T, ArgError>) -> PyResult<T> {
    match r {
        Ok(v) => Ok(v),
        Err(ArgError::Coded(e, cause)) => {
            let err = authz_err(py, &e);
            if let Some(cause) = cause {
                err.set_cause(py, Some(cause));
            }
            Err(err)
        }
        Err(ArgError::Raise(err)) => Err(err),
    }
}

/// An exception raised by a user object while it was read (a `__getitem__`,
/// `keys`, `__iter__` that raised): a coded error caused by it; a
/// KeyboardInterrupt or SystemExit propagates as is.
pub(crate) fn raised(py: Python<'_>, err: PyErr, what: &str) -> ArgError {
    if !err.is_instance_of::<PyException>(py) {
        return ArgError::Raise(err);
    }
    let kind = err
        .get_type(py)
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.to_string());
    let message = format!("{what}: reading it raised {kind}: {}", err.value(py));
    ArgError::Coded(request_parse(message), Some(err))
}

/// Every stable error code with its family: [{"code": ..., "family": ...}].
#[pyfunction]
pub(crate) fn error_codes(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    guarded(py, || {
        let list = PyList::empty(py);
        for (code, family) in core_error_codes() {
            let entry = PyDict::new(py);
            entry.set_item("code", code)?;
            entry.set_item("family", family)?;
            list.append(entry)?;
        }
        Ok(list)
    })
}

/// Test hook: raises the error the core would raise for `code`, through the
/// same conversion as every other call.
#[pyfunction]
pub(crate) fn _raise_error(py: Python<'_>, code: &str, message: &str) -> PyResult<()> {
    guarded(py, || {
        let code = ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == code)
            .ok_or_else(|| PyTypeError::new_err(format!("unknown error code {code:?}")))?;
        Err(authz_err(py, &Error::new(code, message)))
    })
}

/// Test hook: panics inside the guard every native call runs under.
#[pyfunction]
#[allow(clippy::panic)]
pub(crate) fn _panic(py: Python<'_>, message: &str) -> PyResult<()> {
    guarded(py, || panic!("{message}"))
}

//! `agentauthz._native`: the Python binding, a thin adapter over agentauthz's
//! typed Engine API and its JSON facade (`agentauthz::ffi`).
//!
//! Each export shapes its Python arguments into a typed request or a
//! `serde_json::Value` and calls one core function. Loading and evaluation run
//! with the GIL released. Every call runs under `ffi::catch_panic`, so a panic
//! reaches Python as `agentauthz.InternalError`, never as `PanicException`.
//! Errors are raised as the classes of `agentauthz.errors`, which picks the
//! class from the core's stable code.

use agentauthz::{
    ffi, AgentRequest, Decision, DecisionLog, EntityRef, Error, ErrorCode, ErrorFamily, Grant,
    GrantRequest, Limits, Request, TaskSpec,
};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PyMapping,
    PySequence, PySet, PyString, PyTuple, PyType,
};
use pythonize::pythonize;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

// ---------------------------------------------------------------- errors

/// The core error as an instance of the matching `agentauthz.AuthzError` subclass.
fn authz_err(py: Python<'_>, e: &Error) -> PyErr {
    static FROM_NATIVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let build = || -> PyResult<PyErr> {
        let from_native = FROM_NATIVE.import(py, "agentauthz.errors", "_from_native")?;
        let exc = from_native.call1((pythonize(py, &ffi::error_to_value(e))?,))?;
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|err| err)
}

/// Runs `f` under `ffi::catch_panic`: a panic becomes an `internal` AuthzError.
fn guarded<T>(py: Python<'_>, f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    match ffi::catch_panic(|| Ok(f())) {
        Ok(result) => result,
        Err(e) => Err(authz_err(py, &e)),
    }
}

/// A core result as a Python result.
fn core<T>(py: Python<'_>, r: agentauthz::Result<T>) -> PyResult<T> {
    r.map_err(|e| authz_err(py, &e))
}

fn request_parse(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::RequestParse, message)
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.to_string())
}

// ---------------------------------------------------------------- argument shaping

// Python values are walked with the core's default limits (`Limits`), the
// same bounds and accounting as `Limits::check_value` on a JSON value: depth
// (`max_depth`; the walk recurses once per level, so it is refused, never
// recursed into) and size (8 bytes a value plus its text, `max_request_bytes`;
// a bundle's texts get the sum of the bundle file bounds, each file checked
// again by the core).

/// An argument that could not be converted: a coded error (with the Python
/// exception a user object raised while being read, kept as `__cause__`), or
/// a `BaseException` that is not an `Exception` (KeyboardInterrupt,
/// SystemExit), which propagates unchanged.
enum ArgError {
    Coded(Error, Option<PyErr>),
    Raise(PyErr),
}

impl From<Error> for ArgError {
    fn from(e: Error) -> ArgError {
        ArgError::Coded(e, None)
    }
}

impl ArgError {
    /// The same failure under the argument's own code (limits keep theirs).
    fn recode(self, code: ErrorCode) -> ArgError {
        match self {
            ArgError::Coded(e, cause) => ArgError::Coded(recode(e, code), cause),
            raise => raise,
        }
    }
}

/// A conversion result as a Python result.
fn arg<T>(py: Python<'_>, r: Result<T, ArgError>) -> PyResult<T> {
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
fn raised(py: Python<'_>, err: PyErr, what: &str) -> ArgError {
    if !err.is_instance_of::<pyo3::exceptions::PyException>(py) {
        return ArgError::Raise(err);
    }
    let kind = err
        .get_type(py)
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.to_string());
    let message = format!("{what}: reading it raised {kind}: {}", err.value(py));
    ArgError::Coded(request_parse(message), Some(err))
}

/// A Python value as JSON; anything JSON cannot hold is a `request_parse`
/// error, a value past the limits an `input_too_deep` / `input_too_large` one.
fn json_arg(obj: &Bound<'_, PyAny>, what: &str) -> Result<Value, ArgError> {
    let limits = Limits::default();
    json_arg_within(obj, what, limits.max_request_bytes, "max_request_bytes")
}

/// [`json_arg`] with another size budget (bundle texts).
fn json_arg_within(
    obj: &Bound<'_, PyAny>,
    what: &str,
    budget: usize,
    setting: &'static str,
) -> Result<Value, ArgError> {
    let mut walk = Walk {
        what,
        depth: Limits::default().depth(),
        budget,
        setting,
        size: 0,
        path: Vec::new(),
    };
    walk.value(obj, 0)
}

/// The state of one conversion: its limits, the size so far and the
/// containers being walked (a container inside itself is a cycle).
struct Walk<'a> {
    what: &'a str,
    depth: usize,
    budget: usize,
    setting: &'static str,
    size: usize,
    path: Vec<usize>,
}

impl Walk<'_> {
    fn shape(&self, message: String) -> ArgError {
        ArgError::from(request_parse(format!("{}: {message}", self.what)))
    }

    fn too_deep(&self, message: String) -> ArgError {
        ArgError::from(Error::new(
            ErrorCode::InputTooDeep,
            format!("{} {message}", self.what),
        ))
    }

    /// Adds `bytes` to the size; past the budget is `input_too_large`.
    fn grow(&mut self, bytes: usize) -> Result<(), ArgError> {
        self.size = self.size.saturating_add(bytes);
        if self.size > self.budget {
            return Err(ArgError::from(Error::new(
                ErrorCode::InputTooLarge,
                format!(
                    "{} is over the limit of {} bytes ([limits] {})",
                    self.what, self.budget, self.setting
                ),
            )));
        }
        Ok(())
    }

    fn text(&mut self, s: &Bound<'_, PyString>) -> Result<String, ArgError> {
        let text = s
            .to_cow()
            .map_err(|e| self.shape(format!("text that is not valid Unicode: {e}")))?;
        self.grow(text.len())?;
        Ok(text.into_owned())
    }

    /// Python → JSON: scalars, then any Mapping (dict, OrderedDict, a user
    /// Mapping) and any Sequence or set, walked with the limits above.
    fn value(&mut self, obj: &Bound<'_, PyAny>, depth: usize) -> Result<Value, ArgError> {
        self.grow(8)?;
        if obj.is_none() {
            return Ok(Value::Null);
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return self.text(s).map(Value::String);
        }
        if let Ok(b) = obj.cast_exact::<PyBool>() {
            return Ok(Value::Bool(b.is_true()));
        }
        if let Ok(i) = obj.cast::<PyInt>() {
            return i
                .extract::<i64>()
                .map(Value::from)
                .or_else(|_| i.extract::<u64>().map(Value::from))
                .map_err(|_| self.shape(format!("integer {i} does not fit in 64 bits")));
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            return serde_json::Number::from_f64(f.value())
                .map(Value::Number)
                .ok_or_else(|| self.shape(format!("{f} is not a JSON number")));
        }
        if depth >= self.depth {
            return Err(self.too_deep(format!(
                "nests deeper than {} levels ([limits] max_depth)",
                self.depth
            )));
        }
        let id = obj.as_ptr() as usize;
        if self.path.contains(&id) {
            return Err(self.too_deep(format!(
                "has a {} that contains itself (a cycle), so it has no JSON form",
                type_name(obj)
            )));
        }
        self.path.push(id);
        let out = self.container(obj, depth + 1);
        self.path.pop();
        out
    }

    fn container(&mut self, obj: &Bound<'_, PyAny>, depth: usize) -> Result<Value, ArgError> {
        let py = obj.py();
        if let Ok(d) = obj.cast_exact::<PyDict>() {
            // A copy of the items: converting a value may run user code that changes the dict.
            let mut map = Map::new();
            for item in d.items().iter() {
                let (k, v) = item
                    .extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>()
                    .map_err(|e| raised(py, e, self.what))?;
                self.entry(&mut map, &k, &v, depth)?;
            }
            return Ok(Value::Object(map));
        }
        if let Ok(t) = obj.cast_exact::<PyTuple>() {
            return self.items(t.as_any(), depth);
        }
        if let Ok(l) = obj.cast_exact::<PyList>() {
            return self.items(l.as_any(), depth);
        }
        if obj.cast::<PyMapping>().is_ok() {
            let items = obj
                .call_method0("items")
                .and_then(|i| i.try_iter())
                .map_err(|e| raised(py, e, self.what))?;
            let mut map = Map::new();
            for item in items {
                let (k, v) = item
                    .and_then(|i| i.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>())
                    .map_err(|e| raised(py, e, self.what))?;
                self.entry(&mut map, &k, &v, depth)?;
            }
            return Ok(Value::Object(map));
        }
        if obj.cast::<PyBytes>().is_ok() || obj.cast::<PyByteArray>().is_ok() {
            return Err(self.shape(format!("{} is not text: decode it to str", type_name(obj))));
        }
        if obj.cast::<PySequence>().is_ok()
            || obj.cast::<PySet>().is_ok()
            || obj.cast::<PyFrozenSet>().is_ok()
        {
            return self.items(obj, depth);
        }
        Err(self.shape(format!("a {} is not a JSON value", type_name(obj))))
    }

    fn entry(
        &mut self,
        map: &mut Map<String, Value>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
        depth: usize,
    ) -> Result<(), ArgError> {
        let key = match key.cast::<PyString>() {
            Ok(k) => self.text(k)?,
            Err(_) => {
                return Err(self.shape(format!("mapping keys must be str, not {}", type_name(key))))
            }
        };
        let value = self.value(value, depth)?;
        map.insert(key, value);
        Ok(())
    }

    fn items(&mut self, obj: &Bound<'_, PyAny>, depth: usize) -> Result<Value, ArgError> {
        let py = obj.py();
        let iter = obj.try_iter().map_err(|e| raised(py, e, self.what))?;
        let mut out = Vec::new();
        for item in iter {
            let item = item.map_err(|e| raised(py, e, self.what))?;
            out.push(self.value(&item, depth)?);
        }
        Ok(Value::Array(out))
    }
}

fn string_arg(obj: &Bound<'_, PyAny>, what: &str) -> Result<String, Error> {
    obj.cast::<PyString>()
        .map_err(|_| request_parse(format!("`{what}` must be a str, not {}", type_name(obj))))
        .and_then(|s| {
            s.to_cow()
                .map(|c| c.into_owned())
                .map_err(|e| request_parse(format!("`{what}`: {e}")))
        })
}

/// A str argument of a change or query: any other type is a `code` error
/// (not pyo3's TypeError), like every other bad value.
fn text_arg(obj: &Bound<'_, PyAny>, what: &str, code: ErrorCode) -> Result<String, Error> {
    string_arg(obj, what).map_err(|e| recode(e, code))
}

/// Two str arguments (`agent`, `by`, ...), each any other type a `code` error.
fn pair(
    a: &Bound<'_, PyAny>,
    a_name: &str,
    b: &Bound<'_, PyAny>,
    b_name: &str,
    code: ErrorCode,
) -> Result<(String, String), Error> {
    Ok((text_arg(a, a_name, code)?, text_arg(b, b_name, code)?))
}

fn optional_string(obj: Option<&Bound<'_, PyAny>>, what: &str) -> Result<Option<String>, Error> {
    match obj {
        Some(o) if !o.is_none() => string_arg(o, what).map(Some),
        _ => Ok(None),
    }
}

/// `(type, id)` or `{"type": ..., "id": ...}`.
fn resource_arg(obj: &Bound<'_, PyAny>) -> Result<EntityRef, ArgError> {
    let pair = obj
        .cast::<PyTuple>()
        .ok()
        .map(|t| t.as_any().clone())
        .or_else(|| obj.cast::<PyList>().ok().map(|l| l.as_any().clone()));
    if let Some(pair) = pair {
        let items: Vec<Bound<'_, PyAny>> = pair
            .try_iter()
            .and_then(|it| it.collect::<PyResult<_>>())
            .map_err(|e| request_parse(format!("`resource`: {e}")))?;
        return match items.as_slice() {
            [t, id] => Ok(EntityRef::new(
                string_arg(t, "resource type")?,
                string_arg(id, "resource id")?,
            )),
            _ => Err(request_parse(format!(
                "`resource` must be a (type, id) pair, got {} items",
                items.len()
            ))
            .into()),
        };
    }
    if obj.cast::<PyMapping>().is_ok() {
        return serde_json::from_value(json_arg(obj, "`resource`")?)
            .map_err(|e| request_parse(format!("`resource`: {e}")).into());
    }
    Err(request_parse(format!(
        "`resource` must be a (type, id) tuple or a {{\"type\", \"id\"}} dict, not {}",
        type_name(obj)
    ))
    .into())
}

fn context_arg(obj: Option<&Bound<'_, PyAny>>) -> Result<Map<String, Value>, ArgError> {
    match obj {
        None => Ok(Map::new()),
        Some(o) if o.is_none() => Ok(Map::new()),
        Some(o) => match json_arg(o, "`context`")? {
            Value::Object(map) => Ok(map),
            _ => {
                Err(request_parse(format!("`context` must be a dict, not {}", type_name(o))).into())
            }
        },
    }
}

/// `now` as the RFC 3339 text the core takes: a str as given, an aware
/// `datetime` in UTC with millisecond precision; a naive `datetime` is refused.
fn now_arg(
    py: Python<'_>,
    obj: Option<&Bound<'_, PyAny>>,
) -> PyResult<Result<Option<String>, Error>> {
    time_arg(
        py,
        obj,
        "now",
        ErrorCode::RequestParse,
        ErrorCode::RequestInvalid,
    )
}

/// A time argument (`now`, `until`, `starts`, ...) as RFC 3339 text: a str as
/// given, an aware `datetime` in UTC with millisecond precision. A value of
/// another type is a `wrong_type` error, a naive `datetime` a `naive` one.
fn time_arg(
    py: Python<'_>,
    obj: Option<&Bound<'_, PyAny>>,
    what: &str,
    wrong_type: ErrorCode,
    naive: ErrorCode,
) -> PyResult<Result<Option<String>, Error>> {
    static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    static UTC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Ok(None));
    };
    if obj.cast::<PyString>().is_ok() {
        return Ok(string_arg(obj, what)
            .map(Some)
            .map_err(|e| recode(e, wrong_type)));
    }
    if !obj.is_instance(DATETIME.import(py, "datetime", "datetime")?)? {
        return Ok(Err(Error::new(
            wrong_type,
            format!(
                "`{what}` must be an aware datetime or an RFC 3339 str, not {}",
                type_name(obj)
            ),
        )));
    }
    if obj.call_method0("utcoffset")?.is_none() {
        return Ok(Err(Error::new(
            naive,
            format!("`{what}` is a naive datetime; give it a timezone (e.g. datetime.now(timezone.utc))"),
        )));
    }
    let utc = UTC.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py
            .import("datetime")?
            .getattr("timezone")?
            .getattr("utc")?
            .unbind())
    })?;
    let text: String = obj
        .call_method1("astimezone", (utc.bind(py),))?
        .call_method1("isoformat", ("T", "milliseconds"))?
        .extract()?;
    Ok(Ok(Some(match text.strip_suffix("+00:00") {
        Some(t) => format!("{t}Z"),
        None => text,
    })))
}

/// The same error under another code (an argument of a grant is a
/// `grant_invalid`); a limit error keeps its code.
fn recode(mut e: Error, code: ErrorCode) -> Error {
    if e.code.family() != ErrorFamily::Limit {
        e.code = code;
    }
    e
}

/// A list or tuple of str (a bare str is refused: it is not a list of actions).
fn strings_arg(obj: &Bound<'_, PyAny>, what: &str, code: ErrorCode) -> Result<Vec<String>, Error> {
    let items: Option<Vec<Bound<'_, PyAny>>> = if let Ok(l) = obj.cast::<PyList>() {
        Some(l.iter().collect())
    } else if let Ok(t) = obj.cast::<PyTuple>() {
        Some(t.iter().collect())
    } else {
        None
    };
    let Some(items) = items else {
        return Err(Error::new(
            code,
            format!("`{what}` must be a list of str, not {}", type_name(obj)),
        ));
    };
    items
        .iter()
        .map(|i| string_arg(i, what).map_err(|e| recode(e, code)))
        .collect()
}

/// `ttl` as whole seconds: an int, or a `datetime.timedelta` of whole seconds.
fn ttl_arg(py: Python<'_>, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Result<Option<u64>, Error>> {
    static TIMEDELTA: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let code = ErrorCode::GrantInvalid;
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(Ok(None));
    };
    if obj.cast_exact::<PyInt>().is_ok() {
        return Ok(obj.extract::<u64>().map(Some).map_err(|_| {
            Error::new(
                code,
                format!("`ttl` must be a non-negative number of seconds, not {obj}"),
            )
        }));
    }
    if obj.is_instance(TIMEDELTA.import(py, "datetime", "timedelta")?)? {
        let seconds: f64 = obj.call_method0("total_seconds")?.extract()?;
        if seconds < 0.0 || seconds.fract() != 0.0 || seconds > 9.0e15 {
            return Ok(Err(Error::new(
                code,
                format!("`ttl` must be a non-negative whole number of seconds, not {seconds}"),
            )));
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        return Ok(Ok(Some(seconds as u64)));
    }
    Ok(Err(Error::new(
        code,
        format!(
            "`ttl` must be an int (seconds) or a timedelta, not {}",
            type_name(obj)
        ),
    )))
}

/// `journal` (a path or None) and `recover` (a bool or None) of `Engine(...)`.
fn journal_args(
    journal: Option<&Bound<'_, PyAny>>,
    recover: Option<&Bound<'_, PyAny>>,
) -> Result<(Option<String>, bool), Error> {
    let bad = |message: String| Error::new(ErrorCode::BundleInvalid, message);
    let journal = match journal.filter(|j| !j.is_none()) {
        None => None,
        Some(j) => Some(
            j.extract::<PathBuf>()
                .map_err(|_| bad(format!("`journal` must be a path, not {}", type_name(j))))?
                .to_string_lossy()
                .into_owned(),
        ),
    };
    let recover = flag_arg("recover", recover, ErrorCode::BundleInvalid)?;
    Ok((journal, recover))
}

/// A keyword flag: absent or None is false; anything but a bool is `code`.
fn flag_arg(name: &str, value: Option<&Bound<'_, PyAny>>, code: ErrorCode) -> Result<bool, Error> {
    match value.filter(|v| !v.is_none()) {
        None => Ok(false),
        Some(v) => v.cast_exact::<PyBool>().map(|b| b.is_true()).map_err(|_| {
            Error::new(
                code,
                format!("`{name}` must be a bool, not {}", type_name(v)),
            )
        }),
    }
}

enum BundleArg {
    Dir(PathBuf),
    Strings(Value),
    /// From `Engine.restore`.
    Restored(Box<agentauthz::Engine>),
}

/// A bundle directory (str or os.PathLike) or a dict of strings
/// `{"schema", "policies", "inventory"?, "config"?}`.
fn bundle_arg(obj: &Bound<'_, PyAny>) -> Result<BundleArg, ArgError> {
    if let Ok(restored) = obj.cast::<RestoredEngine>() {
        let engine = restored
            .get()
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        return engine
            .map(|e| BundleArg::Restored(Box::new(e)))
            .ok_or_else(|| {
                Error::new(ErrorCode::BundleInvalid, "a restored engine is used once").into()
            });
    }
    if obj.cast::<PyMapping>().is_ok() {
        let limits = Limits::default();
        let budget = [
            limits.max_schema_bytes,
            limits.max_policy_bytes,
            limits.max_inventory_bytes,
            limits.max_config_bytes,
        ]
        .iter()
        .fold(0usize, |sum, b| sum.saturating_add(*b));
        let value = json_arg_within(obj, "bundle strings", budget, "max_*_bytes of the files")
            .map_err(|e| e.recode(ErrorCode::BundleInvalid))?;
        // Drop keys set to None so `inventory=None` means "no inventory".
        let value = match value {
            Value::Object(m) => {
                Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect())
            }
            other => other,
        };
        return Ok(BundleArg::Strings(value));
    }
    obj.extract::<PathBuf>().map(BundleArg::Dir).map_err(|_| {
        Error::new(
            ErrorCode::BundleInvalid,
            format!(
                "a bundle is a directory path or a dict of strings {{schema, policies, inventory?, config?}}, not {}",
                type_name(obj)
            ),
        )
        .into()
    })
}

/// A decision-log sink: a callable (called with each record as a dict, in
/// order, on the thread that called `check`), a path (`"-"`: standard output),
/// or None (no sink).
fn decision_log_arg(
    py: Python<'_>,
    sink: &Bound<'_, PyAny>,
    max_bytes: Option<&Bound<'_, PyAny>>,
    engine: &agentauthz::Engine,
    recover: bool,
) -> PyResult<Option<DecisionLog>> {
    let config = |message: String| authz_err(py, &Error::new(ErrorCode::ConfigInvalid, message));
    let max_bytes = match max_bytes.filter(|m| !m.is_none()) {
        None => None,
        Some(m) if m.cast::<PyInt>().is_ok() && m.cast::<PyBool>().is_err() => Some(
            m.extract::<u64>()
                .map_err(|_| config(format!("`max_bytes` must be a positive int, not {m}")))?,
        ),
        Some(m) => {
            return Err(config(format!(
                "`max_bytes` must be a positive int, not {}",
                type_name(m)
            )))
        }
    };
    if sink.is_none() {
        return Ok(None);
    }
    if sink.is_callable() {
        let callable: Py<PyAny> = sink.clone().unbind();
        // Runs inside `check`, which released the GIL: take it back for the call.
        return Ok(Some(DecisionLog::try_callback(move |record| {
            Python::attach(|py| -> PyResult<()> {
                callable.call1(py, (pythonize(py, &record.to_value())?,))?;
                Ok(())
            })
            .map_err(|e| e.to_string())
        })));
    }
    let path: PathBuf = sink.extract().map_err(|_| {
        config(format!(
            "decision_log must be a callable, a path or None, not {}",
            type_name(sink)
        ))
    })?;
    let path = path.to_string_lossy().into_owned();
    core(
        py,
        py.detach(|| ffi::decision_log_path_for(engine, &path, max_bytes, recover)),
    )
    .map(Some)
}

// ---------------------------------------------------------------- Decision

/// The answer to one request. A deny is data, not an error.
#[pyclass(frozen, module = "agentauthz._native", name = "Decision")]
#[derive(Debug)]
struct PyDecision(Decision);

#[pymethods]
impl PyDecision {
    /// True when the decision is "allow".
    #[getter]
    fn allowed(&self) -> bool {
        self.0.allowed()
    }

    /// "allow" or "deny".
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

    #[getter]
    fn policy_revision(&self) -> &str {
        self.0.policy_revision()
    }

    /// The Decision JSON as a dict.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(pythonize(py, &ffi::decision_to_value(&self.0))?)
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
struct PyGrant(Grant);

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

// ---------------------------------------------------------------- Engine

/// In-process authorization for agents. Safe to share across threads:
/// checks never wait on a reload.
#[pyclass(frozen, subclass, module = "agentauthz._native", name = "Engine")]
#[derive(Debug)]
struct PyEngine(agentauthz::Engine);

#[pymethods]
impl PyEngine {
    /// An engine from a bundle directory or a dict of strings; `decision_log`
    /// as in `set_decision_log`. Run-time changes are kept in the JSON-lines
    /// file `journal` (or the bundle's `[journal] path`) and replayed now. A
    /// torn last line of the journal or of a file decision log raises
    /// `JournalError` / `LogError` unless `recover` is true (it is cut off and
    /// the cut recorded). Both are keyed with the bundle's `[integrity]` key.
    /// `trust_caller_time`: requests may carry their own `now` (tests,
    /// replays); otherwise the engine clock decides and `now` is an error.
    #[new]
    #[pyo3(signature = (bundle, /, *, decision_log=None, max_bytes=None, journal=None, recover=None, trust_caller_time=None))]
    fn new(
        py: Python<'_>,
        bundle: &Bound<'_, PyAny>,
        decision_log: Option<&Bound<'_, PyAny>>,
        max_bytes: Option<&Bound<'_, PyAny>>,
        journal: Option<&Bound<'_, PyAny>>,
        recover: Option<&Bound<'_, PyAny>>,
        trust_caller_time: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        guarded(py, || {
            let bundle = arg(py, bundle_arg(bundle))?;
            let (journal, recover) = core(py, journal_args(journal, recover))?;
            let trust_caller_time = core(
                py,
                flag_arg(
                    "trust_caller_time",
                    trust_caller_time,
                    ErrorCode::BundleInvalid,
                ),
            )?;
            let engine = py.detach(|| match bundle {
                BundleArg::Dir(dir) => ffi::engine_load_journaled(
                    &dir.to_string_lossy(),
                    journal.as_deref(),
                    recover,
                    None,
                    trust_caller_time,
                ),
                BundleArg::Restored(engine) => Ok(*engine),
                BundleArg::Strings(value) => ffi::bundle_from_strings(value).and_then(|bundle| {
                    let builder = agentauthz::Engine::builder()
                        .bundle(bundle)
                        .recover_journal(recover)
                        .trust_caller_time(trust_caller_time);
                    match journal {
                        Some(path) => builder.journal(path).build(),
                        None => builder.build(),
                    }
                }),
            });
            let engine = core(py, engine)?;
            // A file log is keyed with the bundle's [integrity] key.
            let log = match decision_log {
                Some(sink) => decision_log_arg(py, sink, max_bytes, &engine, recover)?,
                None => None,
            };
            if log.is_some() {
                engine.set_decision_log(log);
            }
            Ok(PyEngine(engine))
        })
    }

    /// Loads a bundle directory.
    #[classmethod]
    #[pyo3(signature = (path, *, decision_log=None, max_bytes=None, journal=None, recover=None, trust_caller_time=None))]
    fn load<'py>(
        cls: &Bound<'py, PyType>,
        path: &Bound<'py, PyAny>,
        decision_log: Option<&Bound<'py, PyAny>>,
        max_bytes: Option<&Bound<'py, PyAny>>,
        journal: Option<&Bound<'py, PyAny>>,
        recover: Option<&Bound<'py, PyAny>>,
        trust_caller_time: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let kwargs = PyDict::new(cls.py());
        kwargs.set_item("decision_log", decision_log)?;
        kwargs.set_item("max_bytes", max_bytes)?;
        kwargs.set_item("journal", journal)?;
        kwargs.set_item("recover", recover)?;
        kwargs.set_item("trust_caller_time", trust_caller_time)?;
        cls.call((path,), Some(&kwargs))
    }

    /// An engine from in-memory texts. `policies` is one text, a list of texts,
    /// or a dict of file name to text.
    #[classmethod]
    #[pyo3(signature = (*, schema, policies, inventory=None, config=None, decision_log=None, max_bytes=None, trust_caller_time=None))]
    #[allow(clippy::too_many_arguments)]
    fn from_strings<'py>(
        cls: &Bound<'py, PyType>,
        schema: &Bound<'py, PyAny>,
        policies: &Bound<'py, PyAny>,
        inventory: Option<&Bound<'py, PyAny>>,
        config: Option<&Bound<'py, PyAny>>,
        decision_log: Option<&Bound<'py, PyAny>>,
        max_bytes: Option<&Bound<'py, PyAny>>,
        trust_caller_time: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let strings = PyDict::new(cls.py());
        strings.set_item("schema", schema)?;
        strings.set_item("policies", policies)?;
        strings.set_item("inventory", inventory)?;
        strings.set_item("config", config)?;
        let kwargs = PyDict::new(cls.py());
        kwargs.set_item("decision_log", decision_log)?;
        kwargs.set_item("max_bytes", max_bytes)?;
        kwargs.set_item("trust_caller_time", trust_caller_time)?;
        cls.call((strings,), Some(&kwargs))
    }

    /// Decides one agent-form request; with `session=` (a session token
    /// instead of `agent`) the token names the agent and task.
    #[pyo3(signature = (*, agent=None, action, resource, task=None, on_behalf_of=None, credential=None, context=None, now=None, session=None, audience=None))]
    #[allow(clippy::too_many_arguments)]
    fn check(
        &self,
        py: Python<'_>,
        agent: Option<&Bound<'_, PyAny>>,
        action: &Bound<'_, PyAny>,
        resource: &Bound<'_, PyAny>,
        task: Option<&Bound<'_, PyAny>>,
        on_behalf_of: Option<&Bound<'_, PyAny>>,
        credential: Option<&Bound<'_, PyAny>>,
        context: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
        session: Option<&Bound<'_, PyAny>>,
        audience: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyDecision> {
        guarded(py, || {
            let now = now_arg(py, now)?;
            let agent = match (agent.filter(|a| !a.is_none()), session) {
                (Some(agent), None) => agent,
                (None, Some(session)) => {
                    let request = arg(
                        py,
                        session_request(
                            session,
                            action,
                            resource,
                            task,
                            on_behalf_of,
                            credential,
                            context,
                            now,
                            audience,
                        ),
                    )?;
                    let decision = py.detach(|| ffi::check_session_value(&self.0, request));
                    return core(py, decision.and_then(decision_from_value)).map(PyDecision);
                }
                _ => {
                    return Err(authz_err(
                        py,
                        &Error::new(
                            ErrorCode::RequestInvalid,
                            "give exactly one of `agent` and `session`",
                        ),
                    ))
                }
            };
            if audience.is_some_and(|a| !a.is_none()) {
                return Err(authz_err(
                    py,
                    &Error::new(ErrorCode::RequestInvalid, "`audience` goes with `session`"),
                ));
            }
            let request = arg(
                py,
                (|| -> Result<Request, ArgError> {
                    Ok(Request::Agent(AgentRequest {
                        agent: string_arg(agent, "agent")?,
                        action: string_arg(action, "action")?,
                        resource: resource_arg(resource)?,
                        task: optional_string(task, "task")?,
                        on_behalf_of: optional_string(on_behalf_of, "on_behalf_of")?,
                        credential: optional_string(credential, "credential")?,
                        context: context_arg(context)?,
                        now: now?,
                    }))
                })(),
            )?;
            core(py, py.detach(|| self.0.check(&request))).map(PyDecision)
        })
    }

    /// Decides one request given in the wire shape (agent or Cedar form).
    fn check_request(&self, py: Python<'_>, request: &Bound<'_, PyAny>) -> PyResult<PyDecision> {
        guarded(py, || {
            let value = arg(py, json_arg(request, "request"))?;
            let decision =
                py.detach(|| Request::from_json_value(value).and_then(|r| self.0.check(&r)));
            core(py, decision).map(PyDecision)
        })
    }

    /// Decides a list of requests in the wire shape against one snapshot.
    /// All or nothing: the first bad request raises, its index in the message.
    fn check_batch(
        &self,
        py: Python<'_>,
        requests: &Bound<'_, PyAny>,
    ) -> PyResult<Vec<PyDecision>> {
        guarded(py, || {
            // Each request is bounded by the core; the walk bounds depth and cycles.
            let value = arg(
                py,
                json_arg_within(requests, "requests", usize::MAX, "max_request_bytes"),
            )?;
            let decisions = py.detach(|| {
                ffi::check_batch_value(&self.0, value).and_then(|v| {
                    serde_json::from_value::<Vec<Decision>>(v)
                        .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))
                })
            });
            core(py, decisions).map(|ds| ds.into_iter().map(PyDecision).collect())
        })
    }

    /// Swaps in a new bundle (a directory or a dict of strings). On error the
    /// current one stays active.
    fn reload(&self, py: Python<'_>, bundle: &Bound<'_, PyAny>) -> PyResult<()> {
        guarded(py, || {
            let bundle = arg(py, bundle_arg(bundle))?;
            let done = py.detach(|| match bundle {
                BundleArg::Dir(dir) => self.0.reload_dir(dir),
                BundleArg::Strings(value) => ffi::reload_from_strings(&self.0, value),
                BundleArg::Restored(_) => Err(Error::new(
                    ErrorCode::BundleInvalid,
                    "reload takes a bundle directory or a dict of strings",
                )),
            });
            core(py, done)
        })
    }

    /// The content hash of the active bundle.
    #[getter]
    fn policy_revision(&self, py: Python<'_>) -> PyResult<String> {
        guarded(py, || Ok(self.0.policy_revision()))
    }

    /// Sets the decision-log sink: a callable (called with each record as a
    /// dict), a path of a JSON-lines file (`"-"`: standard output; rotated
    /// at `max_bytes` when given), or None to stop logging.
    #[pyo3(signature = (sink, /, *, max_bytes=None))]
    fn set_decision_log(
        &self,
        py: Python<'_>,
        sink: &Bound<'_, PyAny>,
        max_bytes: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        guarded(py, || {
            let log = decision_log_arg(py, sink, max_bytes, &self.0, false)?;
            py.detach(|| self.0.set_decision_log(log));
            Ok(())
        })
    }

    /// Writes buffered records out; raises the first logging failure since the
    /// previous flush (a failed write, a callback that raised).
    fn flush_decision_log(&self, py: Python<'_>) -> PyResult<()> {
        guarded(py, || core(py, py.detach(|| self.0.flush_decision_log())))
    }

    /// `{"seq": ..., "hash": ...}` of the last record logged, or None without a sink.
    #[getter]
    fn decision_log_head<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guarded(py, || {
            let head = py.detach(|| ffi::decision_log_head_value(&self.0));
            Ok(pythonize(py, &head)?)
        })
    }

    /// The enforcement mode: "enforce" or "log-only" (`[engine] mode`).
    #[getter]
    fn mode(&self, py: Python<'_>) -> PyResult<&'static str> {
        guarded(py, || Ok(self.0.mode().as_str()))
    }

    /// What a forbid whose evaluation errors does: "deny" (fail closed, the
    /// default) or "skip" (Cedar's rule) — `[engine] on_error`.
    #[getter]
    fn on_error(&self, py: Python<'_>) -> PyResult<&'static str> {
        guarded(py, || Ok(self.0.on_error().as_str()))
    }

    /// Forbids of the active bundle that may error at run time (or never
    /// match): a list of `{policy, kind, message, location?}` dicts.
    fn warnings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guarded(py, || Ok(pythonize(py, &ffi::warnings_value(&self.0))?))
    }

    // ------------------------------------------------------------ run-time changes

    /// Grants `actions` on `resource` (and anything in it) to `agent` from
    /// `starts` (default: now) for `ttl` (seconds or a timedelta) or `until`.
    #[pyo3(signature = (*, agent, actions, resource, ttl=None, until=None, starts=None, task=None, reason, granted_by))]
    #[allow(clippy::too_many_arguments)]
    fn grant(
        &self,
        py: Python<'_>,
        agent: &Bound<'_, PyAny>,
        actions: &Bound<'_, PyAny>,
        resource: &Bound<'_, PyAny>,
        ttl: Option<&Bound<'_, PyAny>>,
        until: Option<&Bound<'_, PyAny>>,
        starts: Option<&Bound<'_, PyAny>>,
        task: Option<&Bound<'_, PyAny>>,
        reason: &Bound<'_, PyAny>,
        granted_by: &Bound<'_, PyAny>,
    ) -> PyResult<PyGrant> {
        guarded(py, || {
            let code = ErrorCode::GrantInvalid;
            let ttl = ttl_arg(py, ttl)?;
            let until = time_arg(py, until, "until", code, code)?;
            let starts = time_arg(py, starts, "starts", code, code)?;
            let text = |obj: &Bound<'_, PyAny>, what: &str| {
                string_arg(obj, what).map_err(|e| recode(e, code))
            };
            let request = arg(
                py,
                (|| -> Result<GrantRequest, ArgError> {
                    Ok(GrantRequest {
                        agent: text(agent, "agent")?,
                        actions: strings_arg(actions, "actions", code)?,
                        resource: resource_arg(resource).map_err(|e| e.recode(code))?,
                        ttl_seconds: ttl?,
                        until: until?,
                        starts: starts?,
                        task: optional_string(task, "task").map_err(|e| recode(e, code))?,
                        reason: text(reason, "reason")?,
                        granted_by: text(granted_by, "granted_by")?,
                    })
                })(),
            )?;
            core(py, py.detach(|| self.0.grant(request))).map(PyGrant)
        })
    }

    /// Ends a grant before its expiry.
    #[pyo3(signature = (grant_id, /, *, by))]
    fn revoke(
        &self,
        py: Python<'_>,
        grant_id: &Bound<'_, PyAny>,
        by: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        guarded(py, || {
            let lc = ErrorCode::LifecycleInvalid;
            let (id, by) = core(py, pair(grant_id, "grant_id", by, "by", lc))?;
            core(py, py.detach(|| self.0.revoke(&id, &by)))
        })
    }

    /// The grants in force (not expired, not revoked), of one agent or all, by id.
    #[pyo3(signature = (agent=None))]
    fn grants(&self, py: Python<'_>, agent: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<PyGrant>> {
        guarded(py, || {
            let agent = core(
                py,
                optional_string(agent, "agent").map_err(|e| recode(e, ErrorCode::LifecycleInvalid)),
            )?;
            let grants = py.detach(|| self.0.grants(agent.as_deref()));
            Ok(grants.into_iter().map(PyGrant).collect())
        })
    }

    /// The Cedar text of a grant in force, or None.
    fn grant_policy_text(
        &self,
        py: Python<'_>,
        grant_id: &Bound<'_, PyAny>,
    ) -> PyResult<Option<String>> {
        guarded(py, || {
            let id = core(
                py,
                text_arg(grant_id, "grant_id", ErrorCode::LifecycleInvalid),
            )?;
            Ok(py.detach(|| self.0.grant_policy_text(&id)))
        })
    }

    /// The agent may not act until reactivated.
    #[pyo3(signature = (agent, /, *, by))]
    fn suspend(
        &self,
        py: Python<'_>,
        agent: &Bound<'_, PyAny>,
        by: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        guarded(py, || {
            let (agent, by) = core(
                py,
                pair(agent, "agent", by, "by", ErrorCode::LifecycleInvalid),
            )?;
            core(py, py.detach(|| self.0.suspend(&agent, &by)))
        })
    }

    /// A suspended agent may act again.
    #[pyo3(signature = (agent, /, *, by))]
    fn reactivate(
        &self,
        py: Python<'_>,
        agent: &Bound<'_, PyAny>,
        by: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        guarded(py, || {
            let (agent, by) = core(
                py,
                pair(agent, "agent", by, "by", ErrorCode::LifecycleInvalid),
            )?;
            core(py, py.detach(|| self.0.reactivate(&agent, &by)))
        })
    }

    /// Final: the agent is offboarded; its grants and tasks are revoked, its
    /// credentials marked revoked.
    #[pyo3(signature = (agent, /, *, by))]
    fn offboard(
        &self,
        py: Python<'_>,
        agent: &Bound<'_, PyAny>,
        by: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        guarded(py, || {
            let (agent, by) = core(
                py,
                pair(agent, "agent", by, "by", ErrorCode::LifecycleInvalid),
            )?;
            core(py, py.detach(|| self.0.offboard(&agent, &by)))
        })
    }

    /// A credential was rotated: issued now, valid until `expires`.
    #[pyo3(signature = (credential, /, *, expires, by))]
    fn rotate_credential(
        &self,
        py: Python<'_>,
        credential: &Bound<'_, PyAny>,
        expires: &Bound<'_, PyAny>,
        by: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        guarded(py, || {
            let lc = ErrorCode::LifecycleInvalid;
            let (credential, by) = core(py, pair(credential, "credential", by, "by", lc))?;
            let expires = core(py, time_arg(py, Some(expires), "expires", lc, lc)?)?;
            let expires = expires.unwrap_or_default();
            core(
                py,
                py.detach(|| self.0.rotate_credential(&credential, &expires, &by)),
            )
        })
    }

    /// The agent's accountable owner becomes the user `owner`.
    #[pyo3(signature = (agent, /, *, owner, by))]
    fn transfer_owner(
        &self,
        py: Python<'_>,
        agent: &Bound<'_, PyAny>,
        owner: &Bound<'_, PyAny>,
        by: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        guarded(py, || {
            let lc = ErrorCode::LifecycleInvalid;
            let (agent, by) = core(py, pair(agent, "agent", by, "by", lc))?;
            let owner = core(py, text_arg(owner, "owner", lc))?;
            core(py, py.detach(|| self.0.transfer_owner(&agent, &owner, &by)))
        })
    }

    /// Adds a task (a just-in-time scope with a window) for an agent.
    #[pyo3(signature = (*, id, agent, not_before, not_after, purpose=None, on_behalf_of=None, by))]
    #[allow(clippy::too_many_arguments)]
    fn add_task(
        &self,
        py: Python<'_>,
        id: &Bound<'_, PyAny>,
        agent: &Bound<'_, PyAny>,
        not_before: &Bound<'_, PyAny>,
        not_after: &Bound<'_, PyAny>,
        purpose: Option<&Bound<'_, PyAny>>,
        on_behalf_of: Option<&Bound<'_, PyAny>>,
        by: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        guarded(py, || {
            let lc = ErrorCode::LifecycleInvalid;
            let (id, agent) = core(py, pair(id, "id", agent, "agent", lc))?;
            let by = core(py, text_arg(by, "by", lc))?;
            let optional = |o, what| optional_string(o, what).map_err(|e| recode(e, lc));
            let purpose = core(py, optional(purpose, "purpose"))?;
            let on_behalf_of = core(py, optional(on_behalf_of, "on_behalf_of"))?;
            let not_before = core(py, time_arg(py, Some(not_before), "not_before", lc, lc)?)?;
            let not_after = core(py, time_arg(py, Some(not_after), "not_after", lc, lc)?)?;
            let task = TaskSpec {
                id,
                agent,
                not_before: not_before.unwrap_or_default(),
                not_after: not_after.unwrap_or_default(),
                purpose,
                on_behalf_of,
            };
            core(py, py.detach(|| self.0.add_task(task, &by)))
        })
    }

    /// Applies one change in its journal form (`{"op": "suspend", "agent": ...}`);
    /// returns the journal entry `{"seq", "at", "by", "op", ...}`.
    #[pyo3(signature = (change, /, *, by))]
    fn apply<'py>(
        &self,
        py: Python<'py>,
        change: &Bound<'py, PyAny>,
        by: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guarded(py, || {
            let lc = ErrorCode::LifecycleInvalid;
            let by = core(py, text_arg(by, "by", lc))?;
            let change = arg(py, json_arg(change, "change").map_err(|e| e.recode(lc)))?;
            let entry = core(
                py,
                py.detach(|| ffi::apply_change_value(&self.0, change, &by)),
            )?;
            Ok(pythonize(py, &entry)?)
        })
    }

    /// The journal file, or None when run-time changes are not journaled.
    #[getter]
    fn journal_path(&self, py: Python<'_>) -> PyResult<Option<String>> {
        guarded(py, || {
            Ok(py
                .detach(|| self.0.journal_path())
                .map(|p| p.to_string_lossy().into_owned()))
        })
    }

    /// Journal changes that no longer applied to the bundle when it was last
    /// loaded or reloaded, described.
    fn skipped_changes(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        guarded(py, || Ok(py.detach(|| self.0.skipped_changes())))
    }

    fn __repr__(&self) -> String {
        format!("<Engine policy_revision={:?}>", self.0.policy_revision())
    }

    // --- sessions

    /// Issues a session token for an active agent (and a task of its own):
    /// `(token, claims)`. `ttl` in seconds or a `timedelta`, capped by
    /// `[sessions] max_ttl_seconds`.
    #[pyo3(signature = (agent, /, *, task=None, ttl=None, audience=None))]
    fn issue_session<'py>(
        &self,
        py: Python<'py>,
        agent: &Bound<'py, PyAny>,
        task: Option<&Bound<'py, PyAny>>,
        ttl: Option<&Bound<'py, PyAny>>,
        audience: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<(String, Bound<'py, PyAny>)> {
        guarded(py, || {
            let ttl = ttl_arg(py, ttl)?.map_err(|e| recode(e, ErrorCode::SessionInvalid));
            let input = core(
                py,
                (|| {
                    let mut m = Map::new();
                    m.insert("agent".into(), Value::String(string_arg(agent, "agent")?));
                    if let Some(t) = optional_string(task, "task")? {
                        m.insert("task".into(), Value::String(t));
                    }
                    if let Some(t) = ttl? {
                        m.insert("ttl_seconds".into(), Value::from(t));
                    }
                    if let Some(a) = optional_string(audience, "audience")? {
                        m.insert("audience".into(), Value::String(a));
                    }
                    Ok(Value::Object(m))
                })(),
            )?;
            let issued = core(py, py.detach(|| ffi::issue_session_value(&self.0, input)))?;
            let token = issued
                .get("token")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let claims = issued.get("claims").cloned().unwrap_or(Value::Null);
            Ok((token, pythonize(py, &claims)?))
        })
    }

    /// The verified claims of a session token (engine clock, revocations,
    /// agent standing), or the error that refuses it.
    #[pyo3(signature = (token, /, *, audience=None))]
    fn verify_session<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
        audience: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guarded(py, || {
            let (token, audience) = core(
                py,
                string_arg(token, "token")
                    .and_then(|t| Ok((t, optional_string(audience, "audience")?))),
            )?;
            let claims = core(
                py,
                py.detach(|| ffi::verify_session_value(&self.0, &token, audience.as_deref())),
            )?;
            Ok(pythonize(py, &claims)?)
        })
    }

    /// Revokes one session by its `session_id` claim.
    #[pyo3(signature = (session_id, /, *, by))]
    fn revoke_session(
        &self,
        py: Python<'_>,
        session_id: &Bound<'_, PyAny>,
        by: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        guarded(py, || {
            let lc = ErrorCode::LifecycleInvalid;
            let (id, by) = core(py, pair(session_id, "session_id", by, "by", lc))?;
            core(py, py.detach(|| self.0.revoke_session(&id, &by)))
        })
    }

    /// Replaces the session keys: `signing={"kid": ..., "key": ...}` (a
    /// secret key, PASERK or PEM) and/or `verifying={kid: public key}`.
    #[pyo3(signature = (*, signing=None, verifying=None))]
    fn set_session_keys(
        &self,
        py: Python<'_>,
        signing: Option<&Bound<'_, PyAny>>,
        verifying: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        guarded(py, || {
            let input = arg(
                py,
                (|| -> Result<Value, ArgError> {
                    let mut m = Map::new();
                    for (name, key) in [("`signing`", signing), ("`verifying`", verifying)] {
                        if let Some(a) = key.filter(|a| !a.is_none()) {
                            let v =
                                json_arg(a, name).map_err(|e| e.recode(ErrorCode::KeyInvalid))?;
                            m.insert(name.trim_matches('`').into(), v);
                        }
                    }
                    Ok(Value::Object(m))
                })(),
            )?;
            let keys = core(py, py.detach(|| ffi::session_keys_from_value(input)))?;
            py.detach(|| self.0.set_session_keys(keys));
            Ok(())
        })
    }

    /// The public session keys `{kid: "k4.public...."}`, to hand to verifiers.
    fn session_public_keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guarded(py, || {
            let keys = py.detach(|| ffi::session_public_keys_value(&self.0));
            Ok(pythonize(py, &keys)?)
        })
    }

    // ------------------------------------------------------------ engine state
    // (helper `ffi`: a self-contained block, to be moved into engine.rs as is)

    /// Everything needed to rebuild this engine elsewhere (bundle texts,
    /// run-time changes with their original times, session keys, settings),
    /// as opaque JSON text for `Engine.restore`. It holds the session signing
    /// key when one is set: keep it as secret as that key.
    fn state(&self, py: Python<'_>) -> PyResult<String> {
        guarded(py, || {
            core(py, py.detach(|| ffi::engine_state_json(&self.0)))
        })
    }

    /// An engine rebuilt from `state()` text through the core's journal
    /// replay: changes keep their original times; those that no longer apply
    /// are listed by `skipped_changes()`. It holds no files (no journal); give
    /// `decision_log` for a sink.
    #[classmethod]
    #[pyo3(signature = (state, /, *, decision_log=None, max_bytes=None))]
    fn restore<'py>(
        cls: &Bound<'py, PyType>,
        state: &Bound<'py, PyAny>,
        decision_log: Option<&Bound<'py, PyAny>>,
        max_bytes: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let py = cls.py();
        let restored = guarded(py, || {
            let text = core(py, text_arg(state, "state", ErrorCode::ConfigInvalid))?;
            core(py, py.detach(|| ffi::engine_restore_json(&text, None)))
        })?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("decision_log", decision_log)?;
        kwargs.set_item("max_bytes", max_bytes)?;
        let restored = Bound::new(py, RestoredEngine(Mutex::new(Some(restored))))?;
        cls.call((restored,), Some(&kwargs))
    }
}

/// An engine `Engine.restore` built, handed to the constructor (so a subclass
/// gets an instance of itself) and taken by it once.
#[pyclass(frozen, module = "agentauthz._native", name = "_RestoredEngine")]
struct RestoredEngine(Mutex<Option<agentauthz::Engine>>);

// ---------------------------------------------------------------- sessions

/// The wire shape of a session-form request (`ffi::check_session_value`).
#[allow(clippy::too_many_arguments)]
fn session_request(
    session: &Bound<'_, PyAny>,
    action: &Bound<'_, PyAny>,
    resource: &Bound<'_, PyAny>,
    task: Option<&Bound<'_, PyAny>>,
    on_behalf_of: Option<&Bound<'_, PyAny>>,
    credential: Option<&Bound<'_, PyAny>>,
    context: Option<&Bound<'_, PyAny>>,
    now: Result<Option<String>, Error>,
    audience: Option<&Bound<'_, PyAny>>,
) -> Result<Value, ArgError> {
    if task.is_some_and(|t| !t.is_none()) {
        return Err(Error::new(
            ErrorCode::RequestInvalid,
            "`task` comes from the session token; do not pass it with `session`",
        )
        .into());
    }
    let resource = resource_arg(resource)?;
    let mut m = Map::new();
    m.insert(
        "session".into(),
        Value::String(string_arg(session, "session")?),
    );
    m.insert(
        "action".into(),
        Value::String(string_arg(action, "action")?),
    );
    m.insert(
        "resource".into(),
        serde_json::json!({"type": resource.type_name, "id": resource.id}),
    );
    let optional = [
        (
            "on_behalf_of",
            optional_string(on_behalf_of, "on_behalf_of")?,
        ),
        ("credential", optional_string(credential, "credential")?),
        ("now", now?),
        ("audience", optional_string(audience, "audience")?),
    ];
    for (name, value) in optional {
        if let Some(v) = value {
            m.insert(name.into(), Value::String(v));
        }
    }
    m.insert("context".into(), Value::Object(context_arg(context)?));
    Ok(Value::Object(m))
}

fn decision_from_value(v: Value) -> agentauthz::Result<Decision> {
    serde_json::from_value(v).map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))
}

/// A new session key pair `{"kid", "secret", "public"}` (PASERK).
#[pyfunction]
fn generate_session_key<'py>(
    py: Python<'py>,
    kid: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    guarded(py, || {
        let kid = core(py, text_arg(kid, "kid", ErrorCode::KeyInvalid))?;
        let key = core(py, py.detach(|| ffi::generate_session_key_value(&kid)))?;
        Ok(pythonize(py, &key)?)
    })
}

// ---------------------------------------------------------------- module

/// Every stable error code with its family: [{"code": ..., "family": ...}].
#[pyfunction]
fn error_codes(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    guarded(py, || Ok(pythonize(py, &ffi::error_codes_value())?))
}

/// Flushes every decision-log file of the process (registered with `atexit`).
#[pyfunction]
fn flush_decision_logs(py: Python<'_>) -> PyResult<()> {
    guarded(py, || core(py, py.detach(agentauthz::audit::flush_all)))
}

/// Test hook: raises the error the core would raise for `code`, through the
/// same conversion as every other call.
#[pyfunction]
fn _raise_error(py: Python<'_>, code: &str, message: &str) -> PyResult<()> {
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
fn _panic(py: Python<'_>, message: &str) -> PyResult<()> {
    guarded(py, || panic!("{message}"))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", agentauthz::VERSION)?;
    m.add_class::<PyEngine>()?;
    m.add_class::<PyDecision>()?;
    m.add_class::<PyGrant>()?;
    m.add_function(wrap_pyfunction!(error_codes, m)?)?;
    m.add_function(wrap_pyfunction!(flush_decision_logs, m)?)?;
    m.add_function(wrap_pyfunction!(_raise_error, m)?)?;
    m.add_function(wrap_pyfunction!(_panic, m)?)?;
    m.add_function(wrap_pyfunction!(generate_session_key, m)?)?;
    Ok(())
}

//! Python arguments as typed core values.
//!
//! Free-form values (`context`, a wire-shaped request, bundle strings) are
//! walked with the core's default limits (`Limits`), the same bounds and
//! accounting as `Limits::check_value` on a JSON value: depth (`max_depth`;
//! the walk recurses once per level, so it is refused, never recursed into)
//! and size (8 bytes a value plus its text, `max_request_bytes`; a bundle's
//! texts get the sum of the bundle file bounds, each file checked again by
//! the core). A container inside itself is a cycle, refused.

use crate::errors::{at_index, authz_err, core, raised, recode, request_parse, ArgError};
use crate::types::RestoredEngine;
use agentauthz::{
    ffi, AgentRequest, Change, DecisionLog, EntityRef, Error, ErrorCode, GrantRequest, Limits,
    Request, SessionRequest, TaskSpec, TokenRequest, ToolCall,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyFrozenSet, PyInt, PyList, PyMapping,
    PySequence, PySet, PyString, PyTuple, PyType,
};
use pythonize::pythonize;
use serde_json::{Map, Value};
use std::path::PathBuf;

pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".to_string(), |n| n.to_string())
}

/// An optional argument that was given and is not None.
pub(crate) fn given<'a, 'py>(obj: Option<&'a Bound<'py, PyAny>>) -> Option<&'a Bound<'py, PyAny>> {
    obj.filter(|o| !o.is_none())
}

// ---------------------------------------------------------------- free-form values

/// A Python value as the JSON value the core takes; anything JSON cannot hold
/// is a `request_parse` error, a value past the limits an `input_too_deep` /
/// `input_too_large` one.
pub(crate) fn json_arg(obj: &Bound<'_, PyAny>, what: &str) -> Result<Value, ArgError> {
    let limits = Limits::default();
    json_arg_within(obj, what, limits.max_request_bytes, "max_request_bytes")
}

/// [`json_arg`] with another size budget (bundle texts).
pub(crate) fn json_arg_within(
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
        if let Some(scalar) = self.scalar(obj) {
            return scalar;
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

    /// None, str, bool, int or float; None when `obj` is none of these.
    fn scalar(&mut self, obj: &Bound<'_, PyAny>) -> Option<Result<Value, ArgError>> {
        if obj.is_none() {
            return Some(Ok(Value::Null));
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return Some(self.text(s).map(Value::String));
        }
        if let Ok(b) = obj.cast_exact::<PyBool>() {
            return Some(Ok(Value::Bool(b.is_true())));
        }
        if let Ok(i) = obj.cast::<PyInt>() {
            return Some(
                i.extract::<i64>()
                    .map(Value::from)
                    .or_else(|_| i.extract::<u64>().map(Value::from))
                    .map_err(|_| self.shape(format!("integer {i} does not fit in 64 bits"))),
            );
        }
        let f = obj.cast::<PyFloat>().ok()?;
        Some(
            serde_json::Number::from_f64(f.value())
                .map(Value::Number)
                .ok_or_else(|| self.shape(format!("{f} is not a JSON number"))),
        )
    }

    fn container(&mut self, obj: &Bound<'_, PyAny>, depth: usize) -> Result<Value, ArgError> {
        if let Ok(d) = obj.cast_exact::<PyDict>() {
            // A private copy: converting a value may run user code that
            // changes the dict, which no code can reach in its copy.
            let copy = d.copy().map_err(|e| raised(obj.py(), e, self.what))?;
            let mut map = Map::new();
            for (k, v) in copy.iter() {
                self.entry(&mut map, &k, &v, depth)?;
            }
            return Ok(Value::Object(map));
        }
        if obj.cast_exact::<PyTuple>().is_ok() || obj.cast_exact::<PyList>().is_ok() {
            return self.items(obj, depth);
        }
        if obj.cast::<PyMapping>().is_ok() {
            let items = obj
                .call_method0("items")
                .map_err(|e| raised(obj.py(), e, self.what))?;
            return self.entries(&items, depth);
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

    /// The `(key, value)` pairs of a mapping's `items()` as a JSON object.
    fn entries(&mut self, items: &Bound<'_, PyAny>, depth: usize) -> Result<Value, ArgError> {
        let py = items.py();
        let iter = items.try_iter().map_err(|e| raised(py, e, self.what))?;
        let mut map = Map::new();
        for item in iter {
            let (k, v) = item
                .and_then(|i| i.extract::<(Bound<'_, PyAny>, Bound<'_, PyAny>)>())
                .map_err(|e| raised(py, e, self.what))?;
            self.entry(&mut map, &k, &v, depth)?;
        }
        Ok(Value::Object(map))
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

// ---------------------------------------------------------------- text

pub(crate) fn string_arg(obj: &Bound<'_, PyAny>, what: &str) -> Result<String, Error> {
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
pub(crate) fn text_arg(
    obj: &Bound<'_, PyAny>,
    what: &str,
    code: ErrorCode,
) -> Result<String, Error> {
    string_arg(obj, what).map_err(|e| recode(e, code))
}

/// Two str arguments (`agent`, `by`, ...), each any other type a `code` error.
pub(crate) fn pair(
    a: &Bound<'_, PyAny>,
    a_name: &str,
    b: &Bound<'_, PyAny>,
    b_name: &str,
    code: ErrorCode,
) -> Result<(String, String), Error> {
    Ok((text_arg(a, a_name, code)?, text_arg(b, b_name, code)?))
}

pub(crate) fn optional_string(
    obj: Option<&Bound<'_, PyAny>>,
    what: &str,
) -> Result<Option<String>, Error> {
    given(obj).map(|o| string_arg(o, what)).transpose()
}

/// A list or tuple of str (a bare str is refused: it is not a list of actions).
pub(crate) fn strings_arg(
    obj: &Bound<'_, PyAny>,
    what: &str,
    code: ErrorCode,
) -> Result<Vec<String>, Error> {
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

// ---------------------------------------------------------------- resource, context

/// `(type, id)` or `{"type": ..., "id": ...}`.
pub(crate) fn resource_arg(obj: &Bound<'_, PyAny>) -> Result<EntityRef, ArgError> {
    if obj.cast::<PyTuple>().is_ok() || obj.cast::<PyList>().is_ok() {
        return resource_pair(obj);
    }
    if obj.cast::<PyMapping>().is_ok() {
        return resource_mapping(obj);
    }
    Err(request_parse(format!(
        "`resource` must be a (type, id) tuple or a {{\"type\", \"id\"}} dict, not {}",
        type_name(obj)
    ))
    .into())
}

fn resource_pair(obj: &Bound<'_, PyAny>) -> Result<EntityRef, ArgError> {
    let items: Vec<Bound<'_, PyAny>> = obj
        .try_iter()
        .and_then(|it| it.collect::<PyResult<_>>())
        .map_err(|e| request_parse(format!("`resource`: {e}")))?;
    match items.as_slice() {
        [t, id] => Ok(EntityRef::new(
            string_arg(t, "resource type")?,
            string_arg(id, "resource id")?,
        )),
        _ => Err(request_parse(format!(
            "`resource` must be a (type, id) pair, got {} items",
            items.len()
        ))
        .into()),
    }
}

/// `{"type": str, "id": str}`, read by the core's own `EntityRef`.
fn resource_mapping(obj: &Bound<'_, PyAny>) -> Result<EntityRef, ArgError> {
    serde_json::from_value(json_arg(obj, "`resource`")?)
        .map_err(|e| request_parse(format!("`resource`: {e}")).into())
}

pub(crate) fn context_arg(obj: Option<&Bound<'_, PyAny>>) -> Result<Map<String, Value>, ArgError> {
    let Some(o) = given(obj) else {
        return Ok(Map::new());
    };
    match json_arg(o, "`context`")? {
        Value::Object(map) => Ok(map),
        _ => Err(request_parse(format!("`context` must be a dict, not {}", type_name(o))).into()),
    }
}

// ---------------------------------------------------------------- time

/// `now` as the RFC 3339 text the core takes: a str as given, an aware
/// `datetime` in UTC with millisecond precision; a naive `datetime` is refused.
pub(crate) fn now_arg(
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
pub(crate) fn time_arg(
    py: Python<'_>,
    obj: Option<&Bound<'_, PyAny>>,
    what: &str,
    wrong_type: ErrorCode,
    naive: ErrorCode,
) -> PyResult<Result<Option<String>, Error>> {
    static DATETIME: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let Some(obj) = given(obj) else {
        return Ok(Ok(None));
    };
    if obj.cast::<PyString>().is_ok() {
        return Ok(string_arg(obj, what)
            .map(Some)
            .map_err(|e| recode(e, wrong_type)));
    }
    if !obj.is_instance(DATETIME.import(py, "datetime", "datetime")?)? {
        let message = format!(
            "`{what}` must be an aware datetime or an RFC 3339 str, not {}",
            type_name(obj)
        );
        return Ok(Err(Error::new(wrong_type, message)));
    }
    if obj.call_method0("utcoffset")?.is_none() {
        return Ok(Err(Error::new(
            naive,
            format!("`{what}` is a naive datetime; give it a timezone (e.g. datetime.now(timezone.utc))"),
        )));
    }
    utc_text(py, obj).map(|t| Ok(Some(t)))
}

/// An aware `datetime` as RFC 3339 text in UTC, millisecond precision, `Z`.
fn utc_text(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<String> {
    static UTC: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
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
    Ok(match text.strip_suffix("+00:00") {
        Some(t) => format!("{t}Z"),
        None => text,
    })
}

/// `ttl` as whole seconds: an int, or a `datetime.timedelta` of whole seconds.
pub(crate) fn ttl_arg(
    py: Python<'_>,
    obj: Option<&Bound<'_, PyAny>>,
) -> PyResult<Result<Option<u64>, Error>> {
    static TIMEDELTA: PyOnceLock<Py<PyType>> = PyOnceLock::new();
    let code = ErrorCode::GrantInvalid;
    let Some(obj) = given(obj) else {
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
        return timedelta_seconds(obj).map(|s| s.map(Some));
    }
    let message = format!(
        "`ttl` must be an int (seconds) or a timedelta, not {}",
        type_name(obj)
    );
    Ok(Err(Error::new(code, message)))
}

/// A `timedelta` of whole, non-negative seconds.
fn timedelta_seconds(obj: &Bound<'_, PyAny>) -> PyResult<Result<u64, Error>> {
    let seconds: f64 = obj.call_method0("total_seconds")?.extract()?;
    if seconds < 0.0 || seconds.fract() != 0.0 || seconds > 9.0e15 {
        return Ok(Err(Error::new(
            ErrorCode::GrantInvalid,
            format!("`ttl` must be a non-negative whole number of seconds, not {seconds}"),
        )));
    }
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Ok(Ok(seconds as u64))
}

// ---------------------------------------------------------------- engine options

/// `journal` (a path or None) and `recover` (a bool or None) of `Engine(...)`.
pub(crate) fn journal_args(
    journal: Option<&Bound<'_, PyAny>>,
    recover: Option<&Bound<'_, PyAny>>,
) -> Result<(Option<String>, bool), Error> {
    let journal = match given(journal) {
        None => None,
        Some(j) => Some(
            j.extract::<PathBuf>()
                .map_err(|_| {
                    let message = format!("`journal` must be a path, not {}", type_name(j));
                    Error::new(ErrorCode::BundleInvalid, message)
                })?
                .to_string_lossy()
                .into_owned(),
        ),
    };
    let recover = flag_arg("recover", recover, ErrorCode::BundleInvalid)?;
    Ok((journal, recover))
}

/// `store=` (a PostgreSQL URL, `env:VAR` or `file:PATH`) and
/// `max_staleness_seconds=` of `Engine.load`.
pub(crate) fn store_args(
    store: Option<&Bound<'_, PyAny>>,
    max_staleness_seconds: Option<&Bound<'_, PyAny>>,
) -> Result<ffi::StoreOptions, Error> {
    let postgres = optional_string(store, "store")?;
    let max_staleness_seconds = match given(max_staleness_seconds) {
        None => None,
        Some(v) if v.is_instance_of::<PyBool>() => {
            return Err(Error::new(
                ErrorCode::ConfigInvalid,
                "`max_staleness_seconds` must be a non-negative int, not bool",
            ))
        }
        Some(v) => Some(v.extract::<u64>().map_err(|_| {
            Error::new(
                ErrorCode::ConfigInvalid,
                format!(
                    "`max_staleness_seconds` must be a non-negative int, not {}",
                    type_name(v)
                ),
            )
        })?),
    };
    Ok(ffi::StoreOptions {
        postgres,
        max_staleness_seconds,
        ..ffi::StoreOptions::default()
    })
}

/// A keyword flag: absent or None is false; anything but a bool is `code`.
pub(crate) fn flag_arg(
    name: &str,
    value: Option<&Bound<'_, PyAny>>,
    code: ErrorCode,
) -> Result<bool, Error> {
    match given(value) {
        None => Ok(false),
        Some(v) => v.cast_exact::<PyBool>().map(|b| b.is_true()).map_err(|_| {
            Error::new(
                code,
                format!("`{name}` must be a bool, not {}", type_name(v)),
            )
        }),
    }
}

/// `max_bytes` of a file decision log: a positive int or None.
pub(crate) fn max_bytes_arg(max_bytes: Option<&Bound<'_, PyAny>>) -> Result<Option<u64>, Error> {
    let bad = |what: String| {
        let message = format!("`max_bytes` must be a positive int, not {what}");
        Error::new(ErrorCode::ConfigInvalid, message)
    };
    match given(max_bytes) {
        None => Ok(None),
        Some(m) if m.cast::<PyInt>().is_ok() && m.cast::<PyBool>().is_err() => {
            m.extract::<u64>().map(Some).map_err(|_| bad(m.to_string()))
        }
        Some(m) => Err(bad(type_name(m))),
    }
}

/// `units` of `record_usage`: an int or a float, as a number for the core to
/// judge (whole, 0 to the bound); an int too large for a float, a bool or any
/// other type is `usage_invalid`.
pub(crate) fn units_arg(units: &Bound<'_, PyAny>) -> Result<f64, Error> {
    let bad = |what: String| {
        Error::new(
            ErrorCode::UsageInvalid,
            format!("`units` must be a whole number, not {what}"),
        )
    };
    if units.cast::<PyBool>().is_ok() {
        return Err(bad(type_name(units)));
    }
    if units.cast::<PyInt>().is_ok() || units.cast::<pyo3::types::PyFloat>().is_ok() {
        return units.extract::<f64>().map_err(|_| bad(units.to_string()));
    }
    Err(bad(type_name(units)))
}

/// A bundle: a directory, or the JSON value of its strings.
pub(crate) enum BundleArg {
    Dir(PathBuf),
    Strings(Value),
    /// From `Engine.restore`.
    Restored(Box<agentauthz::Engine>),
}

/// A bundle directory (str or os.PathLike) or a dict of strings
/// `{"schema", "policies", "inventory"?, "config"?}`.
pub(crate) fn bundle_arg(obj: &Bound<'_, PyAny>) -> Result<BundleArg, ArgError> {
    if let Ok(restored) = obj.cast::<RestoredEngine>() {
        let once = Error::new(ErrorCode::BundleInvalid, "a restored engine is used once");
        return restored
            .get()
            .take()
            .map(|e| BundleArg::Restored(Box::new(e)))
            .ok_or_else(|| once.into());
    }
    if obj.cast::<PyMapping>().is_ok() {
        return bundle_strings(obj).map(BundleArg::Strings);
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

/// The strings of a bundle, within the sum of the bundle file bounds; keys
/// set to None are dropped, so `inventory=None` means "no inventory".
fn bundle_strings(obj: &Bound<'_, PyAny>) -> Result<Value, ArgError> {
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
    Ok(match value {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    })
}

// ---------------------------------------------------------------- decision log

/// A decision-log sink: a callable (called with each record as a dict, in
/// order, on the thread that called `check`), a path (`"-"`: standard output),
/// or None (no sink).
pub(crate) fn decision_log_arg(
    py: Python<'_>,
    sink: &Bound<'_, PyAny>,
    max_bytes: Option<&Bound<'_, PyAny>>,
    engine: &agentauthz::Engine,
    recover: bool,
) -> PyResult<Option<DecisionLog>> {
    let max_bytes = core(py, max_bytes_arg(max_bytes))?;
    if sink.is_none() {
        return Ok(None);
    }
    if sink.is_callable() {
        return Ok(Some(callback_log(sink)));
    }
    let path: PathBuf = sink.extract().map_err(|_| {
        let message = format!(
            "decision_log must be a callable, a path or None, not {}",
            type_name(sink)
        );
        authz_err(py, &Error::new(ErrorCode::ConfigInvalid, message))
    })?;
    let path = path.to_string_lossy().into_owned();
    let log = py.detach(|| ffi::decision_log_path_for(engine, &path, max_bytes, recover));
    core(py, log).map(Some)
}

/// A sink that hands each record, as a dict, to `callable`.
fn callback_log(callable: &Bound<'_, PyAny>) -> DecisionLog {
    let callable: Py<PyAny> = callable.clone().unbind();
    // Runs inside `check`, which released the GIL: take it back for the call.
    DecisionLog::try_callback(move |record| {
        Python::attach(|py| -> PyResult<()> {
            callable.call1(py, (pythonize(py, record)?,))?;
            Ok(())
        })
        .map_err(|e| e.to_string())
    })
}

// ---------------------------------------------------------------- requests

/// The keyword arguments of `Engine.check`.
pub(crate) struct CheckArgs<'a, 'py> {
    pub agent: Option<&'a Bound<'py, PyAny>>,
    pub action: &'a Bound<'py, PyAny>,
    pub resource: &'a Bound<'py, PyAny>,
    pub task: Option<&'a Bound<'py, PyAny>>,
    pub on_behalf_of: Option<&'a Bound<'py, PyAny>>,
    pub credential: Option<&'a Bound<'py, PyAny>>,
    pub context: Option<&'a Bound<'py, PyAny>>,
    pub now: Option<&'a Bound<'py, PyAny>>,
    pub session: Option<&'a Bound<'py, PyAny>>,
    pub audience: Option<&'a Bound<'py, PyAny>>,
    pub token: Option<&'a Bound<'py, PyAny>>,
}

/// What `check` decides: an agent-form request, or one made with a session
/// token or an identity provider's token.
pub(crate) enum CheckRequest {
    Agent(Request),
    Session(SessionRequest),
    Token(TokenRequest),
}

impl CheckArgs<'_, '_> {
    /// The typed request: agent form, or session form when `session` is given.
    pub(crate) fn request(&self, py: Python<'_>) -> Result<CheckRequest, ArgError> {
        let now = now_arg(py, self.now)?;
        match (given(self.agent), self.session, given(self.token)) {
            (Some(agent), None, None) => self.agent_form(agent, now).map(CheckRequest::Agent),
            (None, Some(session), None) => {
                self.session_form(session, now).map(CheckRequest::Session)
            }
            (None, None, Some(token)) => self.token_form(token, now).map(CheckRequest::Token),
            _ => Err(Error::new(
                ErrorCode::RequestInvalid,
                "give exactly one of `agent`, `session` and `token`",
            )
            .into()),
        }
    }

    /// The token names the agent and the on-behalf-of user.
    fn token_form(
        &self,
        token: &Bound<'_, PyAny>,
        now: Result<Option<String>, Error>,
    ) -> Result<TokenRequest, ArgError> {
        if given(self.on_behalf_of).is_some() || given(self.audience).is_some() {
            let message = "with `token`, the on-behalf-of user is the token's and the audience this resource's: do not pass `on_behalf_of` or `audience`";
            return Err(Error::new(ErrorCode::RequestInvalid, message).into());
        }
        Ok(TokenRequest {
            token: string_arg(token, "token")?,
            action: string_arg(self.action, "action")?,
            resource: resource_arg(self.resource)?,
            task: optional_string(self.task, "task")?,
            credential: optional_string(self.credential, "credential")?,
            context: context_arg(self.context)?,
            now: now?,
        })
    }

    fn agent_form(
        &self,
        agent: &Bound<'_, PyAny>,
        now: Result<Option<String>, Error>,
    ) -> Result<Request, ArgError> {
        if given(self.audience).is_some() {
            let message = "`audience` goes with `session`";
            return Err(Error::new(ErrorCode::RequestInvalid, message).into());
        }
        Ok(Request::Agent(AgentRequest {
            agent: string_arg(agent, "agent")?,
            action: string_arg(self.action, "action")?,
            resource: resource_arg(self.resource)?,
            task: optional_string(self.task, "task")?,
            on_behalf_of: optional_string(self.on_behalf_of, "on_behalf_of")?,
            credential: optional_string(self.credential, "credential")?,
            context: context_arg(self.context)?,
            now: now?,
        }))
    }

    /// The token names the agent and the task, so `task` may not be given.
    fn session_form(
        &self,
        session: &Bound<'_, PyAny>,
        now: Result<Option<String>, Error>,
    ) -> Result<SessionRequest, ArgError> {
        if given(self.task).is_some() {
            let message = "`task` comes from the session token; do not pass it with `session`";
            return Err(Error::new(ErrorCode::RequestInvalid, message).into());
        }
        let resource = resource_arg(self.resource)?;
        Ok(SessionRequest {
            session: string_arg(session, "session")?,
            action: string_arg(self.action, "action")?,
            resource,
            on_behalf_of: optional_string(self.on_behalf_of, "on_behalf_of")?,
            credential: optional_string(self.credential, "credential")?,
            now: now?,
            audience: optional_string(self.audience, "audience")?,
            context: context_arg(self.context)?,
        })
    }
}

/// The keyword arguments of `Engine.check_tool_call`. Which identity
/// arguments go together is the core's rule (`Engine::check_tool_call`).
pub(crate) struct ToolCallArgs<'a, 'py> {
    pub tool: &'a Bound<'py, PyAny>,
    pub action: Option<&'a Bound<'py, PyAny>>,
    pub resource: &'a Bound<'py, PyAny>,
    pub input: Option<&'a Bound<'py, PyAny>>,
    pub agent: Option<&'a Bound<'py, PyAny>>,
    pub session: Option<&'a Bound<'py, PyAny>>,
    pub audience: Option<&'a Bound<'py, PyAny>>,
    pub token: Option<&'a Bound<'py, PyAny>>,
    pub context: Option<&'a Bound<'py, PyAny>>,
    pub task: Option<&'a Bound<'py, PyAny>>,
    pub on_behalf_of: Option<&'a Bound<'py, PyAny>>,
    pub credential: Option<&'a Bound<'py, PyAny>>,
    pub now: Option<&'a Bound<'py, PyAny>>,
}

impl ToolCallArgs<'_, '_> {
    pub(crate) fn call(&self, py: Python<'_>) -> Result<ToolCall, ArgError> {
        let now = now_arg(py, self.now)?;
        Ok(ToolCall {
            tool: string_arg(self.tool, "tool")?,
            action: optional_string(self.action, "action")?,
            agent: optional_string(self.agent, "agent")?,
            session: optional_string(self.session, "session")?,
            audience: optional_string(self.audience, "audience")?,
            token: optional_string(self.token, "token")?,
            resource: resource_arg(self.resource)?,
            input: given(self.input)
                .map(|i| json_arg(i, "`input`"))
                .transpose()?,
            context: context_arg(self.context)?,
            task: optional_string(self.task, "task")?,
            on_behalf_of: optional_string(self.on_behalf_of, "on_behalf_of")?,
            credential: optional_string(self.credential, "credential")?,
            now: now?,
        })
    }
}

/// `check_batch`'s argument: a sequence of wire-shaped requests, walked once
/// (depth and cycles bounded here; each request's size by the core).
pub(crate) fn batch_arg(obj: &Bound<'_, PyAny>) -> Result<Vec<Value>, ArgError> {
    match json_arg_within(obj, "requests", usize::MAX, "max_request_bytes")? {
        Value::Array(items) => Ok(items),
        _ => Err(request_parse("check_batch expects an array of requests").into()),
    }
}

/// Each wire-shaped request read into the core's `Request` under the engine's
/// limits. All or nothing: the first bad request is the error, its index in
/// the message.
pub(crate) fn batch_requests(
    items: Vec<Value>,
    limits: &Limits,
) -> agentauthz::Result<Vec<Request>> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| Request::from_json_value_with(v, limits).map_err(|e| at_index(e, i)))
        .collect()
}

/// The keyword arguments of `Engine.grant`.
pub(crate) struct GrantArgs<'a, 'py> {
    pub agent: &'a Bound<'py, PyAny>,
    pub actions: &'a Bound<'py, PyAny>,
    pub resource: &'a Bound<'py, PyAny>,
    pub ttl: Option<&'a Bound<'py, PyAny>>,
    pub until: Option<&'a Bound<'py, PyAny>>,
    pub starts: Option<&'a Bound<'py, PyAny>>,
    pub task: Option<&'a Bound<'py, PyAny>>,
    pub reason: &'a Bound<'py, PyAny>,
    pub granted_by: &'a Bound<'py, PyAny>,
}

impl GrantArgs<'_, '_> {
    /// The grant request; every bad argument is a `grant_invalid` error.
    pub(crate) fn request(&self, py: Python<'_>) -> Result<GrantRequest, ArgError> {
        let code = ErrorCode::GrantInvalid;
        let ttl = ttl_arg(py, self.ttl)?;
        let until = time_arg(py, self.until, "until", code, code)?;
        let starts = time_arg(py, self.starts, "starts", code, code)?;
        let text = |obj: &Bound<'_, PyAny>, what: &str| text_arg(obj, what, code);
        Ok(GrantRequest {
            agent: text(self.agent, "agent")?,
            actions: strings_arg(self.actions, "actions", code)?,
            resource: resource_arg(self.resource).map_err(|e| e.recode(code))?,
            ttl_seconds: ttl?,
            until: until?,
            starts: starts?,
            task: optional_string(self.task, "task").map_err(|e| recode(e, code))?,
            reason: text(self.reason, "reason")?,
            granted_by: text(self.granted_by, "granted_by")?,
        })
    }
}

/// The keyword arguments of `Engine.add_task`.
pub(crate) struct TaskArgs<'a, 'py> {
    pub id: &'a Bound<'py, PyAny>,
    pub agent: &'a Bound<'py, PyAny>,
    pub not_before: &'a Bound<'py, PyAny>,
    pub not_after: &'a Bound<'py, PyAny>,
    pub purpose: Option<&'a Bound<'py, PyAny>>,
    pub on_behalf_of: Option<&'a Bound<'py, PyAny>>,
    pub by: &'a Bound<'py, PyAny>,
}

impl TaskArgs<'_, '_> {
    /// The task and who adds it; every bad argument is a `lifecycle_invalid` error.
    pub(crate) fn spec(&self, py: Python<'_>) -> Result<(TaskSpec, String), ArgError> {
        let lc = ErrorCode::LifecycleInvalid;
        let (id, agent) = pair(self.id, "id", self.agent, "agent", lc)?;
        let by = text_arg(self.by, "by", lc)?;
        let optional = |o, what| optional_string(o, what).map_err(|e| recode(e, lc));
        let purpose = optional(self.purpose, "purpose")?;
        let on_behalf_of = optional(self.on_behalf_of, "on_behalf_of")?;
        let not_before = time_arg(py, Some(self.not_before), "not_before", lc, lc)??;
        let not_after = time_arg(py, Some(self.not_after), "not_after", lc, lc)??;
        let task = TaskSpec {
            id,
            agent,
            not_before: not_before.unwrap_or_default(),
            not_after: not_after.unwrap_or_default(),
            purpose,
            on_behalf_of,
        };
        Ok((task, by))
    }
}

/// The arguments of `Engine.issue_session`, `ttl` in milliseconds.
pub(crate) struct IssueArgs {
    pub agent: String,
    pub task: Option<String>,
    pub ttl_ms: Option<i64>,
    pub audience: Option<String>,
}

pub(crate) fn issue_args(
    py: Python<'_>,
    agent: &Bound<'_, PyAny>,
    task: Option<&Bound<'_, PyAny>>,
    ttl: Option<&Bound<'_, PyAny>>,
    audience: Option<&Bound<'_, PyAny>>,
) -> Result<IssueArgs, ArgError> {
    let ttl = ttl_arg(py, ttl)?.map_err(|e| recode(e, ErrorCode::SessionInvalid));
    Ok(IssueArgs {
        agent: string_arg(agent, "agent")?,
        task: optional_string(task, "task")?,
        ttl_ms: ttl?.map(|s| i64::try_from(s).unwrap_or(i64::MAX).saturating_mul(1000)),
        audience: optional_string(audience, "audience")?,
    })
}

/// `{"signing"?: {"kid", "key"}, "verifying"?: {kid: key}}` for the core's
/// session-key reader; every bad value is a `key_invalid` error.
pub(crate) fn session_keys_arg(
    signing: Option<&Bound<'_, PyAny>>,
    verifying: Option<&Bound<'_, PyAny>>,
) -> Result<Value, ArgError> {
    let mut keys = Map::new();
    for (name, key) in [("`signing`", signing), ("`verifying`", verifying)] {
        if let Some(a) = given(key) {
            let v = json_arg(a, name).map_err(|e| e.recode(ErrorCode::KeyInvalid))?;
            keys.insert(name.trim_matches('`').into(), v);
        }
    }
    Ok(Value::Object(keys))
}

/// A change in its journal form (`{"op": "suspend", "agent": ...}`), read by
/// the core's own `Change`; every bad value is a `lifecycle_invalid` error.
pub(crate) fn change_arg(obj: &Bound<'_, PyAny>) -> Result<Change, ArgError> {
    let lc = ErrorCode::LifecycleInvalid;
    let value = json_arg(obj, "change").map_err(|e| e.recode(lc))?;
    serde_json::from_value(value).map_err(|e| Error::new(lc, format!("change: {e}")).into())
}

// ---------------------------------------------------------------- approvals

/// The arguments of `Engine.approve` / `Engine.reject` as the core's
/// `{decision_id | request, by, uses?, ttl_seconds?}`; every bad argument is
/// an `approval_invalid` error. `decision_id` may be the `Decision` itself.
pub(crate) fn approval_args(
    py: Python<'_>,
    decision_id: Option<&Bound<'_, PyAny>>,
    request: Option<&Bound<'_, PyAny>>,
    by: &Bound<'_, PyAny>,
    uses: Option<&Bound<'_, PyAny>>,
    ttl: Option<&Bound<'_, PyAny>>,
) -> Result<Value, ArgError> {
    let code = ErrorCode::ApprovalInvalid;
    let mut args = Map::new();
    if let Some(d) = given(decision_id) {
        let id = match d.cast::<crate::types::PyDecision>() {
            Ok(decision) => decision.get().0.decision_id.clone(),
            Err(_) => text_arg(d, "decision_id", code)?,
        };
        args.insert("decision_id".into(), Value::String(id));
    }
    if let Some(r) = given(request) {
        let value = json_arg(r, "request")?;
        args.insert("request".into(), value);
    }
    args.insert("by".into(), Value::String(text_arg(by, "by", code)?));
    if let Some(u) = given(uses) {
        let n = match u.cast_exact::<PyInt>() {
            Ok(i) => i.extract::<u32>().ok(),
            Err(_) => None,
        };
        let n =
            n.ok_or_else(|| Error::new(code, format!("`uses` must be a positive int, not {u}")))?;
        args.insert("uses".into(), Value::from(n));
    }
    if let Some(seconds) = ttl_arg(py, ttl)?.map_err(|e| recode(e, code))? {
        args.insert("ttl_seconds".into(), Value::from(seconds));
    }
    Ok(Value::Object(args))
}

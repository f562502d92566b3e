//! `agentauthz._native.Engine`: each method converts its arguments
//! (`args`), makes one core call with the GIL released, and converts the
//! result (`types`). Every call runs under `errors::guarded`.

use crate::args::{
    approval_args, batch_arg, batch_requests, bundle_arg, change_arg, decision_log_arg, flag_arg,
    issue_args, journal_args, json_arg, optional_string, pair, session_keys_arg, store_args,
    string_arg, text_arg, time_arg, units_arg, BundleArg, CheckArgs, CheckRequest, GrantArgs,
    TaskArgs, ToolCallArgs,
};
use crate::clock;
use crate::errors::{arg, core, guarded, recode};
use crate::types::{batch_decisions, log_head, PyDecision, PyGrant, RestoredEngine};
use agentauthz::{ffi, Clock, Engine, Error, ErrorCode, Request};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyType};
use pythonize::pythonize;
use std::sync::Arc;

/// In-process authorization for agents. Safe to share across threads:
/// checks never wait on a reload.
#[pyclass(frozen, subclass, module = "agentauthz._native", name = "Engine")]
#[derive(Debug)]
pub(crate) struct PyEngine(agentauthz::Engine);

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
    /// `store`: share run-time changes with a fleet through PostgreSQL (a
    /// URL, `env:VAR` or `file:PATH`; a bundle directory only);
    /// `max_staleness_seconds`: checks deny (`store/stale`) after that long
    /// out of sync with it.
    #[new]
    #[pyo3(signature = (bundle, /, *, decision_log=None, max_bytes=None, journal=None, recover=None, trust_caller_time=None, clock=None, store=None, max_staleness_seconds=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        bundle: &Bound<'_, PyAny>,
        decision_log: Option<&Bound<'_, PyAny>>,
        max_bytes: Option<&Bound<'_, PyAny>>,
        journal: Option<&Bound<'_, PyAny>>,
        recover: Option<&Bound<'_, PyAny>>,
        trust_caller_time: Option<&Bound<'_, PyAny>>,
        clock: Option<&Bound<'_, PyAny>>,
        store: Option<&Bound<'_, PyAny>>,
        max_staleness_seconds: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        guarded(py, || {
            let bundle = arg(py, bundle_arg(bundle))?;
            let (journal, recover) = core(py, journal_args(journal, recover))?;
            let store = core(py, store_args(store, max_staleness_seconds))?;
            let trust = flag_arg(
                "trust_caller_time",
                trust_caller_time,
                ErrorCode::BundleInvalid,
            );
            let options = Options {
                journal,
                store,
                recover,
                trust_caller_time: core(py, trust)?,
                clock: core(py, clock::clock_arg(clock))?,
            };
            let engine = core(py, py.detach(|| build(bundle, options)))?;
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
    #[pyo3(signature = (path, *, decision_log=None, max_bytes=None, journal=None, recover=None, trust_caller_time=None, clock=None, store=None, max_staleness_seconds=None))]
    #[allow(clippy::too_many_arguments)]
    fn load<'py>(
        cls: &Bound<'py, PyType>,
        path: &Bound<'py, PyAny>,
        decision_log: Option<&Bound<'py, PyAny>>,
        max_bytes: Option<&Bound<'py, PyAny>>,
        journal: Option<&Bound<'py, PyAny>>,
        recover: Option<&Bound<'py, PyAny>>,
        trust_caller_time: Option<&Bound<'py, PyAny>>,
        clock: Option<&Bound<'py, PyAny>>,
        store: Option<&Bound<'py, PyAny>>,
        max_staleness_seconds: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let kwargs = PyDict::new(cls.py());
        kwargs.set_item("store", store)?;
        kwargs.set_item("max_staleness_seconds", max_staleness_seconds)?;
        kwargs.set_item("decision_log", decision_log)?;
        kwargs.set_item("max_bytes", max_bytes)?;
        kwargs.set_item("journal", journal)?;
        kwargs.set_item("recover", recover)?;
        kwargs.set_item("trust_caller_time", trust_caller_time)?;
        kwargs.set_item("clock", clock)?;
        cls.call((path,), Some(&kwargs))
    }

    /// An engine from in-memory texts. `policies` is one text, a list of texts,
    /// or a dict of file name to text.
    #[classmethod]
    #[pyo3(signature = (*, schema, policies, inventory=None, config=None, decision_log=None, max_bytes=None, trust_caller_time=None, clock=None))]
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
        clock: Option<&Bound<'py, PyAny>>,
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
        kwargs.set_item("clock", clock)?;
        cls.call((strings,), Some(&kwargs))
    }

    /// Decides one agent-form request; with `session=` (a session token
    /// instead of `agent`) the token names the agent and task; with `token=`
    /// (an identity provider's JWT) the token names the agent and the
    /// on-behalf-of user.
    #[pyo3(signature = (*, agent=None, action, resource, task=None, on_behalf_of=None, credential=None, context=None, now=None, session=None, audience=None, token=None))]
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
        token: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyDecision> {
        guarded(py, || {
            let args = CheckArgs {
                agent,
                action,
                resource,
                task,
                on_behalf_of,
                credential,
                context,
                now,
                session,
                audience,
                token,
            };
            let request = arg(py, args.request(py))?;
            let decision = py.detach(|| match &request {
                CheckRequest::Agent(r) => self.0.check(r),
                CheckRequest::Session(r) => self.0.check_session(r),
                CheckRequest::Token(r) => self.0.check_token(r),
            });
            core(py, decision).map(PyDecision)
        })
    }

    /// Decides a framework's tool call: `action` is the tool's action
    /// (`None`: the caller has none for it, a deny with reason
    /// `baseline/unknown-action`), `input` the tool's arguments, coerced to
    /// the schema's type of `context.input` (see the README, "Tool calls").
    #[pyo3(signature = (*, tool, action, resource, input=None, agent=None, session=None, audience=None, context=None, task=None, on_behalf_of=None, credential=None, now=None, token=None))]
    #[allow(clippy::too_many_arguments)]
    fn check_tool_call(
        &self,
        py: Python<'_>,
        tool: &Bound<'_, PyAny>,
        action: Option<&Bound<'_, PyAny>>,
        resource: &Bound<'_, PyAny>,
        input: Option<&Bound<'_, PyAny>>,
        agent: Option<&Bound<'_, PyAny>>,
        session: Option<&Bound<'_, PyAny>>,
        audience: Option<&Bound<'_, PyAny>>,
        context: Option<&Bound<'_, PyAny>>,
        task: Option<&Bound<'_, PyAny>>,
        on_behalf_of: Option<&Bound<'_, PyAny>>,
        credential: Option<&Bound<'_, PyAny>>,
        now: Option<&Bound<'_, PyAny>>,
        token: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<PyDecision> {
        guarded(py, || {
            let args = ToolCallArgs {
                tool,
                action,
                resource,
                input,
                agent,
                session,
                audience,
                token,
                context,
                task,
                on_behalf_of,
                credential,
                now,
            };
            let call = arg(py, args.call(py))?;
            let decision = py.detach(|| ffi::check_tool_call(&self.0, &call));
            core(py, decision).map(PyDecision)
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

    /// Decides an MCP `tools/call` of `tool` on `server` with `arguments`
    /// for `identity` (`{"agent": id}` or `{"session": {"token", "audience"?}}`).
    #[pyo3(signature = (*, identity, server, tool, arguments=None, namespace=None))]
    fn mcp_check_call(
        &self,
        py: Python<'_>,
        identity: &Bound<'_, PyAny>,
        server: &str,
        tool: &str,
        arguments: Option<&Bound<'_, PyAny>>,
        namespace: Option<&str>,
    ) -> PyResult<PyDecision> {
        guarded(py, || {
            let identity = core(py, mcp_identity(arg(py, json_arg(identity, "identity"))?))?;
            let arguments = match arguments {
                Some(a) if !a.is_none() => Some(arg(py, json_arg(a, "arguments"))?),
                _ => None,
            };
            let decision = py.detach(|| {
                ffi::mcp_check_call(
                    &self.0,
                    &identity,
                    server,
                    namespace,
                    tool,
                    arguments.as_ref(),
                )
            });
            core(py, decision).map(PyDecision)
        })
    }

    /// Of `tools`, the names to list for `identity` (a tool is listed when
    /// some call of it could be allowed; the call is still checked).
    #[pyo3(signature = (*, identity, server, tools, namespace=None))]
    fn mcp_listable_tools(
        &self,
        py: Python<'_>,
        identity: &Bound<'_, PyAny>,
        server: &str,
        tools: Vec<String>,
        namespace: Option<&str>,
    ) -> PyResult<Vec<String>> {
        guarded(py, || {
            let identity = core(py, mcp_identity(arg(py, json_arg(identity, "identity"))?))?;
            let listed = py
                .detach(|| ffi::mcp_listable_tools(&self.0, &identity, server, namespace, &tools));
            core(py, listed)
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
            let items = arg(py, batch_arg(requests))?;
            let decisions = py.detach(|| {
                let requests = batch_requests(items, &self.0.limits())?;
                batch_decisions(self.0.check_batch(&requests))
            });
            core(py, decisions)
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
            let head = py.detach(|| self.0.decision_log().map(|log| log.head()));
            log_head(py, head)
        })
    }

    /// The exporting sink's counters (`[log.otlp]`, `[log.syslog]`) as a dict,
    /// or None for any other sink.
    #[getter]
    fn decision_log_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guarded(py, || {
            let stats = core(py, py.detach(|| ffi::decision_log_stats_value(&self.0)))?;
            Ok(pythonize(py, &stats)?)
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
        guarded(py, || Ok(pythonize(py, &self.0.warnings())?))
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
            let args = GrantArgs {
                agent,
                actions,
                resource,
                ttl,
                until,
                starts,
                task,
                reason,
                granted_by,
            };
            let request = arg(py, args.request(py))?;
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

    /// Approves a request held back by `@approval` forbids, given by its
    /// `decision_id` (or the Decision) or as `request=` (an agent-form
    /// request dict, `resource` as `{"type": ..., "id": ...}`). `by` must
    /// pass the `agentauthz:approve` check (else `ApprovalRefused`). Allows
    /// `uses` checks of exactly that request within `ttl` (seconds or a
    /// timedelta; default 15 minutes). Returns the approval as a dict.
    #[pyo3(signature = (decision_id=None, /, *, request=None, by, uses=None, ttl=None))]
    fn approve<'py>(
        &self,
        py: Python<'py>,
        decision_id: Option<&Bound<'py, PyAny>>,
        request: Option<&Bound<'py, PyAny>>,
        by: &Bound<'py, PyAny>,
        uses: Option<&Bound<'py, PyAny>>,
        ttl: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guarded(py, || {
            let args = arg(py, approval_args(py, decision_id, request, by, uses, ttl))?;
            let approval = core(py, py.detach(|| ffi::approve_value(&self.0, args)))?;
            Ok(pythonize(py, &approval)?)
        })
    }

    /// Rejects a request waiting for approval (by `decision_id` or
    /// `request=`); who may reject is who may approve. Returns the request.
    #[pyo3(signature = (decision_id=None, /, *, request=None, by))]
    fn reject<'py>(
        &self,
        py: Python<'py>,
        decision_id: Option<&Bound<'py, PyAny>>,
        request: Option<&Bound<'py, PyAny>>,
        by: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guarded(py, || {
            let args = arg(py, approval_args(py, decision_id, request, by, None, None))?;
            let rejected = core(py, py.detach(|| ffi::reject_value(&self.0, args)))?;
            Ok(pythonize(py, &rejected)?)
        })
    }

    /// Requests waiting for approval, of one agent or all, oldest first (dicts).
    #[pyo3(signature = (agent=None))]
    fn approvals<'py>(
        &self,
        py: Python<'py>,
        agent: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guarded(py, || {
            let agent = core(
                py,
                optional_string(agent, "agent").map_err(|e| recode(e, ErrorCode::ApprovalInvalid)),
            )?;
            let list = py.detach(|| ffi::approvals_value(&self.0, agent.as_deref()));
            Ok(pythonize(py, &list)?)
        })
    }

    /// Calls `callback(request_dict)` once for each new request that starts
    /// waiting for approval (on the checking thread); `None` removes it. An
    /// exception it raises is reported as unraisable, never to the agent.
    #[pyo3(signature = (callback, /))]
    fn on_approval_request(&self, py: Python<'_>, callback: &Bound<'_, PyAny>) -> PyResult<()> {
        guarded(py, || {
            if callback.is_none() {
                self.0.on_approval_request(None);
                return Ok(());
            }
            if !callback.is_callable() {
                let message = "on_approval_request takes a callable or None";
                return Err(crate::errors::authz_err(
                    py,
                    &Error::new(ErrorCode::ApprovalInvalid, message),
                ));
            }
            let callable: Py<PyAny> = callback.clone().unbind();
            self.0.on_approval_request(Some(Arc::new(move |request| {
                // Runs inside `check`, which released the GIL.
                Python::attach(|py| {
                    let called = pythonize(py, request)
                        .map_err(PyErr::from)
                        .and_then(|r| callable.call1(py, (r,)));
                    if let Err(e) = called {
                        e.write_unraisable(py, None);
                    }
                });
            })));
            Ok(())
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

    /// Emergency stop: every agent request is denied (reason
    /// `baseline/lockdown`) until `lift_lockdown`; journaled and logged.
    #[pyo3(signature = (reason, /, *, by))]
    fn lockdown(
        &self,
        py: Python<'_>,
        reason: &Bound<'_, PyAny>,
        by: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        guarded(py, || {
            let lc = ErrorCode::LifecycleInvalid;
            let (reason, by) = core(py, pair(reason, "reason", by, "by", lc))?;
            core(py, py.detach(|| ffi::lockdown(&self.0, &reason, &by)))
        })
    }

    /// Ends the emergency stop (`LifecycleError` when none is in force).
    #[pyo3(signature = (*, by))]
    fn lift_lockdown(&self, py: Python<'_>, by: &Bound<'_, PyAny>) -> PyResult<()> {
        guarded(py, || {
            let by = core(py, text_arg(by, "by", ErrorCode::LifecycleInvalid))?;
            core(py, py.detach(|| ffi::lift_lockdown(&self.0, &by)))
        })
    }

    /// Counters since the engine was built: decisions by outcome, action and
    /// first reason, the check-latency histogram, log queue depth, spool
    /// size, store staleness (a dict; see `agentauthz.toml` docs).
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guarded(py, || {
            let metrics = core(py, py.detach(|| ffi::metrics_value(&self.0)))?;
            Ok(pythonize(py, &metrics)?)
        })
    }

    /// The emergency stop in force as `{"reason", "since", "by"}`, or None.
    fn lockdown_status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guarded(py, || {
            let status = py.detach(|| ffi::lockdown_status_value(&self.0));
            Ok(pythonize(py, &status)?)
        })
    }

    /// Records `units` of cost `kind` ("tokens", "usd_cents") spent by
    /// `agent`; policies see the sums as `context.usage.units_1h.<kind>`.
    #[pyo3(signature = (agent, units, kind))]
    fn record_usage(
        &self,
        py: Python<'_>,
        agent: &Bound<'_, PyAny>,
        units: &Bound<'_, PyAny>,
        kind: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        guarded(py, || {
            let code = ErrorCode::UsageInvalid;
            let (agent, kind) = core(py, pair(agent, "agent", kind, "kind", code))?;
            let units = core(py, units_arg(units))?;
            core(
                py,
                py.detach(|| ffi::record_usage(&self.0, &agent, units, &kind)),
            )
        })
    }

    /// What the next check of `agent` (and `action`) sees as `context.usage`.
    #[pyo3(signature = (agent, action=None))]
    fn usage<'py>(
        &self,
        py: Python<'py>,
        agent: &Bound<'py, PyAny>,
        action: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guarded(py, || {
            let code = ErrorCode::UsageInvalid;
            let agent = core(py, text_arg(agent, "agent", code))?;
            let action = core(
                py,
                optional_string(action, "action").map_err(|e| recode(e, code)),
            )?;
            let usage = py.detach(|| ffi::usage_value(&self.0, &agent, action.as_deref()));
            Ok(pythonize(py, &core(py, usage)?)?)
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
        self.agent_change(py, agent, by, Engine::suspend)
    }

    /// A suspended agent may act again.
    #[pyo3(signature = (agent, /, *, by))]
    fn reactivate(
        &self,
        py: Python<'_>,
        agent: &Bound<'_, PyAny>,
        by: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.agent_change(py, agent, by, Engine::reactivate)
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
        self.agent_change(py, agent, by, Engine::offboard)
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
            let args = TaskArgs {
                id,
                agent,
                not_before,
                not_after,
                purpose,
                on_behalf_of,
                by,
            };
            let (task, by) = arg(py, args.spec(py))?;
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
            let change = arg(py, change_arg(change))?;
            let entry = core(py, py.detach(|| self.0.apply(change, &by)))?;
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

    /// How the engine stands with its change store: `{"backend", "location",
    /// "last_applied_seq", "staleness_ms", "stale", "connected", ...}`.
    fn store_status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guarded(py, || {
            let status = py.detach(|| ffi::store_status_value(&self.0));
            Ok(pythonize(py, &status)?)
        })
    }

    /// Where a bundle pulled from a URL (`[bundle] url`) stands: `{url,
    /// revision, kid, source, last_poll, last_result, last_error, polls,
    /// failures}`, or None when the bundle is not pulled from a URL.
    fn bundle_status<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guarded(py, || {
            Ok(pythonize(py, &ffi::bundle_status_value(&self.0))?)
        })
    }

    /// Polls the bundle URL now; returns the status after the poll (a failed
    /// poll keeps the active bundle and says why in `last_error`).
    fn poll_bundle<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guarded(py, || {
            let status = core(py, py.detach(|| ffi::poll_bundle_value(&self.0)))?;
            Ok(pythonize(py, &status)?)
        })
    }

    /// A hash of the run-time state (equal on engines of a fleet that
    /// applied the same changes).
    fn state_hash(&self, py: Python<'_>) -> PyResult<String> {
        guarded(py, || core(py, py.detach(|| self.0.state_hash())))
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
            let a = arg(py, issue_args(py, agent, task, ttl, audience))?;
            let issued = py.detach(|| {
                let (task, audience) = (a.task.as_deref(), a.audience.as_deref());
                self.0.issue_session(&a.agent, task, a.ttl_ms, audience)
            });
            let (token, claims) = core(py, issued)?;
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
            let claims = py.detach(|| self.0.verify_session(&token, audience.as_deref()));
            Ok(pythonize(py, &core(py, claims)?)?)
        })
    }

    /// What an identity provider's token says once verified against
    /// `[identity.issuers]` (engine clock), or the error that refuses it.
    #[pyo3(signature = (token, /))]
    fn verify_token<'py>(
        &self,
        py: Python<'py>,
        token: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        guarded(py, || {
            let token = core(py, string_arg(token, "token"))?;
            let claims = py.detach(|| ffi::verify_token(&self.0, &token));
            Ok(pythonize(py, &core(py, claims)?)?)
        })
    }

    /// Replaces the keys of the configured issuer whose `iss` is `issuer`
    /// with a JWKS given as JSON text.
    #[pyo3(signature = (issuer, jwks, /))]
    fn set_issuer_jwks(
        &self,
        py: Python<'_>,
        issuer: &Bound<'_, PyAny>,
        jwks: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        guarded(py, || {
            let rp = ErrorCode::RequestParse;
            let (issuer, jwks) = core(py, pair(issuer, "issuer", jwks, "jwks", rp))?;
            core(
                py,
                py.detach(|| ffi::set_issuer_jwks(&self.0, &issuer, &jwks)),
            )
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
            let input = arg(py, session_keys_arg(signing, verifying))?;
            let keys = core(py, py.detach(|| ffi::session_keys_from_value(input)))?;
            py.detach(|| self.0.set_session_keys(keys));
            Ok(())
        })
    }

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
        let restored = Bound::new(py, RestoredEngine::new(restored))?;
        cls.call((restored,), Some(&kwargs))
    }

    /// The public session keys `{kid: "k4.public...."}`, to hand to verifiers.
    fn session_public_keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        guarded(py, || {
            let keys = py.detach(|| ffi::session_public_keys_value(&self.0));
            Ok(pythonize(py, &keys)?)
        })
    }
}

impl PyEngine {
    /// A change of one agent's standing (`suspend`, `reactivate`, `offboard`).
    fn agent_change(
        &self,
        py: Python<'_>,
        agent: &Bound<'_, PyAny>,
        by: &Bound<'_, PyAny>,
        change: fn(&Engine, &str, &str) -> agentauthz::Result<()>,
    ) -> PyResult<()> {
        guarded(py, || {
            let (agent, by) = core(
                py,
                pair(agent, "agent", by, "by", ErrorCode::LifecycleInvalid),
            )?;
            core(py, py.detach(|| change(&self.0, &agent, &by)))
        })
    }
}

/// How `Engine(...)` builds the core engine.
struct Options {
    journal: Option<String>,
    store: ffi::StoreOptions,
    recover: bool,
    trust_caller_time: bool,
    clock: Option<Arc<dyn Clock>>,
}

/// The core engine of a bundle directory or of a bundle's strings.
fn build(bundle: BundleArg, o: Options) -> agentauthz::Result<Engine> {
    match bundle {
        BundleArg::Restored(engine) => Ok(*engine),
        BundleArg::Dir(dir) => ffi::engine_load_stored(
            &dir.to_string_lossy(),
            o.journal.as_deref(),
            o.recover,
            o.clock,
            o.trust_caller_time,
            &o.store,
        ),
        BundleArg::Strings(_) if o.store != ffi::StoreOptions::default() => Err(Error::new(
            ErrorCode::ConfigInvalid,
            "`store` goes with a bundle directory (Engine.load(path, store=...))",
        )),
        BundleArg::Strings(value) => {
            let builder = Engine::builder()
                .bundle(ffi::bundle_from_strings(value)?)
                .recover_journal(o.recover)
                .trust_caller_time(o.trust_caller_time);
            let builder = match o.clock {
                Some(clock) => builder.clock(clock),
                None => builder,
            };
            match o.journal {
                Some(path) => builder.journal(path).build(),
                None => builder.build(),
            }
        }
    }
}

fn mcp_identity(value: serde_json::Value) -> agentauthz::Result<agentauthz::mcp::Identity> {
    serde_json::from_value(value).map_err(|e| {
        Error::new(
            ErrorCode::RequestParse,
            format!("identity must be {{\"agent\": id}}, {{\"session\": {{\"token\": ..., \"audience\": ...}}}} or {{\"bearer\": jwt}}: {e}"),
        )
    })
}

/// The Cedar schema fragment of an MCP `tools/list` result, as a dict
/// `{text, actions, warnings, ...}`.
#[pyfunction]
#[pyo3(signature = (tools, /, *, server=None, namespace=None))]
pub(crate) fn schema_from_mcp<'py>(
    py: Python<'py>,
    tools: &Bound<'py, PyAny>,
    server: Option<String>,
    namespace: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    guarded(py, || {
        let tools = arg(py, json_arg(tools, "tools"))?;
        let input = serde_json::json!({"tools": tools, "server": server, "namespace": namespace});
        let out = core(py, py.detach(|| ffi::schema_from_mcp_value(input)))?;
        Ok(pythonize(py, &out)?)
    })
}

/// The tool error result that answers a denied MCP `tools/call` of `tool`
/// (the stdio proxy's answer too), as a dict.
#[pyfunction]
pub(crate) fn mcp_denied_result<'py>(
    py: Python<'py>,
    tool: &str,
    decision: PyRef<'py, PyDecision>,
) -> PyResult<Bound<'py, PyAny>> {
    guarded(py, || {
        Ok(pythonize(py, &ffi::mcp_denied_result(tool, &decision.0))?)
    })
}

/// Creates (or brings up to date) a fleet's PostgreSQL change store
/// (`agentauthz store init`); returns where (`postgres HOST:PORT/DB`).
/// `sslmode` and `ca_file` are `[store]`'s.
#[pyfunction]
#[pyo3(signature = (url, *, sslmode=None, ca_file=None))]
pub(crate) fn store_init(
    py: Python<'_>,
    url: &Bound<'_, PyAny>,
    sslmode: Option<&Bound<'_, PyAny>>,
    ca_file: Option<&Bound<'_, PyAny>>,
) -> PyResult<String> {
    guarded(py, || {
        let url = core(py, text_arg(url, "url", ErrorCode::ConfigInvalid))?;
        let sslmode = sslmode
            .map(|v| core(py, text_arg(v, "sslmode", ErrorCode::ConfigInvalid)))
            .transpose()?;
        let ca_file = ca_file
            .map(|v| core(py, text_arg(v, "ca_file", ErrorCode::ConfigInvalid)))
            .transpose()?;
        core(
            py,
            py.detach(|| ffi::store_init(&url, sslmode.as_deref(), ca_file.as_deref())),
        )
    })
}

/// A new session key pair `{"kid", "secret", "public"}` (PASERK).
#[pyfunction]
pub(crate) fn generate_session_key<'py>(
    py: Python<'py>,
    kid: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    guarded(py, || {
        let kid = core(py, text_arg(kid, "kid", ErrorCode::KeyInvalid))?;
        let key = core(py, py.detach(|| ffi::generate_session_key_value(&kid)))?;
        Ok(pythonize(py, &key)?)
    })
}

/// A decision record (the dict a decision-log callback receives) as its OCSF
/// 1.5.0 API Activity event; anything else is `log_corrupt`.
#[pyfunction]
pub(crate) fn to_ocsf<'py>(
    py: Python<'py>,
    record: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    guarded(py, || {
        let value = arg(
            py,
            json_arg(record, "record").map_err(|e| e.recode(ErrorCode::LogCorrupt)),
        )?;
        let event = core(py, py.detach(|| ffi::record_to_ocsf_value(&value)))?;
        Ok(pythonize(py, &event)?)
    })
}

/// Verifies a signed bundle archive (`bundle.tar.gz` bytes) against its
/// detached signature with `public_keys` (`{kid: "k4.public.…" or PEM}`):
/// `{revision, kid, files}`.
#[pyfunction]
pub(crate) fn verify_bundle<'py>(
    py: Python<'py>,
    archive: &[u8],
    signature: &[u8],
    public_keys: std::collections::BTreeMap<String, String>,
) -> PyResult<Bound<'py, PyAny>> {
    guarded(py, || {
        let verified = core(
            py,
            py.detach(|| ffi::verify_bundle(archive, signature, &public_keys)),
        )?;
        Ok(pythonize(py, &verified)?)
    })
}

/// Flushes every decision-log file of the process (registered with `atexit`).
#[pyfunction]
pub(crate) fn flush_decision_logs(py: Python<'_>) -> PyResult<()> {
    guarded(py, || core(py, py.detach(agentauthz::audit::flush_all)))
}

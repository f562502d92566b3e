//! The engine: an atomically swappable snapshot and the request path.

mod annotations;
mod approvals;
mod authority;
mod cache;
mod context;
mod decide;
mod follow;
mod guards;
mod index;
mod lifecycle;
mod log_only;
mod metrics;
#[cfg(not(target_arch = "wasm32"))]
mod metrics_otlp;
mod origin;
mod reload;
mod remote;
mod request;
mod screen;
mod session_state;
mod snapshot;
mod state;
mod store;
mod tool_call;
mod typed_entities;
pub(crate) mod usage;
mod warnings;
mod writer;

pub(crate) use annotations::annotation;
pub use metrics::{
    CheckLatency, DecisionCount, EngineMetrics, LATENCY_BOUNDS_US, MAX_SERIES as MAX_METRIC_SERIES,
};
pub use origin::PolicyOrigin;
use state::{bundle_state, invalid as invalid_state, keys_state, on_error_name};
pub use state::{
    EngineState, StateBundle, StateKeys, StateOptions, StateSettings, StateSigningKey, StateSource,
    STATE_VERSION,
};
pub use usage::{units_of_f64, CallCounts, Units, UsageCounts, MAX_UNITS_PER_RECORD, USAGE_KINDS};
pub use warnings::{PolicyWarning, MAX_DEPTH as MAX_POLICY_DEPTH};

use crate::approval::{
    approval_window, Approval, ApprovalRequest, ApprovalTarget, APPROVAL_REASON_PREFIX,
};
use crate::audit::{self, DecisionLog};
use crate::bundle::Mode;
use crate::bundle::{Bundle, BundleOptions, Config, OnError, Source};
use crate::change::{Change, Grant, GrantRequest, TaskSpec};
use crate::error::{Error, ErrorCode, Result};
use crate::identity::{Identity, TokenClaims};
use crate::integrity::IntegrityKeys;
use crate::journal::{Journal, JournalEntry};
use crate::limits::Limits;
use crate::model::{
    AgentRequest, Decision, Effect, EntityRef, Request, SessionRequest, TokenRequest, ToolCall,
};
use crate::session::{self, SessionClaims, SessionKeys};
use crate::store::{Health, StoreStatus, STALE_REASON};
use crate::time::{format_millis, Clock, SystemClock};
use crate::time::{parse_rfc3339_millis, DecisionIds};
use arc_swap::{ArcSwap, ArcSwapOption};
use cedar_policy::{Entities, PolicySet};
use reload::{replay, request_agent_exists, Overrides};
use session_state::Sessions;
use snapshot::Snapshot;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use writer::{lock, Applied, Skipped, Writer};

/// In-process authorization for agents. `check` takes `&self` and never
/// waits on a writer; `reload` swaps in a new snapshot atomically.
#[derive(Debug)]
pub struct Engine {
    /// Shared with the thread that folds changes into the compiled entities.
    snapshot: Arc<ArcSwap<Snapshot>>,
    /// Whether changes are folded in automatically, and whether a fold runs.
    compaction: bool,
    compacting: Arc<AtomicBool>,
    /// [`Engine::changes_made`].
    changes_made: AtomicU64,
    clock: Arc<dyn Clock>,
    ids: Arc<DecisionIds>,
    log: Arc<ArcSwapOption<DecisionLog>>,
    /// Serializes run-time changes and reloads; checks never take it.
    /// Shared with the thread that follows a fleet's store.
    writer: Arc<Mutex<Writer>>,
    sessions: ArcSwap<Sessions>,
    /// `[identity]`: identity providers and the tokens they verified.
    identity: Arc<ArcSwap<Identity>>,
    /// The builder's limits, applied to reloaded bundles too.
    limits: Option<Limits>,
    /// Builder settings that override `agentauthz.toml`, on every reload too.
    overrides: Overrides,
    /// Whether a request's own `now` may set the time it is judged at.
    trust_caller_time: bool,
    /// Calls and cost units per agent (in memory; kept across reloads).
    usage: Arc<usage::Usage>,
    /// Requests waiting for a human; only `needs_approval` checks take it.
    pending: Mutex<approvals::Pending>,
    approval_hook: ArcSwapOption<approvals::Hook>,
    /// A fleet's store: how far behind this engine is (checks deny when
    /// stale beyond `[store] max_staleness_seconds`).
    health: Option<Arc<Health>>,
    /// Stops the thread following the store.
    follower: Option<follow::StopOnDrop>,
    /// Decision counters and check latency ([`Engine::metrics`]).
    metrics: Arc<metrics::Metrics>,
    /// `[metrics.otlp]`: sends them; stopped (after a last export) on drop.
    #[cfg(not(target_arch = "wasm32"))]
    metrics_export: Arc<metrics_otlp::Slot>,
    /// `[bundle] url`: where the bundle comes from and the last poll.
    remote: Option<Arc<remote::RemoteState>>,
    /// Stops the thread polling the bundle URL.
    bundle_poller: Option<follow::StopOnDrop>,
}

/// Builds an [`Engine`] from strings or files.
#[derive(Debug, Default)]
pub struct EngineBuilder {
    bundle: Bundle,
    clock: Option<Arc<dyn Clock>>,
    decision_log: Option<DecisionLog>,
    journal: Option<PathBuf>,
    recover_journal: bool,
    session_keys: Option<SessionKeys>,
    limits: Option<Limits>,
    overrides: Overrides,
    trust_caller_time: bool,
    integrity_keys: Option<IntegrityKeys>,
    /// `Some(false)`: changes stay beside the compiled entities until
    /// [`Engine::compact`] (tests of both stores).
    compaction: Option<bool>,
    /// Overrides of `[store]` of `agentauthz.toml`.
    store: crate::bundle::StoreConfig,
    /// Overrides `[bundle] url` of `agentauthz.toml`.
    remote: Option<crate::remote::RemoteBundle>,
}

impl EngineBuilder {
    pub fn schema(mut self, text: impl Into<String>) -> Self {
        self.bundle.schema = Some(Source::new("schema.cedarschema", text));
        self
    }
    pub fn schema_source(mut self, src: Source) -> Self {
        self.bundle.schema = Some(src);
        self
    }
    /// Adds a policy file; may be called once per file.
    pub fn policies(mut self, text: impl Into<String>) -> Self {
        let n = self.bundle.policies.len();
        let name = if n == 0 {
            "policies.cedar".to_string()
        } else {
            format!("policies-{n}.cedar")
        };
        self.bundle.policies.push(Source::new(name, text));
        self
    }
    pub fn policy_source(mut self, src: Source) -> Self {
        self.bundle.policies.push(src);
        self
    }
    /// Inventory in agentauthz's YAML or JSON format, or a Cedar entities JSON array.
    pub fn inventory(mut self, text: impl Into<String>) -> Self {
        let text = text.into();
        let b = Bundle::from_strings("", "", Some(&text));
        self.bundle.inventory = b.inventory;
        self
    }
    pub fn inventory_source(mut self, src: Source) -> Self {
        self.bundle.inventory = Some(src);
        self
    }
    /// `agentauthz.toml` text.
    pub fn config(mut self, text: impl Into<String>) -> Self {
        self.bundle.config = Some(Source::new("agentauthz.toml", text));
        self
    }
    pub fn options(mut self, options: BundleOptions) -> Self {
        self.bundle.options = options;
        self
    }
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }
    pub fn bundle(mut self, bundle: Bundle) -> Self {
        self.bundle = bundle;
        self
    }
    /// Records every decision to `log` (overrides the `[log]` sink of `agentauthz.toml`).
    pub fn decision_log(mut self, log: DecisionLog) -> Self {
        self.decision_log = Some(log);
        self
    }
    /// Keeps run-time changes in the journal at `path` (overrides `[journal]
    /// path` of `agentauthz.toml`) and replays it on build.
    pub fn journal(mut self, path: impl Into<PathBuf>) -> Self {
        self.journal = Some(path.into());
        self
    }
    /// Cuts a torn last line of the journal and of the configured decision
    /// log off (and records that it did) instead of refusing to load.
    pub fn recover_journal(mut self, recover: bool) -> Self {
        self.recover_journal = recover;
        self
    }
    /// Lets requests carry their own `now` (tests, replays, `--now`). Off by
    /// default: the engine clock decides, and a request carrying `now` is a
    /// `request_invalid` error. Session tokens are always judged at the engine
    /// clock, whatever this says.
    pub fn trust_caller_time(mut self, trust: bool) -> Self {
        self.trust_caller_time = trust;
        self
    }
    /// Keys that authenticate the journal and the configured decision log
    /// (override `[integrity]` of `agentauthz.toml`).
    pub fn integrity_keys(mut self, keys: IntegrityKeys) -> Self {
        self.integrity_keys = Some(keys);
        self
    }
    /// Session signing/verification keys (override `[sessions]` keys of `agentauthz.toml`).
    pub fn session_keys(mut self, keys: SessionKeys) -> Self {
        self.session_keys = Some(keys);
        self
    }
    /// Input bounds (sizes, nesting depth) for the bundle and every request;
    /// `[limits]` of `agentauthz.toml` replaces them when present.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }
    /// What a `forbid` whose evaluation errors does (overrides `[engine]
    /// on_error`): [`OnError::Deny`] (the default) or Cedar's
    /// [`OnError::Skip`].
    pub fn on_error(mut self, on_error: OnError) -> Self {
        self.overrides.on_error = Some(on_error);
        self
    }
    /// Refuse a bundle with warnings (`policy_may_error`) instead of loading
    /// it (overrides `[engine] strict`).
    pub fn strict(mut self, strict: bool) -> Self {
        self.overrides.strict = Some(strict);
        self
    }
    /// Whether run-time changes are folded into the compiled entities
    /// automatically (the default). For tests that decide against changes
    /// kept beside them; [`Engine::compact`] folds them in.
    #[doc(hidden)]
    pub fn compaction(mut self, automatic: bool) -> Self {
        self.compaction = Some(automatic);
        self
    }

    /// Shares run-time changes with a fleet through PostgreSQL at `url`
    /// (overrides `[store] postgres`; the same `env:VAR` / `file:PATH` forms).
    pub fn postgres(mut self, url: impl Into<String>) -> Self {
        self.store.postgres = Some(url.into());
        self
    }
    /// Checks deny (`store/stale`) after this long out of sync with the
    /// shared store (overrides `[store] max_staleness_seconds`).
    pub fn max_staleness_seconds(mut self, seconds: u64) -> Self {
        self.store.max_staleness_seconds = Some(seconds);
        self
    }
    /// How often the engine polls the shared store when no notification
    /// comes (overrides `[store] poll_ms`).
    pub fn store_poll_ms(mut self, ms: u64) -> Self {
        self.store.poll_ms = Some(ms);
        self
    }
    /// TLS to the shared store: `disable`, `require` or `verify-full`
    /// (overrides `[store] sslmode`).
    pub fn store_sslmode(mut self, mode: impl Into<String>) -> Self {
        self.store.sslmode = Some(mode.into());
        self
    }
    /// The CA certificates (PEM) `verify-full` checks the server against
    /// (overrides `[store] ca_file`).
    pub fn store_ca_file(mut self, path: impl Into<String>) -> Self {
        self.store.ca_file = Some(path.into());
        self
    }
    /// This engine's name in the shared store's `writer` column.
    pub fn store_writer(mut self, writer: impl Into<String>) -> Self {
        self.store.writer = Some(writer.into());
        self
    }

    /// Pulls the bundle, signed, from a URL (see [`crate::remote`]): the
    /// builder's bundle (if any) only says where relative paths resolve.
    pub fn bundle_url(mut self, remote: crate::remote::RemoteBundle) -> Self {
        self.remote = Some(remote);
        self
    }

    pub fn build(mut self) -> Result<Engine> {
        if let Some(limits) = self.limits {
            self.bundle.options.limits = limits;
        }
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let remote_state = remote_bundle(&mut self.bundle, self.remote.take(), clock.now_millis())?;
        let config = match &self.bundle.config {
            Some(src) => Config::parse_with(src, &self.bundle.options.limits)?,
            None => Config::default(),
        };
        let dir = self.bundle.dir.as_deref();
        let mut sessions = Sessions::from_config(&config.sessions, dir)?;
        if let Some(keys) = self.session_keys {
            sessions.keys = keys;
        }
        let identity = Identity::from_config(&config.identity, dir, clock.now_millis())?;
        let keys = match self.integrity_keys {
            Some(k) => k,
            None => IntegrityKeys::from_config(&config.integrity, dir)?,
        };
        let journal_path = self.journal.or_else(|| configured_journal(&config, dir));
        let store = merged_store(&config.store, self.store);
        let store_dir = dir.map(Path::to_path_buf);
        if store.postgres.is_some() && journal_path.is_some() {
            return Err(Error::new(
                ErrorCode::ConfigInvalid,
                "[store] postgres and a [journal]: changes go to one store; remove one",
            ));
        }
        let mut snapshot = self.overrides.compile(self.bundle)?;
        let mut writer = Writer::default();
        if let Some(path) = journal_path {
            let (journal, entries) = Journal::open_with(&path, self.recover_journal, &keys)?;
            writer.history = entries
                .into_iter()
                .map(|entry| {
                    // The journal reader refuses a line whose time does not parse.
                    let at = parse_rfc3339_millis(&entry.at).ok_or_else(|| {
                        Error::new(ErrorCode::JournalCorrupt, "a journal time does not parse")
                    })?;
                    Ok(Applied { at, entry })
                })
                .collect::<Result<_>>()?;
            writer.journal = Some(journal);
            let (replayed, skipped) = replay(&snapshot, &writer.history)?;
            snapshot = replayed;
            writer.skipped = skipped;
        }
        let log = match self.decision_log {
            Some(log) => Some(log),
            None => snapshot.audit.open_configured_sink(
                snapshot.bundle.dir.as_deref(),
                &keys,
                self.recover_journal,
                config.integrity.checkpoint_every,
            )?,
        };
        let ids = Arc::new(DecisionIds::new(clock.now_millis()));
        let mut engine = Engine {
            snapshot: Arc::new(ArcSwap::from_pointee(snapshot)),
            compaction: self.compaction.unwrap_or(true),
            compacting: Arc::default(),
            changes_made: AtomicU64::new(0),
            clock,
            ids,
            log: Arc::new(ArcSwapOption::from(log.map(Arc::new))),
            writer: Arc::new(Mutex::new(writer)),
            sessions: ArcSwap::from_pointee(sessions),
            identity: Arc::new(ArcSwap::from_pointee(identity)),
            limits: self.limits,
            overrides: self.overrides,
            trust_caller_time: self.trust_caller_time,
            usage: Arc::default(),
            pending: Mutex::default(),
            approval_hook: ArcSwapOption::empty(),
            health: None,
            follower: None,
            metrics: Arc::default(),
            #[cfg(not(target_arch = "wasm32"))]
            metrics_export: Arc::new(metrics_otlp::Slot::new()),
            remote: None,
            bundle_poller: None,
        };
        engine.record_load()?;
        if store.postgres.is_some() {
            engine.join_fleet(&store, store_dir.as_deref())?;
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let next = engine
                .metrics_export
                .prepare(config.metrics.otlp.as_ref(), || engine.gather())?;
            engine.metrics_export.install(next);
        }
        #[cfg(target_arch = "wasm32")]
        metrics::refuse_otlp_in_wasm(&config.metrics)?;
        if let Some(state) = remote_state {
            engine.follow_bundle_url(state)?;
        }
        Ok(engine)
    }
}

impl Engine {
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// Loads a bundle directory with the product defaults.
    pub fn load(dir: impl AsRef<Path>) -> Result<Engine> {
        Engine::from_bundle(Bundle::read_dir_or_config(dir)?)
    }

    pub fn from_bundle(bundle: Bundle) -> Result<Engine> {
        Engine::builder().bundle(bundle).build()
    }

    /// An engine from in-memory texts (inventory optional).
    pub fn from_strings(schema: &str, policies: &str, inventory: Option<&str>) -> Result<Engine> {
        Engine::from_bundle(Bundle::from_strings(schema, policies, inventory))
    }

    /// Decides one request. Bad input is an error; a deny is a decision.
    pub fn check(&self, request: &Request) -> Result<Decision> {
        let snapshot = self.snapshot.load();
        let now = self.clock.now_millis();
        let log = self.log.load();
        self.counted(self.decide(&snapshot, log.as_deref(), request, now, Form::Request))
    }

    /// Counts a check that raised, wherever it was refused (a forged token
    /// never reaches a policy, and is counted all the same).
    fn counted(&self, result: Result<Decision>) -> Result<Decision> {
        if let Err(e) = &result {
            self.metrics.raised(e.code().as_str());
        }
        result
    }

    /// Decides many requests against one snapshot.
    pub fn check_batch(&self, requests: &[Request]) -> Vec<Result<Decision>> {
        let snapshot = self.snapshot.load();
        let now = self.clock.now_millis();
        let log = self.log.load();
        requests
            .iter()
            .map(|r| self.counted(self.decide(&snapshot, log.as_deref(), r, now, Form::Request)))
            .collect()
    }

    /// One decision: evaluate, apply the enforcement mode, record it. An
    /// unmapped tool call denies as an unknown action.
    fn decide(
        &self,
        snapshot: &Snapshot,
        log: Option<&DecisionLog>,
        request: &Request,
        now: i64,
        form: Form,
    ) -> Result<Decision> {
        self.decide_as(snapshot, log, request, request, now, form)
    }

    /// [`Engine::decide`], recording `recorded` in place of `request` (a
    /// token check records the token's provenance, not what Cedar saw).
    fn decide_as(
        &self,
        snapshot: &Snapshot,
        log: Option<&DecisionLog>,
        request: &Request,
        recorded: &Request,
        now: i64,
        form: Form,
    ) -> Result<Decision> {
        #[cfg(not(target_arch = "wasm32"))]
        let started = std::time::Instant::now();
        let result = self.decide_timed(snapshot, log, request, recorded, now, form);
        // Errors are counted by the public entry points ([`Engine::counted`]).
        if let Ok(d) = &result {
            let unknown = d.reasons.iter().any(|r| r == authority::UNKNOWN_ACTION);
            self.metrics.decided(request, d, unknown);
        }
        #[cfg(not(target_arch = "wasm32"))]
        self.metrics
            .observe_ns(u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX));
        result
    }

    /// The body of [`Engine::decide_as`], which counts and times it.
    fn decide_timed(
        &self,
        snapshot: &Snapshot,
        log: Option<&DecisionLog>,
        request: &Request,
        recorded: &Request,
        now: i64,
        form: Form,
    ) -> Result<Decision> {
        let mapped = form != Form::Unmapped;
        let result =
            authority::caller_time(snapshot, request, self.trust_caller_time).and_then(|()| {
                request::decide(snapshot, request, now, mapped, &self.usage, || {
                    self.ids.next(now)
                })
            });
        let request::Decided {
            decision,
            log_only,
            permits,
            reservation,
        } = match result {
            Ok(r) => r,
            Err(e) => {
                self.record_error(snapshot, log, recorded, now, &e);
                return Err(e);
            }
        };
        let decision = if decision.decision == Effect::NeedsApproval
            && snapshot.log_only.mode == Mode::Enforce
        {
            self.resolve_approval(snapshot, log, request, now, decision, permits)
        } else {
            decision
        };
        let policies = snapshot.log_only.policies.is_some();
        let (mut decision, would) =
            decide::finish(snapshot.log_only.mode, policies, decision, log_only);
        if let Some(health) = &self.health {
            if health.is_stale(now) {
                // Out of sync with the fleet for too long: what this engine
                // knows may be outdated (an offboarding it has not seen).
                decision.decision = crate::model::Effect::Deny;
                decision.reasons = vec![STALE_REASON.to_string()];
                decision.requires_approval = false;
                decision.approvers.clear();
                decision.request_digest = None;
            }
        }
        // Only a call that goes ahead counts.
        if decision.allowed() {
            reservation.commit();
        }
        if let Some(log) = log {
            let would = would.as_ref().map(decide::Outcome::as_would);
            audit::record_check(&snapshot.audit, log, recorded, now, &decision, would);
        }
        Ok(decision)
    }

    /// A request that raised, recorded as an error (when there is a log).
    fn record_error(
        &self,
        snapshot: &Snapshot,
        log: Option<&DecisionLog>,
        request: &Request,
        now: i64,
        error: &Error,
    ) {
        if let Some(log) = log {
            let id = self.ids.next(now);
            audit::record_check_error(
                &snapshot.audit,
                log,
                &snapshot.revision,
                request,
                now,
                &id,
                error,
            );
        }
    }

    /// [`Engine::decide`] for a request of its own: a tool call's
    /// `context.input` is coerced in place first (an error recorded as any
    /// request error).
    fn decide_owned(
        &self,
        snapshot: &Snapshot,
        log: Option<&DecisionLog>,
        mut request: Request,
        now: i64,
        form: Form,
    ) -> Result<Decision> {
        if form == Form::ToolCall {
            if let Err(e) = tool_call::coerce(snapshot, &mut request) {
                self.record_error(snapshot, log, &request, now, &e);
                return Err(e);
            }
        }
        self.decide(snapshot, log, &request, now, form)
    }

    /// Sets (or, with `None`, removes) the decision-log sink; takes effect
    /// for the next check. Checks never wait for this.
    pub fn set_decision_log(&self, log: Option<DecisionLog>) {
        if let Some(log) = &log {
            self.record_log_recovery(log);
        }
        self.log.store(log.map(Arc::new));
    }

    /// The decision-log sink, if any.
    pub fn decision_log(&self) -> Option<DecisionLog> {
        self.log.load().as_deref().cloned()
    }

    /// Counters since the engine was built: decisions by outcome, action and
    /// first reason (bounded: see [`MAX_METRIC_SERIES`]), the check-latency
    /// histogram, the exporting log sink's queue depth and spool size, and a
    /// fleet store's staleness. Never blocks checks.
    pub fn metrics(&self) -> EngineMetrics {
        metrics::gather(
            &self.metrics,
            &self.log,
            self.health.as_deref(),
            self.clock.now_millis(),
        )
    }

    /// What the `[metrics.otlp]` thread reads: [`Engine::metrics`] from
    /// shared handles (the engine itself is not shared with the thread).
    #[cfg(not(target_arch = "wasm32"))]
    fn gather(&self) -> metrics_otlp::Gather {
        metrics_otlp::gather_from(&self.metrics, &self.log, &self.health, &self.clock)
    }

    /// Writes buffered decision records out; reports the first logging
    /// failure since the previous flush. Without a sink, does nothing.
    pub fn flush_decision_log(&self) -> Result<()> {
        match self.log.load().as_deref() {
            Some(log) => log.flush(),
            None => Ok(()),
        }
    }

    /// The input bounds in force: `[limits]` of `agentauthz.toml`, else the builder's.
    pub fn limits(&self) -> Limits {
        self.snapshot.load().limits
    }

    /// Forbids of the active bundle that may error at run time (or can never
    /// match), with where they are. A forbid that errors denies (see
    /// [`OnError`]); `validate --strict` and [`EngineBuilder::strict`] refuse them.
    pub fn warnings(&self) -> Vec<PolicyWarning> {
        self.snapshot.load().warnings.as_ref().clone()
    }

    /// What a forbid whose evaluation errors does in the active snapshot.
    pub fn on_error(&self) -> OnError {
        self.snapshot.load().on_error
    }

    /// The active enforcement mode (`[engine] mode` of `agentauthz.toml`).
    pub fn mode(&self) -> Mode {
        self.snapshot.load().log_only.mode
    }

    /// Compiles `bundle`, applies the run-time changes again (the journal's
    /// and this process's), and swaps it in. On error the current snapshot
    /// stays active.
    pub fn reload(&self, bundle: Bundle) -> Result<()> {
        self.reload_parts().reload(bundle)
    }

    /// Re-reads the directory the engine was loaded from.
    pub fn reload_dir(&self, dir: impl AsRef<Path>) -> Result<()> {
        self.reload(Bundle::read_dir(dir)?)
    }

    /// The content hash of the active bundle.
    pub fn policy_revision(&self) -> String {
        self.snapshot.load().revision.clone()
    }

    /// The bundle the active snapshot was compiled from.
    pub fn bundle(&self) -> Bundle {
        Bundle::clone(&self.snapshot.load().bundle)
    }

    /// Every active policy with where it was defined, by id.
    pub fn policies(&self) -> Vec<PolicyOrigin> {
        self.snapshot.load().origins.values().cloned().collect()
    }

    fn writer(&self) -> Result<MutexGuard<'_, Writer>> {
        lock(&self.writer)
    }

    /// Applies one run-time change made by `by`: checked against the active
    /// snapshot, written to the journal (synced) when there is one, then
    /// swapped in and recorded in the decision log. On error nothing changed.
    /// Approvals are made with [`Engine::approve`] (which checks who
    /// approves), never applied directly: `approval_invalid`.
    pub fn apply(&self, change: Change, by: &str) -> Result<JournalEntry> {
        if matches!(change, Change::Approve(_) | Change::ConsumeApproval { .. }) {
            return Err(Error::new(
                ErrorCode::ApprovalInvalid,
                format!(
                    "`{}` is not applied directly: use approve() (it checks who approves); checks consume approvals",
                    change.op()
                ),
            ));
        }
        self.apply_change(change, by)
    }

    fn apply_change(&self, change: Change, by: &str) -> Result<JournalEntry> {
        let applied = self.apply_change_uncounted(change, by);
        if applied.is_ok() {
            self.changes_made.fetch_add(1, Ordering::Release);
        }
        applied
    }

    /// Run-time changes this engine has made since it was built or restored
    /// (lifecycle changes, grants, approvals, and approvals its checks
    /// consumed), not those it followed from a fleet's store. A host that
    /// persists the engine's state ([`Engine::state`]) saves it when this
    /// moves, e.g. after a check that used up an approval.
    pub fn changes_made(&self) -> u64 {
        self.changes_made.load(Ordering::Acquire)
    }

    fn apply_change_uncounted(&self, change: Change, by: &str) -> Result<JournalEntry> {
        if by.trim().is_empty() {
            return Err(Error::new(
                ErrorCode::LifecycleInvalid,
                "a change needs the id of who makes it (`by`)",
            ));
        }
        let mut writer = self.writer()?;
        if writer.closed {
            return Err(Error::new(
                ErrorCode::LifecycleInvalid,
                "the engine was closed: its journal is released; load a new engine to make changes",
            ));
        }
        let now = self.clock.now_millis();
        let current = self.snapshot.load_full();
        let (next, _) = lifecycle::apply(&current, &[(now, &change)], true)?;
        let at = format_millis(now);
        let basis = lifecycle::basis(&current, &change);
        if writer.fleet.is_some() {
            return self.apply_shared(writer, change, by, now, at, basis);
        }
        let journaled = writer.journal.is_some();
        let entry = match writer.journal.as_mut() {
            Some(journal) => journal.append(at, by, &change, basis)?,
            None => JournalEntry {
                seq: u64::try_from(writer.history.len()).unwrap_or(u64::MAX) + 1,
                at,
                by: by.to_string(),
                change: change.clone(),
                basis,
                kid: None,
                mac: None,
            },
        };
        let pending = next.store.pending();
        let small = next.store.base().len() < COMPACT_INLINE_BELOW;
        self.snapshot.store(Arc::new(next));
        if pending > 0 && self.compaction {
            // Small stores fold at once (cheaper than a thread); a failed
            // fold leaves the changes beside the compiled entities.
            if small || !self.compact_later() {
                let _ = fold(&self.snapshot);
            }
        }
        writer.history.push(Applied {
            at: now,
            entry: entry.clone(),
        });
        let log = self.log.load_full();
        // Journal first, then the record: after a crash between the two, the
        // next load finds the change unrecorded and records it. A file log
        // is written under the writer lock so records follow journal order;
        // a callback runs after it (it may call back into the engine).
        let record = |log: &DecisionLog| {
            audit::record_change(
                &self.snapshot.load().audit,
                log,
                &current.revision,
                now,
                &self.ids.next(now),
                &entry,
                false,
            );
        };
        match log.as_deref() {
            Some(log) if log.path().is_some() => {
                record(log);
                if journaled {
                    log.sync_change(entry.seq);
                }
                drop(writer);
            }
            Some(log) => {
                drop(writer);
                record(log);
            }
            None => drop(writer),
        }
        Ok(entry)
    }

    /// [`Engine::apply`] on a fleet's store: the store numbers the change;
    /// it and every earlier change not applied here yet are applied in
    /// sequence order, as the other engines apply them.
    fn apply_shared(
        &self,
        mut writer: MutexGuard<'_, Writer>,
        change: Change,
        by: &str,
        now: i64,
        at: String,
        basis: Option<String>,
    ) -> Result<JournalEntry> {
        let Some(fleet) = writer.fleet.as_mut() else {
            return Err(Error::new(ErrorCode::Internal, "no shared store"));
        };
        let rows = fleet.store.append(fleet.applied, at, by, &change, basis)?;
        let seq = rows.last().map_or(0, crate::store::Stored::seq);
        let outcome = follow::apply_stored(&self.snapshot, &mut writer, rows)?;
        drop(writer);
        if let Some(log) = self.log.load_full() {
            follow::record(&log, &self.snapshot, &self.ids, now, &outcome);
        }
        if let Some(entry) = follow::find(&outcome, seq) {
            return Ok(entry.clone());
        }
        let why = follow::skip_reason(&outcome, seq).map_or_else(
            || {
                "an earlier change is missing from the store; it applies once that one arrives"
                    .to_string()
            },
            str::to_string,
        );
        Err(Error::new(
            ErrorCode::LifecycleInvalid,
            format!("the change was stored as change {seq} but does not apply here (nor on any engine): {why}"),
        ))
    }

    /// Connects to the fleet's store, applies every change in it, and
    /// starts following it. The store out of reach is an error: an engine
    /// that never saw the fleet's changes (an offboarding) does not start.
    #[cfg(all(feature = "postgres", not(target_arch = "wasm32")))]
    fn join_fleet(
        &mut self,
        config: &crate::bundle::StoreConfig,
        dir: Option<&Path>,
    ) -> Result<()> {
        use crate::store::postgres::{PgStore, SslMode, Target};
        let url = resolve_secret(config.postgres.as_deref().unwrap_or_default(), dir)?;
        let sslmode =
            SslMode::from_config(config.sslmode.as_deref(), config.ca_file.as_deref(), dir)?;
        let target = Target::parse(&url, sslmode)?;
        let max = config
            .max_staleness_seconds
            .map(|s| i64::try_from(s.saturating_mul(1000)).unwrap_or(i64::MAX));
        let health = Arc::new(Health::new(max));
        let name = config.writer.clone().unwrap_or_else(default_writer);
        let mut store = PgStore::new(target.clone(), name);
        {
            let mut writer = self.writer()?;
            if !writer.history.is_empty() {
                return Err(Error::new(
                    ErrorCode::ConfigInvalid,
                    "[store] postgres: the engine already holds changes",
                ));
            }
            use crate::store::ChangeStore;
            // Reached now, or the engine does not start.
            store.read_after(0, 0)?;
            writer.fleet = Some(writer::Fleet {
                store: Box::new(store),
                applied: 0,
            });
        }
        let shared = follow::Shared {
            snapshot: self.snapshot.clone(),
            writer: self.writer.clone(),
            log: self.log.clone(),
            clock: self.clock.clone(),
            health: health.clone(),
        };
        shared.catch_up(&self.ids, |applied| {
            let mut writer = self.writer()?;
            match writer.fleet.as_mut() {
                Some(f) => f.store.read_after(applied, follow::PAGE),
                None => Ok(Vec::new()),
            }
        })?;
        let poll = std::time::Duration::from_millis(config.poll_ms.unwrap_or(1000).max(10));
        let stop = follow::pg::start(shared, target, poll).map_err(|e| {
            Error::new(
                ErrorCode::Io,
                format!("cannot start the store follower: {e}"),
            )
        })?;
        self.health = Some(health);
        self.follower = Some(stop);
        Ok(())
    }

    #[cfg(not(all(feature = "postgres", not(target_arch = "wasm32"))))]
    fn join_fleet(&mut self, _: &crate::bundle::StoreConfig, _: Option<&Path>) -> Result<()> {
        Err(Error::new(
            ErrorCode::ConfigInvalid,
            "[store] postgres: this build of agentauthz has no PostgreSQL support (cargo feature `postgres`)",
        ))
    }

    /// How this engine stands with its change store: the last change applied
    /// and, for a fleet's store, how long since it was last in sync and
    /// whether checks fail closed (`store/stale`).
    pub fn store_status(&self) -> StoreStatus {
        let now = self.clock.now_millis();
        let Ok(writer) = self.writer() else {
            return StoreStatus {
                backend: "unknown".into(),
                location: String::new(),
                last_applied_seq: 0,
                last_synced: None,
                staleness_ms: None,
                max_staleness_ms: None,
                stale: false,
                connected: false,
                last_error: Some("a previous change panicked".into()),
                gap_after: None,
                skipped: 0,
            };
        };
        let skipped = writer.skipped.len() + writer.malformed.len();
        if let Some(health) = &self.health {
            let location = match (&writer.fleet, &writer.closed_store) {
                (Some(fleet), _) => Some(fleet.store.describe()),
                (None, closed) => closed.clone(),
            };
            if let Some(location) = location {
                return health.status("postgres", location, now, skipped);
            }
        }
        let (backend, location) = match &writer.journal {
            Some(j) => ("journal", j.path().display().to_string()),
            None => ("memory", String::new()),
        };
        StoreStatus {
            backend: backend.into(),
            location,
            last_applied_seq: writer.history.last().map_or(0, |a| a.entry.seq),
            last_synced: None,
            staleness_ms: None,
            max_staleness_ms: None,
            stale: false,
            connected: writer.journal.is_some(),
            last_error: None,
            gap_after: None,
            skipped,
        }
    }

    /// A hash of everything run-time changes decide with: the bundle
    /// revision, every entity in its current version, grants, revoked tasks
    /// and sessions, suspensions, and which changes were skipped. Engines
    /// of a fleet that applied the same changes have the same hash.
    pub fn state_hash(&self) -> Result<String> {
        use sha2::Digest;
        let writer = self.writer()?;
        let snapshot = self.snapshot.load_full();
        let mut entities: Vec<Vec<u8>> = self
            .entities()
            .iter()
            .map(|e| {
                let mut v = e.to_json_value().unwrap_or(serde_json::Value::Null);
                if let Some(serde_json::Value::Array(parents)) = v.get_mut("parents") {
                    parents.sort_by_key(|p| p.to_string());
                }
                crate::audit::canonical_json(&v)
            })
            .collect();
        entities.sort();
        let runtime = &snapshot.runtime;
        let sorted = |set: &std::collections::HashSet<String>| {
            let mut v: Vec<&String> = set.iter().collect();
            v.sort();
            serde_json::json!(v)
        };
        let grants: Vec<&crate::change::Grant> =
            runtime.grants.values().map(|g| &g.grant).collect();
        let mut skipped: Vec<u64> = writer.skipped.iter().map(|s| s.entry.seq).collect();
        skipped.sort_unstable();
        let rest = serde_json::json!({
            "revision": snapshot.revision,
            "grants": grants,
            "revoked_tasks": sorted(&runtime.revoked_tasks),
            "revoked_sessions": sorted(&runtime.revoked_sessions),
            "suspended": sorted(&runtime.suspended),
            "skipped": skipped,
            "malformed": writer.malformed,
            "applied": writer.fleet.as_ref().map(|f| f.applied),
        });
        let mut h = sha2::Sha256::new();
        for e in &entities {
            h.update(e);
            h.update(b"\n");
        }
        h.update(crate::audit::canonical_json(&rest));
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        Ok(format!("sha256:{hex}"))
    }

    /// After load: records what loading did to the state (a torn journal
    /// line cut off, changes skipped) and the journaled changes the decision
    /// log does not hold yet (the process that made them stopped first).
    fn record_load(&self) -> Result<()> {
        let Some(log) = self.log.load_full() else {
            return Ok(());
        };
        self.record_log_recovery(&log);
        let snapshot = self.snapshot.load();
        let writer = self.writer()?;
        let now = self.clock.now_millis();
        let event = |action: &str, resource: EntityRef, decision, reason: &str, context| {
            audit::record_event(
                &snapshot.audit,
                &log,
                &snapshot.revision,
                now,
                &self.ids.next(now),
                action,
                &resource,
                decision,
                reason,
                context,
            );
        };
        if let Some(journal) = &writer.journal {
            if let Some(cut) = journal.recovered() {
                let mut context = serde_json::Map::new();
                context.insert("bytes_cut".into(), cut.into());
                event(
                    "agentauthz:recover",
                    EntityRef::new("Journal", journal.path().display().to_string()),
                    audit::RecordDecision::Allow,
                    "recover/torn-last-line",
                    context,
                );
            }
            if let Some(recorded) = log.recorded_journal_seq() {
                let last = writer.history.last().map_or(0, |a| a.entry.seq);
                if recorded > last {
                    return Err(Error::new(
                        ErrorCode::JournalCorrupt,
                        format!(
                            "journal {}: the decision log recorded change {recorded} but the journal ends at {last}: entries were removed from its end",
                            journal.path().display()
                        ),
                    ));
                }
                for a in writer.history.iter().filter(|a| a.entry.seq > recorded) {
                    audit::record_change(
                        &snapshot.audit,
                        &log,
                        &snapshot.revision,
                        a.at,
                        &self.ids.next(now),
                        &a.entry,
                        true,
                    );
                }
                if last > recorded {
                    log.sync_change(last);
                }
            }
        }
        let skipped = writer.skipped.clone();
        drop(writer);
        self.record_skips(&skipped);
        Ok(())
    }

    /// Records that `recover` cut a torn last line off the log (once per log).
    fn record_log_recovery(&self, log: &DecisionLog) {
        let Some(cut) = log.take_recovered() else {
            return;
        };
        let snapshot = self.snapshot.load();
        let now = self.clock.now_millis();
        let path = log
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let mut context = serde_json::Map::new();
        context.insert("bytes_cut".into(), cut.into());
        audit::record_event(
            &snapshot.audit,
            log,
            &snapshot.revision,
            now,
            &self.ids.next(now),
            "agentauthz:recover",
            &EntityRef::new("DecisionLog", path),
            audit::RecordDecision::Allow,
            "recover/torn-last-line",
            context,
        );
    }

    /// Records each journaled change that replay skipped, with the reason.
    fn record_skips(&self, skipped: &[Skipped]) {
        let Some(log) = self.log.load_full() else {
            return;
        };
        let snapshot = self.snapshot.load();
        let now = self.clock.now_millis();
        follow::record_skips(&log, &snapshot, &self.ids, now, skipped);
    }

    /// Grants `request.actions` on `request.resource` (and anything in it)
    /// to an agent for a window; returns the grant with its id. The grant
    /// stops applying at its expiry with no further call.
    pub fn grant(&self, request: GrantRequest) -> Result<Grant> {
        let now = self.clock.now_millis();
        let by = request.granted_by.clone();
        let grant = lifecycle::grant_from_request(request, self.ids.next(now), now)?;
        self.apply(Change::Grant(grant.clone()), &by)?;
        Ok(grant)
    }

    /// Ends a grant before its expiry.
    pub fn revoke(&self, grant_id: &str, by: &str) -> Result<()> {
        self.apply(
            Change::Revoke {
                grant: grant_id.to_string(),
            },
            by,
        )
        .map(drop)
    }

    /// Grants in force (not expired, not revoked), of one agent or all, by id.
    pub fn grants(&self, agent: Option<&str>) -> Vec<Grant> {
        self.snapshot
            .load()
            .runtime
            .live_grants(agent, self.clock.now_millis())
    }

    /// The Cedar text of a grant in force (`@id("grant/<id>") permit (...)`).
    pub fn grant_policy_text(&self, grant_id: &str) -> Option<String> {
        let snapshot = self.snapshot.load();
        snapshot
            .runtime
            .grants
            .get(grant_id)
            .map(|g| g.policy.to_string())
    }

    /// Emergency stop: every agent request (every form) is denied with reason
    /// `baseline/lockdown` until [`Engine::lift_lockdown`]. Journaled like
    /// every change (it survives a restart) and recorded in the decision log.
    /// Again while in force: the reason is replaced.
    pub fn lockdown(&self, reason: &str, by: &str) -> Result<()> {
        let reason = reason.to_string();
        self.apply(Change::Lockdown { reason }, by).map(drop)
    }

    /// Ends the emergency stop (`lifecycle_invalid` when none is in force).
    pub fn lift_lockdown(&self, by: &str) -> Result<()> {
        self.apply(Change::LiftLockdown {}, by).map(drop)
    }

    /// The emergency stop in force, if any.
    pub fn lockdown_status(&self) -> Option<LockdownStatus> {
        let lockdown = self.snapshot.load().runtime.lockdown.clone()?;
        // Who locked down last: the newest lockdown change in the history.
        let by = self.writer().ok().and_then(|w| {
            w.history
                .iter()
                .rev()
                .find(|a| matches!(a.entry.change, Change::Lockdown { .. }))
                .map(|a| a.entry.by.clone())
        });
        Some(LockdownStatus {
            reason: lockdown.reason.clone(),
            since: format_millis(lockdown.since_ms),
            by: by.unwrap_or_default(),
        })
    }

    /// Records `units` of cost `kind` (one of [`USAGE_KINDS`]: `tokens`,
    /// `usd_cents`) spent by `agent` now; policies see the sums as
    /// `context.usage.units_1h.<kind>` and `units_1d`. `usage_invalid` for an
    /// unknown kind or agent, or more than [`MAX_UNITS_PER_RECORD`] units.
    pub fn record_usage(&self, agent: &str, units: u64, kind: &str) -> Result<()> {
        let snapshot = self.snapshot.load();
        if !request_agent_exists(&snapshot, agent) {
            // Checked after the kind and units, so each error says the first problem.
            usage::check_record(units, kind)?;
            return Err(Error::new(
                ErrorCode::UsageInvalid,
                format!("unknown agent {agent:?}: usage is recorded for agents of the inventory"),
            ));
        }
        self.usage
            .record(agent, units, kind, self.clock.now_millis())
    }

    /// The usage `agent` has now (and its calls of `action`): what the next
    /// check's `context.usage` holds. Counts nothing.
    pub fn usage(&self, agent: &str, action: Option<&str>) -> Result<UsageCounts> {
        let snapshot = self.snapshot.load();
        if !request_agent_exists(&snapshot, agent) {
            return Err(Error::new(
                ErrorCode::UsageInvalid,
                format!("unknown agent {agent:?}"),
            ));
        }
        let action = match action {
            Some(a) => Some(snapshot.actions.get(a).cloned().ok_or_else(|| {
                Error::new(ErrorCode::UsageInvalid, format!("unknown action {a:?}"))
            })?),
            None => None,
        };
        Ok(self
            .usage
            .peek(agent, action.as_ref(), self.clock.now_millis()))
    }

    /// Policy tests: forget every counter, then set those of `agent` and
    /// `action` (a `usage:` preset). Not for hosts: counters count.
    pub(crate) fn preset_usage(&self, preset: Option<(&str, &str, &UsageCounts)>) -> Result<()> {
        self.usage.clear();
        let Some((agent, action, counts)) = preset else {
            return Ok(());
        };
        let snapshot = self.snapshot.load();
        let uid = snapshot.actions.get(action).cloned();
        match uid {
            Some(uid) if request_agent_exists(&snapshot, agent) => {
                self.usage
                    .preset(agent, &uid, counts, self.clock.now_millis());
                Ok(())
            }
            _ => Err(Error::new(
                ErrorCode::TestInvalid,
                format!("a `usage:` preset needs an agent and an action of the bundle ({agent:?}, {action:?})"),
            )),
        }
    }

    pub fn suspend(&self, agent: &str, by: &str) -> Result<()> {
        let agent = agent.to_string();
        self.apply(Change::Suspend { agent }, by).map(drop)
    }

    pub fn reactivate(&self, agent: &str, by: &str) -> Result<()> {
        let agent = agent.to_string();
        self.apply(Change::Reactivate { agent }, by).map(drop)
    }

    /// Final: the agent's status becomes `offboarded`, its grants and tasks
    /// are revoked, its credentials marked revoked, its sessions rejected.
    pub fn offboard(&self, agent: &str, by: &str) -> Result<()> {
        let agent = agent.to_string();
        self.apply(Change::Offboard { agent }, by).map(drop)
    }

    /// A credential was rotated: issued now, valid until `expires` (RFC 3339).
    pub fn rotate_credential(&self, credential: &str, expires: &str, by: &str) -> Result<()> {
        let change = Change::RotateCredential {
            credential: credential.to_string(),
            expires: expires.to_string(),
        };
        self.apply(change, by).map(drop)
    }

    pub fn transfer_owner(&self, agent: &str, owner: &str, by: &str) -> Result<()> {
        let change = Change::TransferOwner {
            agent: agent.to_string(),
            owner: owner.to_string(),
        };
        self.apply(change, by).map(drop)
    }

    /// Adds a task (a just-in-time scope with a window) for an agent.
    pub fn add_task(&self, task: TaskSpec, by: &str) -> Result<()> {
        self.apply(Change::AddTask(task), by).map(drop)
    }

    /// Issues a signed session token for an active agent (and a task of its
    /// own whose window is open now): valid for `ttl_ms` (capped by
    /// `[sessions] max_ttl_seconds`, default 15 minutes, and by the end of the
    /// task's window) for `audience` (`[sessions] audience` when `None`;
    /// another one only if `[sessions] allowed_audiences` lists it).
    pub fn issue_session(
        &self,
        agent: &str,
        task: Option<&str>,
        ttl_ms: Option<i64>,
        audience: Option<&str>,
    ) -> Result<(String, SessionClaims)> {
        let snapshot = self.snapshot.load();
        let now = self.clock.now_millis();
        session_state::check_standing(&snapshot, agent, task, ErrorCode::LifecycleInvalid)?;
        let task_end = match task {
            Some(task) => Some(session_state::open_task_window(&snapshot, task, now)?),
            None => None,
        };
        let state = self.sessions.load();
        let audience = state.config.audience(audience)?;
        let mut claims = state
            .config
            .claims(agent, task, ttl_ms, Some(audience), now)?;
        if let Some(end) = task_end {
            claims.expires_at = claims.expires_at.min(end);
        }
        let token = session::issue(&state.keys, &claims)?;
        Ok((token, claims))
    }

    /// Verifies a session token against the engine clock and the active
    /// state: signature, key id, window, lifetime, audience, and that neither
    /// the session, its agent (suspended, offboarded) nor its task was revoked.
    pub fn verify_session(&self, token: &str, audience: Option<&str>) -> Result<SessionClaims> {
        self.verify_session_at(token, audience, self.clock.now_millis())
            .map(Arc::unwrap_or_clone)
    }

    fn verify_session_at(
        &self,
        token: &str,
        audience: Option<&str>,
        now: i64,
    ) -> Result<Arc<SessionClaims>> {
        let state = self.sessions.load();
        let audience = state.config.audience(audience)?;
        let claims = state.verify(token, audience, now)?;
        session_state::check_claims(&self.snapshot.load(), &claims)?;
        Ok(claims)
    }

    /// Decides a request made with a session token: the agent and the task
    /// are the token's, and the time is the engine clock's, for the token and
    /// the policies alike (a request carrying `now` is refused, whatever
    /// [`EngineBuilder::trust_caller_time`] says). A token that does not
    /// verify is an error, never a decision. A refused token is recorded in
    /// the decision log as an error with the principal `Session::"unverified"`
    /// (never the token, never the agent it claims).
    pub fn check_session(&self, request: &SessionRequest) -> Result<Decision> {
        self.counted(self.check_session_as(request, Form::Request))
    }

    fn check_session_as(&self, request: &SessionRequest, form: Form) -> Result<Decision> {
        if request.now.is_some() {
            return Err(authority::session_time_refused());
        }
        let now = self.clock.now_millis();
        let claims =
            match self.verify_session_at(&request.session, request.audience.as_deref(), now) {
                Ok(claims) => claims,
                Err(e) => {
                    if let Some(log) = self.log.load().as_deref() {
                        let snapshot = self.snapshot.load();
                        audit::record_refused_session(
                            &snapshot.audit,
                            log,
                            &snapshot.revision,
                            now,
                            &self.ids.next(now),
                            request,
                            &e,
                        );
                    }
                    return Err(e);
                }
            };
        let snapshot = self.snapshot.load();
        let log = self.log.load();
        let request = Request::Agent(AgentRequest {
            agent: claims.agent.clone(),
            action: request.action.clone(),
            resource: request.resource.clone(),
            task: claims.task.clone(),
            on_behalf_of: request.on_behalf_of.clone(),
            credential: request.credential.clone(),
            context: request.context.clone(),
            now: None,
        });
        self.decide_owned(&snapshot, log.as_deref(), request, now, form)
    }

    /// Verifies an identity provider's token (`[identity.issuers]`) against
    /// the engine clock and returns what it says (cached by hash until it
    /// expires). Errors: `token_invalid`, `token_expired`, `token_audience`,
    /// `issuer_unknown`, `jwks_unavailable`; never holding the token.
    pub fn verify_token(&self, token: &str) -> Result<TokenClaims> {
        self.identity
            .load()
            .verify(token, self.clock.now_millis())
            .map(Arc::unwrap_or_clone)
    }

    /// The identity providers of `[identity]` (keys, verified tokens).
    pub fn identity(&self) -> Arc<Identity> {
        self.identity.load_full()
    }

    /// Decides a request made with an identity provider's token: the agent
    /// is the token's (`agent_claim`, or the actor of a delegated token), the
    /// on-behalf-of user the delegated token's `sub`, and an action whose
    /// context declares a `token` record gets the token's attributes
    /// (`issuer`, `subject`, `client_id`, `jti`, `scopes`, `actors`, the
    /// configured claims) in `context.token`. An agent not in the inventory
    /// is denied (`baseline/unknown-agent`) like any other. A token that does
    /// not verify is an error, recorded with the principal
    /// `Token::"unverified"`; a decision is recorded with the token's
    /// issuer, subject, client, actor chain, `jti` and scopes in
    /// `context.token`, never the token.
    pub fn check_token(&self, request: &TokenRequest) -> Result<Decision> {
        self.counted(self.check_token_as(request, Form::Request))
    }

    fn check_token_as(&self, request: &TokenRequest, form: Form) -> Result<Decision> {
        if request.now.is_some() {
            return Err(Error::new(
                ErrorCode::RequestInvalid,
                "a token check is judged at the engine clock: do not pass `now`",
            ));
        }
        let now = self.clock.now_millis();
        let claims = match self.identity.load().verify(&request.token, now) {
            Ok(claims) => claims,
            Err(e) => {
                if let Some(log) = self.log.load().as_deref() {
                    let snapshot = self.snapshot.load();
                    audit::record_refused_token(
                        &snapshot.audit,
                        log,
                        &snapshot.revision,
                        now,
                        &self.ids.next(now),
                        request,
                        &e,
                    );
                }
                return Err(e);
            }
        };
        if request.context.contains_key("token") {
            return Err(Error::new(
                ErrorCode::RequestInvalid,
                "context field `token` is filled in from the verified token; do not pass it",
            ));
        }
        let snapshot = self.snapshot.load();
        let log = self.log.load();
        let mut context = request.context.clone();
        let declared = snapshot
            .actions
            .get(&request.action)
            .and_then(|uid| snapshot.context_types.get(uid))
            .and_then(|record| match record.attrs.get("token") {
                Some((context::AttrType::Record(r), _)) => Some(r),
                _ => None,
            });
        if let Some(record) = declared {
            let token = claims.context_record(|name| record.attrs.contains_key(name));
            context.insert("token".into(), serde_json::Value::Object(token));
        }
        let mut cedar = AgentRequest {
            agent: claims.agent.clone(),
            action: request.action.clone(),
            resource: request.resource.clone(),
            task: request.task.clone(),
            on_behalf_of: claims.on_behalf_of.clone(),
            credential: request.credential.clone(),
            context,
            now: None,
        };
        let mut recorded = cedar.clone();
        recorded.context = request.context.clone();
        recorded.context.insert("token".into(), claims.provenance());
        let recorded = Request::Agent(recorded);
        if form == Form::ToolCall {
            let mut as_request = Request::Agent(cedar);
            if let Err(e) = tool_call::coerce(&snapshot, &mut as_request) {
                self.record_error(&snapshot, log.as_deref(), &recorded, now, &e);
                return Err(e);
            }
            let Request::Agent(coerced) = as_request else {
                return Err(Error::new(
                    ErrorCode::Internal,
                    "a coerced tool call changed form",
                ));
            };
            cedar = coerced;
        }
        let request = Request::Agent(cedar);
        self.decide_as(&snapshot, log.as_deref(), &request, &recorded, now, form)
    }

    /// Decides a framework's tool call ([`ToolCall`]): the one mapper every
    /// binding and adapter uses.
    ///
    /// - Size and depth of `input` and `context` are checked first, against
    ///   the engine's [`Limits`] (`input_too_deep` / `input_too_large`).
    /// - Exactly one of `agent` and `session` (with `audience` only with
    ///   `session`, and `task` only with `agent`: a session's task is its
    ///   token's); `input` is `context.input` and may not be given twice.
    /// - `action: None` (the caller's mapper has no action for this tool) is
    ///   a deny with reason `baseline/unknown-action`, recorded like any
    ///   decision (the record's action is the tool name); never an error.
    /// - `input` is then coerced to the type the schema declares for the
    ///   action's `context.input`, and the call is checked as a request:
    ///   - `null` at an optional record attribute: the attribute is dropped;
    ///     `null` anywhere else is an error;
    ///   - a number where `decimal` is declared: that decimal, exactly (at
    ///     most 4 fraction digits, within Cedar's range), else an error,
    ///     never rounded;
    ///   - a number where `Long` is declared: an integral value within i64
    ///     (`3.0` is 3), else an error;
    ///   - an attribute a record type does not declare, or a missing required
    ///     one, is an error;
    ///   - everything else is left as given: strings for `ipaddr`,
    ///     `datetime`, `duration` and `decimal` go to Cedar's constructors,
    ///     and a value of the wrong type stays Cedar's type error.
    ///
    ///   Each coercion error is `request_invalid`, its message naming the
    ///   path (`input.refund.amount: 12.34567 has more than 4 fraction digits
    ///   for decimal`). An action the schema does not know, or whose context
    ///   type is not resolved, leaves `input` as given.
    pub fn check_tool_call(&self, call: &ToolCall) -> Result<Decision> {
        self.counted(self.check_tool_call_uncounted(call))
    }

    fn check_tool_call_uncounted(&self, call: &ToolCall) -> Result<Decision> {
        let limits = self.limits();
        if let Some(input) = &call.input {
            limits.check_value("tool call input", input)?;
        }
        // Cloned once: checked as a value, then taken back as the map.
        let context = serde_json::Value::Object(call.context.clone());
        limits.check_value("tool call context", &context)?;
        let mut context = match context {
            serde_json::Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        if let Some(input) = &call.input {
            if context.contains_key("input") {
                return Err(Error::new(
                    ErrorCode::RequestInvalid,
                    "give the tool's arguments as `input` or as `context.input`, not both",
                ));
            }
            context.insert("input".into(), input.clone());
        }
        let (action, form) = match &call.action {
            Some(action) => (action.clone(), Form::ToolCall),
            None => (call.tool.clone(), Form::Unmapped),
        };
        if call.token.is_some() && (call.agent.is_some() || call.session.is_some()) {
            return Err(Error::new(
                ErrorCode::RequestInvalid,
                "give exactly one of `agent`, `session` and `token`",
            ));
        }
        match (&call.agent, &call.session) {
            (Some(agent), None) => {
                if call.audience.is_some() {
                    return Err(Error::new(
                        ErrorCode::RequestInvalid,
                        "`audience` goes with `session`",
                    ));
                }
                let request = Request::Agent(AgentRequest {
                    agent: agent.clone(),
                    action,
                    resource: call.resource.clone(),
                    task: call.task.clone(),
                    on_behalf_of: call.on_behalf_of.clone(),
                    credential: call.credential.clone(),
                    context,
                    now: call.now.clone(),
                });
                let snapshot = self.snapshot.load();
                let now = self.clock.now_millis();
                let log = self.log.load();
                self.decide_owned(&snapshot, log.as_deref(), request, now, form)
            }
            (None, Some(session)) => {
                if call.task.is_some() {
                    return Err(Error::new(
                        ErrorCode::RequestInvalid,
                        "`task` comes from the session token; do not pass it with `session`",
                    ));
                }
                let request = SessionRequest {
                    session: session.clone(),
                    action,
                    resource: call.resource.clone(),
                    on_behalf_of: call.on_behalf_of.clone(),
                    credential: call.credential.clone(),
                    context,
                    now: call.now.clone(),
                    audience: call.audience.clone(),
                };
                self.check_session_as(&request, form)
            }
            (None, None) if call.token.is_some() => {
                if call.audience.is_some() || call.on_behalf_of.is_some() {
                    return Err(Error::new(
                        ErrorCode::RequestInvalid,
                        "with `token`, the audience is this resource's and the on-behalf-of user the token's: do not pass `audience` or `on_behalf_of`",
                    ));
                }
                let request = TokenRequest {
                    token: call.token.clone().unwrap_or_default(),
                    action,
                    resource: call.resource.clone(),
                    task: call.task.clone(),
                    credential: call.credential.clone(),
                    context,
                    now: call.now.clone(),
                };
                self.check_token_as(&request, form)
            }
            _ => Err(Error::new(
                ErrorCode::RequestInvalid,
                "give exactly one of `agent`, `session` and `token`",
            )),
        }
    }

    /// A session token may no longer be used (journaled like every change).
    pub fn revoke_session(&self, session_id: &str, by: &str) -> Result<()> {
        let session = session_id.to_string();
        self.apply(Change::RevokeSession { session }, by).map(drop)
    }

    /// Replaces the session keys (rotation at run time, or public keys only
    /// for a verifier such as a browser).
    pub fn set_session_keys(&self, keys: SessionKeys) {
        let mut next = Sessions::clone(&self.sessions.load());
        next.keys = keys;
        // Tokens verified under the old keys are verified again.
        next.verified = Arc::default();
        self.sessions.store(Arc::new(next));
    }

    /// The session keys (share `verifying_only()` with verifiers).
    pub fn session_keys(&self) -> SessionKeys {
        self.sessions.load().keys.clone()
    }

    /// Releases the journal and the decision log (flushed, checkpointed, their
    /// files and locks closed) so another engine or process may open them —
    /// for hosts that cannot drop an engine at a known time (JavaScript).
    /// Later changes are refused (`lifecycle_invalid`); checks go on, unrecorded.
    /// A fleet engine stops following its store (the follower and its
    /// connections are gone when this returns) and from then on is out of
    /// sync: `store_status()` still names the store, disconnected, with a
    /// growing staleness, and checks deny (`store/stale`) past
    /// `max_staleness_seconds` as for a store out of reach.
    pub fn close(&self) {
        if let Some(health) = &self.health {
            // First: a read the follower finishes now does not count as in sync.
            health.close();
        }
        if let Some(follower) = &self.follower {
            // Waits for the follower to end: its connection is closed on return.
            follower.stop_and_join();
        }
        if let Ok(mut writer) = self.writer() {
            writer.journal = None;
            if let Some(fleet) = writer.fleet.take() {
                writer.closed_store = Some(fleet.store.describe());
            }
            writer.closed = true;
        }
        if let Some(poller) = &self.bundle_poller {
            poller.stop();
        }
        if let Some(log) = self.log.swap(None) {
            let _ = log.flush();
        }
    }

    /// The journal file, when changes are journaled.
    pub fn journal_path(&self) -> Option<PathBuf> {
        let writer = self.writer().ok()?;
        writer.journal.as_ref().map(|j| j.path().to_path_buf())
    }

    /// Changes from the journal that no longer applied to the bundle when it
    /// was last loaded or reloaded (e.g. their agent left the inventory).
    pub fn skipped_changes(&self) -> Vec<String> {
        self.writer()
            .map(|w| {
                w.skipped
                    .iter()
                    .map(|s| format!("{} (journal seq {})", s.reason, s.entry.seq))
                    .chain(w.malformed.iter().cloned())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// Whether requests may carry their own `now` (see
    /// [`EngineBuilder::trust_caller_time`]).
    pub fn trusts_caller_time(&self) -> bool {
        self.trust_caller_time
    }

    /// The active snapshot's (merged) schema; `None` for a schema-less engine.
    /// For offline analysis (posture, inventory), not the request path.
    pub fn schema(&self) -> Option<cedar_policy::Schema> {
        self.snapshot.load().schema.clone()
    }

    /// The active snapshot's enforced policy set (bundle policies and enabled guardrails).
    pub fn policy_set(&self) -> PolicySet {
        PolicySet::clone(&self.snapshot.load().policies)
    }

    /// The active snapshot's entities (the inventory as Cedar entities,
    /// with the run-time changes).
    pub fn entities(&self) -> Entities {
        let snapshot = self.snapshot.load();
        // Folding validated entities into a store whose closure holds cannot
        // fail; if it did, the compiled entities are still the inventory's.
        snapshot
            .store
            .merged(&snapshot.with_descendants)
            .unwrap_or_else(|_| Entities::clone(snapshot.store.base()))
    }

    /// Folds the run-time changes kept beside the compiled entities into
    /// them now (done automatically unless the builder turned it off).
    /// Decisions do not change.
    #[doc(hidden)]
    pub fn compact(&self) -> Result<()> {
        let _writer = self.writer()?;
        fold(&self.snapshot)
    }

    /// Starts a thread that folds pending changes in; `false` when none could
    /// be started (no threads on this platform).
    fn compact_later(&self) -> bool {
        if self.compacting.swap(true, Ordering::AcqRel) {
            return true;
        }
        let snapshot = Arc::clone(&self.snapshot);
        let running = Arc::clone(&self.compacting);
        let spawned = std::thread::Builder::new()
            .name("agentauthz-compact".into())
            .spawn(move || loop {
                // A fold that fails leaves the changes beside the compiled
                // entities (decisions are the same); the next change retries.
                let folded = fold(&snapshot).is_ok();
                running.store(false, Ordering::Release);
                // A change that found this thread running left its fold to it.
                if !folded
                    || snapshot.load().store.pending() == 0
                    || running.swap(true, Ordering::AcqRel)
                {
                    break;
                }
            });
        if spawned.is_err() {
            self.compacting.store(false, Ordering::Release);
        }
        spawned.is_ok()
    }
}

impl Engine {
    /// The state to rebuild this engine elsewhere with [`Engine::restore`]:
    /// the active bundle's texts, every run-time change with its original
    /// time and sequence number, the session keys and the builder settings.
    /// The decision log, the journal file and the clock are not part of it.
    pub fn state(&self) -> Result<EngineState> {
        // Under the writer lock: no change or reload lands halfway.
        let writer = self.writer()?;
        let snapshot = self.snapshot.load_full();
        Ok(EngineState {
            version: STATE_VERSION,
            revision: snapshot.revision.clone(),
            bundle: bundle_state(&snapshot.bundle),
            settings: StateSettings {
                trust_caller_time: self.trust_caller_time,
                limits: self.limits,
                on_error: self.overrides.on_error.map(on_error_name),
                strict: self.overrides.strict,
            },
            sessions: keys_state(&self.sessions.load().keys),
            changes: writer.history.iter().map(|a| a.entry.clone()).collect(),
        })
    }

    /// Rebuilds an engine from [`Engine::state`]: the bundle is compiled
    /// (and must hash to the state's revision), then the changes are replayed
    /// as a journal is on load, each at its original time; those that no
    /// longer apply are listed by [`Engine::skipped_changes`]. The new engine
    /// holds no files: no journal, no configured decision log (set one with
    /// [`Engine::set_decision_log`]). `clock` defaults to the system clock.
    pub fn restore(state: EngineState, clock: Option<Arc<dyn Clock>>) -> Result<Engine> {
        let state = state.unpack()?;
        let overrides = Overrides {
            on_error: state.on_error,
            strict: state.strict,
        };
        let history: Vec<Applied> = state
            .history
            .into_iter()
            .map(|(at, entry)| Applied { at, entry })
            .collect();
        let compiled = overrides.compile(state.bundle)?;
        if compiled.revision != state.revision {
            return Err(invalid_state(format!(
                "the bundle texts hash to {}, not to the state's revision {}",
                compiled.revision, state.revision
            )));
        }
        let (snapshot, skipped) = replay(&compiled, &history)?;
        let clock = clock.unwrap_or_else(|| Arc::new(SystemClock));
        let ids = Arc::new(DecisionIds::new(clock.now_millis()));
        // `[identity]` again from the bundle (keys given at run time are not state).
        let identity = match &snapshot.bundle.config {
            Some(src) => {
                let config = Config::parse_with(src, &snapshot.limits)?;
                Identity::from_config(&config.identity, None, clock.now_millis())?
            }
            None => Identity::default(),
        };
        Ok(Engine {
            snapshot: Arc::new(ArcSwap::from_pointee(snapshot)),
            compaction: true,
            compacting: Arc::default(),
            changes_made: AtomicU64::new(0),
            clock,
            ids,
            log: Arc::new(ArcSwapOption::empty()),
            writer: Arc::new(Mutex::new(Writer {
                journal: None,
                history,
                skipped,
                closed: false,
                fleet: None,
                closed_store: None,
                malformed: Vec::new(),
            })),
            sessions: ArcSwap::from_pointee(state.sessions),
            identity: Arc::new(ArcSwap::from_pointee(identity)),
            limits: state.limits,
            overrides,
            trust_caller_time: state.trust_caller_time,
            usage: Arc::default(),
            pending: Mutex::default(),
            approval_hook: ArcSwapOption::empty(),
            health: None,
            follower: None,
            metrics: Arc::default(),
            #[cfg(not(target_arch = "wasm32"))]
            metrics_export: Arc::new(metrics_otlp::Slot::new()),
            remote: None,
            bundle_poller: None,
        })
    }
}

/// An emergency stop in force ([`Engine::lockdown_status`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(export))]
#[cfg_attr(test, ts(export_to = "../../bindings-js/src/generated/"))]
pub struct LockdownStatus {
    pub reason: String,
    /// When it started (RFC 3339).
    pub since: String,
    /// Who locked down (the latest `lockdown` call).
    pub by: String,
}

/// `[store]` of `agentauthz.toml` with the builder's settings over it.
fn merged_store(
    config: &crate::bundle::StoreConfig,
    builder: crate::bundle::StoreConfig,
) -> crate::bundle::StoreConfig {
    let c = config.clone();
    crate::bundle::StoreConfig {
        postgres: builder.postgres.or(c.postgres),
        sslmode: builder.sslmode.or(c.sslmode),
        ca_file: builder.ca_file.or(c.ca_file),
        max_staleness_seconds: builder.max_staleness_seconds.or(c.max_staleness_seconds),
        poll_ms: builder.poll_ms.or(c.poll_ms),
        writer: builder.writer.or(c.writer),
    }
}

/// A secret given as `env:VAR`, `file:PATH` (relative to the bundle
/// directory) or as itself.
#[cfg(all(feature = "postgres", not(target_arch = "wasm32")))]
fn resolve_secret(spec: &str, dir: Option<&Path>) -> Result<String> {
    let bad = |m: String| Error::new(ErrorCode::ConfigInvalid, format!("[store] postgres: {m}"));
    if let Some(var) = spec.strip_prefix("env:") {
        return std::env::var(var)
            .map_err(|_| bad(format!("environment variable {var} is not set")));
    }
    if let Some(path) = spec.strip_prefix("file:") {
        let path = match dir {
            Some(d) if Path::new(path).is_relative() => d.join(path),
            _ => PathBuf::from(path),
        };
        return std::fs::read_to_string(&path)
            .map(|t| t.trim().to_string())
            .map_err(|e| bad(format!("cannot read {}: {e}", path.display())));
    }
    if spec.trim().is_empty() {
        return Err(bad("empty".into()));
    }
    Ok(spec.to_string())
}

/// This engine's default name in the store: `host/pid`.
#[cfg(all(feature = "postgres", not(target_arch = "wasm32")))]
fn default_writer() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_string());
    format!("{host}/{}", std::process::id())
}

/// `[journal] path` of `agentauthz.toml`, relative to the bundle directory.
fn configured_journal(config: &Config, dir: Option<&Path>) -> Option<PathBuf> {
    let path = PathBuf::from(config.journal.path.as_ref()?);
    Some(match dir {
        Some(dir) if path.is_relative() => dir.join(path),
        _ => path,
    })
}

/// Below this many entities a change folds itself in at once.
const COMPACT_INLINE_BELOW: usize = 4096;

/// Folds the active snapshot's pending changes into its compiled entities.
/// Off the writer lock: a change stored meanwhile is kept (the fold is
/// rebased on it), a reload makes the fold moot. Either snapshot decides the
/// same; readers see one or the other.
fn fold(slot: &ArcSwap<Snapshot>) -> Result<()> {
    let from = slot.load_full();
    if from.store.pending() == 0 {
        return Ok(());
    }
    let folded = lifecycle::compacted(&from)?;
    loop {
        let current = slot.load_full();
        let Some(next) = lifecycle::rebase(&current, &from, &folded) else {
            return Ok(());
        };
        let previous = slot.compare_and_swap(&current, Arc::new(next));
        if Arc::ptr_eq(&previous, &current) {
            return Ok(());
        }
    }
}

/// What a request to decide came as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// A request, decided as given.
    Request,
    /// A tool call with an action: its `context.input` is coerced first.
    ToolCall,
    /// A tool call the caller's mapper found no action for: denied as an
    /// unknown action (the request's action is the tool name, for the record).
    Unmapped,
}

/// Human approval: resolving `needs_approval` decisions, approving and
/// rejecting, and the requests waiting for a human.
impl Engine {
    /// A `needs_approval` decision: allowed when an approval in force matches
    /// its digest and one of its uses could be taken (journaled first);
    /// otherwise kept waiting (the callback hears of a new request once).
    fn resolve_approval(
        &self,
        snapshot: &Snapshot,
        log: Option<&DecisionLog>,
        request: &Request,
        now: i64,
        mut decision: Decision,
        permits: Vec<String>,
    ) -> Decision {
        let (Request::Agent(r), Some(digest)) = (request, decision.request_digest.clone()) else {
            return decision;
        };
        match approvals::find(&snapshot.runtime.approvals, &r.agent, &digest, now) {
            approvals::Found::Live(a) => {
                let id = a.approval.id.clone();
                // Under the writer lock: of concurrent checks, as many as
                // the approval has uses get through.
                let consumed = self.apply_change(
                    Change::ConsumeApproval {
                        approval: id.clone(),
                    },
                    &r.agent,
                );
                if consumed.is_ok() {
                    let mut reasons = permits;
                    reasons.push(format!("{APPROVAL_REASON_PREFIX}{id}"));
                    reasons.sort();
                    decision.decision = Effect::Allow;
                    decision.reasons = reasons;
                    decision.requires_approval = false;
                    decision.approvers.clear();
                    return decision;
                }
            }
            approvals::Found::Expired(a) => {
                if let (Some(log), true) = (log, a.take_expiry()) {
                    let mut context = serde_json::Map::new();
                    context.insert("request_digest".into(), digest.clone().into());
                    context.insert("expires".into(), a.approval.expires.clone().into());
                    context.insert("approved_by".into(), a.approval.approved_by.clone().into());
                    audit::record_event(
                        &snapshot.audit,
                        log,
                        &snapshot.revision,
                        now,
                        &self.ids.next(now),
                        "agentauthz:approval_expired",
                        &EntityRef::new("Approval", a.approval.id.as_str()),
                        audit::RecordDecision::Deny,
                        "approval/expired",
                        context,
                    );
                }
            }
            approvals::Found::None => {}
        }
        let waiting = ApprovalRequest {
            decision_id: decision.decision_id.clone(),
            request_digest: digest,
            request: r.clone(),
            policies: decision.reasons.clone(),
            approvers: decision.approvers.clone(),
            requested_at: format_millis(now),
        };
        let new = match self.pending.lock() {
            Ok(mut p) => p.add(waiting.clone(), &decision.decision_id),
            Err(_) => false,
        };
        if new {
            if let Some(hook) = self.approval_hook.load_full() {
                (hook.0)(&waiting);
            }
        }
        decision
    }

    /// The digest an approval of this request is bound to (`sha256:<hex>`):
    /// SHA-256 over `agentauthz-approval-v1\n` and the canonical JSON
    /// (sorted keys, no whitespace) of the request's agent, action,
    /// resource, context (with `input`), task, on_behalf_of and credential —
    /// not its `now`. Key order does not matter; strings are compared as
    /// given (no Unicode normalization) and numbers as written (`1` ≠ `1.0`).
    pub fn request_digest(request: &AgentRequest) -> String {
        approvals::request_digest(request)
    }

    /// Approves a request held back by `@approval` forbids: `target` is the
    /// `decision_id` of a waiting `needs_approval` decision, or the request
    /// itself. `by` must pass the `agentauthz:approve` check for each of the
    /// request's approval policies (else `approval_refused`, recorded). The
    /// approval allows `uses` checks of exactly this request by this agent
    /// until `ttl_seconds` (default 900) pass by the engine clock; it is
    /// journaled and recorded like other changes.
    pub fn approve(
        &self,
        target: ApprovalTarget,
        by: &str,
        uses: u32,
        ttl_seconds: Option<u64>,
    ) -> Result<Approval> {
        let ttl_ms = approval_window(uses, ttl_seconds)?;
        let snapshot = self.snapshot.load_full();
        let now = self.clock.now_millis();
        let (waiting, decision_id) = self.approval_subject(&snapshot, target, now)?;
        self.check_approver(&snapshot, by, &waiting, "agentauthz:approve", now)?;
        let approval = Approval {
            id: self.ids.next(now),
            agent: waiting.request.agent.clone(),
            action: waiting.request.action.clone(),
            resource: waiting.request.resource.clone(),
            request_digest: waiting.request_digest.clone(),
            policies: waiting.policies.clone(),
            uses,
            expires: format_millis(now.saturating_add(ttl_ms)),
            approved_by: by.to_string(),
            decision_id,
        };
        self.apply_change(Change::Approve(approval.clone()), by)?;
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&approval.request_digest);
        }
        Ok(approval)
    }

    /// Rejects a waiting request (`decision_id` or the request): it stops
    /// waiting and the rejection is recorded. Who may reject is who may
    /// approve. The same call made again waits again.
    pub fn reject(&self, target: ApprovalTarget, by: &str) -> Result<ApprovalRequest> {
        let snapshot = self.snapshot.load_full();
        let now = self.clock.now_millis();
        let waiting = match &target {
            ApprovalTarget::DecisionId(id) => self.waiting_by_decision(id)?,
            ApprovalTarget::Request(r) => {
                let digest = approvals::request_digest(r);
                let found = self
                    .pending
                    .lock()
                    .ok()
                    .and_then(|p| p.by_digest(&digest).cloned());
                found.ok_or_else(|| {
                    Error::new(
                        ErrorCode::ApprovalInvalid,
                        "no request like this one is waiting for approval",
                    )
                })?
            }
        };
        self.check_approver(&snapshot, by, &waiting, "agentauthz:reject", now)?;
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&waiting.request_digest);
        }
        if let Some(log) = self.log.load().as_deref() {
            let mut context = serde_json::Map::new();
            context.insert("by".into(), by.into());
            context.insert(
                "request_digest".into(),
                waiting.request_digest.clone().into(),
            );
            context.insert("decision_id".into(), waiting.decision_id.clone().into());
            audit::record_event(
                &snapshot.audit,
                log,
                &snapshot.revision,
                now,
                &self.ids.next(now),
                "agentauthz:reject",
                &EntityRef::new("Agent", waiting.request.agent.as_str()),
                audit::RecordDecision::Deny,
                "approval/rejected",
                context,
            );
        }
        Ok(waiting)
    }

    /// Requests waiting for approval, of one agent or all, oldest first.
    /// Kept in memory (at most 10,000; the oldest is dropped beyond): a new
    /// engine lists only what was asked of it.
    pub fn approvals(&self, agent: Option<&str>) -> Vec<ApprovalRequest> {
        self.pending
            .lock()
            .map(|p| p.list(agent))
            .unwrap_or_default()
    }

    /// Approvals in force (uses left, not expired), of one agent or all, by id.
    pub fn approvals_in_force(&self, agent: Option<&str>) -> Vec<Approval> {
        let now = self.clock.now_millis();
        self.snapshot
            .load()
            .runtime
            .approvals
            .values()
            .filter(|a| a.expires_ms > now && agent.is_none_or(|x| a.approval.agent == x))
            .map(|a| {
                let mut approval = a.approval.clone();
                approval.uses = a.remaining;
                approval
            })
            .collect()
    }

    /// Calls `hook` once for each new request that starts waiting for
    /// approval (on the checking thread, after the decision; keep it short,
    /// e.g. queue a chat message). `None` removes it.
    pub fn on_approval_request(&self, hook: Option<crate::approval::ApprovalHook>) {
        self.approval_hook
            .store(hook.map(|h| Arc::new(approvals::Hook(h))));
    }

    fn waiting_by_decision(&self, decision_id: &str) -> Result<ApprovalRequest> {
        let found = self
            .pending
            .lock()
            .ok()
            .and_then(|p| p.by_decision(decision_id).cloned());
        found.ok_or_else(|| {
            Error::new(
                ErrorCode::ApprovalInvalid,
                format!("no request waits for approval under decision id {decision_id:?} (unknown, not a needs_approval decision, or already approved or rejected)"),
            )
        })
    }

    /// The request to approve, and the decision id it answers.
    fn approval_subject(
        &self,
        snapshot: &Snapshot,
        target: ApprovalTarget,
        now: i64,
    ) -> Result<(ApprovalRequest, Option<String>)> {
        match target {
            ApprovalTarget::DecisionId(id) => {
                let waiting = self.waiting_by_decision(&id)?;
                Ok((waiting, Some(id)))
            }
            ApprovalTarget::Request(r) => {
                let request = Request::Agent(*r);
                authority::caller_time(snapshot, &request, self.trust_caller_time)?;
                let decided =
                    request::decide(snapshot, &request, now, true, &self.usage, String::new)?;
                let d = decided.decision;
                let (Request::Agent(r), Some(digest)) = (request, d.request_digest) else {
                    return Err(Error::new(
                        ErrorCode::ApprovalInvalid,
                        format!(
                            "this request needs no approval: it is decided {} ({})",
                            d.decision.as_str(),
                            d.reasons.join(", ")
                        ),
                    ));
                };
                let waiting = ApprovalRequest {
                    decision_id: String::new(),
                    request_digest: digest,
                    request: r,
                    policies: d.reasons,
                    approvers: d.approvers,
                    requested_at: format_millis(now),
                };
                Ok((waiting, None))
            }
        }
    }

    /// The `agentauthz:approve` check; a refusal is recorded and returned.
    fn check_approver(
        &self,
        snapshot: &Snapshot,
        by: &str,
        waiting: &ApprovalRequest,
        action: &str,
        now: i64,
    ) -> Result<()> {
        if by.trim().is_empty() {
            return Err(Error::new(
                ErrorCode::ApprovalInvalid,
                "an approval needs the id of the user who gives it (`by`)",
            ));
        }
        let checked = approvals::check_approver(
            &snapshot.approvals,
            &snapshot.store,
            by,
            &waiting.request.agent,
            &waiting.policies,
        );
        if let (Err(e), Some(log)) = (&checked, self.log.load().as_deref()) {
            if e.code() == ErrorCode::ApprovalRefused {
                let mut context = serde_json::Map::new();
                context.insert("by".into(), by.into());
                context.insert(
                    "request_digest".into(),
                    waiting.request_digest.clone().into(),
                );
                audit::record_event(
                    &snapshot.audit,
                    log,
                    &snapshot.revision,
                    now,
                    &self.ids.next(now),
                    action,
                    &EntityRef::new("Agent", waiting.request.agent.as_str()),
                    audit::RecordDecision::Deny,
                    "approval/refused",
                    context,
                );
            }
        }
        checked
    }
}

/// The remote bundle to build from, if the builder or `[bundle] url` names
/// one: fetched (or the cached copy) and verified; it replaces `bundle`,
/// whose directory stays where relative paths resolve.
fn remote_bundle(
    bundle: &mut Bundle,
    given: Option<crate::remote::RemoteBundle>,
    now: i64,
) -> Result<Option<remote::RemoteState>> {
    let dir = bundle.dir.clone();
    let configured = match (given, &bundle.config) {
        (Some(r), _) => Some(r),
        (None, Some(src)) => {
            let config = Config::parse_with(src, &bundle.options.limits)?;
            crate::remote::RemoteBundle::from_config(&config.bundle, dir.as_deref())?
        }
        (None, None) => None,
    };
    let Some(r) = configured else {
        return Ok(None);
    };
    r.check()?;
    let (mut pulled, state) = remote::initial(r, dir.as_deref(), now)?;
    pulled.options = bundle.options.clone();
    *bundle = pulled;
    Ok(Some(state))
}

impl Engine {
    fn reload_parts(&self) -> remote::ReloadParts {
        remote::ReloadParts {
            snapshot: self.snapshot.clone(),
            writer: self.writer.clone(),
            log: self.log.clone(),
            clock: self.clock.clone(),
            ids: self.ids.clone(),
            usage: self.usage.clone(),
            identity: self.identity.clone(),
            overrides: self.overrides,
            limits: self.limits,
            #[cfg(not(target_arch = "wasm32"))]
            metrics_export: self.metrics_export.clone(),
            #[cfg(not(target_arch = "wasm32"))]
            metrics: self.metrics.clone(),
            #[cfg(not(target_arch = "wasm32"))]
            health: self.health.clone(),
        }
    }

    fn follow_bundle_url(&mut self, state: remote::RemoteState) -> Result<()> {
        let state = Arc::new(state);
        #[cfg(not(target_arch = "wasm32"))]
        if !state.remote.poll.is_zero() {
            let stop = remote::start(state.clone(), self.reload_parts()).map_err(|e| {
                Error::new(
                    ErrorCode::Io,
                    format!("cannot start the bundle poller: {e}"),
                )
            })?;
            self.bundle_poller = Some(stop);
        }
        self.remote = Some(state);
        Ok(())
    }

    /// The bundle URL's state: active revision, last poll and its result
    /// (`None` when the bundle was not pulled from a URL).
    pub fn bundle_status(&self) -> Option<crate::remote::BundleStatus> {
        let state = self.remote.as_ref()?;
        let status = state.status.lock().unwrap_or_else(|p| p.into_inner());
        Some(status.clone())
    }

    /// Polls the bundle URL now (as the poller does every `poll_seconds`):
    /// a new, verified, valid revision is activated; anything else leaves
    /// the active one and is reported in the returned status.
    pub fn poll_bundle(&self) -> Result<crate::remote::BundleStatus> {
        let state = self.remote.as_ref().ok_or_else(|| {
            Error::new(
                ErrorCode::ConfigInvalid,
                "this engine's bundle does not come from a URL ([bundle] url)",
            )
        })?;
        Ok(state.poll(&self.reload_parts()))
    }
}

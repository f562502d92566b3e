//! The engine: an atomically swappable snapshot and the request path.

mod cache;
mod clock;
mod context;
mod index;
mod request;
mod snapshot;

pub use clock::{format_millis, rfc3339_to_cedar, Clock, FixedClock, SystemClock};
pub use snapshot::PolicyOrigin;

use crate::bundle::{Bundle, BundleOptions, Source};
use crate::error::Result;
use crate::model::{Decision, Request};
use arc_swap::ArcSwap;
use clock::DecisionIds;
use snapshot::Snapshot;
use std::path::Path;
use std::sync::Arc;

/// In-process authorization for agents. `check` takes `&self` and never
/// waits on a writer; `reload` swaps in a new snapshot atomically.
#[derive(Debug)]
pub struct Engine {
    snapshot: ArcSwap<Snapshot>,
    clock: Arc<dyn Clock>,
    ids: DecisionIds,
}

/// Builds an [`Engine`] from strings or files.
#[derive(Debug, Default)]
pub struct EngineBuilder {
    bundle: Bundle,
    clock: Option<Arc<dyn Clock>>,
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
    pub fn build(self) -> Result<Engine> {
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let snapshot = Snapshot::compile(self.bundle)?;
        let ids = DecisionIds::new(clock.now_millis());
        Ok(Engine {
            snapshot: ArcSwap::from_pointee(snapshot),
            clock,
            ids,
        })
    }
}

impl Engine {
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// Loads a bundle directory with the product defaults.
    pub fn load(dir: impl AsRef<Path>) -> Result<Engine> {
        Engine::from_bundle(Bundle::read_dir(dir)?)
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
        request::decide(&snapshot, request, now, || self.ids.next(now))
    }

    /// Decides many requests against one snapshot.
    pub fn check_batch(&self, requests: &[Request]) -> Vec<Result<Decision>> {
        let snapshot = self.snapshot.load();
        let now = self.clock.now_millis();
        requests
            .iter()
            .map(|r| request::decide(&snapshot, r, now, || self.ids.next(now)))
            .collect()
    }

    /// Compiles `bundle` and swaps it in. On error the current snapshot stays active.
    pub fn reload(&self, bundle: Bundle) -> Result<()> {
        let snapshot = Snapshot::compile(bundle)?;
        self.snapshot.store(Arc::new(snapshot));
        Ok(())
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
        self.snapshot.load().bundle.clone()
    }

    /// Every active policy with where it was defined, by id.
    pub fn policies(&self) -> Vec<PolicyOrigin> {
        self.snapshot.load().origins.values().cloned().collect()
    }

    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The active snapshot's (merged) schema; `None` for a schema-less engine.
    /// For offline analysis (posture, inventory), not the request path.
    pub fn schema(&self) -> Option<cedar_policy::Schema> {
        self.snapshot.load().schema.clone()
    }

    /// The active snapshot's enforced policy set (bundle policies and enabled guardrails).
    pub fn policy_set(&self) -> cedar_policy::PolicySet {
        self.snapshot.load().policies.clone()
    }

    /// The active snapshot's entities (the inventory as Cedar entities).
    pub fn entities(&self) -> cedar_policy::Entities {
        self.snapshot.load().entities.clone()
    }
}

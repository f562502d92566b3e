//! Compiling a bundle into an immutable snapshot: schema, policy set,
//! entities and the lookup tables the request path needs.

use super::context::{self, RecordType};
use super::decide::Compiled;
use super::guards::PrincipalGuards;
use super::index::PolicyIndex;
use super::log_only::LogOnly;
use super::origin::PolicyOrigin;
use super::store::{self, EntityStore};
use super::warnings::{self, PolicyWarning};
use crate::audit::SnapshotAudit;
use crate::bundle::{Bundle, Config, OnError, Source};
use crate::change::Grant;
use crate::error::{diagnostics_details, Detail, Error, ErrorCode, LineIndex, Result};
use crate::limits::Limits;
use crate::model::EntityRef;
use crate::{inventory, schema};
use cedar_policy::{
    Entities, Entity, EntityId, EntityTypeName, EntityUid, EvalResult, Policy, PolicyId, PolicySet,
    Schema, ValidationMode, Validator,
};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;

pub(crate) const BASELINE_POLICIES: &str = include_str!("../baseline.cedar");
pub(crate) const BASELINE_FILE: &str = "<agentauthz>/baseline.cedar";

/// One compiled, immutable state of the engine. Reloads build a new one; a
/// run-time change (grant, lifecycle operation) builds a new one too, sharing
/// every part it does not change.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub schema: Option<Schema>,
    pub policies: Arc<PolicySet>,
    pub index: Arc<PolicyIndex>,
    /// Context record type per action, for the fast context path.
    pub context_types: Arc<HashMap<EntityUid, RecordType>>,
    /// The entities: compiled, and as run-time changes left them.
    pub store: EntityStore,
    pub revision: String,
    pub bundle: Arc<Bundle>,
    /// Action id (as written in agent-form requests) to its uid; ambiguous ids are absent.
    pub actions: Arc<HashMap<String, EntityUid>>,
    pub origins: Arc<BTreeMap<String, PolicyOrigin>>,
    /// Enforcement mode and log-only policies.
    pub log_only: Arc<LogOnly>,
    /// Decision-log settings (redaction, owners, sink).
    pub audit: Arc<SnapshotAudit>,
    /// Grants and revocations made at run time.
    pub runtime: Arc<Runtime>,
    /// Entities something else is `in`. Run-time changes never alter the
    /// hierarchy, so this stays true for every snapshot derived from this one.
    pub with_descendants: Arc<HashSet<EntityUid>>,
    /// `owner-required` and `agent-active`, decided per agent (not in `index`).
    pub guards: Arc<PrincipalGuards>,
    /// Credentials and tasks by their `agent` (what offboarding revokes).
    pub agent_items: Arc<HashMap<EntityUid, Vec<EntityUid>>>,
    /// The input bounds in force (`[limits]` or the builder's).
    pub limits: Limits,
    /// What an erroring forbid does (`[engine] on_error`, or the builder's).
    pub on_error: OnError,
    /// `[engine] strict`: warnings refuse the bundle.
    pub strict: bool,
    /// Forbids that may error at run time, found at load.
    pub warnings: Arc<Vec<PolicyWarning>>,
    /// The checks every request form gets before Cedar (entities it names, lifecycle).
    pub screen: Arc<super::screen::Screen>,
    /// The `@approval` forbids and who may approve each.
    pub approvals: Arc<super::approvals::Rules>,
    /// The windows of `context.usage` policies may read: checks count every
    /// call but sum only these.
    pub usage_reads: super::usage::UsageReads,
}

impl Snapshot {
    /// The compiled entities: the hierarchy (run-time changes never alter
    /// it); an entity's current version is `store.get`.
    pub fn base(&self) -> &Entities {
        self.store.base()
    }

    /// Compiles on a thread with a known large stack: Cedar's parser and its
    /// conversions recurse once per nesting level without a stack check. The
    /// input limits bound that depth (checked before any parser runs); the
    /// large stack makes the bounded depth fit whatever thread calls us.
    pub fn compile(bundle: Bundle) -> Result<Snapshot> {
        crate::limits::on_large_stack(move || Snapshot::compile_here(bundle))
    }

    fn compile_here(bundle: Bundle) -> Result<Snapshot> {
        let config = bundle
            .config
            .as_ref()
            .map(|src| Config::parse_with(src, &bundle.options.limits))
            .transpose()?
            .unwrap_or_default();
        let limits = config.limits.unwrap_or(bundle.options.limits);
        let (schema, schema_json) = match (&bundle.schema, bundle.options.base_schema) {
            (Some(src), true) => {
                let (s, j) = schema::merged_schema(src, &limits)?;
                (Some(s), j)
            }
            (Some(src), false) => {
                let (s, j) = schema::plain_schema(src, &limits)?;
                (Some(s), j)
            }
            (None, true) => {
                return Err(Error::new(
                    ErrorCode::BundleInvalid,
                    "a bundle needs a schema (schema.cedarschema)",
                ))
            }
            (None, false) => (None, serde_json::Value::Null),
        };

        // The inventory loads on a second thread while the policies are
        // parsed and validated and the bundle hashed.
        let (compiled, entities) = crate::limits::side_by_side(
            || load_entities(&bundle, schema.as_ref(), &schema_json, &limits),
            || -> Result<_> {
                let mut policies = PolicySet::new();
                let mut origins = BTreeMap::new();
                for src in &bundle.policies {
                    add_policies(
                        &mut policies,
                        &mut origins,
                        src,
                        bundle.options.require_policy_ids,
                        false,
                        &limits,
                    )?;
                }
                if bundle.options.base_schema {
                    let baseline = Source::new(BASELINE_FILE, BASELINE_POLICIES);
                    let mut all = PolicySet::new();
                    let mut all_origins = BTreeMap::new();
                    add_policies(&mut all, &mut all_origins, &baseline, true, true, &limits)?;
                    for p in all.policies() {
                        let name = p.id().to_string();
                        let short = name.strip_prefix("baseline/").unwrap_or(&name);
                        if config.baseline.enabled(short) {
                            policies
                                .add(p.clone())
                                .map_err(|e| Error::new(ErrorCode::Internal, e.to_string()))?;
                            if let Some(o) = all_origins.remove(&name) {
                                origins.insert(name, o);
                            }
                        }
                    }
                }

                let impossible = match (&schema, bundle.options.validate_policies) {
                    (Some(schema), true) => validate(schema, &policies, &bundle)?,
                    _ => Vec::new(),
                };
                // What needs no entities is compiled here too. Before
                // log-only policies leave the set: they are evaluated too.
                let approvals = super::approvals::Rules::compile(&policies, &origins);
                let literals = store::literals(policies.policies());
                let usage_reads = context::usage_reads(policies.policies());
                let forbids = warnings::forbids(&policies, &origins);
                let log_only = LogOnly::compile(&config, &mut policies, &origins);
                Ok(PolicySide {
                    forbids,
                    revision: revision(&bundle),
                    policies,
                    origins,
                    impossible,
                    approvals,
                    literals,
                    usage_reads,
                    log_only,
                })
            },
        );
        let PolicySide {
            policies,
            origins,
            impossible,
            revision,
            approvals,
            literals,
            usage_reads,
            forbids,
            log_only,
        } = compiled?;
        let entities = entities?;
        let typed = (bundle.options.validate_policies && schema.is_some()).then_some(&schema_json);
        let warnings = warnings::find(&forbids, &origins, &bundle, &impossible, typed, &entities);
        let approvals = approvals?;
        let log_only = log_only?;
        let audit = SnapshotAudit::compile(&config, &entities)?;
        let actions = action_index(schema.as_ref());
        let with_descendants = entities
            .iter()
            .filter_map(|e| entities.ancestors(&e.uid()))
            .flatten()
            .cloned()
            .collect();
        let agent_items = agent_items(&entities);
        let entities = Arc::new(entities);
        let store = EntityStore::new(entities, literals);
        let (guards, indexed) = PrincipalGuards::compile(&policies, &store);
        let index = PolicyIndex::new(&indexed, store.base());
        let context_types = context::context_types(&schema_json);
        let screen = super::screen::Screen::compile(&bundle.options, &config, &schema_json);
        Ok(Snapshot {
            schema,
            policies: Arc::new(policies),
            index: Arc::new(index),
            context_types: Arc::new(context_types),
            store,
            revision,
            bundle: Arc::new(bundle),
            actions: Arc::new(actions),
            origins: Arc::new(origins),
            log_only: Arc::new(log_only),
            audit: Arc::new(audit),
            runtime: Arc::default(),
            with_descendants: Arc::new(with_descendants),
            agent_items: Arc::new(agent_items),
            guards: Arc::new(guards),
            limits,
            on_error: config.engine.on_error,
            strict: config.engine.strict,
            warnings: Arc::new(warnings),
            screen: Arc::new(screen),
            approvals: Arc::new(approvals),
            usage_reads,
        })
    }
}

/// What compiling the policies yields, beside the entities.
struct PolicySide {
    policies: PolicySet,
    origins: BTreeMap<String, PolicyOrigin>,
    /// The forbids Cedar's validator finds impossible.
    impossible: Vec<String>,
    revision: String,
    /// Its error comes after the inventory's, in the order bundles are checked.
    approvals: Result<super::approvals::Rules>,
    /// The log-only policies, out of `policies`; its error comes after the approvals'.
    log_only: Result<LogOnly>,
    literals: Vec<EntityUid>,
    usage_reads: super::usage::UsageReads,
    /// The bundle's forbids, for the load warnings.
    forbids: Vec<warnings::Forbid>,
}

fn add_policies(
    set: &mut PolicySet,
    origins: &mut BTreeMap<String, PolicyOrigin>,
    src: &Source,
    require_ids: bool,
    baseline: bool,
    limits: &Limits,
) -> Result<()> {
    limits.check_policies(&src.name, &src.text)?;
    let parsed: PolicySet = src.text.parse().map_err(|e: cedar_policy::ParseErrors| {
        Error::with_details(
            ErrorCode::PolicyParse,
            diagnostics_details(&e, &src.name, &src.text),
        )
    })?;
    // Cedar names policies policy0, policy1, ... in source order; keep that order.
    let mut parsed_policies: Vec<Policy> = parsed.policies().cloned().collect();
    parsed_policies.sort_by_key(|p| policy_index(p.id()));
    if parsed.templates().next().is_some() {
        return Err(Error::new(
            ErrorCode::PolicyParse,
            format!("{}: policy templates are not supported", src.name),
        ));
    }
    // Policies come in source order, so each one's text is found after the previous one.
    let mut cursor = 0;
    let lines = LineIndex::new(&src.text);
    for policy in parsed_policies {
        let text = policy.to_string();
        let found = src
            .text
            .get(cursor..)
            .and_then(|rest| rest.find(text.as_str()))
            .map(|i| cursor + i);
        if let Some(start) = found {
            cursor = start + text.len();
        }
        let location = lines.location(&src.name, found.unwrap_or(0));
        let policy = if require_ids {
            let Some(id) = super::annotations::annotation(&policy, "id").map(str::to_string) else {
                return Err(Error::at(
                    ErrorCode::PolicyIdMissing,
                    location,
                    "policy has no @id(\"...\") annotation; every policy in a bundle needs a unique id",
                ));
            };
            if id.starts_with("baseline/") && !baseline {
                return Err(Error::at(
                    ErrorCode::PolicyIdDuplicate,
                    location,
                    format!("policy id `{id}`: ids starting with `baseline/` are reserved for built-in guardrails"),
                ));
            }
            if id.starts_with(crate::change::GRANT_POLICY_PREFIX) {
                return Err(Error::at(
                    ErrorCode::PolicyIdDuplicate,
                    location,
                    format!("policy id `{id}`: ids starting with `grant/` are reserved for just-in-time grants"),
                ));
            }
            policy.new_id(PolicyId::new(id))
        } else {
            policy
        };
        let id = policy.id().to_string();
        if let Some(previous) = origins.get(&id) {
            return Err(Error::at(
                ErrorCode::PolicyIdDuplicate,
                location,
                format!("policy id `{id}` is already used at {}", previous.location),
            ));
        }
        set.add(policy).map_err(|e| {
            Error::at(
                ErrorCode::PolicyIdDuplicate,
                location.clone(),
                e.to_string(),
            )
        })?;
        origins.insert(
            id.clone(),
            PolicyOrigin {
                id,
                location,
                baseline,
            },
        );
    }
    Ok(())
}

fn policy_index(id: &PolicyId) -> usize {
    id.to_string()
        .strip_prefix("policy")
        .and_then(|n| n.parse().ok())
        .unwrap_or(usize::MAX)
}

/// Strict validation; on success, the forbids Cedar's validator finds impossible.
fn validate(schema: &Schema, policies: &PolicySet, bundle: &Bundle) -> Result<Vec<String>> {
    let result = Validator::new(schema.clone()).validate(policies, ValidationMode::Strict);
    if result.validation_passed() {
        return Ok(result
            .validation_warnings()
            .filter(|w| matches!(w, cedar_policy::ValidationWarning::ImpossiblePolicy(_)))
            .map(|w| w.policy_id().to_string())
            .collect());
    }
    let mut details = Vec::new();
    for err in result.validation_errors() {
        // Labels point into the policy's own file.
        let file = bundle
            .policies
            .iter()
            .find(|s| {
                s.text.contains(
                    policies
                        .policy(err.policy_id())
                        .map(|p| p.to_string())
                        .unwrap_or_default()
                        .as_str(),
                )
            })
            .cloned()
            .unwrap_or_else(|| Source::new(BASELINE_FILE, BASELINE_POLICIES));
        let mut d = diagnostics_details(err, &file.name, &file.text);
        for detail in &mut d {
            detail.message = format!("policy `{}`: {}", err.policy_id(), detail.message);
        }
        details.extend(d);
    }
    if details.is_empty() {
        details.push(Detail {
            message: "policies do not validate against the schema".into(),
            location: None,
        });
    }
    Err(Error::with_details(ErrorCode::PolicyInvalid, details))
}

/// The inventory as a Cedar entities JSON array.
fn cedar_json(bundle: &Bundle, limits: &Limits) -> Result<serde_json::Value> {
    match &bundle.inventory {
        Some(src) => inventory::to_cedar_entities(src, limits),
        None => Ok(serde_json::Value::Array(Vec::new())),
    }
}

fn load_entities(
    bundle: &Bundle,
    schema: Option<&Schema>,
    schema_json: &serde_json::Value,
    limits: &Limits,
) -> Result<Entities> {
    let json = cedar_json(bundle, limits)?;
    if let (Some(src), true) = (&bundle.inventory, bundle.options.base_schema) {
        inventory::check_base_values(src, json.as_array().map_or(&[], Vec::as_slice))?;
    }
    let typed = schema.and_then(|_| super::typed_entities::entities(&json, schema_json));
    let entities = match typed {
        Some(list) => {
            // Gone before Cedar's checks: the JSON and the entities together
            // would be the load's peak of memory.
            drop(json);
            match Entities::from_entities(list, schema) {
                Ok(entities) => Ok(entities),
                // Cedar's parser, for its authoritative error.
                Err(_) => Entities::from_json_value(
                    cedar_json(bundle, limits).unwrap_or_default(),
                    schema,
                ),
            }
        }
        None => Entities::from_json_value(json, schema),
    };
    let entities = entities.map_err(|e| {
        let src = bundle
            .inventory
            .clone()
            .unwrap_or_else(|| Source::new("inventory", ""));
        let message = error_chain(&e);
        // Locate the first entity the message names. Only on error: the
        // entities are converted again rather than copied on every load.
        let json = cedar_json(bundle, limits).unwrap_or_default();
        let items = json.as_array().map_or(&[][..], Vec::as_slice);
        let location = items.iter().find_map(|item| {
            let id = item.pointer("/uid/id")?.as_str()?;
            let ty = item.pointer("/uid/type")?.as_str()?;
            message
                .contains(&format!("{ty}::\"{id}\""))
                .then(|| inventory::locate_entry(&src, id))
                .flatten()
        });
        Error::with_details(
            ErrorCode::InventoryInvalid,
            vec![Detail { message, location }],
        )
    })?;
    // Plain Cedar bundles keep Cedar's rules (dangling references allowed).
    if let (Some(src), true) = (&bundle.inventory, bundle.options.base_schema) {
        inventory::check_references(&entities, src)?;
    }
    Ok(entities)
}

fn agent_items(entities: &Entities) -> HashMap<EntityUid, Vec<EntityUid>> {
    let mut map: HashMap<EntityUid, Vec<EntityUid>> = HashMap::new();
    for e in entities.iter() {
        let uid = e.uid();
        if matches!(uid.type_name().basename(), "Credential" | "Task") {
            if let Some(agent) = agent_of(e) {
                map.entry(agent).or_default().push(uid);
            }
        }
    }
    map
}

fn action_index(schema: Option<&Schema>) -> HashMap<String, EntityUid> {
    let mut index: HashMap<String, Option<EntityUid>> = HashMap::new();
    if let Some(schema) = schema {
        for uid in schema.actions() {
            let id = uid.id().unescaped().to_string();
            index
                .entry(id)
                .and_modify(|e| *e = None)
                .or_insert_with(|| Some(uid.clone()));
            // The fully qualified form always resolves.
            index.insert(uid.to_string(), Some(uid.clone()));
        }
    }
    index
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
}

/// A content hash of everything the snapshot was compiled from.
fn revision(bundle: &Bundle) -> String {
    let mut h = Sha256::new();
    let mut add = |label: &str, text: &str| {
        h.update(label.as_bytes());
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    };
    add("options", &format!("{:?}", bundle.options));
    if let Some(s) = &bundle.schema {
        add("schema", &s.text);
    }
    for p in &bundle.policies {
        add("policy-file", file_name(&p.name));
        add("policy", &p.text);
    }
    if let Some(s) = &bundle.inventory {
        add("inventory", &s.text);
    }
    if let Some(s) = &bundle.config {
        add("config", &s.text);
    }
    if bundle.options.base_schema {
        add("base", schema::BASE_SCHEMA);
        add("baseline", BASELINE_POLICIES);
    }
    let digest = h.finalize();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// An error and its sources, joined: Cedar puts the specifics in the sources.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message = format!("{message}: {text}");
        }
        source = s.source();
    }
    message
}

/// What run-time changes added beside the compiled bundle.
#[derive(Debug, Default, Clone)]
pub(crate) struct Runtime {
    pub grants: BTreeMap<String, ActiveGrant>,
    /// Grant policies by agent, evaluated beside the index's candidates.
    pub grant_policies: HashMap<EntityUid, Arc<[Compiled]>>,
    pub revoked_tasks: HashSet<String>,
    pub revoked_sessions: HashSet<String>,
    /// Agents suspended at run time (and not reactivated since): denied
    /// whatever the baseline switches say.
    pub suspended: HashSet<String>,
    /// The emergency stop in force: every agent request is denied.
    pub lockdown: Option<Arc<Lockdown>>,
    /// Approvals with uses left, by id (expired ones until pruned).
    pub approvals: BTreeMap<String, super::approvals::ActiveApproval>,
}

/// An emergency stop in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Lockdown {
    pub reason: String,
    pub since_ms: i64,
}

#[derive(Debug, Clone)]
pub(crate) struct ActiveGrant {
    pub grant: Grant,
    pub expires_ms: i64,
    pub policy: Policy,
}

impl Runtime {
    pub fn index_grants(&mut self) {
        let mut by_agent: HashMap<EntityUid, Vec<Compiled>> = HashMap::new();
        for g in self.grants.values() {
            if let Ok(uid) = entity_uid(&EntityRef::new("Agent", g.grant.agent.as_str())) {
                by_agent
                    .entry(uid)
                    .or_default()
                    .push(Compiled::new(&g.policy));
            }
        }
        self.grant_policies = by_agent.into_iter().map(|(k, v)| (k, v.into())).collect();
    }

    /// The grants that have not expired at `now`, sorted by id.
    pub fn live_grants(&self, agent: Option<&str>, now: i64) -> Vec<Grant> {
        self.grants
            .values()
            .filter(|g| g.expires_ms > now && agent.is_none_or(|a| g.grant.agent == a))
            .map(|g| g.grant.clone())
            .collect()
    }
}

/// The principal's grant policies, evaluated beside the index's candidates.
pub(crate) fn grants_of<'a>(snapshot: &'a Snapshot, principal: &EntityUid) -> &'a [Compiled] {
    snapshot
        .runtime
        .grant_policies
        .get(principal)
        .map_or(&[], |g| &**g)
}

/// An agent entity's `status` (empty when it has none).
pub(crate) fn status_of(entity: &Entity) -> String {
    match entity.attr("status") {
        Some(Ok(EvalResult::String(s))) => s,
        _ => String::new(),
    }
}

/// The `agent` a credential or task belongs to.
pub(crate) fn agent_of(entity: &Entity) -> Option<EntityUid> {
    match entity.attr("agent") {
        Some(Ok(EvalResult::EntityUid(a))) => Some(a),
        _ => None,
    }
}

/// The Cedar uid of an entity reference (`request_invalid` for a bad type name).
pub(crate) fn entity_uid(r: &EntityRef) -> Result<EntityUid> {
    let type_name = EntityTypeName::from_str(&r.type_name).map_err(|e| {
        Error::new(
            ErrorCode::RequestInvalid,
            format!("entity type `{}`: {e}", r.type_name),
        )
    })?;
    Ok(EntityUid::from_type_name_and_id(
        type_name,
        EntityId::new(&r.id),
    ))
}

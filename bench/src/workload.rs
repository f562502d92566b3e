//! The reference workload: an organisation of teams, owners and agents working on
//! documents in nested folders and objects under nested prefixes in buckets,
//! with just-in-time grants, group and team grants, task-scoped grants and
//! guard forbids; and a request mix drawn 85% from the grants (mostly allowed)
//! and 15% at random (mostly denied).
//!
//! One seed and one size give the same files every time. Each workload is
//! written twice: as an agentauthz bundle (app schema, policies/*.cedar with
//! @id, inventory.json; the engine adds the base types, the standard context
//! fields and the baseline guardrails) and as plain Cedar (the full schema,
//! every policy including the baseline ones, entities.json), with the same
//! requests in the agent form and in the Cedar form.

use crate::rng::Rng;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The engine's base types and baseline guardrails, so the plain Cedar files
/// stay in step with the engine.
const BASE_SCHEMA: &str = include_str!("../../core/src/base.cedarschema");
const BASELINE_POLICIES: &str = include_str!("../../core/src/baseline.cedar");

pub const DEFAULT_SEED: u64 = 20_261_129;

/// One workload size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub name: &'static str,
    pub policies: usize,
    pub entities: usize,
    pub requests: usize,
}

pub const SIZES: [Size; 3] = [
    Size {
        name: "s200",
        policies: 200,
        entities: 2_000,
        requests: 1_000,
    },
    Size {
        name: "s1k",
        policies: 1_000,
        entities: 10_000,
        requests: 1_000,
    },
    Size {
        name: "s10k",
        policies: 10_000,
        entities: 50_000,
        requests: 1_000,
    },
];

pub fn size_named(name: &str) -> Option<Size> {
    SIZES.iter().copied().find(|s| s.name == name)
}

/// 2026-11-29T00:00:00Z: the day every request happens on.
const DAY: i64 = 1_795_910_400;
const HOUR: i64 = 3_600;
const DAYS: i64 = 24 * HOUR;

fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

// ------------------------------------------------------------------ the model

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RType {
    Folder,
    Document,
    Account,
    Bucket,
    Prefix,
    Object,
}

impl RType {
    pub fn name(self) -> &'static str {
        match self {
            RType::Folder => "Folder",
            RType::Document => "Document",
            RType::Account => "Account",
            RType::Bucket => "Bucket",
            RType::Prefix => "Prefix",
            RType::Object => "Object",
        }
    }
}

struct ActionDef {
    name: &'static str,
    resources: &'static [RType],
    groups: &'static [&'static str],
}

const ACTIONS: [ActionDef; 9] = [
    ActionDef {
        name: "fs:list",
        resources: &[RType::Folder],
        groups: &["readonly"],
    },
    ActionDef {
        name: "fs:read",
        resources: &[RType::Document, RType::Folder],
        groups: &["readonly"],
    },
    ActionDef {
        name: "fs:write",
        resources: &[RType::Document],
        groups: &["mutating"],
    },
    ActionDef {
        name: "fs:delete",
        resources: &[RType::Document],
        groups: &["destructive"],
    },
    ActionDef {
        name: "fs:share",
        resources: &[RType::Document, RType::Folder],
        groups: &["mutating"],
    },
    ActionDef {
        name: "s3:ListBucket",
        resources: &[RType::Bucket, RType::Prefix],
        groups: &["readonly"],
    },
    ActionDef {
        name: "s3:GetObject",
        resources: &[RType::Object],
        groups: &["readonly"],
    },
    ActionDef {
        name: "s3:PutObject",
        resources: &[RType::Object],
        groups: &["mutating"],
    },
    ActionDef {
        name: "s3:DeleteObject",
        resources: &[RType::Object],
        groups: &["destructive"],
    },
];

/// Concrete actions in an action group (`destructive` is itself in `mutating`).
fn actions_in_group(group: &str) -> Vec<usize> {
    (0..ACTIONS.len())
        .filter(|&i| {
            ACTIONS[i]
                .groups
                .iter()
                .any(|g| *g == group || (group == "mutating" && *g == "destructive"))
        })
        .collect()
}

fn action_index(name: &str) -> usize {
    ACTIONS.iter().position(|a| a.name == name).unwrap_or(0)
}

const CLASSIFICATIONS: [&str; 4] = ["public", "internal", "confidential", "restricted"];
const CLASSIFICATION_WEIGHTS: [u32; 4] = [15, 50, 25, 10];
const PURPOSES: [&str; 6] = [
    "triage",
    "release",
    "backup",
    "migration",
    "report",
    "cleanup",
];
const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-south-1"];

struct Team {
    parents: Vec<usize>,
}

struct User {
    active: bool,
    teams: Vec<usize>,
}

struct Group {
    parents: Vec<usize>,
    teams: Vec<usize>,
}

struct Agent {
    owner: Option<usize>,
    kind: &'static str,
    status: &'static str,
    environment: Option<&'static str>,
    created: i64,
    groups: Vec<usize>,
    teams: Vec<usize>,
    tasks: Vec<usize>,
}

struct Credential {
    agent: usize,
    kind: &'static str,
    issued: i64,
    expires: Option<i64>,
    revoked: bool,
}

struct Task {
    agent: usize,
    purpose: &'static str,
    not_before: i64,
    not_after: i64,
    on_behalf_of: Option<usize>,
}

struct Resource {
    ty: RType,
    id: String,
    parents: Vec<usize>,
    owner: Option<usize>,
    classification: &'static str,
    locked: bool,
    size: i64,
    created: i64,
    region: &'static str,
    public: bool,
}

struct World {
    teams: Vec<Team>,
    users: Vec<User>,
    groups: Vec<Group>,
    agents: Vec<Agent>,
    credentials: Vec<Credential>,
    tasks: Vec<Task>,
    resources: Vec<Resource>,
    children: Vec<Vec<usize>>,
    by_type: Vec<(RType, Vec<usize>)>,
    /// Agents that are (transitively) in each group / team.
    group_members: Vec<Vec<usize>>,
    team_members: Vec<Vec<usize>>,
}

fn team_id(i: usize) -> String {
    format!("team-{i}")
}
fn user_id(i: usize) -> String {
    format!("user-{i}")
}
fn group_id(i: usize) -> String {
    format!("group-{i}")
}
fn agent_id(i: usize) -> String {
    format!("agent-{i}")
}
fn credential_id(i: usize) -> String {
    format!("cred-{i}")
}
fn task_id(i: usize) -> String {
    format!("task-{i}")
}

impl World {
    fn of_type(&self, ty: RType) -> &[usize] {
        self.by_type
            .iter()
            .find(|(t, _)| *t == ty)
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }

    fn generate(rng: &Rng, entities: usize) -> World {
        let mut r = rng.fork("world");
        let n_teams = (entities / 250).max(4);
        let n_users = (entities / 30).max(10);
        let n_groups = (entities / 200).max(4);
        let n_agents = (entities / 20).max(20);
        let n_credentials = n_agents;
        let n_tasks = 2 * n_agents;
        let n_accounts = (entities / 1_000).max(2);
        let n_buckets = (entities / 100).max(4);
        let n_prefixes = (entities / 40).max(8);
        let n_folders = (entities / 10).max(20);
        let n_documents = (entities / 4).max(40);
        let fixed = n_teams
            + n_users
            + n_groups
            + n_agents
            + n_credentials
            + n_tasks
            + n_accounts
            + n_buckets
            + n_prefixes
            + n_folders
            + n_documents;
        let n_objects = entities.saturating_sub(fixed).max(40);

        // Teams: a third are top-level, the rest sit under one of those.
        let roots = n_teams.div_ceil(3);
        let teams: Vec<Team> = (0..n_teams)
            .map(|i| Team {
                parents: if i < roots {
                    Vec::new()
                } else {
                    vec![r.below(roots)]
                },
            })
            .collect();
        let users: Vec<User> = (0..n_users)
            .map(|_| User {
                active: r.chance(0.985),
                teams: vec![r.below(n_teams)],
            })
            .collect();
        // Agent groups: a third belong to a team, the rest nest in an earlier group.
        let group_roots = n_groups.div_ceil(3);
        let groups: Vec<Group> = (0..n_groups)
            .map(|i| {
                if i < group_roots {
                    Group {
                        parents: Vec::new(),
                        teams: vec![r.below(n_teams)],
                    }
                } else {
                    Group {
                        parents: vec![r.below(i)],
                        teams: Vec::new(),
                    }
                }
            })
            .collect();
        let mut agents: Vec<Agent> = (0..n_agents)
            .map(|_| {
                let mut groups_of = vec![r.below(n_groups)];
                if r.chance(0.3) {
                    let g = r.below(n_groups);
                    if !groups_of.contains(&g) {
                        groups_of.push(g);
                    }
                }
                Agent {
                    owner: r.chance(0.985).then(|| r.below(n_users)),
                    kind: ["service_account", "oauth_app", "bot"][r.below(3)],
                    status: ["active", "suspended", "offboarded"][r.weighted(&[96, 3, 1])],
                    environment: [Some("prod"), Some("staging"), Some("dev"), None]
                        [r.weighted(&[50, 25, 15, 10])],
                    created: DAY - r.range(30, 700) * DAYS,
                    groups: groups_of,
                    teams: if r.chance(0.4) {
                        vec![r.below(n_teams)]
                    } else {
                        Vec::new()
                    },
                    tasks: Vec::new(),
                }
            })
            .collect();
        let credentials: Vec<Credential> = (0..n_credentials)
            .map(|i| Credential {
                agent: i,
                kind: [
                    "service_account_key",
                    "oauth_grant",
                    "api_token",
                    "human_token",
                ][r.weighted(&[40, 30, 28, 2])],
                issued: DAY - r.range(1, 30) * DAYS,
                expires: match r.weighted(&[93, 3, 4]) {
                    0 => Some(DAY + r.range(1, 60) * DAYS),
                    1 => Some(DAY - r.range(1, 5) * DAYS),
                    _ => None,
                },
                revoked: r.chance(0.01),
            })
            .collect();
        let tasks: Vec<Task> = (0..n_tasks)
            .map(|i| {
                let not_before = DAY + r.range(6 * HOUR, 16 * HOUR);
                Task {
                    agent: i / 2,
                    purpose: PURPOSES[r.below(PURPOSES.len())],
                    not_before,
                    not_after: not_before + r.range(HOUR, 6 * HOUR),
                    on_behalf_of: r.chance(0.5).then(|| r.below(n_users)),
                }
            })
            .collect();
        for (i, t) in tasks.iter().enumerate() {
            agents[t.agent].tasks.push(i);
        }

        let mut w = ResourceBuilder::default();
        let classification = |r: &mut Rng| CLASSIFICATIONS[r.weighted(&CLASSIFICATION_WEIGHTS)];
        for i in 0..n_accounts {
            w.add(RType::Account, format!("acct-{i}"), Vec::new(), |_| {});
        }
        for i in 0..n_buckets {
            let parent = w.by_type(RType::Account)[r.below(n_accounts)];
            let cls = classification(&mut r);
            let region = REGIONS[r.below(REGIONS.len())];
            let public = r.chance(0.05);
            w.add(RType::Bucket, format!("bucket-{i}"), vec![parent], |x| {
                x.classification = cls;
                x.region = region;
                x.public = public;
            });
        }
        // Prefixes: under a bucket, or nested under an earlier prefix (at most 4 deep).
        let mut prefix_depth: Vec<usize> = Vec::new();
        for i in 0..n_prefixes {
            let earlier = prefix_depth.len();
            let (parent, depth) = if earlier > 0 && r.chance(0.6) {
                let j = r.below(earlier);
                if prefix_depth[j] < 4 {
                    (w.by_type(RType::Prefix)[j], prefix_depth[j] + 1)
                } else {
                    (w.by_type(RType::Bucket)[r.below(n_buckets)], 1)
                }
            } else {
                (w.by_type(RType::Bucket)[r.below(n_buckets)], 1)
            };
            prefix_depth.push(depth);
            let cls = classification(&mut r);
            w.add(RType::Prefix, format!("prefix-{i}"), vec![parent], |x| {
                x.classification = cls;
            });
        }
        // Folders: a few roots; each new folder goes under a recent folder half the
        // time (deep chains) or any earlier one, at most 8 levels deep.
        let folder_roots = (n_folders / 50).max(2);
        let mut folder_depth: Vec<usize> = Vec::new();
        for i in 0..n_folders {
            let parents = if i < folder_roots {
                folder_depth.push(1);
                Vec::new()
            } else {
                let j = if r.chance(0.5) {
                    i - 1 - r.below(i.min(30))
                } else {
                    r.below(i)
                };
                let j = if folder_depth[j] >= 8 {
                    r.below(folder_roots)
                } else {
                    j
                };
                folder_depth.push(folder_depth[j] + 1);
                vec![w.by_type(RType::Folder)[j]]
            };
            let owner = r.chance(0.8).then(|| r.below(n_users));
            let cls = classification(&mut r);
            w.add(RType::Folder, format!("folder-{i}"), parents, |x| {
                x.owner = owner;
                x.classification = cls;
            });
        }
        for i in 0..n_documents {
            let folders = w.by_type(RType::Folder);
            let mut parents = vec![folders[r.below(n_folders)]];
            if r.chance(0.05) {
                let p = folders[r.below(n_folders)];
                if !parents.contains(&p) {
                    parents.push(p);
                }
            }
            let owner = r.chance(0.8).then(|| r.below(n_users));
            let cls = classification(&mut r);
            let locked = r.chance(0.05);
            let size = r.range(1, 10_000_000);
            let created = DAY - r.range(HOUR, 400 * DAYS);
            w.add(RType::Document, format!("doc-{i}"), parents, |x| {
                x.owner = owner;
                x.classification = cls;
                x.locked = locked;
                x.size = size;
                x.created = created;
            });
        }
        for i in 0..n_objects {
            let parent = if r.chance(0.8) {
                w.by_type(RType::Prefix)[r.below(n_prefixes)]
            } else {
                w.by_type(RType::Bucket)[r.below(n_buckets)]
            };
            let owner = r.chance(0.8).then(|| r.below(n_users));
            let cls = classification(&mut r);
            let size = r.range(1, 50_000_000);
            let created = DAY - r.range(HOUR, 400 * DAYS);
            w.add(RType::Object, format!("object-{i}"), vec![parent], |x| {
                x.owner = owner;
                x.classification = cls;
                x.size = size;
                x.created = created;
            });
        }

        // Transitive membership of agents in groups and teams.
        let team_closure: Vec<BTreeSet<usize>> = (0..n_teams)
            .map(|t| closure(t, |x| &teams[x].parents))
            .collect();
        let group_closure: Vec<BTreeSet<usize>> = (0..n_groups)
            .map(|g| closure(g, |x| &groups[x].parents))
            .collect();
        let mut group_members = vec![Vec::new(); n_groups];
        let mut team_members = vec![Vec::new(); n_teams];
        for (a, agent) in agents.iter().enumerate() {
            let mut gs = BTreeSet::new();
            let mut ts = BTreeSet::new();
            for g in &agent.groups {
                gs.extend(group_closure[*g].iter().copied());
            }
            for g in &gs {
                for t in &groups[*g].teams {
                    ts.extend(team_closure[*t].iter().copied());
                }
            }
            for t in &agent.teams {
                ts.extend(team_closure[*t].iter().copied());
            }
            for g in gs {
                group_members[g].push(a);
            }
            for t in ts {
                team_members[t].push(a);
            }
        }

        let ResourceBuilder {
            resources,
            children,
            by_type,
        } = w;
        World {
            teams,
            users,
            groups,
            agents,
            credentials,
            tasks,
            resources,
            children,
            by_type,
            group_members,
            team_members,
        }
    }

    fn entity_count(&self) -> usize {
        self.teams.len()
            + self.users.len()
            + self.groups.len()
            + self.agents.len()
            + self.credentials.len()
            + self.tasks.len()
            + self.resources.len()
    }

    /// A resource of one of `types` at or under `root` (breadth-first, the first
    /// few hundred nodes), or None.
    fn descendant(
        &self,
        r: &mut Rng,
        root: usize,
        types: &[RType],
        fits: &dyn Fn(&Resource) -> bool,
    ) -> Option<usize> {
        let mut found = Vec::new();
        let mut queue = std::collections::VecDeque::from([root]);
        let mut seen = BTreeSet::from([root]);
        let mut visited = 0;
        while let Some(x) = queue.pop_front() {
            visited += 1;
            if types.contains(&self.resources[x].ty) && fits(&self.resources[x]) {
                found.push(x);
            }
            if visited >= 400 {
                break;
            }
            for c in &self.children[x] {
                if seen.insert(*c) {
                    queue.push_back(*c);
                }
            }
        }
        if found.is_empty() {
            None
        } else {
            Some(found[r.below(found.len())])
        }
    }
}

fn closure<'a>(start: usize, parents: impl Fn(usize) -> &'a Vec<usize>) -> BTreeSet<usize> {
    let mut out = BTreeSet::from([start]);
    let mut stack = vec![start];
    while let Some(x) = stack.pop() {
        for p in parents(x) {
            if out.insert(*p) {
                stack.push(*p);
            }
        }
    }
    out
}

#[derive(Default)]
struct ResourceBuilder {
    resources: Vec<Resource>,
    children: Vec<Vec<usize>>,
    by_type: Vec<(RType, Vec<usize>)>,
}

impl ResourceBuilder {
    fn by_type(&self, ty: RType) -> &[usize] {
        self.by_type
            .iter()
            .find(|(t, _)| *t == ty)
            .map(|(_, v)| v.as_slice())
            .unwrap_or(&[])
    }

    fn add(&mut self, ty: RType, id: String, parents: Vec<usize>, set: impl FnOnce(&mut Resource)) {
        let idx = self.resources.len();
        let mut res = Resource {
            ty,
            id,
            parents,
            owner: None,
            classification: "internal",
            locked: false,
            size: 0,
            created: DAY,
            region: "",
            public: false,
        };
        set(&mut res);
        for p in &res.parents {
            self.children[*p].push(idx);
        }
        self.resources.push(res);
        self.children.push(Vec::new());
        match self.by_type.iter_mut().find(|(t, _)| *t == ty) {
            Some((_, v)) => v.push(idx),
            None => self.by_type.push((ty, vec![idx])),
        }
    }
}

// ------------------------------------------------------------------ policies

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    Permit,
    Forbid,
}

#[derive(Debug, Clone)]
enum PScope {
    Any,
    Agent(usize),
    Group(usize),
    Team(usize),
}

#[derive(Debug, Clone)]
enum AScope {
    One(usize),
    List(Vec<usize>),
    Group(&'static str),
}

#[derive(Debug, Clone)]
enum RScope {
    Any,
    Eq(usize),
    In(usize),
    IsIn(RType, usize),
}

#[derive(Debug, Clone)]
enum Cond {
    None,
    /// `context.now < datetime(..)`: a grant that expires.
    Expiry(i64),
    /// `context.now >= datetime(..)`: a grant that starts.
    NotBefore(i64),
    /// The source IP is in 10.x.0.0/16 (and an upload is at most `max` bytes).
    Ip(u8, Option<i64>),
    NotRestricted,
    ProdNotRestricted,
    SameOwner,
    TaskPurpose(&'static str),
    Public,
    Locked,
    RestrictedNonProd,
    OutsideCorp,
    OffHours,
    NonProdConfidential,
}

#[derive(Debug, Clone)]
struct Policy {
    id: String,
    effect: Effect,
    principal: PScope,
    action: AScope,
    resource: RScope,
    cond: Cond,
}

impl Policy {
    fn actions(&self) -> Vec<usize> {
        match &self.action {
            AScope::One(a) => vec![*a],
            AScope::List(v) => v.clone(),
            AScope::Group(g) => actions_in_group(g),
        }
    }

    fn text(&self, w: &World) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "@id(\"{}\")", self.id);
        let principal = match &self.principal {
            PScope::Any => "principal".to_string(),
            PScope::Agent(a) => format!("principal == Agent::\"{}\"", agent_id(*a)),
            PScope::Group(g) => format!("principal in AgentGroup::\"{}\"", group_id(*g)),
            PScope::Team(t) => format!("principal in Team::\"{}\"", team_id(*t)),
        };
        let action = match &self.action {
            AScope::One(a) => format!("action == Action::\"{}\"", ACTIONS[*a].name),
            AScope::List(v) => format!(
                "action in [{}]",
                v.iter()
                    .map(|a| format!("Action::\"{}\"", ACTIONS[*a].name))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            AScope::Group(g) => format!("action in Action::\"{g}\""),
        };
        let res = |i: usize| {
            let x = &w.resources[i];
            format!("{}::\"{}\"", x.ty.name(), x.id)
        };
        let resource = match &self.resource {
            RScope::Any => "resource".to_string(),
            RScope::Eq(i) => format!("resource == {}", res(*i)),
            RScope::In(i) => format!("resource in {}", res(*i)),
            RScope::IsIn(ty, i) => format!("resource is {} in {}", ty.name(), res(*i)),
        };
        let effect = match self.effect {
            Effect::Permit => "permit",
            Effect::Forbid => "forbid",
        };
        let _ = write!(
            s,
            "{effect} (\n  {principal},\n  {action},\n  {resource}\n)"
        );
        let clause = match &self.cond {
            Cond::None => None,
            Cond::Expiry(t) => Some(format!("when {{ context.now < datetime(\"{}\") }}", rfc3339(*t))),
            Cond::NotBefore(t) => Some(format!("when {{ context.now >= datetime(\"{}\") }}", rfc3339(*t))),
            Cond::Ip(x, max) => Some(format!(
                "when {{\n  context has source_ip &&\n  context.source_ip.isInRange(ip(\"10.{x}.0.0/16\")){}\n}}",
                match max {
                    Some(m) => format!(" &&\n  (if context has bytes then context.bytes <= {m} else true)"),
                    None => String::new(),
                }
            )),
            Cond::NotRestricted => Some("when { resource.classification != \"restricted\" }".into()),
            Cond::ProdNotRestricted => Some(
                "when {\n  principal has environment &&\n  principal.environment == \"prod\" &&\n  resource.classification != \"restricted\"\n}".into(),
            ),
            Cond::SameOwner => Some(
                "when {\n  principal has owner &&\n  resource has owner &&\n  principal.owner == resource.owner\n}".into(),
            ),
            Cond::TaskPurpose(p) => Some(format!(
                "when {{\n  context has task &&\n  context.task has purpose &&\n  context.task.purpose == \"{p}\"\n}}"
            )),
            Cond::Public => Some("when { resource.classification == \"public\" }".into()),
            Cond::Locked => Some("when { resource.locked }".into()),
            Cond::RestrictedNonProd => Some(
                "when {\n  resource.classification == \"restricted\" &&\n  !(principal has environment && principal.environment == \"prod\")\n}".into(),
            ),
            Cond::OutsideCorp => Some(
                "unless {\n  context has source_ip &&\n  context.source_ip.isInRange(ip(\"10.0.0.0/8\"))\n}".into(),
            ),
            Cond::OffHours => Some(
                "when {\n  context.now.toTime() < duration(\"9h\") ||\n  context.now.toTime() >= duration(\"17h\")\n}".into(),
            ),
            Cond::NonProdConfidential => Some(
                "when {\n  principal has environment &&\n  principal.environment != \"prod\" &&\n  resource.classification == \"confidential\"\n}".into(),
            ),
        };
        if let Some(c) = clause {
            let _ = write!(s, "\n{c}");
        }
        s.push_str(";\n");
        s
    }
}

/// Policy kinds with their weights (per 100 policies).
const KINDS: [(&str, u32); 13] = [
    ("jit-folder", 30),
    ("jit-bucket", 15),
    ("group-read", 10),
    ("team-write", 8),
    ("owner", 7),
    ("task", 7),
    ("public", 2),
    ("jit-doc", 3),
    ("guard-locked", 6),
    ("guard-restricted", 4),
    ("guard-network", 3),
    ("guard-hours", 2),
    ("guard-confidential", 3),
];

fn generate_policies(rng: &Rng, w: &World, n: usize) -> Vec<Policy> {
    let mut r = rng.fork("policies");
    let weights: Vec<u32> = KINDS.iter().map(|(_, w)| *w).collect();
    let folders = w.of_type(RType::Folder);
    let buckets = w.of_type(RType::Bucket);
    let prefixes = w.of_type(RType::Prefix);
    let documents = w.of_type(RType::Document);
    let n_agents = w.agents.len();
    let n_groups = w.groups.len();
    let n_teams = w.teams.len();
    let a = action_index;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let kind = KINDS[r.weighted(&weights)].0;
        let folder = folders[r.below(folders.len())];
        let bucket = buckets[r.below(buckets.len())];
        let (effect, principal, action, resource, cond) = match kind {
            "jit-folder" => {
                let actions = match r.below(4) {
                    0 => AScope::List(vec![a("fs:read"), a("fs:list")]),
                    1 => AScope::List(vec![a("fs:read"), a("fs:write")]),
                    2 => AScope::One(a("fs:write")),
                    _ => AScope::List(vec![a("fs:read"), a("fs:list"), a("fs:share")]),
                };
                let expiry = if r.chance(0.12) {
                    DAY + r.range(6 * HOUR, 14 * HOUR)
                } else {
                    DAY + r.range(1, 60) * DAYS
                };
                (
                    Effect::Permit,
                    PScope::Agent(r.below(n_agents)),
                    actions,
                    RScope::In(folder),
                    Cond::Expiry(expiry),
                )
            }
            "jit-bucket" => {
                let (actions, max) = match r.below(3) {
                    0 => (
                        AScope::List(vec![a("s3:GetObject"), a("s3:ListBucket")]),
                        None,
                    ),
                    1 => (
                        AScope::List(vec![a("s3:PutObject"), a("s3:GetObject")]),
                        Some(r.range(1, 40) * 1_000_000),
                    ),
                    _ => (AScope::Group("readonly"), None),
                };
                let scope = if r.chance(0.5) {
                    RScope::In(bucket)
                } else {
                    RScope::In(prefixes[r.below(prefixes.len())])
                };
                (
                    Effect::Permit,
                    PScope::Agent(r.below(n_agents)),
                    actions,
                    scope,
                    Cond::Ip(r.below(16) as u8, max),
                )
            }
            "group-read" => (
                Effect::Permit,
                PScope::Group(r.below(n_groups)),
                AScope::Group("readonly"),
                RScope::In(folder),
                Cond::NotRestricted,
            ),
            "team-write" => (
                Effect::Permit,
                PScope::Team(r.below(n_teams)),
                if r.chance(0.5) {
                    AScope::One(a("fs:write"))
                } else {
                    AScope::List(vec![a("fs:write"), a("fs:share")])
                },
                RScope::In(folder),
                Cond::ProdNotRestricted,
            ),
            "owner" => (
                Effect::Permit,
                PScope::Group(r.below(n_groups)),
                AScope::List(vec![a("fs:read"), a("fs:write")]),
                RScope::IsIn(RType::Document, folder),
                Cond::SameOwner,
            ),
            "task" => (
                Effect::Permit,
                PScope::Team(r.below(n_teams)),
                AScope::Group("mutating"),
                RScope::In(bucket),
                Cond::TaskPurpose(PURPOSES[r.below(PURPOSES.len())]),
            ),
            "public" => (
                Effect::Permit,
                PScope::Any,
                AScope::One(a("fs:read")),
                RScope::In(folder),
                Cond::Public,
            ),
            "jit-doc" => (
                Effect::Permit,
                PScope::Agent(r.below(n_agents)),
                AScope::List(vec![a("fs:read"), a("fs:share")]),
                RScope::Eq(documents[r.below(documents.len())]),
                if r.chance(0.5) {
                    Cond::NotBefore(DAY + r.range(6 * HOUR, 12 * HOUR))
                } else {
                    Cond::None
                },
            ),
            "guard-locked" => (
                Effect::Forbid,
                PScope::Any,
                AScope::Group("mutating"),
                RScope::IsIn(RType::Document, folder),
                Cond::Locked,
            ),
            "guard-restricted" => (
                Effect::Forbid,
                PScope::Group(r.below(n_groups)),
                AScope::Group("readonly"),
                RScope::In(folder),
                Cond::RestrictedNonProd,
            ),
            "guard-network" => (
                Effect::Forbid,
                PScope::Any,
                AScope::One(a("s3:PutObject")),
                RScope::In(bucket),
                Cond::OutsideCorp,
            ),
            "guard-hours" => (
                Effect::Forbid,
                PScope::Team(r.below(n_teams)),
                AScope::Group("destructive"),
                RScope::Any,
                Cond::OffHours,
            ),
            _ => (
                Effect::Forbid,
                PScope::Any,
                AScope::List(vec![a("s3:GetObject"), a("s3:PutObject")]),
                RScope::In(bucket),
                Cond::NonProdConfidential,
            ),
        };
        out.push(Policy {
            id: format!("{kind}/{i:05}"),
            effect,
            principal,
            action,
            resource,
            cond,
        });
    }
    out
}

// ------------------------------------------------------------------ requests

#[derive(Debug, Clone)]
struct Req {
    agent: usize,
    action: usize,
    resource: usize,
    task: Option<usize>,
    credential: Option<usize>,
    on_behalf_of: Option<usize>,
    source_ip: Option<String>,
    endpoint: Option<String>,
    bytes: Option<i64>,
    now: i64,
}

/// Whether an agent meets the principal side of a grant's condition.
fn principal_fits(w: &World, cond: &Cond, a: &Agent) -> bool {
    match cond {
        Cond::ProdNotRestricted => a.environment == Some("prod"),
        Cond::SameOwner => a.owner.is_some(),
        Cond::TaskPurpose(p) => a.tasks.iter().any(|t| w.tasks[*t].purpose == *p),
        _ => true,
    }
}

/// Whether a resource meets the resource side of a grant's condition for `a`.
fn resource_fits(cond: &Cond, a: &Agent, x: &Resource) -> bool {
    match cond {
        Cond::NotRestricted | Cond::ProdNotRestricted => x.classification != "restricted",
        Cond::Public => x.classification == "public",
        Cond::SameOwner => x.owner.is_some() && x.owner == a.owner,
        _ => true,
    }
}

fn random_ip(r: &mut Rng) -> String {
    if r.chance(0.8) {
        format!("10.{}.{}.{}", r.below(32), r.below(256), 1 + r.below(254))
    } else {
        format!("203.0.113.{}", 1 + r.below(254))
    }
}

/// A request aimed at one permit: its principal, an action and a resource in its
/// scope, and (mostly) a context that meets its condition.
fn intended(r: &mut Rng, w: &World, p: &Policy) -> Option<Req> {
    // Most requests meet the grant's condition (steered); some do not.
    let steer = r.chance(0.9);
    let members: Vec<usize> = match &p.principal {
        PScope::Any => (0..w.agents.len()).collect(),
        PScope::Agent(a) => vec![*a],
        PScope::Group(g) => w.group_members[*g].clone(),
        PScope::Team(t) => w.team_members[*t].clone(),
    };
    let fitting: Vec<usize> = members
        .iter()
        .copied()
        .filter(|a| principal_fits(w, &p.cond, &w.agents[*a]))
        .collect();
    let pool = if steer && !fitting.is_empty() {
        &fitting
    } else {
        &members
    };
    let agent = *pool.get(r.below(pool.len()))?;
    let fits = |x: &Resource| !steer || resource_fits(&p.cond, &w.agents[agent], x);
    let mut actions = p.actions();
    r.shuffle(&mut actions);
    let mut chosen = None;
    for action in actions {
        let types: Vec<RType> = match &p.resource {
            RScope::IsIn(ty, _) => ACTIONS[action]
                .resources
                .iter()
                .copied()
                .filter(|t| t == ty)
                .collect(),
            _ => ACTIONS[action].resources.to_vec(),
        };
        let resource = match &p.resource {
            RScope::Any => {
                let ty = types[r.below(types.len())];
                let all = w.of_type(ty);
                all.get(r.below(all.len())).copied()
            }
            RScope::Eq(x) => types.contains(&w.resources[*x].ty).then_some(*x),
            RScope::In(x) | RScope::IsIn(_, x) => w
                .descendant(r, *x, &types, &fits)
                .or_else(|| w.descendant(r, *x, &types, &|_| true)),
        };
        if let Some(resource) = resource {
            chosen = Some((action, resource));
            break;
        }
    }
    let (action, resource) = chosen?;
    let mut req = base_request(r, w, agent, action, resource);
    match &p.cond {
        Cond::Ip(x, max) if steer => {
            req.source_ip = Some(format!("10.{x}.{}.{}", r.below(256), 1 + r.below(254)));
            if let (Some(max), Some(bytes)) = (max, req.bytes.as_mut()) {
                *bytes = r.range(1, *max + 1);
            }
        }
        Cond::TaskPurpose(purpose) if steer => {
            let own: Vec<usize> = w.agents[agent]
                .tasks
                .iter()
                .copied()
                .filter(|t| w.tasks[*t].purpose == *purpose)
                .collect();
            if let Some(t) = own.get(r.below(own.len())) {
                req.task = Some(*t);
                let task = &w.tasks[*t];
                if r.chance(0.9) {
                    req.now = r.range(task.not_before, task.not_after);
                }
            }
        }
        _ => {}
    }
    Some(req)
}

fn random_request(r: &mut Rng, w: &World) -> Req {
    let agent = r.below(w.agents.len());
    let action = r.below(ACTIONS.len());
    let types = ACTIONS[action].resources;
    let all = w.of_type(types[r.below(types.len())]);
    let resource = all[r.below(all.len())];
    base_request(r, w, agent, action, resource)
}

/// The optional parts every request may carry: a task, a credential, an
/// on-behalf-of user, network context and the time.
fn base_request(r: &mut Rng, w: &World, agent: usize, action: usize, resource: usize) -> Req {
    let a = &w.agents[agent];
    let mut now = DAY + r.range(8 * HOUR, 18 * HOUR);
    let task = if r.chance(0.35) {
        let t = if r.chance(0.95) && !a.tasks.is_empty() {
            a.tasks[r.below(a.tasks.len())]
        } else {
            r.below(w.tasks.len())
        };
        let task = &w.tasks[t];
        if r.chance(0.9) {
            now = r.range(task.not_before, task.not_after);
        }
        Some(t)
    } else {
        None
    };
    let credential = r.chance(0.5).then(|| {
        if r.chance(0.98) {
            agent
        } else {
            r.below(w.credentials.len())
        }
    });
    let on_behalf_of = r.chance(0.1).then(|| r.below(w.users.len()));
    let source_ip = r.chance(0.75).then(|| random_ip(r));
    let endpoint = r
        .chance(0.3)
        .then(|| format!("vpce-{:04x}", r.below(1 << 16)));
    let bytes =
        (ACTIONS[action].name == "s3:PutObject" && r.chance(0.8)).then(|| r.range(1, 50_000_000));
    Req {
        agent,
        action,
        resource,
        task,
        credential,
        on_behalf_of,
        source_ip,
        endpoint,
        bytes,
        now,
    }
}

fn generate_requests(rng: &Rng, w: &World, policies: &[Policy], n: usize) -> Vec<Req> {
    let mut r = rng.fork("requests");
    let permits: Vec<&Policy> = policies
        .iter()
        .filter(|p| p.effect == Effect::Permit)
        .collect();
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let req = if r.chance(0.85) && !permits.is_empty() {
            let p = permits[r.below(permits.len())];
            intended(&mut r, w, p)
        } else {
            Some(random_request(&mut r, w))
        };
        if let Some(req) = req {
            out.push(req);
        }
    }
    out
}

impl Req {
    fn resource_ref(&self, w: &World) -> Value {
        let x = &w.resources[self.resource];
        json!({"type": x.ty.name(), "id": x.id})
    }

    fn agent_form(&self, w: &World) -> Value {
        let mut m = Map::new();
        m.insert("agent".into(), json!(agent_id(self.agent)));
        m.insert("action".into(), json!(ACTIONS[self.action].name));
        m.insert("resource".into(), self.resource_ref(w));
        if let Some(t) = self.task {
            m.insert("task".into(), json!(task_id(t)));
        }
        if let Some(c) = self.credential {
            m.insert("credential".into(), json!(credential_id(c)));
        }
        if let Some(u) = self.on_behalf_of {
            m.insert("on_behalf_of".into(), json!(user_id(u)));
        }
        let mut ctx = Map::new();
        if let Some(ip) = &self.source_ip {
            ctx.insert("source_ip".into(), json!(ip));
        }
        if let Some(e) = &self.endpoint {
            ctx.insert("endpoint".into(), json!(e));
        }
        if let Some(b) = self.bytes {
            ctx.insert("bytes".into(), json!(b));
        }
        if !ctx.is_empty() {
            m.insert("context".into(), Value::Object(ctx));
        }
        m.insert("now".into(), json!(rfc3339(self.now)));
        Value::Object(m)
    }

    /// The same request as plain Cedar: the engine's standard context fields
    /// written out, extension values and entities as JSON escapes.
    fn cedar_form(&self, w: &World) -> Value {
        let mut ctx = Map::new();
        if let Some(ip) = &self.source_ip {
            ctx.insert("source_ip".into(), extn("ip", ip));
        }
        if let Some(e) = &self.endpoint {
            ctx.insert("endpoint".into(), json!(e));
        }
        if let Some(b) = self.bytes {
            ctx.insert("bytes".into(), json!(b));
        }
        ctx.insert("now".into(), extn("datetime", &rfc3339(self.now)));
        if let Some(t) = self.task {
            ctx.insert("task".into(), entity("Task", &task_id(t)));
        }
        if let Some(c) = self.credential {
            ctx.insert("credential".into(), entity("Credential", &credential_id(c)));
        }
        if let Some(u) = self.on_behalf_of {
            ctx.insert("on_behalf_of".into(), entity("User", &user_id(u)));
        }
        json!({
            "principal": {"type": "Agent", "id": agent_id(self.agent)},
            "action": {"type": "Action", "id": ACTIONS[self.action].name},
            "resource": self.resource_ref(w),
            "context": ctx,
        })
    }
}

impl Req {
    /// The Cedar form as most users write it with a schema: extension values
    /// as plain strings and entity references as `{"type", "id"}`, no escapes.
    fn cedar_form_plain(&self, w: &World) -> Value {
        let mut v = self.cedar_form(w);
        if let Some(ctx) = v["context"].as_object_mut() {
            for value in ctx.values_mut() {
                if let Some(arg) = value.pointer("/__extn/arg").cloned() {
                    *value = arg;
                } else if let Some(e) = value.get("__entity").cloned() {
                    *value = e;
                }
            }
        }
        v
    }
}

/// Forbids that can error (integer overflow on the larger documents and
/// objects, about one in thirteen) and never hold otherwise: added to the
/// bundle by the fail-closed driver, so that `on_error = "deny"` has errors to
/// act on. Cedar skips them, so with `on_error = "skip"` the decisions are
/// those of the workload without them.
pub const FALLIBLE_POLICIES: &str = "\
@id(\"fallible/document-size\")
forbid (principal, action, resource is Document)
when { resource.size * 1000000000000 > 9223372036854775807 };

@id(\"fallible/object-size\")
forbid (principal, action, resource is Object)
when { resource.size * 200000000000 > 9223372036854775807 };
";

fn extn(f: &str, arg: &str) -> Value {
    json!({"__extn": {"fn": f, "arg": arg}})
}

fn entity(ty: &str, id: &str) -> Value {
    json!({"__entity": {"type": ty, "id": id}})
}

fn uid(ty: &str, id: &str) -> Value {
    json!({"type": ty, "id": id})
}

// ------------------------------------------------------------------ files

const APP_CONTEXT: &str = "source_ip?: ipaddr, endpoint?: String, bytes?: Long";
const STANDARD_CONTEXT: &str =
    "now: datetime, task?: Task, credential?: Credential, on_behalf_of?: User";

fn app_schema(full: bool) -> String {
    let mut s = String::new();
    if full {
        s.push_str(
            "// Plain Cedar schema of the agentauthz benchmark workload: agentauthz's base\n",
        );
        s.push_str(
            "// types, the app's types, and every action's context with the standard fields.\n\n",
        );
        s.push_str(BASE_SCHEMA);
        s.push('\n');
    } else {
        s.push_str("// The agentauthz benchmark workload (generated by agentauthz-bench).\n");
        s.push_str("// Documents in nested folders; objects under nested prefixes in buckets.\n\n");
    }
    s.push_str(
        "entity Folder in [Folder] {\n  owner?: User,\n  classification: String,\n};\n\
         entity Document in [Folder] {\n  owner?: User,\n  classification: String,\n  locked: Bool,\n  size: Long,\n  created: datetime,\n};\n\
         entity Account;\n\
         entity Bucket in [Account] {\n  classification: String,\n  region: String,\n  public: Bool,\n};\n\
         entity Prefix in [Bucket, Prefix] {\n  classification: String,\n};\n\
         entity Object in [Prefix, Bucket] {\n  owner?: User,\n  classification: String,\n  size: Long,\n  created: datetime,\n};\n\n\
         action readonly;\naction mutating;\naction destructive in [mutating];\n",
    );
    let context = if full {
        format!("{APP_CONTEXT}, {STANDARD_CONTEXT}")
    } else {
        APP_CONTEXT.to_string()
    };
    for a in &ACTIONS {
        let resources: Vec<&str> = a.resources.iter().map(|t| t.name()).collect();
        let _ = writeln!(
            s,
            "action \"{}\" in [{}] appliesTo {{\n  principal: [Agent],\n  resource: [{}],\n  context: {{ {context} }},\n}};",
            a.name,
            a.groups.join(", "),
            resources.join(", ")
        );
    }
    s
}

/// inventory.json in agentauthz's format.
fn inventory(w: &World) -> Value {
    let teams: Vec<Value> = w
        .teams
        .iter()
        .enumerate()
        .map(|(i, t)| json!({"id": team_id(i), "parents": t.parents.iter().map(|p| team_id(*p)).collect::<Vec<_>>()}))
        .collect();
    let users: Vec<Value> = w
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| {
            json!({"id": user_id(i), "email": format!("{}@acme.example", user_id(i)), "active": u.active,
                   "teams": u.teams.iter().map(|t| team_id(*t)).collect::<Vec<_>>()})
        })
        .collect();
    let groups: Vec<Value> = w
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            json!({"id": group_id(i), "parents": g.parents.iter().map(|p| group_id(*p)).collect::<Vec<_>>(),
                   "teams": g.teams.iter().map(|t| team_id(*t)).collect::<Vec<_>>()})
        })
        .collect();
    let agents: Vec<Value> = w
        .agents
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mut m = Map::new();
            m.insert("id".into(), json!(agent_id(i)));
            if let Some(o) = a.owner {
                m.insert("owner".into(), json!(user_id(o)));
            }
            m.insert("kind".into(), json!(a.kind));
            m.insert("status".into(), json!(a.status));
            if let Some(e) = a.environment {
                m.insert("environment".into(), json!(e));
            }
            m.insert("created".into(), json!(rfc3339(a.created)));
            m.insert(
                "groups".into(),
                json!(a.groups.iter().map(|g| group_id(*g)).collect::<Vec<_>>()),
            );
            m.insert(
                "teams".into(),
                json!(a.teams.iter().map(|t| team_id(*t)).collect::<Vec<_>>()),
            );
            Value::Object(m)
        })
        .collect();
    let credentials: Vec<Value> = w
        .credentials
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut m = Map::new();
            m.insert("id".into(), json!(credential_id(i)));
            m.insert("agent".into(), json!(agent_id(c.agent)));
            m.insert("kind".into(), json!(c.kind));
            m.insert("issued".into(), json!(rfc3339(c.issued)));
            if let Some(e) = c.expires {
                m.insert("expires".into(), json!(rfc3339(e)));
            }
            m.insert("revoked".into(), json!(c.revoked));
            Value::Object(m)
        })
        .collect();
    let tasks: Vec<Value> = w
        .tasks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut m = Map::new();
            m.insert("id".into(), json!(task_id(i)));
            m.insert("agent".into(), json!(agent_id(t.agent)));
            m.insert("purpose".into(), json!(t.purpose));
            m.insert("not_before".into(), json!(rfc3339(t.not_before)));
            m.insert("not_after".into(), json!(rfc3339(t.not_after)));
            if let Some(u) = t.on_behalf_of {
                m.insert("on_behalf_of".into(), json!(user_id(u)));
            }
            Value::Object(m)
        })
        .collect();
    let resources: Vec<Value> = w
        .resources
        .iter()
        .map(|x| {
            json!({"type": x.ty.name(), "id": x.id, "attrs": resource_attrs(w, x),
                   "parents": x.parents.iter().map(|p| uid(w.resources[*p].ty.name(), &w.resources[*p].id)).collect::<Vec<_>>()})
        })
        .collect();
    json!({
        "teams": teams,
        "users": users,
        "agent_groups": groups,
        "agents": agents,
        "credentials": credentials,
        "tasks": tasks,
        "resources": resources,
    })
}

fn resource_attrs(w: &World, x: &Resource) -> Map<String, Value> {
    let _ = w;
    let mut m = Map::new();
    match x.ty {
        RType::Account => {}
        RType::Bucket => {
            m.insert("classification".into(), json!(x.classification));
            m.insert("region".into(), json!(x.region));
            m.insert("public".into(), json!(x.public));
        }
        RType::Prefix => {
            m.insert("classification".into(), json!(x.classification));
        }
        RType::Folder | RType::Document | RType::Object => {
            if let Some(o) = x.owner {
                m.insert("owner".into(), entity("User", &user_id(o)));
            }
            m.insert("classification".into(), json!(x.classification));
            if x.ty != RType::Folder {
                if x.ty == RType::Document {
                    m.insert("locked".into(), json!(x.locked));
                }
                m.insert("size".into(), json!(x.size));
                m.insert("created".into(), extn("datetime", &rfc3339(x.created)));
            }
        }
    }
    m
}

/// entities.json in Cedar's format: what the engine builds from the inventory.
fn cedar_entities(w: &World) -> Value {
    let mut out = Vec::with_capacity(w.entity_count());
    let ent = |ty: &str, id: String, attrs: Map<String, Value>, parents: Vec<Value>| json!({"uid": uid(ty, &id), "attrs": attrs, "parents": parents});
    for (i, t) in w.teams.iter().enumerate() {
        out.push(ent(
            "Team",
            team_id(i),
            Map::new(),
            t.parents
                .iter()
                .map(|p| uid("Team", &team_id(*p)))
                .collect(),
        ));
    }
    for (i, u) in w.users.iter().enumerate() {
        let mut m = Map::new();
        m.insert("active".into(), json!(u.active));
        m.insert(
            "email".into(),
            json!(format!("{}@acme.example", user_id(i))),
        );
        out.push(ent(
            "User",
            user_id(i),
            m,
            u.teams.iter().map(|t| uid("Team", &team_id(*t))).collect(),
        ));
    }
    for (i, g) in w.groups.iter().enumerate() {
        let mut parents: Vec<Value> = g
            .parents
            .iter()
            .map(|p| uid("AgentGroup", &group_id(*p)))
            .collect();
        parents.extend(g.teams.iter().map(|t| uid("Team", &team_id(*t))));
        out.push(ent("AgentGroup", group_id(i), Map::new(), parents));
    }
    for (i, a) in w.agents.iter().enumerate() {
        let mut m = Map::new();
        m.insert("kind".into(), json!(a.kind));
        m.insert("status".into(), json!(a.status));
        if let Some(o) = a.owner {
            m.insert("owner".into(), entity("User", &user_id(o)));
        }
        if let Some(e) = a.environment {
            m.insert("environment".into(), json!(e));
        }
        m.insert("created".into(), extn("datetime", &rfc3339(a.created)));
        let mut parents: Vec<Value> = a
            .groups
            .iter()
            .map(|g| uid("AgentGroup", &group_id(*g)))
            .collect();
        parents.extend(a.teams.iter().map(|t| uid("Team", &team_id(*t))));
        out.push(ent("Agent", agent_id(i), m, parents));
    }
    for (i, c) in w.credentials.iter().enumerate() {
        let mut m = Map::new();
        m.insert("agent".into(), entity("Agent", &agent_id(c.agent)));
        m.insert("kind".into(), json!(c.kind));
        m.insert("revoked".into(), json!(c.revoked));
        m.insert("issued".into(), extn("datetime", &rfc3339(c.issued)));
        if let Some(e) = c.expires {
            m.insert("expires".into(), extn("datetime", &rfc3339(e)));
        }
        out.push(ent("Credential", credential_id(i), m, Vec::new()));
    }
    for (i, t) in w.tasks.iter().enumerate() {
        let mut m = Map::new();
        m.insert("agent".into(), entity("Agent", &agent_id(t.agent)));
        m.insert(
            "not_before".into(),
            extn("datetime", &rfc3339(t.not_before)),
        );
        m.insert("not_after".into(), extn("datetime", &rfc3339(t.not_after)));
        m.insert("purpose".into(), json!(t.purpose));
        if let Some(u) = t.on_behalf_of {
            m.insert("on_behalf_of".into(), entity("User", &user_id(u)));
        }
        out.push(ent("Task", task_id(i), m, Vec::new()));
    }
    for x in &w.resources {
        out.push(ent(
            x.ty.name(),
            x.id.clone(),
            resource_attrs(w, x),
            x.parents
                .iter()
                .map(|p| uid(w.resources[*p].ty.name(), &w.resources[*p].id))
                .collect(),
        ));
    }
    Value::Array(out)
}

/// Summary of a generated workload (written as workload.json).
#[derive(Debug, Clone)]
pub struct Summary {
    pub value: Value,
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn jsonl(values: &[Value]) -> String {
    let mut s = String::new();
    for v in values {
        s.push_str(&v.to_string());
        s.push('\n');
    }
    s
}

/// Generates one workload into `dir`:
/// `bundle/` (agentauthz), `cedar/` (plain Cedar), `requests.jsonl` (agent form),
/// `requests-cedar.jsonl` (Cedar form, same order) and `workload.json`.
pub fn generate(dir: &Path, size: Size, seed: u64) -> Result<Summary, String> {
    let rng = Rng::new(seed).fork(size.name);
    let world = World::generate(&rng, size.entities);
    let policies = generate_policies(&rng, &world, size.policies);
    let requests = generate_requests(&rng, &world, &policies, size.requests);

    // The bundle: app schema, policies in three files, inventory.
    write(&dir.join("bundle/schema.cedarschema"), &app_schema(false))?;
    let mut files: [(&str, String); 3] = [
        ("10-grants.cedar", String::new()),
        ("20-shared.cedar", String::new()),
        ("30-guards.cedar", String::new()),
    ];
    for p in &policies {
        let file = match (p.effect, &p.principal) {
            (Effect::Forbid, _) => 2,
            (Effect::Permit, PScope::Agent(_)) => 0,
            _ => 1,
        };
        files[file].1.push_str(&p.text(&world));
        files[file].1.push('\n');
    }
    for (name, text) in &files {
        write(&dir.join("bundle/policies").join(name), text)?;
    }
    let inv = inventory(&world);
    write(
        &dir.join("bundle/inventory.json"),
        &serde_json::to_string_pretty(&inv).map_err(|e| e.to_string())?,
    )?;

    // Plain Cedar: full schema, every policy (the engine's baseline first), entities.
    write(&dir.join("cedar/schema.cedarschema"), &app_schema(true))?;
    let mut all = String::from(BASELINE_POLICIES);
    all.push('\n');
    for (_, text) in &files {
        all.push_str(text);
    }
    write(&dir.join("cedar/policies.cedar"), &all)?;
    write(
        &dir.join("cedar/entities.json"),
        &cedar_entities(&world).to_string(),
    )?;

    let agent_form: Vec<Value> = requests.iter().map(|q| q.agent_form(&world)).collect();
    let cedar_form: Vec<Value> = requests.iter().map(|q| q.cedar_form(&world)).collect();
    write(&dir.join("requests.jsonl"), &jsonl(&agent_form))?;
    write(&dir.join("requests-cedar.jsonl"), &jsonl(&cedar_form))?;
    let plain: Vec<Value> = requests
        .iter()
        .map(|q| q.cedar_form_plain(&world))
        .collect();
    write(&dir.join("requests-cedar-plain.jsonl"), &jsonl(&plain))?;

    let mut by_type = Map::new();
    by_type.insert("Team".into(), json!(world.teams.len()));
    by_type.insert("User".into(), json!(world.users.len()));
    by_type.insert("AgentGroup".into(), json!(world.groups.len()));
    by_type.insert("Agent".into(), json!(world.agents.len()));
    by_type.insert("Credential".into(), json!(world.credentials.len()));
    by_type.insert("Task".into(), json!(world.tasks.len()));
    for (ty, v) in &world.by_type {
        by_type.insert(ty.name().into(), json!(v.len()));
    }
    let mut kinds = Map::new();
    for (kind, _) in KINDS {
        let n = policies
            .iter()
            .filter(|p| p.id.starts_with(&format!("{kind}/")))
            .count();
        kinds.insert(kind.into(), json!(n));
    }
    let baseline = BASELINE_POLICIES.matches("@id(").count();
    let summary = json!({
        "name": size.name,
        "seed": seed,
        "policies": {
            "app": policies.len(),
            "baseline": baseline,
            "total": policies.len() + baseline,
            "permit": policies.iter().filter(|p| p.effect == Effect::Permit).count(),
            "forbid": policies.iter().filter(|p| p.effect == Effect::Forbid).count(),
            "by_kind": kinds,
        },
        "entities": {"total": world.entity_count(), "by_type": by_type},
        "requests": requests.len(),
    });
    write(
        &dir.join("workload.json"),
        &serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?,
    )?;
    Ok(Summary { value: summary })
}

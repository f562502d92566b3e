//! The cedarpy-style workload: an app in its own namespace (`Acme`) whose
//! principals are employees and bots, not agents; role, department, owner,
//! bot and one-off grants with guard forbids; every request in the Cedar form
//! with a five-field context whose `ip`, `decimal` and `datetime` values are
//! `__extn` objects, as cedarpy users write them.
//!
//! Written next to the agent workload of each size, as `<size>/humans/`, with
//! the same layout (`bundle/`, `cedar/`, `requests-cedar.jsonl`,
//! `workload.json`) so the same drivers run on it. The engine merges its base
//! types and baseline guardrails in as for any bundle; the guardrails that
//! concern agents never apply to these principals.

use crate::rng::Rng;
use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::path::Path;

const BASE_SCHEMA: &str = include_str!("../../core/src/base.cedarschema");
const BASELINE_POLICIES: &str = include_str!("../../core/src/baseline.cedar");

/// 2026-11-29T00:00:00Z, the day of the agent workload.
const DAY: i64 = 1_795_910_400;
const HOUR: i64 = 3_600;

const ACTIONS: [(&str, &str); 6] = [
    ("view", "read"),
    ("comment", "read"),
    ("edit", "write"),
    ("delete", "write"),
    ("approve", "release"),
    ("deploy", "release"),
];
const GROUPS: [&str; 3] = ["read", "write", "release"];
const CHANNELS: [&str; 4] = ["web", "cli", "ci", "api"];
const CLASSIFICATIONS: [&str; 4] = ["public", "internal", "confidential", "restricted"];
const CLEARANCES: [&str; 3] = ["low", "medium", "high"];

struct Employee {
    department: usize,
    roles: Vec<usize>,
    level: i64,
    suspended: bool,
    clearance: &'static str,
}

struct Bot {
    owner: usize,
    role: usize,
    trusted: bool,
}

struct Doc {
    project: usize,
    owner: usize,
    classification: &'static str,
    locked: bool,
}

struct Org {
    departments: Vec<Option<usize>>,
    roles: usize,
    employees: Vec<Employee>,
    bots: Vec<Bot>,
    projects: Vec<(Option<usize>, usize, &'static str)>,
    docs: Vec<Doc>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    Employee(usize),
    Bot(usize),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Target {
    Project(usize),
    Doc(usize),
}

enum Grant {
    Role(usize, Vec<usize>, usize),
    Department(usize, usize, usize),
    Owner(usize),
    Bot(usize, usize),
    OneOff(usize, usize),
}

impl Org {
    fn generate(r: &mut Rng, entities: usize) -> Org {
        let n_departments = (entities / 200).max(4);
        let roles = (entities / 100).max(6);
        let n_employees = (entities / 8).max(20);
        let n_bots = (entities / 40).max(5);
        let n_projects = (entities / 25).max(8);
        let n_docs = entities
            .saturating_sub(n_departments + roles + n_employees + n_bots + n_projects)
            .max(40);
        let dep_roots = n_departments.div_ceil(3);
        let departments = (0..n_departments)
            .map(|i| (i >= dep_roots).then(|| r.below(dep_roots)))
            .collect();
        let employees = (0..n_employees)
            .map(|_| {
                let mut roles_of = vec![r.below(roles)];
                if r.chance(0.4) {
                    let x = r.below(roles);
                    if !roles_of.contains(&x) {
                        roles_of.push(x);
                    }
                }
                Employee {
                    department: r.below(n_departments),
                    roles: roles_of,
                    level: r.range(1, 8),
                    suspended: r.chance(0.02),
                    clearance: CLEARANCES[r.weighted(&[50, 35, 15])],
                }
            })
            .collect();
        let bots = (0..n_bots)
            .map(|_| Bot {
                owner: r.below(n_employees),
                role: r.below(roles),
                trusted: r.chance(0.85),
            })
            .collect();
        let proj_roots = n_projects.div_ceil(4);
        let projects = (0..n_projects)
            .map(|i| {
                (
                    (i >= proj_roots).then(|| r.below(proj_roots)),
                    r.below(n_employees),
                    CLASSIFICATIONS[r.weighted(&[20, 50, 20, 10])],
                )
            })
            .collect();
        let docs = (0..n_docs)
            .map(|_| Doc {
                project: r.below(n_projects),
                owner: r.below(n_employees),
                classification: CLASSIFICATIONS[r.weighted(&[20, 50, 20, 10])],
                locked: r.chance(0.05),
            })
            .collect();
        Org {
            departments,
            roles,
            employees,
            bots,
            projects,
            docs,
        }
    }

    fn in_department(&self, e: usize, d: usize) -> bool {
        let mine = self.employees[e].department;
        mine == d || self.departments[mine] == Some(d)
    }

    fn in_project(&self, t: Target, p: usize) -> bool {
        let own = match t {
            Target::Project(q) => q,
            Target::Doc(x) => self.docs[x].project,
        };
        own == p || self.projects[own].0 == Some(p)
    }

    fn entity_count(&self) -> usize {
        self.departments.len()
            + self.roles
            + self.employees.len()
            + self.bots.len()
            + self.projects.len()
            + self.docs.len()
    }
}

fn uid(ty: &str, id: String) -> Value {
    json!({"type": format!("Acme::{ty}"), "id": id})
}
fn esc(ty: &str, id: String) -> Value {
    json!({"__entity": {"type": format!("Acme::{ty}"), "id": id}})
}
fn extn(f: &str, arg: &str) -> Value {
    json!({"__extn": {"fn": f, "arg": arg}})
}
fn action_ref(a: usize) -> String {
    format!("Acme::Action::\"{}\"", ACTIONS[a].0)
}

fn schema(full: bool) -> String {
    let mut s = String::new();
    if full {
        s.push_str(
            "// Plain Cedar schema of the cedarpy-style workload: agentauthz's base types\n",
        );
        s.push_str("// and the app in its own namespace, contexts with the standard fields.\n\n");
        s.push_str(BASE_SCHEMA);
        s.push('\n');
    } else {
        s.push_str("// The cedarpy-style benchmark workload (generated by agentauthz-bench).\n\n");
    }
    s.push_str(
        "namespace Acme {\n\
         \x20 entity Department in [Department];\n\
         \x20 entity Role;\n\
         \x20 entity Employee in [Department, Role] { level: Long, suspended: Bool, clearance: String };\n\
         \x20 entity Bot in [Role] { owner: Employee, trusted: Bool };\n\
         \x20 entity Project in [Project] { owner: Employee, classification: String };\n\
         \x20 entity Document in [Project] { owner: Employee, classification: String, locked: Bool };\n",
    );
    for g in GROUPS {
        let _ = writeln!(s, "  action \"{g}\";");
    }
    let mut context = String::from("source_ip: ipaddr, risk: decimal, mfa: Bool, channel: String");
    if full {
        context
            .push_str(", now: datetime, task?: Task, credential?: Credential, on_behalf_of?: User");
    }
    for (name, group) in ACTIONS {
        let _ = writeln!(
            s,
            "  action \"{name}\" in [\"{group}\"] appliesTo {{\n    principal: [Employee, Bot],\n    resource: [Project, Document],\n    context: {{ {context} }},\n  }};"
        );
    }
    s.push_str("}\n");
    s
}

fn policies(r: &mut Rng, org: &Org, n: usize) -> (String, Vec<Grant>, usize, usize) {
    let mut text = String::new();
    let mut grants = Vec::new();
    let (mut permits, mut forbids) = (0, 0);
    let np = org.projects.len();
    // Two global forbids, then a mix per hundred.
    text.push_str(
        "@id(\"acme/suspended\")\nforbid (principal is Acme::Employee, action, resource)\nwhen { principal.suspended };\n\n\
         @id(\"acme/clearance\")\nforbid (principal is Acme::Employee, action, resource is Acme::Document)\n\
         when { resource.classification == \"restricted\" && principal.clearance != \"high\" };\n\n",
    );
    forbids += 2;
    for i in 0..n.saturating_sub(2) {
        let p = r.below(np);
        let slot = i % 100;
        if slot < 40 {
            let role = r.below(org.roles);
            let acts: Vec<usize> = {
                let mut v = vec![r.below(ACTIONS.len())];
                let b = r.below(ACTIONS.len());
                if !v.contains(&b) && r.chance(0.5) {
                    v.push(b);
                }
                v
            };
            let list: Vec<String> = acts.iter().map(|a| action_ref(*a)).collect();
            let _ = write!(
                text,
                "@id(\"acme/role-{i}\")\npermit (principal in Acme::Role::\"role-{role}\", action in [{}], resource in Acme::Project::\"project-{p}\")\n\
                 when {{ context.mfa || context.risk.lessThan(decimal(\"0.5\")) }};\n\n",
                list.join(", ")
            );
            grants.push(Grant::Role(role, acts, p));
            permits += 1;
        } else if slot < 60 {
            let d = r.below(org.departments.len());
            let g = r.below(2);
            let _ = write!(
                text,
                "@id(\"acme/department-{i}\")\npermit (principal in Acme::Department::\"department-{d}\", action in Acme::Action::\"{}\", resource in Acme::Project::\"project-{p}\")\n\
                 when {{ context.source_ip.isInRange(ip(\"10.0.0.0/8\")) && context.now.toTime() < duration(\"20h\") }};\n\n",
                GROUPS[g]
            );
            grants.push(Grant::Department(d, g, p));
            permits += 1;
        } else if slot < 70 {
            let _ = write!(
                text,
                "@id(\"acme/owner-{i}\")\npermit (principal is Acme::Employee, action, resource is Acme::Document in Acme::Project::\"project-{p}\")\n\
                 when {{ resource.owner == principal && principal.level >= 2 }};\n\n"
            );
            grants.push(Grant::Owner(p));
            permits += 1;
        } else if slot < 80 {
            let b = r.below(org.bots.len());
            let _ = write!(
                text,
                "@id(\"acme/bot-{i}\")\npermit (principal == Acme::Bot::\"bot-{b}\", action in [{}, {}], resource in Acme::Project::\"project-{p}\")\n\
                 when {{ principal.trusted && context.channel == \"ci\" && context.risk.lessThanOrEqual(decimal(\"0.7\")) }};\n\n",
                action_ref(0),
                action_ref(5)
            );
            grants.push(Grant::Bot(b, p));
            permits += 1;
        } else if slot < 90 {
            let e = r.below(org.employees.len());
            let x = r.below(org.docs.len());
            let _ = write!(
                text,
                "@id(\"acme/one-off-{i}\")\npermit (principal == Acme::Employee::\"employee-{e}\", action == {}, resource == Acme::Document::\"doc-{x}\")\n\
                 when {{ context.now < datetime(\"2026-11-29T{:02}:00:00Z\") }};\n\n",
                action_ref(2),
                r.range(10, 22)
            );
            grants.push(Grant::OneOff(e, x));
            permits += 1;
        } else {
            let kind = i % 3;
            let _ = match kind {
                0 => write!(
                    text,
                    "@id(\"acme/risk-{i}\")\nforbid (principal, action in Acme::Action::\"write\", resource in Acme::Project::\"project-{p}\")\n\
                     when {{ context.risk.greaterThan(decimal(\"0.8\")) }};\n\n"
                ),
                1 => write!(
                    text,
                    "@id(\"acme/locked-{i}\")\nforbid (principal, action, resource is Acme::Document in Acme::Project::\"project-{p}\")\n\
                     when {{ resource.locked && action != {} }};\n\n",
                    action_ref(0)
                ),
                _ => write!(
                    text,
                    "@id(\"acme/bot-network-{i}\")\nforbid (principal is Acme::Bot, action in Acme::Action::\"release\", resource in Acme::Project::\"project-{p}\")\n\
                     unless {{ context.source_ip.isInRange(ip(\"10.0.0.0/8\")) }};\n\n"
                ),
            };
            forbids += 1;
        }
    }
    (text, grants, permits, forbids)
}

struct Req {
    who: Who,
    action: usize,
    target: Target,
    ip: String,
    risk: i64,
    mfa: bool,
    channel: &'static str,
    now: i64,
}

fn pick_target(r: &mut Rng, org: &Org, p: usize) -> Target {
    // A document of the project or of a sub-project, else the project itself.
    for _ in 0..20 {
        let x = r.below(org.docs.len());
        if org.in_project(Target::Doc(x), p) {
            return Target::Doc(x);
        }
    }
    Target::Project(p)
}

fn random_req(r: &mut Rng, org: &Org) -> Req {
    let who = if r.chance(0.8) {
        Who::Employee(r.below(org.employees.len()))
    } else {
        Who::Bot(r.below(org.bots.len()))
    };
    let target = if r.chance(0.8) {
        Target::Doc(r.below(org.docs.len()))
    } else {
        Target::Project(r.below(org.projects.len()))
    };
    Req {
        who,
        action: r.below(ACTIONS.len()),
        target,
        ip: if r.chance(0.7) {
            format!("10.{}.{}.{}", r.below(256), r.below(256), 1 + r.below(254))
        } else {
            format!("198.51.100.{}", 1 + r.below(254))
        },
        risk: r.range(0, 100),
        mfa: r.chance(0.7),
        channel: CHANNELS[r.below(CHANNELS.len())],
        now: DAY + r.range(6 * HOUR, 21 * HOUR),
    }
}

fn aimed(r: &mut Rng, org: &Org, g: &Grant) -> Option<Req> {
    let mut q = random_req(r, org);
    match g {
        Grant::Role(role, acts, p) => {
            let members: Vec<usize> = (0..40)
                .map(|_| r.below(org.employees.len()))
                .filter(|e| org.employees[*e].roles.contains(role))
                .collect();
            q.who = match members.first() {
                Some(e) => Who::Employee(*e),
                None => Who::Bot(org.bots.iter().position(|b| b.role == *role)?),
            };
            q.action = acts[r.below(acts.len())];
            q.target = pick_target(r, org, *p);
            if r.chance(0.8) {
                q.mfa = true;
            }
        }
        Grant::Department(d, g, p) => {
            let e = (0..60)
                .map(|_| r.below(org.employees.len()))
                .find(|e| org.in_department(*e, *d))?;
            q.who = Who::Employee(e);
            let acts: Vec<usize> = (0..ACTIONS.len())
                .filter(|a| ACTIONS[*a].1 == GROUPS[*g])
                .collect();
            q.action = acts[r.below(acts.len())];
            q.target = pick_target(r, org, *p);
            if r.chance(0.85) {
                q.ip = format!("10.{}.{}.{}", r.below(256), r.below(256), 1 + r.below(254));
                q.now = DAY + r.range(6 * HOUR, 20 * HOUR);
            }
        }
        Grant::Owner(p) => {
            let t = pick_target(r, org, *p);
            let Target::Doc(x) = t else { return None };
            q.who = Who::Employee(org.docs[x].owner);
            q.target = t;
        }
        Grant::Bot(b, p) => {
            q.who = Who::Bot(*b);
            q.action = if r.chance(0.5) { 0 } else { 5 };
            q.target = pick_target(r, org, *p);
            if r.chance(0.85) {
                q.channel = "ci";
                q.risk = r.range(0, 70);
                q.ip = format!("10.0.{}.{}", r.below(256), 1 + r.below(254));
            }
        }
        Grant::OneOff(e, x) => {
            q.who = Who::Employee(*e);
            q.action = 2;
            q.target = Target::Doc(*x);
            q.now = DAY + r.range(6 * HOUR, 12 * HOUR);
        }
    }
    Some(q)
}

impl Req {
    fn value(&self) -> Value {
        let principal = match self.who {
            Who::Employee(e) => uid("Employee", format!("employee-{e}")),
            Who::Bot(b) => uid("Bot", format!("bot-{b}")),
        };
        let resource = match self.target {
            Target::Project(p) => uid("Project", format!("project-{p}")),
            Target::Doc(x) => uid("Document", format!("doc-{x}")),
        };
        let now = time::OffsetDateTime::from_unix_timestamp(self.now)
            .ok()
            .and_then(|d| {
                d.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default();
        json!({
            "principal": principal,
            "action": {"type": "Acme::Action", "id": ACTIONS[self.action].0},
            "resource": resource,
            "context": {
                "source_ip": extn("ip", &self.ip),
                "risk": extn("decimal", &format!("0.{:02}", self.risk)),
                "mfa": self.mfa,
                "channel": self.channel,
                "now": extn("datetime", &now),
            },
        })
    }
}

fn entities(org: &Org) -> Value {
    let mut out = Vec::with_capacity(org.entity_count());
    let ent = |u: Value, attrs: Value, parents: Vec<Value>| json!({"uid": u, "attrs": attrs, "parents": parents});
    for (i, parent) in org.departments.iter().enumerate() {
        let parents = parent
            .iter()
            .map(|p| uid("Department", format!("department-{p}")))
            .collect();
        out.push(ent(
            uid("Department", format!("department-{i}")),
            json!({}),
            parents,
        ));
    }
    for i in 0..org.roles {
        out.push(ent(uid("Role", format!("role-{i}")), json!({}), Vec::new()));
    }
    for (i, e) in org.employees.iter().enumerate() {
        let mut parents = vec![uid("Department", format!("department-{}", e.department))];
        parents.extend(e.roles.iter().map(|r| uid("Role", format!("role-{r}"))));
        out.push(ent(
            uid("Employee", format!("employee-{i}")),
            json!({"level": e.level, "suspended": e.suspended, "clearance": e.clearance}),
            parents,
        ));
    }
    for (i, b) in org.bots.iter().enumerate() {
        out.push(ent(
            uid("Bot", format!("bot-{i}")),
            json!({"owner": esc("Employee", format!("employee-{}", b.owner)), "trusted": b.trusted}),
            vec![uid("Role", format!("role-{}", b.role))],
        ));
    }
    for (i, (parent, owner, class)) in org.projects.iter().enumerate() {
        out.push(ent(
            uid("Project", format!("project-{i}")),
            json!({"owner": esc("Employee", format!("employee-{owner}")), "classification": class}),
            parent
                .iter()
                .map(|p| uid("Project", format!("project-{p}")))
                .collect(),
        ));
    }
    for (i, d) in org.docs.iter().enumerate() {
        out.push(ent(
            uid("Document", format!("doc-{i}")),
            json!({"owner": esc("Employee", format!("employee-{}", d.owner)),
                   "classification": d.classification, "locked": d.locked}),
            vec![uid("Project", format!("project-{}", d.project))],
        ));
    }
    Value::Array(out)
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes the cedarpy-style workload of `policies` policies, about `entities`
/// entities and `requests` requests into `dir`.
pub fn generate(
    dir: &Path,
    seed: u64,
    name: &str,
    n_policies: usize,
    n_entities: usize,
    n_requests: usize,
) -> Result<(), String> {
    let rng = Rng::new(seed).fork(name).fork("humans");
    let org = Org::generate(&mut rng.fork("org"), n_entities);
    let (text, grants, permits, forbids) = policies(&mut rng.fork("policies"), &org, n_policies);
    let mut r = rng.fork("requests");
    let mut lines = String::new();
    let mut count = 0;
    while count < n_requests {
        let q = if r.chance(0.85) && !grants.is_empty() {
            let g = r.below(grants.len());
            aimed(&mut r, &org, &grants[g])
        } else {
            Some(random_req(&mut r, &org))
        };
        if let Some(q) = q {
            lines.push_str(&q.value().to_string());
            lines.push('\n');
            count += 1;
        }
    }
    let entities = entities(&org).to_string();
    write(&dir.join("bundle/schema.cedarschema"), &schema(false))?;
    write(&dir.join("bundle/policies/10-acme.cedar"), &text)?;
    write(&dir.join("bundle/inventory.json"), &entities)?;
    write(&dir.join("cedar/schema.cedarschema"), &schema(true))?;
    write(
        &dir.join("cedar/policies.cedar"),
        &format!("{BASELINE_POLICIES}\n{text}"),
    )?;
    write(&dir.join("cedar/entities.json"), &entities)?;
    write(&dir.join("requests-cedar.jsonl"), &lines)?;
    let baseline = BASELINE_POLICIES.matches("@id(").count();
    let mut by_type = Map::new();
    by_type.insert("Department".into(), json!(org.departments.len()));
    by_type.insert("Role".into(), json!(org.roles));
    by_type.insert("Employee".into(), json!(org.employees.len()));
    by_type.insert("Bot".into(), json!(org.bots.len()));
    by_type.insert("Project".into(), json!(org.projects.len()));
    by_type.insert("Document".into(), json!(org.docs.len()));
    let summary = json!({
        "name": format!("{name}/humans"),
        "seed": seed,
        "policies": {
            "app": permits + forbids,
            "baseline": baseline,
            "total": permits + forbids + baseline,
            "permit": permits,
            "forbid": forbids,
        },
        "entities": {"total": org.entity_count(), "by_type": by_type},
        "requests": n_requests,
    });
    write(
        &dir.join("workload.json"),
        &serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?,
    )
}

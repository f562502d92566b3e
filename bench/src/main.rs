//! agentauthz-bench: generates the reference workloads and times agentauthz's
//! Rust API and raw `cedar-policy` on them. See bench/README.md.
//!
//!   agentauthz-bench gen [--out DIR] [--sizes s200,s1k,s10k] [--seed N]
//!   agentauthz-bench run --workload DIR --impl IMPL [--form agent|cedar|cedar-plain]
//!                        [--seconds S] [--min-calls N] [--max-calls N] [--out FILE]
//!
//! IMPL: agentauthz (Engine::check), agentauthz-json (ffi::check_json), cedar
//! (raw cedar-policy); and the cost drivers failclosed, log, session, threads,
//! lifecycle (src/costs.rs).

mod costs;
mod exporter;
mod humans;
mod measure;
mod rng;
mod workload;

use agentauthz::{ffi, Request};
use cedar_policy::{Authorizer, Context, Entities, EntityUid, PolicyId, PolicySet, Schema};
use measure::{decision_key, Budget};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Instant;

type Res<T> = Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("gen") => gen(&Args::parse(&args[1..])),
        Some("run") => run(&Args::parse(&args[1..])),
        _ => Err("usage: agentauthz-bench gen|run [options] (see bench/README.md)".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("agentauthz-bench: {e}");
            ExitCode::from(2)
        }
    }
}

struct Args(HashMap<String, String>);

impl Args {
    fn parse(args: &[String]) -> Args {
        let mut m = HashMap::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if let Some(k) = a.strip_prefix("--") {
                m.insert(k.to_string(), it.next().cloned().unwrap_or_default());
            }
        }
        Args(m)
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.0.get(k).map(String::as_str)
    }
    fn need(&self, k: &str) -> Res<&str> {
        self.get(k).ok_or_else(|| format!("missing --{k}"))
    }
    fn num<T: FromStr>(&self, k: &str, default: T) -> Res<T> {
        match self.get(k) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{k}: not a number: {v}")),
        }
    }
}

fn default_out() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("bench-workloads")
}

fn gen(args: &Args) -> Res<()> {
    let out = args
        .get("out")
        .map(PathBuf::from)
        .unwrap_or_else(default_out);
    let seed = args.num("seed", workload::DEFAULT_SEED)?;
    let sizes = args.get("sizes").unwrap_or("s200,s1k,s10k");
    for name in sizes.split(',').filter(|s| !s.is_empty()) {
        let size = workload::size_named(name).ok_or_else(|| format!("unknown size {name}"))?;
        let t0 = Instant::now();
        let summary = workload::generate(&out.join(name), size, seed)?;
        humans::generate(
            &out.join(name).join("humans"),
            seed,
            name,
            size.policies,
            size.entities,
            size.requests,
        )?;
        let v = &summary.value;
        println!(
            "{}: {} policies ({} app + {} baseline), {} entities, {} requests -> {} ({:.1} s)",
            name,
            v["policies"]["total"],
            v["policies"]["app"],
            v["policies"]["baseline"],
            v["entities"]["total"],
            v["requests"],
            out.join(name).display(),
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

fn read(path: &Path) -> Res<String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn lines(path: &Path) -> Res<Vec<String>> {
    Ok(read(path)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect())
}

fn run(args: &Args) -> Res<()> {
    let which = args.need("impl")?;
    if which == "exporter" {
        // Its own small bundle: the load is on the exporter, not on Cedar.
        let v = exporter::load(args.num("rate", 100_000)?, args.num("seconds", 10.0)?)?;
        return write_out(args, &v);
    }
    let dir = PathBuf::from(args.need("workload")?);
    let budget = Budget {
        seconds: args.num("seconds", 5.0)?,
        min_calls: args.num("min-calls", 3)?,
        max_calls: args.num("max-calls", 2_000_000)?,
    };
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let form = Form::parse(args.get("form").unwrap_or("agent"))?;
    let value = match which {
        "agentauthz" => run_agentauthz(&dir, &name, &budget, false, form)?,
        "agentauthz-json" => run_agentauthz(&dir, &name, &budget, true, form)?,
        "cedar" => run_cedar(&dir, &name, &budget)?,
        "failclosed" => costs::fail_closed(&dir, &name, &budget)?,
        "log" => costs::logging(&dir, &name, &budget)?,
        "limits" => costs::limits(&dir, &name, &budget)?,
        "session" => costs::sessions(&dir, &name, &budget)?,
        "threads" => costs::threads(&dir, &name, &budget)?,
        "lifecycle" => costs::lifecycle(&dir, &name, &budget)?,
        other => return Err(format!("unknown --impl {other}")),
    };
    write_out(args, &value)
}

fn write_out(args: &Args, value: &Value) -> Res<()> {
    let text = value.to_string();
    match args.get("out") {
        Some(path) => std::fs::write(path, text).map_err(|e| format!("{path}: {e}")),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

/// Which request file a driver reads: the agent form, or the same requests in
/// the Cedar form with `__extn`/`__entity` escapes or with plain strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    Agent,
    Cedar,
    CedarPlain,
}

impl Form {
    fn parse(text: &str) -> Res<Form> {
        match text {
            "agent" => Ok(Form::Agent),
            "cedar" => Ok(Form::Cedar),
            "cedar-plain" => Ok(Form::CedarPlain),
            other => Err(format!("unknown --form {other}")),
        }
    }
    fn file(self) -> &'static str {
        match self {
            Form::Agent => "requests.jsonl",
            Form::Cedar => "requests-cedar.jsonl",
            Form::CedarPlain => "requests-cedar-plain.jsonl",
        }
    }
    /// The suffix of the implementation name and label.
    fn suffix(self) -> (&'static str, &'static str) {
        match self {
            Form::Agent => ("", ""),
            Form::Cedar => ("-cedar", ", Cedar form (__extn)"),
            Form::CedarPlain => ("-cedar-plain", ", Cedar form (plain strings)"),
        }
    }
}

fn run_agentauthz(
    dir: &Path,
    name: &str,
    budget: &Budget,
    json_facade: bool,
    form: Form,
) -> Res<Value> {
    let t0 = Instant::now();
    let engine = ffi::engine_load(&dir.join("bundle").to_string_lossy(), None, true)
        .map_err(|e| e.to_string())?;
    let setup_ms = t0.elapsed().as_secs_f64() * 1e3;
    let texts = lines(&dir.join(form.file()))?;
    let (suffix, label_suffix) = form.suffix();
    if json_facade {
        let m = measure::run(
            texts.len(),
            budget,
            |i| ffi::check_json(&engine, &texts[i]),
            |out| {
                let v: Value = serde_json::from_str(out).unwrap_or(Value::Null);
                let mut reasons: Vec<String> = v["reasons"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|r| r.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                decision_key(v["decision"] == "allow", &mut reasons)
            },
        );
        return Ok(m.to_value(
            &format!("agentauthz-rust-json{suffix}"),
            &format!("agentauthz Rust ffi::check_json (JSON text in/out){label_suffix}"),
            name,
            setup_ms,
        ));
    }
    let requests = texts
        .iter()
        .map(|t| Request::from_json_str(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let m = measure::run(
        requests.len(),
        budget,
        |i| engine.check(&requests[i]),
        |d| decision_key(d.allowed(), &mut d.reasons.clone()),
    );
    Ok(m.to_value(
        &format!("agentauthz-rust{suffix}"),
        &format!("agentauthz Rust Engine::check{label_suffix}"),
        name,
        setup_ms,
    ))
}

/// Plain Cedar, everything prebuilt: the schema, the policy set (policies renamed
/// by their @id, as the engine does), the entities and every request.
#[derive(Debug)]
pub struct CedarWorkload {
    pub schema: Schema,
    pub policies: PolicySet,
    pub entities: Entities,
    pub requests: Vec<cedar_policy::Request>,
}

fn cedar_uid(v: &Value) -> Res<EntityUid> {
    EntityUid::from_json(v.clone()).map_err(|e| format!("entity uid {v}: {e}"))
}

pub fn load_cedar(dir: &Path) -> Res<CedarWorkload> {
    let (schema, _) = Schema::from_cedarschema_str(&read(&dir.join("cedar/schema.cedarschema"))?)
        .map_err(|e| format!("schema: {e}"))?;
    let parsed = PolicySet::from_str(&read(&dir.join("cedar/policies.cedar"))?)
        .map_err(|e| format!("policies: {e}"))?;
    let mut policies = PolicySet::new();
    for p in parsed.policies() {
        let id = p
            .annotation("id")
            .map(str::to_string)
            .ok_or("policy without @id")?;
        policies
            .add(p.new_id(PolicyId::new(id)))
            .map_err(|e| e.to_string())?;
    }
    let entities = Entities::from_json_str(&read(&dir.join("cedar/entities.json"))?, Some(&schema))
        .map_err(|e| format!("entities: {e}"))?;
    let mut requests = Vec::new();
    for line in lines(&dir.join("requests-cedar.jsonl"))? {
        let v: Value = serde_json::from_str(&line).map_err(|e| e.to_string())?;
        let action = cedar_uid(&v["action"])?;
        let context = Context::from_json_value(v["context"].clone(), Some((&schema, &action)))
            .map_err(|e| format!("context: {e}"))?;
        requests.push(
            cedar_policy::Request::new(
                cedar_uid(&v["principal"])?,
                action,
                cedar_uid(&v["resource"])?,
                context,
                Some(&schema),
            )
            .map_err(|e| format!("request: {e}"))?,
        );
    }
    Ok(CedarWorkload {
        schema,
        policies,
        entities,
        requests,
    })
}

fn run_cedar(dir: &Path, name: &str, budget: &Budget) -> Res<Value> {
    let t0 = Instant::now();
    let w = load_cedar(dir)?;
    let setup_ms = t0.elapsed().as_secs_f64() * 1e3;
    let authorizer = Authorizer::new();
    let _ = &w.schema;
    let m = measure::run(
        w.requests.len(),
        budget,
        |i| Ok::<_, ()>(authorizer.is_authorized(&w.requests[i], &w.policies, &w.entities)),
        |r| {
            let mut reasons: Vec<String> =
                r.diagnostics().reason().map(ToString::to_string).collect();
            decision_key(r.decision() == cedar_policy::Decision::Allow, &mut reasons)
        },
    );
    Ok(m.to_value(
        "cedar-rust",
        "raw cedar-policy Authorizer::is_authorized (prebuilt)",
        name,
        setup_ms,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("agentauthz-bench-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push((
                        p.strip_prefix(dir).unwrap().to_path_buf(),
                        std::fs::read(&p).unwrap(),
                    ));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn same_seed_same_files() {
        let size = workload::size_named("s200").unwrap();
        let (a, b) = (temp("a"), temp("b"));
        workload::generate(&a, size, 7).unwrap();
        workload::generate(&b, size, 7).unwrap();
        for d in [&a, &b] {
            humans::generate(&d.join("humans"), 7, "s200", 200, 2_000, 1_000).unwrap();
        }
        assert_eq!(files(&a), files(&b));
        let c = temp("c");
        workload::generate(&c, size, 8).unwrap();
        assert_ne!(files(&a), files(&c));
        for d in [a, b, c] {
            std::fs::remove_dir_all(d).unwrap();
        }
    }

    /// The bundle and the plain Cedar files describe the same thing: the engine
    /// and Cedar's Authorizer give the same decision and reasons on every request,
    /// and the mix has both outcomes in realistic amounts.
    #[test]
    fn bundle_and_plain_cedar_agree() {
        let dir = temp("agree");
        workload::generate(
            &dir,
            workload::size_named("s200").unwrap(),
            workload::DEFAULT_SEED,
        )
        .unwrap();
        let engine = ffi::engine_load(&dir.join("bundle").to_string_lossy(), None, true).unwrap();
        let cedar = load_cedar(&dir).unwrap();
        let texts = lines(&dir.join("requests.jsonl")).unwrap();
        assert_eq!(texts.len(), cedar.requests.len());
        let mut allowed = 0;
        for (text, creq) in texts.iter().zip(&cedar.requests) {
            let d = engine
                .check(&Request::from_json_str(text).unwrap())
                .unwrap();
            let r = Authorizer::new().is_authorized(creq, &cedar.policies, &cedar.entities);
            let mut theirs: Vec<String> =
                r.diagnostics().reason().map(ToString::to_string).collect();
            theirs.sort();
            assert_eq!(
                d.allowed(),
                r.decision() == cedar_policy::Decision::Allow,
                "{text}"
            );
            assert_eq!(d.reasons, theirs, "{text}");
            assert_eq!(r.diagnostics().errors().count(), 0, "{text}");
            allowed += usize::from(d.allowed());
        }
        let share = allowed as f64 / texts.len() as f64;
        assert!((0.4..0.8).contains(&share), "allowed share {share}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn key(d: &agentauthz::Decision) -> String {
        decision_key(d.allowed(), &mut d.reasons.clone())
    }

    /// The Cedar-form files are the same requests: escaped and plain-string
    /// values decide as the agent form, request by request.
    #[test]
    fn cedar_forms_decide_as_agent_form() {
        let dir = temp("forms");
        let size = workload::size_named("s200").unwrap();
        workload::generate(&dir, size, workload::DEFAULT_SEED).unwrap();
        let engine = ffi::engine_load(&dir.join("bundle").to_string_lossy(), None, true).unwrap();
        let decide = |form: Form| -> Vec<String> {
            lines(&dir.join(form.file()))
                .unwrap()
                .iter()
                .map(|t| key(&engine.check(&Request::from_json_str(t).unwrap()).unwrap()))
                .collect()
        };
        let agent = decide(Form::Agent);
        assert_eq!(agent.len(), size.requests);
        assert_eq!(decide(Form::Cedar), agent);
        assert_eq!(decide(Form::CedarPlain), agent);
        let plain = read(&dir.join("requests-cedar-plain.jsonl")).unwrap();
        assert!(!plain.contains("__extn") && !plain.contains("__entity"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The cedarpy-style workload: the engine on `bundle/` and Cedar on
    /// `cedar/` decide alike, with both outcomes and no evaluation errors.
    #[test]
    fn humans_bundle_and_plain_cedar_agree() {
        let dir = temp("humans");
        humans::generate(&dir, workload::DEFAULT_SEED, "s200", 200, 2_000, 1_000).unwrap();
        let engine = ffi::engine_load(&dir.join("bundle").to_string_lossy(), None, true).unwrap();
        let cedar = load_cedar(&dir).unwrap();
        let texts = lines(&dir.join("requests-cedar.jsonl")).unwrap();
        assert_eq!(texts.len(), cedar.requests.len());
        let mut allowed = 0;
        for (text, creq) in texts.iter().zip(&cedar.requests) {
            assert!(text.contains("\"principal\":{\"type\":\"Acme::"), "{text}");
            let d = engine
                .check(&Request::from_json_str(text).unwrap())
                .unwrap();
            let r = Authorizer::new().is_authorized(creq, &cedar.policies, &cedar.entities);
            let mut theirs: Vec<String> =
                r.diagnostics().reason().map(ToString::to_string).collect();
            theirs.sort();
            assert_eq!(
                d.allowed(),
                r.decision() == cedar_policy::Decision::Allow,
                "{text}"
            );
            assert_eq!(d.reasons, theirs, "{text}");
            assert_eq!(r.diagnostics().errors().count(), 0, "{text}");
            allowed += usize::from(d.allowed());
        }
        let share = allowed as f64 / texts.len() as f64;
        assert!((0.4..0.9).contains(&share), "allowed share {share}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The fail-closed driver's forbids do error on some requests: Cedar's
    /// rule decides as without them, the engine's default denies those.
    #[test]
    fn fallible_forbids_error_on_some_requests() {
        let dir = temp("fallible");
        workload::generate(
            &dir,
            workload::size_named("s200").unwrap(),
            workload::DEFAULT_SEED,
        )
        .unwrap();
        let build = |extra: bool, on_error| {
            let mut b = agentauthz::Bundle::read_dir(dir.join("bundle")).unwrap();
            if extra {
                b.policies.push(agentauthz::Source::new(
                    "90-fallible.cedar",
                    workload::FALLIBLE_POLICIES,
                ));
            }
            agentauthz::Engine::builder()
                .bundle(b)
                .trust_caller_time(true)
                .on_error(on_error)
                .build()
                .unwrap()
        };
        let plain = build(false, agentauthz::OnError::Deny);
        let skip = build(true, agentauthz::OnError::Skip);
        let deny = build(true, agentauthz::OnError::Deny);
        let mut flipped = 0;
        for text in lines(&dir.join("requests.jsonl")).unwrap() {
            let r = Request::from_json_str(&text).unwrap();
            let (p, s, d) = (
                plain.check(&r).unwrap(),
                skip.check(&r).unwrap(),
                deny.check(&r).unwrap(),
            );
            assert_eq!(key(&s), key(&p), "{text}");
            if key(&d) != key(&s) {
                assert!(!d.allowed(), "{text}");
                assert!(
                    d.reasons.iter().any(|x| x.starts_with("fallible/")),
                    "{text}"
                );
                flipped += 1;
            }
        }
        assert!(
            flipped > 5,
            "only {flipped} requests hit an erroring forbid"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}

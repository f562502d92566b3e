//! The core's modules import one way: each layer only from the layers below
//! it, with no cycle anywhere (not even between the submodules of one module),
//! and never through a crate-root re-export. The check reads core/src itself;
//! `cargo test --test layers -- --nocapture` prints the module graph.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level module → layer. A module may import from its own layer (if that
/// closes no cycle) and from the layers below.
const LAYERS: &[(&str, u32)] = &[
    ("error", 0),
    ("time", 1),
    ("limits", 1),
    ("http", 1),
    ("model", 2),
    ("change", 2),
    ("approval", 2),
    ("bundle", 3),
    ("schema", 3),
    ("inventory", 3),
    ("session", 3),
    ("integrity", 3),
    ("identity", 3),
    ("scim", 3),
    ("archive", 3),
    ("remote", 4),
    ("journal", 4),
    ("store", 4),
    ("audit", 5),
    ("engine", 6),
    ("ffi", 7),
    ("mcp", 7),
    ("testing", 7),
    ("posture", 7),
];

// ---------------------------------------------------------------- tokens

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Punct(char),
}

/// Rust source → identifiers, `::` and punctuation; comments, string and
/// character literals, lifetimes and numbers are dropped.
fn tokens(src: &str) -> Vec<Tok> {
    let c: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let ident_start = |ch: char| ch == '_' || ch.is_alphabetic();
    let ident_char = |ch: char| ch == '_' || ch.is_alphanumeric();
    while i < c.len() {
        let ch = c[i];
        let next = c.get(i + 1).copied();
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if ch == '"' {
            i = skip_string(&c, i + 1);
        } else if ch == '\'' {
            if next == Some('\\') {
                i += 3;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1; // a lifetime: its name follows as an identifier, harmlessly
            }
        } else if ident_start(ch) {
            // Raw and byte strings: r"…", r#"…"#, b"…", br#"…"#, c"…"; b'x'.
            let mut j = i;
            if c[j] == 'b' || c[j] == 'c' {
                j += 1;
            }
            let raw = c.get(j) == Some(&'r');
            if raw {
                j += 1;
            }
            let mut hashes = 0;
            while raw && c.get(j + hashes) == Some(&'#') {
                hashes += 1;
            }
            if j > i && c.get(j + hashes) == Some(&'"') {
                if raw {
                    i = skip_raw_string(&c, j + hashes + 1, hashes);
                } else {
                    i = skip_string(&c, j + 1);
                }
                continue;
            }
            if ch == 'b' && next == Some('\'') {
                i += 2;
                if c.get(i) == Some(&'\\') {
                    i += 1;
                }
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
                continue;
            }
            if ch == 'r' && next == Some('#') && c.get(i + 2).copied().is_some_and(ident_start) {
                i += 2; // raw identifier r#name
            }
            let start = i;
            while i < c.len() && ident_char(c[i]) {
                i += 1;
            }
            out.push(Tok::Ident(c[start..i].iter().collect()));
        } else if ch.is_ascii_digit() {
            while i < c.len()
                && (ident_char(c[i])
                    || c[i] == '.' && c.get(i + 1).is_some_and(|d| d.is_ascii_digit()))
            {
                i += 1;
            }
        } else if ch == ':' && next == Some(':') {
            out.push(Tok::PathSep);
            i += 2;
        } else {
            out.push(Tok::Punct(ch));
            i += 1;
        }
    }
    out
}

fn skip_string(c: &[char], mut i: usize) -> usize {
    while i < c.len() {
        match c[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            _ => i += 1,
        }
    }
    i
}

fn skip_raw_string(c: &[char], mut i: usize, hashes: usize) -> usize {
    while i < c.len() {
        if c[i] == '"' && (0..hashes).all(|k| c.get(i + 1 + k) == Some(&'#')) {
            return i + 1 + hashes;
        }
        i += 1;
    }
    i
}

// ---------------------------------------------------------------- use trees

/// One leaf of a `use` tree: its path and the name it binds (`None` for a glob).
#[derive(Debug, Clone)]
struct Leaf {
    path: Vec<String>,
    name: Option<String>,
}

/// Parses a `use` tree from `toks` (after `use`, up to `;`).
fn use_leaves(toks: &[Tok]) -> Vec<Leaf> {
    let mut pos = 0;
    let mut out = Vec::new();
    tree(toks, &mut pos, &[], &mut out);
    out
}

fn tree(toks: &[Tok], pos: &mut usize, prefix: &[String], out: &mut Vec<Leaf>) {
    let mut path = prefix.to_vec();
    if toks.get(*pos) == Some(&Tok::PathSep) {
        *pos += 1; // `::name`: an external crate
        path.push("::".into());
    }
    loop {
        match toks.get(*pos) {
            Some(Tok::Ident(name)) => {
                *pos += 1;
                if name == "self" && !path.is_empty() && path.len() == prefix.len() {
                    // `{self, …}` binds the prefix itself.
                    let bound = path.last().cloned();
                    out.push(Leaf {
                        path: path.clone(),
                        name: alias(toks, pos).or(bound),
                    });
                    return;
                }
                path.push(name.clone());
                if toks.get(*pos) == Some(&Tok::PathSep) {
                    *pos += 1;
                    continue;
                }
                let bound = alias(toks, pos).or_else(|| path.last().cloned());
                out.push(Leaf { path, name: bound });
                return;
            }
            Some(Tok::Punct('*')) => {
                *pos += 1;
                out.push(Leaf { path, name: None });
                return;
            }
            Some(Tok::Punct('{')) => {
                *pos += 1;
                loop {
                    match toks.get(*pos) {
                        Some(Tok::Punct('}')) => {
                            *pos += 1;
                            return;
                        }
                        Some(Tok::Punct(',')) => *pos += 1,
                        None => return,
                        _ => tree(toks, pos, &path, out),
                    }
                }
            }
            _ => return,
        }
    }
}

fn alias(toks: &[Tok], pos: &mut usize) -> Option<String> {
    if toks.get(*pos) == Some(&Tok::Ident("as".into())) {
        if let Some(Tok::Ident(name)) = toks.get(*pos + 1) {
            *pos += 2;
            return Some(name.clone());
        }
    }
    None
}

// ---------------------------------------------------------------- modules

type Module = String; // "" is the crate root, else "engine::request"

fn join(parent: &str, name: &str) -> Module {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}::{name}")
    }
}

fn parent_of(module: &str) -> Module {
    module
        .rsplit_once("::")
        .map(|(p, _)| p.to_string())
        .unwrap_or_default()
}

fn top(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

fn show(module: &str) -> &str {
    if module.is_empty() {
        "crate"
    } else {
        module
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn module_of(root: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") || parts == ["lib"] {
        parts.pop();
    }
    parts.join("::")
}

/// A path found in a file: where it was written (file module plus the inline
/// modules around it), its segments, and whether it is a `use`.
struct Found {
    scope: Vec<String>,
    path: Vec<String>,
    bound: Option<String>,
    is_use: bool,
    top_level: bool,
}

fn scan(toks: &[Tok], children: &BTreeSet<String>) -> Vec<Found> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d > depth) {
                    inline.pop();
                }
            }
            Tok::Ident(kw) if kw == "mod" => {
                if let (Some(Tok::Ident(name)), Some(Tok::Punct('{'))) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    depth += 1;
                    inline.push((name.clone(), depth));
                    i += 3;
                    continue;
                }
            }
            Tok::Ident(kw) if kw == "use" => {
                let end = (i..toks.len())
                    .find(|&k| toks[k] == Tok::Punct(';'))
                    .unwrap_or(toks.len());
                for leaf in use_leaves(&toks[i + 1..end]) {
                    out.push(Found {
                        scope: inline.iter().map(|(n, _)| n.clone()).collect(),
                        path: leaf.path,
                        bound: leaf.name,
                        is_use: true,
                        top_level: inline.is_empty(),
                    });
                }
                i = end + 1;
                continue;
            }
            Tok::Ident(first) => {
                let after_sep = i > 0 && toks[i - 1] == Tok::PathSep;
                let relative = matches!(first.as_str(), "crate" | "super" | "self")
                    || children.contains(first);
                if !after_sep && relative && toks.get(i + 1) == Some(&Tok::PathSep) {
                    let mut path = vec![first.clone()];
                    let mut k = i + 1;
                    while toks.get(k) == Some(&Tok::PathSep) {
                        match toks.get(k + 1) {
                            Some(Tok::Ident(seg)) => {
                                path.push(seg.clone());
                                k += 2;
                            }
                            _ => break,
                        }
                    }
                    out.push(Found {
                        scope: inline.iter().map(|(n, _)| n.clone()).collect(),
                        path,
                        bound: None,
                        is_use: false,
                        top_level: inline.is_empty(),
                    });
                    i = k;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

struct Crate {
    modules: BTreeSet<Module>,
    /// Names bound by `use` at the top level of each module → absolute path.
    bindings: BTreeMap<Module, BTreeMap<String, Vec<String>>>,
}

impl Crate {
    fn children(&self, module: &str) -> BTreeSet<String> {
        self.modules
            .iter()
            .filter(|m| !m.is_empty() && parent_of(m) == module)
            .map(|m| m.rsplit("::").next().unwrap_or(m).to_string())
            .collect()
    }

    /// Makes `path`, written in `module` (inside the inline modules `scope`),
    /// absolute ("crate" first); `None` for an external crate.
    fn absolute(&self, module: &str, scope: &[String], path: &[String]) -> Option<Vec<String>> {
        let mut here: Vec<String> = module
            .split("::")
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        let file_depth = here.len();
        here.extend(scope.iter().cloned());
        let mut rest = path;
        match rest.first().map(String::as_str) {
            Some("crate") => {
                here.clear();
                rest = &rest[1..];
            }
            Some("super") | Some("self") => {
                while let Some(s) = rest.first() {
                    match s.as_str() {
                        "super" => {
                            here.pop();
                        }
                        "self" => {}
                        _ => break,
                    }
                    rest = &rest[1..];
                }
            }
            Some(first) if self.children(module).contains(first) => {
                here.truncate(file_depth);
            }
            _ => return None,
        }
        // Inline modules are part of their file.
        let mut abs = vec!["crate".to_string()];
        let mut cur = String::new();
        for seg in &here {
            let next = join(&cur, seg);
            if !self.modules.contains(&next) {
                break;
            }
            abs.push(seg.clone());
            cur = next;
        }
        abs.extend(rest.iter().cloned());
        Some(abs)
    }

    /// The module that defines what an absolute path names, following `use`
    /// bindings (re-exports) to their source.
    fn defining(&self, abs: &[String], hops: usize) -> Module {
        let mut cur = String::new();
        for (k, seg) in abs.iter().enumerate().skip(1) {
            let next = join(&cur, seg);
            if self.modules.contains(&next) {
                cur = next;
                continue;
            }
            if hops < 16 {
                if let Some(target) = self.bindings.get(&cur).and_then(|b| b.get(seg)) {
                    let mut target = target.clone();
                    target.extend(abs[k + 1..].iter().cloned());
                    return self.defining(&target, hops + 1);
                }
            }
            return cur;
        }
        cur
    }
}

struct Analysis {
    graph: BTreeMap<Module, BTreeSet<Module>>,
    offences: Vec<String>,
}

fn analyse(root: &Path) -> Analysis {
    let mut files = Vec::new();
    rust_files(root, &mut files);
    files.sort();
    let mut krate = Crate {
        modules: BTreeSet::new(),
        bindings: BTreeMap::new(),
    };
    for f in &files {
        krate.modules.insert(module_of(root, f));
    }
    let mut found = BTreeMap::new();
    for f in &files {
        let module = module_of(root, f);
        let toks = tokens(&std::fs::read_to_string(f).unwrap());
        found.insert(module.clone(), scan(&toks, &krate.children(&module)));
    }
    // Bindings first, so paths through re-exports resolve to their source.
    for (module, list) in &found {
        for x in list.iter().filter(|x| x.is_use && x.top_level) {
            if let (Some(name), Some(abs)) = (&x.bound, krate.absolute(module, &x.scope, &x.path)) {
                krate
                    .bindings
                    .entry(module.clone())
                    .or_default()
                    .insert(name.clone(), abs);
            }
        }
    }
    let rank: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    let mut offences = Vec::new();
    let mut seen = BTreeSet::new();
    for (module, list) in &found {
        if module.is_empty() {
            continue; // the crate root only declares modules and re-exports
        }
        graph.entry(module.clone()).or_default();
        if !rank.contains_key(top(module)) {
            offences.push(format!("{module}: not in the layer table"));
        }
        for x in list {
            let Some(abs) = krate.absolute(module, &x.scope, &x.path) else {
                continue;
            };
            let target = krate.defining(&abs, 0);
            let through_root = abs.len() >= 2 && !krate.modules.contains(&abs[1]);
            if through_root {
                let o = format!(
                    "{module}: `{}` goes through the crate root; name the module",
                    abs.join("::")
                );
                if seen.insert(o.clone()) {
                    offences.push(o);
                }
            }
            if target.is_empty() || target == *module {
                continue;
            }
            graph
                .entry(module.clone())
                .or_default()
                .insert(target.clone());
            if let (Some(from), Some(to)) = (rank.get(top(module)), rank.get(top(&target))) {
                if to > from {
                    let o = format!(
                        "{module} (layer {from}) imports {target} (layer {to}): `{}`",
                        abs.join("::")
                    );
                    if seen.insert(o.clone()) {
                        offences.push(o);
                    }
                }
            }
        }
    }
    for cycle in cycles(&graph) {
        offences.push(format!("cycle: {}", cycle.join(" -> ")));
    }
    Analysis { graph, offences }
}

/// Every strongly connected component with more than one module, as one
/// line per distinct shortest cycle through each of its modules.
fn cycles(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Vec<Vec<Module>> {
    let reach = |from: &Module| -> BTreeSet<Module> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(m) = stack.pop() {
            for n in graph.get(&m).into_iter().flatten() {
                if seen.insert(n.clone()) {
                    stack.push(n.clone());
                }
            }
        }
        seen
    };
    let reachable: BTreeMap<&Module, BTreeSet<Module>> =
        graph.keys().map(|m| (m, reach(m))).collect();
    let mut out: Vec<Vec<Module>> = Vec::new();
    let mut distinct = BTreeSet::new();
    for m in graph.keys() {
        if !reachable[m].contains(m) {
            continue;
        }
        let component: BTreeSet<Module> = reachable[m]
            .iter()
            .filter(|n| reachable.get(n).is_some_and(|r| r.contains(m)))
            .cloned()
            .collect();
        let cycle = shortest_cycle(graph, m, &component);
        let members: BTreeSet<Module> = cycle.iter().cloned().collect();
        if distinct.insert(members) {
            out.push(cycle);
        }
    }
    out
}

/// The shortest path from `start` back to itself inside `component`.
fn shortest_cycle(
    graph: &BTreeMap<Module, BTreeSet<Module>>,
    start: &Module,
    component: &BTreeSet<Module>,
) -> Vec<Module> {
    let mut prev: BTreeMap<Module, Module> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.clone()]);
    while let Some(m) = queue.pop_front() {
        for n in graph
            .get(&m)
            .into_iter()
            .flatten()
            .filter(|n| component.contains(*n))
        {
            if n == start {
                let mut path = vec![start.clone()];
                let mut cur = m.clone();
                while cur != *start {
                    path.push(cur.clone());
                    cur = prev[&cur].clone();
                }
                path.push(start.clone());
                let n = path.len();
                path[1..n - 1].reverse();
                return path;
            }
            if !prev.contains_key(n) {
                prev.insert(n.clone(), m.clone());
                queue.push_back(n.clone());
            }
        }
    }
    vec![start.clone()]
}

fn render(graph: &BTreeMap<Module, BTreeSet<Module>>) -> String {
    let mut text = String::new();
    for (m, to) in graph {
        let to: Vec<&str> = to.iter().map(|t| show(t)).collect();
        text.push_str(&format!(
            "{} -> {}\n",
            show(m),
            if to.is_empty() {
                "(nothing)".into()
            } else {
                to.join(", ")
            }
        ));
    }
    text
}

#[test]
fn core_modules_import_one_way() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let analysis = analyse(&root);
    println!(
        "core module graph (module -> modules it imports):\n{}",
        render(&analysis.graph)
    );
    assert!(
        analysis.offences.is_empty(),
        "{} offending import(s):\n{}",
        analysis.offences.len(),
        analysis.offences.join("\n")
    );
}

// The checker itself must be able to fail: each kind of offence, on a tiny crate.

fn fixture(name: &str, files: &[(&str, &str)]) -> Analysis {
    let dir = std::env::temp_dir().join(format!("agentauthz-layers-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    let a = analyse(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    a
}

#[test]
fn an_upward_import_is_reported() {
    let a = fixture("upward", &[
        ("lib.rs", "mod error; mod engine;"),
        ("error.rs", "// use crate::ffi::X; \"crate::ffi::Y\"\nuse crate::engine::{Engine, x::{A, B}};\n"),
        ("engine.rs", "mod x; pub struct Engine;"),
        ("engine/x.rs", "pub struct A; pub struct B;"),
    ]);
    assert!(a.graph["error"].contains("engine"), "{:?}", a.graph);
    assert!(a.graph["error"].contains("engine::x"), "{:?}", a.graph);
    assert!(
        a.offences
            .iter()
            .any(|o| o.starts_with("error (layer 0) imports engine (layer 6)")),
        "{:?}",
        a.offences
    );
    assert!(
        a.offences
            .iter()
            .any(|o| o.starts_with("error (layer 0) imports engine::x")),
        "{:?}",
        a.offences
    );
    assert!(
        !a.offences.iter().any(|o| o.contains("ffi")),
        "comments and strings are not code: {:?}",
        a.offences
    );
}

#[test]
fn an_inline_path_and_a_re_export_resolve_to_the_defining_module() {
    let a = fixture(
        "reexport",
        &[
            ("lib.rs", "mod time; mod bundle; mod engine;"),
            (
                "time.rs",
                "fn f() { let c = crate::bundle::Config::parse(\"\"); }",
            ),
            ("bundle.rs", "pub use crate::engine::Config;"),
            ("engine.rs", "pub struct Config;"),
        ],
    );
    assert_eq!(
        a.graph["time"],
        BTreeSet::from(["engine".to_string()]),
        "{:?}",
        a.graph
    );
    assert!(
        a.offences
            .iter()
            .any(|o| o.starts_with("time (layer 1) imports engine")),
        "{:?}",
        a.offences
    );
}

#[test]
fn a_cycle_between_siblings_is_reported() {
    let a = fixture(
        "siblings",
        &[
            ("lib.rs", "mod engine;"),
            ("engine.rs", "mod request; mod snapshot;"),
            (
                "engine/request.rs",
                "use super::snapshot::Snapshot; pub struct Req;",
            ),
            (
                "engine/snapshot.rs",
                "pub struct Snapshot; fn f(_: super::request::Req) {}",
            ),
        ],
    );
    assert!(
        a.offences
            .iter()
            .any(|o| o.contains("cycle: engine::request -> engine::snapshot -> engine::request")),
        "{:?}",
        a.offences
    );
}

#[test]
fn a_crate_root_path_is_reported() {
    let a = fixture(
        "root",
        &[
            (
                "lib.rs",
                "mod engine; mod posture; pub use engine::Engine; pub const VERSION: &str = \"1\";",
            ),
            ("engine.rs", "pub struct Engine;"),
            (
                "posture.rs",
                "use crate::Engine;\nfn v() -> &'static str { crate::VERSION }",
            ),
        ],
    );
    assert!(a.graph["posture"].contains("engine"), "{:?}", a.graph);
    assert!(
        a.offences
            .iter()
            .any(|o| o.contains("`crate::Engine` goes through the crate root")),
        "{:?}",
        a.offences
    );
    assert!(
        a.offences
            .iter()
            .any(|o| o.contains("`crate::VERSION` goes through the crate root")),
        "{:?}",
        a.offences
    );
}

// Bindings are adapters: JSON text goes to the core's text layer (one parser,
// one error code per entry), never through a parser of the binding's own.

#[test]
fn the_node_and_wasm_bindings_parse_no_json_themselves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for file in ["bindings-node/src/lib.rs", "bindings-wasm/src/lib.rs"] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        for parser in [
            "serde_json::from_str",
            "serde_json::from_slice",
            "serde_json::from_reader",
        ] {
            assert!(
                !text.contains(parser),
                "{file} parses JSON itself ({parser})"
            );
        }
    }
}

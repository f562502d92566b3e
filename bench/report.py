"""The table of `make bench`: reads the drivers' JSON results, checks that every
implementation gave the same decisions, prints the table and writes bench/RESULTS.md.

    python3 report.py --results DIR --workloads DIR --sizes s200,s1k,s10k [--markdown RESULTS.md]

Standard library only. Exits 1 when two implementations disagree on a decision,
or when a driver's result is missing for an implementation that was expected.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

# Row order; "family" names the agentauthz surface a peer is compared with.
IMPLS = [
    ("agentauthz-rust", "agentauthz"),
    ("agentauthz-rust-json", "agentauthz"),
    ("cedar-rust", "peer"),
    ("agentauthz-python", "agentauthz"),
    ("agentauthz-python-batch", "agentauthz"),
    ("cedarpy", "peer"),
    ("cedarpy-batch", "peer"),
    ("agentauthz-node", "agentauthz"),
    ("agentauthz-wasm", "agentauthz"),
    ("cedar-wasm", "peer"),
]
BATCH = {"agentauthz-python-batch", "cedarpy-batch"}


def fmt_ns(ns: float) -> str:
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.1f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns:.0f} ns"


def fmt_rate(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 1:
        return f"{x:.1f}"
    return f"{x:.2f}"


def fmt_ratio(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}×"
    if x >= 10:
        return f"{x:.1f}×"
    return f"{x:.2f}×"


def sh(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return ""


def machine() -> dict[str, str]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                kb = int(line.split()[1])
                mem = f"{kb / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "nproc": str(os.cpu_count() or "?"),
        "cpu": cpu or platform.processor() or "?",
        "memory": mem or "?",
        "kernel": platform.release(),
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "rustc": sh(["rustc", "--version"]),
        "node": sh(["node", "--version"]),
        "python": platform.python_version(),
        "revision": " ".join(
            x
            for x in (
                sh(["git", "rev-parse", "--short", "HEAD"]),
                "(uncommitted changes)" if sh(["git", "status", "--porcelain", "--untracked-files=no"]) else "",
            )
            if x
        ),
    }


def load(results: Path, size: str) -> dict[str, dict[str, Any]]:
    out = {}
    for impl, _ in IMPLS:
        path = results / size / f"{impl}.json"
        if path.is_file():
            out[impl] = json.loads(path.read_text())
    return out


def compare(rows: dict[str, dict[str, Any]]) -> tuple[str, dict[str, str], bool]:
    """Every implementation against the one that decided the most requests."""
    if not rows:
        return "", {}, True
    ref_name = max(rows, key=lambda k: (len(rows[k]["decisions"]), k == "agentauthz-rust"))
    ref = rows[ref_name]["decisions"]
    notes = {}
    ok = True
    for name, r in rows.items():
        mine = r["decisions"]
        n = min(len(mine), len(ref))
        diffs = [i for i in range(n) if mine[i] != ref[i]]
        if diffs:
            ok = False
            i = diffs[0]
            notes[name] = f"**{len(diffs)} differ** (first: request {i}: {mine[i]} vs {ref[i]})"
        else:
            notes[name] = f"{n}/{len(ref)} same"
        if r.get("errors"):
            notes[name] += f", {r['errors']} errors"
    return ref_name, notes, ok


def allow_ratio(decisions: list[str]) -> tuple[int, int]:
    allow = sum(1 for d in decisions if d.startswith("allow|"))
    return allow, len(decisions) - allow


def size_table(size: str, rows: dict[str, dict[str, Any]], notes: dict[str, str]) -> list[str]:
    base = rows.get("agentauthz-rust")
    lines = [
        "| implementation | p50 | p99 | decisions/s | p50 vs agentauthz Rust | decisions checked | setup |",
        "|---|---:|---:|---:|---:|---|---:|",
    ]
    for impl, _ in IMPLS:
        r = rows.get(impl)
        if r is None:
            continue
        ratio = fmt_ratio(r["p50_ns"] / base["p50_ns"]) if base and base["p50_ns"] else "—"
        p50 = fmt_ns(r["p50_ns"]) + (" ¹" if impl in BATCH else "")
        lines.append(
            f"| {r['label']} | {p50} | {fmt_ns(r['p99_ns'])} | {fmt_rate(r['per_sec'])} | {ratio} "
            f"| {notes.get(impl, '')} | {fmt_ns(r['setup_ms'] * 1e6)} |"
        )
    return lines


def target_lines(all_rows: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    lines = [
        "| target | workload | agentauthz | peer | ratio (p50) | ratio (decisions/s) | met |",
        "|---|---|---:|---:|---:|---:|---|",
    ]

    def pair(label: str, size: str, ours: list[str], theirs: list[str], want: float) -> None:
        rows = all_rows.get(size, {})
        a = [rows[x] for x in ours if x in rows]
        b = [rows[x] for x in theirs if x in rows]
        if not a or not b:
            return
        best_a = min(a, key=lambda r: r["p50_ns"])
        best_b = min(b, key=lambda r: r["p50_ns"])
        ratio = best_b["p50_ns"] / best_a["p50_ns"] if best_a["p50_ns"] else 0
        rate_a = max(r["per_sec"] for r in a)
        rate_b = max(r["per_sec"] for r in b)
        rate_ratio = rate_a / rate_b if rate_b else 0
        met = "yes" if ratio >= want else f"**no** ({ratio / want:.0%} of {want:g}×)"
        lines.append(
            f"| {label} ≥ {want:g}× | {size} | {fmt_ns(best_a['p50_ns'])} ({best_a['impl']}) "
            f"| {fmt_ns(best_b['p50_ns'])} ({best_b['impl']}) | {fmt_ratio(ratio)} | {fmt_ratio(rate_ratio)} | {met} |"
        )

    for size in all_rows:
        pair("Rust vs raw cedar-policy", size, ["agentauthz-rust"], ["cedar-rust"], 10)
    for size in all_rows:
        pair(
            "Python vs cedarpy (fastest API)",
            size,
            ["agentauthz-python", "agentauthz-python-batch"],
            ["cedarpy", "cedarpy-batch"],
            15,
        )
    for size in all_rows:
        pair("Node vs cedar-wasm stateful", size, ["agentauthz-node"], ["cedar-wasm"], 1000)
        pair("WASM vs cedar-wasm stateful", size, ["agentauthz-wasm"], ["cedar-wasm"], 1000)
    big = all_rows.get("s10k", {}).get("agentauthz-rust")
    if big:
        met = "yes" if big["p50_ns"] <= 50_000 else f"**no** ({big['p50_ns'] / 50_000:.1f}× the target)"
        lines.append(f"| Rust p50 ≤ 50 µs | s10k | {fmt_ns(big['p50_ns'])} | — | — | — | {met} |")
    return lines


def memory_lines(results: Path, sizes: list[str], workloads: Path) -> list[str]:
    lines = [
        (
            "| workload | policies | entities | load (median) | heap of loaded engine | RSS of loaded engine | "
            "heap per 1,000 policies | heap per 10,000 entities | peak RSS while loading |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    any_row = False
    for size in sizes:
        mem = {}
        for variant in ("full", "policies", "entities", "empty"):
            path = results / size / f"mem-{variant}.json"
            if path.is_file():
                mem[variant] = json.loads(path.read_text())
        if "full" not in mem:
            continue
        meta = json.loads((workloads / size / "workload.json").read_text())
        n_pol = meta["policies"]["total"]
        n_ent = meta["entities"]["total"]
        per_pol = per_ent = "—"
        if "empty" in mem and "policies" in mem:
            d = mem["policies"]["heap_bytes"] - mem["empty"]["heap_bytes"]
            per_pol = f"{d / (meta['policies']['app'] / 1000) / 2**20:.2f} MiB"
        if "empty" in mem and "entities" in mem:
            d = mem["entities"]["heap_bytes"] - mem["empty"]["heap_bytes"]
            per_ent = f"{d / (n_ent / 10000) / 2**20:.2f} MiB"
        full = mem["full"]
        lines.append(
            f"| {size} | {n_pol:,} | {n_ent:,} | {fmt_ns(full['load_ms'] * 1e6)} | {full['heap_bytes'] / 2**20:.1f} MiB "
            f"| {full['rss_delta_kb'] / 1024:.1f} MiB | {per_pol} | {per_ent} | {full['peak_rss_kb'] / 1024:.0f} MiB |"
        )
        any_row = True
    return lines if any_row else []


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--results", type=Path, required=True)
    p.add_argument("--workloads", type=Path, required=True)
    p.add_argument("--sizes", default="s200,s1k,s10k")
    p.add_argument("--expect", default="", help="comma-separated implementations that must have results")
    p.add_argument("--markdown", type=Path)
    p.add_argument("--started", default="")
    args = p.parse_args(argv)
    sizes = [s for s in args.sizes.split(",") if s]
    expected = [x for x in args.expect.split(",") if x]

    all_rows: dict[str, dict[str, dict[str, Any]]] = {}
    out: list[str] = []
    ok = True
    missing: list[str] = []
    for size in sizes:
        rows = load(args.results, size)
        for impl in expected:
            if impl not in rows:
                missing.append(f"{size}/{impl}")
        all_rows[size] = rows
        meta = json.loads((args.workloads / size / "workload.json").read_text())
        ref_name, notes, same = compare(rows)
        ok = ok and same
        allow, deny = allow_ratio(rows[ref_name]["decisions"]) if ref_name else (0, 0)
        total = max(allow + deny, 1)
        out.append(
            f"### {size}: {meta['policies']['total']:,} policies ({meta['policies']['app']:,} app + "
            f"{meta['policies']['baseline']} baseline; {meta['policies']['permit']:,} permit, "
            f"{meta['policies']['forbid']:,} forbid), {meta['entities']['total']:,} entities, "
            f"{meta['requests']:,} requests"
        )
        out.append("")
        out.append(
            f"Decisions of {ref_name}: {allow} allow / {deny} deny ({allow / total:.0%} allowed). "
            f"Same decisions everywhere: **{'yes' if same else 'NO'}**."
        )
        out.append("")
        out.extend(size_table(size, rows, notes))
        out.append("")

    targets = target_lines(all_rows)
    memory = memory_lines(args.results, sizes, args.workloads)
    m = machine()
    started = args.started or datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    doc = [
        "# Benchmark results",
        "",
        "Written by `make bench` (bench/report.py); every number below comes from one run on one machine,",
        "every implementation on the same generated workload and the same requests, in the same order.",
        "These machines vary by up to ±60% between runs, so compare ratios within this run, not with other runs.",
        "",
        "## Machine",
        "",
        f"- started: {started}",
        f"- nproc: {m['nproc']}; CPU: {m['cpu']}; memory: {m['memory']}; kernel {m['kernel']}",
        f"- load average at report time (1, 5, 15 min): {m['load average']}",
        f"- {m['rustc']}; node {m['node']}; python {m['python']}; revision {m['revision'] or '?'}",
        "",
        "## Targets (issue 7, DESIGN.md §7)",
        "",
        *targets,
        "",
        "## Per workload",
        "",
        "p50/p99 are per decision, timed call by call around the public API with the request already",
        "built in the host language (agent form for agentauthz, Cedar form for the peers); decisions/s is",
        "calls divided by the summed call times. ¹ batch rows: one sample per chunk (chunk time / chunk",
        'size), so their p50/p99 are over chunk means. "decisions checked": the requests whose decision',
        "and reasons (policy ids, sorted) matched the implementation that decided the most; a slow peer",
        'only gets through the first requests within its time budget. "setup": loading the bundle',
        "(agentauthz) or pre-parsing policies, schema and entities (peers).",
        "",
        *out,
    ]
    if memory:
        doc += [
            "## Load time and memory of a loaded engine",
            "",
            "`agentauthz-bench-mem` in a fresh process per line: heap is counted by a wrapping global allocator",
            "(bytes still allocated once the engine is built, bundle texts it keeps included); RSS is the growth",
            "of VmRSS over the load. Per 1,000 policies: (policies only − empty) / thousands of app policies;",
            'per 10,000 entities: (entities only − empty) / tens of thousands of entities, where "policies only"',
            'drops the inventory, "entities only" replaces the policies by one, and "empty" does both.',
            "",
            *memory,
            "",
        ]
    doc += [
        "## How to reproduce",
        "",
        "```",
        "make bench                      # every size; SIZES=s200 SECONDS=2 make bench for a quick one",
        "make -C bench criterion         # Criterion: Engine::check vs Authorizer, bundle load",
        "```",
        "",
        "Workload and methods: bench/README.md.",
        "",
    ]
    text = "\n".join(doc)
    print("\n".join([*targets, "", *out, *memory]))
    if args.markdown:
        args.markdown.write_text(text)
        print(f"\nwritten to {args.markdown}")
    if missing:
        print(f"missing results: {', '.join(missing)}", file=sys.stderr)
    if not ok:
        print("DECISIONS DIFFER between implementations (see the tables)", file=sys.stderr)
    return 0 if ok and not missing else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

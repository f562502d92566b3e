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
# Every agentauthz surface also runs the same requests in the Cedar form, with
# `__extn`/`__entity` escapes ("-cedar") and with plain strings ("-cedar-plain").
FORMS = ["", "-cedar", "-cedar-plain"]
IMPLS = [
    *[(f"agentauthz-rust{f}", "agentauthz") for f in FORMS],
    *[(f"agentauthz-rust-json{f}", "agentauthz") for f in FORMS],
    ("cedar-rust", "peer"),
    *[(f"agentauthz-python{f}", "agentauthz") for f in FORMS],
    ("agentauthz-python-batch", "agentauthz"),
    ("cedarpy", "peer"),
    ("cedarpy-batch", "peer"),
    *[(f"agentauthz-node{f}", "agentauthz") for f in FORMS],
    *[(f"agentauthz-wasm{f}", "agentauthz") for f in FORMS],
    ("cedar-wasm", "peer"),
]
BATCH = {"agentauthz-python-batch", "cedarpy-batch"}
COSTS = [
    "agentauthz-rust-failclosed",
    "agentauthz-rust-log",
    "agentauthz-rust-limits",
    "agentauthz-rust-session",
    "agentauthz-rust-threads",
    "agentauthz-python-threads",
    "agentauthz-node-threads",
    "agentauthz-rust-lifecycle",
]


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


def load(results: Path, size: str, names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    out = {}
    for impl in names if names is not None else [i for i, _ in IMPLS]:
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


def size_table(
    size: str, rows: dict[str, dict[str, Any]], notes: dict[str, str], base_name: str = "agentauthz-rust"
) -> list[str]:
    base = rows.get(base_name)
    lines = [
        f"| implementation | p50 | p99 | decisions/s | p50 vs {base_name} | decisions checked | setup |",
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


def met(ok: bool, how: str) -> str:
    return "yes" if ok else f"**no** ({how})"


def memory_of(results: Path, size: str, workloads: Path) -> dict[str, Any] | None:
    """Load time, heap of the full engine and heap per 10,000 entities of one size."""
    mem = {}
    for variant in ("full", "entities", "empty"):
        path = results / size / f"mem-{variant}.json"
        if path.is_file():
            mem[variant] = json.loads(path.read_text())
    if "full" not in mem:
        return None
    meta = json.loads((workloads / size / "workload.json").read_text())
    per_ent = None
    if "entities" in mem and "empty" in mem:
        d = mem["entities"]["heap_bytes"] - mem["empty"]["heap_bytes"]
        per_ent = d / (meta["entities"]["total"] / 10000) / 2**20
    return {"load_ms": mem["full"]["load_ms"], "per_10k_mib": per_ent, "entities": meta["entities"]["total"]}


def variant_rows(doc: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {v["impl"]: v for v in (doc or {}).get("variants", [])}


def check_costs(size: str, main_ref: list[str], costs: dict[str, dict[str, Any]]) -> tuple[list[str], bool]:
    """Cross-checks of the cost drivers: the session and agent-id checks decide
    alike; with on_error = "skip" the workload with forbids that can error
    decides as without them; with "deny" it differs only by denying with an
    erroring forbid among the reasons, on at least one request."""
    notes = []
    ok = True
    fc = variant_rows(costs.get("agentauthz-rust-failclosed"))
    if "on-error-skip" in fc and "on-error-deny" in fc:
        skip, deny = fc["on-error-skip"]["decisions"], fc["on-error-deny"]["decisions"]
        n = min(len(skip), len(main_ref))
        bad_skip = sum(1 for i in range(n) if skip[i] != main_ref[i])
        flipped = [i for i in range(min(len(skip), len(deny))) if skip[i] != deny[i]]
        bad_deny = [i for i in flipped if not (deny[i].startswith("deny|") and "fallible/" in deny[i])]
        good = bad_skip == 0 and not bad_deny and flipped
        ok = ok and bool(good)
        notes.append(
            f"fail-closed: on_error = \"skip\" decides as the workload without the fallible forbids on "
            f"{n - bad_skip}/{n} requests; \"deny\" denies {len(flipped)} more with an erroring forbid "
            f"({len(bad_deny)} other differences): **{'yes' if good else 'NO'}**"
        )
    ss = variant_rows(costs.get("agentauthz-rust-session"))
    if "agent-id" in ss and "session" in ss:
        a, b = ss["agent-id"]["decisions"], ss["session"]["decisions"]
        n = min(len(a), len(b))
        diff = sum(1 for i in range(n) if a[i] != b[i])
        ok = ok and diff == 0 and n > 0
        extra = costs["agentauthz-rust-session"].get("extra", {})
        notes.append(
            f"sessions: the token and the agent id decide alike on {n - diff}/{n} requests "
            f"({extra.get('left_out', 0)} left out: agents that may not hold a token): "
            f"**{'yes' if diff == 0 and n else 'NO'}**"
        )
    lg = variant_rows(costs.get("agentauthz-rust-log"))
    if lg:
        names = list(lg)
        base = lg[names[0]]["decisions"]
        diff = sum(1 for v in names[1:] for i in range(min(len(base), len(lg[v]["decisions"]))) if lg[v]["decisions"][i] != base[i])
        ok = ok and diff == 0
        notes.append(f"decision log: the same decisions with and without a log: **{'yes' if diff == 0 else 'NO'}**")
    lm = variant_rows(costs.get("agentauthz-rust-limits"))
    if {"limits-none", "limits-usage-approval"} <= set(lm):
        a, b = lm["limits-none"]["decisions"], lm["limits-usage-approval"]["decisions"]
        others = [lm[v]["decisions"] for v in lm if v not in ("limits-none", "limits-usage-approval")]
        diff = sum(1 for c in [b, *others] for i in range(min(len(a), len(c))) if a[i] != c[i])
        ok = ok and diff == 0 and a == main_ref[: len(a)]
        notes.append(f"limits: forbids that never hold change no decision, with or without usage counters: **{'yes' if diff == 0 and a == main_ref[: len(a)] else 'NO'}**")
    return notes, ok


def cost_lines(size: str, costs: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "| variant | p50 | p99 | mean | calls | cost over the first variant (p50) | (mean) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    any_row = False
    for name in ("agentauthz-rust-session", "agentauthz-rust-failclosed", "agentauthz-rust-log", "agentauthz-rust-limits"):
        rows = list(variant_rows(costs.get(name)).values())
        for r in rows:
            any_row = True
            d50 = r["p50_ns"] - rows[0]["p50_ns"]
            dmean = r["mean_ns"] - rows[0]["mean_ns"]
            lines.append(
                f"| {r['label']} | {fmt_ns(r['p50_ns'])} | {fmt_ns(r['p99_ns'])} | {fmt_ns(r['mean_ns'])} | {r['calls']:,} "
                f"| {'—' if r is rows[0] else ('+' if d50 >= 0 else '−') + fmt_ns(abs(d50))} "
                f"| {'—' if r is rows[0] else ('+' if dmean >= 0 else '−') + fmt_ns(abs(dmean))} |"
            )
    if not any_row:
        lines = []
    threads = [costs[n] for n in COSTS if n.endswith("-threads") and n in costs]
    if threads:
        lines += ["", "| threads | 1 thread, decisions/s | 2 threads, decisions/s | ratio |", "|---|---:|---:|---:|"]
        for t in threads:
            by = {r["threads"]: r for r in t["results"]}
            if 1 in by and 2 in by and by[1]["per_sec"]:
                lines.append(
                    f"| {t['label']} | {fmt_rate(by[1]['per_sec'])} | {fmt_rate(by[2]['per_sec'])} "
                    f"| {fmt_ratio(by[2]['per_sec'] / by[1]['per_sec'])} |"
                )
    lc = costs.get("agentauthz-rust-lifecycle")
    if lc:
        lines += [
            "",
            f"Run-time changes on the loaded workload ({lc['entities']:,} entities), each call timed:",
            "",
            "| change | p50 | p99 | calls | errors |",
            "|---|---:|---:|---:|---:|",
        ]
        for o in lc["ops"]:
            lines.append(f"| {o['impl']} | {fmt_ns(o['p50_ns'])} | {fmt_ns(o['p99_ns'])} | {o['calls']} | {o['errors']} |")
    return lines


def fleet_of(results: Path) -> dict[str, Any]:
    """The offboarding propagation figures (`make -C bench fleet`), or why there are none."""
    path = results / "fleet-propagation.json"
    if not path.is_file():
        return {"skipped": "not measured (`make -C bench fleet` did not run)"}
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def exporter_of(results: Path) -> dict[str, Any] | None:
    """The exporter load test (`make -C bench exporter`), when it ran."""
    path = results / "exporter.json"
    if not path.is_file():
        return None
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def target2_lines(
    all_rows: dict[str, dict[str, dict[str, Any]]],
    humans: dict[str, dict[str, dict[str, Any]]],
    costs: dict[str, dict[str, dict[str, Any]]],
    memory: dict[str, dict[str, Any]],
    fleet: dict[str, Any] | None = None,
    exporter: dict[str, Any] | None = None,
) -> list[str]:
    lines = [
        "| target | workload | measured | reference | ratio or figure | met |",
        "|---|---|---:|---:|---:|---|",
    ]

    def add(target: str, size: str, measured: str, reference: str, figure: str, ok: bool, how: str) -> None:
        lines.append(f"| {target} | {size} | {measured} | {reference} | {figure} | {met(ok, how)} |")

    def faster(label: str, size: str, rows: dict[str, dict[str, Any]], ours: list[str], theirs: list[str], want: float) -> None:
        a = [rows[x] for x in ours if x in rows]
        b = [rows[x] for x in theirs if x in rows]
        if not a or not b:
            return
        best_a = min(a, key=lambda r: r["p50_ns"])
        best_b = min(b, key=lambda r: r["p50_ns"])
        ratio = best_b["p50_ns"] / best_a["p50_ns"] if best_a["p50_ns"] else 0
        add(
            f"{label} ≥ {want:g}×",
            size,
            f"{fmt_ns(best_a['p50_ns'])} ({best_a['impl']})",
            f"{fmt_ns(best_b['p50_ns'])} ({best_b['impl']})",
            fmt_ratio(ratio),
            ratio >= want,
            f"{ratio / want:.0%} of {want:g}×",
        )

    def at_most(
        label: str, size: str, value: float, limit: float, unit: str, measured: str = "", reference: str = "—"
    ) -> None:
        add(
            f"{label} ≤ {fmt_value(limit, unit)}",
            size,
            measured or fmt_value(value, unit),
            reference,
            fmt_value(value, unit),
            value <= limit,
            f"{value / limit:.2f}× the target",
        )

    for size, rows in all_rows.items():
        for surface in ("agentauthz-rust", "agentauthz-rust-json", "agentauthz-python", "agentauthz-node", "agentauthz-wasm"):
            agent = rows.get(surface)
            for form, what in (("-cedar", "__extn"), ("-cedar-plain", "plain strings")):
                cedar = rows.get(surface + form)
                if agent and cedar and agent["p50_ns"]:
                    ratio = cedar["p50_ns"] / agent["p50_ns"]
                    add(
                        f"Cedar form ({what}) p50 ≤ 1.25× agent form: {surface}",
                        size,
                        fmt_ns(cedar["p50_ns"]),
                        fmt_ns(agent["p50_ns"]),
                        fmt_ratio(ratio),
                        ratio <= 1.25,
                        f"{ratio / 1.25:.2f}× the target",
                    )
    for size, rows in all_rows.items():
        faster("Rust vs raw cedar-policy", size, rows, ["agentauthz-rust"], ["cedar-rust"], 25)
    if "agentauthz-rust" in all_rows.get("s10k", {}):
        r = all_rows["s10k"]["agentauthz-rust"]
        at_most("Rust p50", "s10k", r["p50_ns"], 20_000, "ns")
    if "agentauthz-rust" in all_rows.get("s200", {}):
        r = all_rows["s200"]["agentauthz-rust"]
        at_most("stretch: Rust p50", "s200", r["p50_ns"], 3_000, "ns")
    peers = ["cedarpy", "cedarpy-batch"]
    for size, rows in all_rows.items():
        faster("Python agent form vs cedarpy (fastest API)", size, rows, ["agentauthz-python", "agentauthz-python-batch"], peers, 30)
        faster("Python Cedar form (__extn) vs cedarpy (fastest API)", size, rows, ["agentauthz-python-cedar"], peers, 30)
    for size, rows in humans.items():
        faster("Python, cedarpy-style workload, vs cedarpy (fastest API)", f"{size}/humans", rows, ["agentauthz-python-cedar"], peers, 30)
    for size, rows in all_rows.items():
        faster("Node vs cedar-wasm stateful", size, rows, ["agentauthz-node"], ["cedar-wasm"], 1000)
        faster("WASM vs cedar-wasm stateful", size, rows, ["agentauthz-wasm"], ["cedar-wasm"], 1000)
    for size, c in costs.items():
        ss = variant_rows(c.get("agentauthz-rust-session"))
        if "agent-id" in ss and "session" in ss and ss["agent-id"]["p50_ns"]:
            ratio = ss["session"]["p50_ns"] / ss["agent-id"]["p50_ns"]
            add("Session check p50 ≤ 1.5× agent-id check", size, fmt_ns(ss["session"]["p50_ns"]), fmt_ns(ss["agent-id"]["p50_ns"]), fmt_ratio(ratio), ratio <= 1.5, f"{ratio / 1.5:.2f}× the target")
    for size, m in memory.items():
        if m["per_10k_mib"] is not None:
            at_most("Heap per 10,000 entities", size, m["per_10k_mib"], 15, "MiB")
    if "s10k" in memory:
        at_most("Bundle load (median of 3)", "s10k", memory["s10k"]["load_ms"], 2000, "ms")
    for size, c in costs.items():
        for name in ("agentauthz-rust-threads", "agentauthz-python-threads", "agentauthz-node-threads"):
            t = c.get(name)
            by = {r["threads"]: r for r in (t or {}).get("results", [])}
            if 1 in by and 2 in by and by[1]["per_sec"]:
                ratio = by[2]["per_sec"] / by[1]["per_sec"]
                add(
                    f"2 threads ≥ 1.8× one thread: {name.removesuffix('-threads')}",
                    size,
                    f"{fmt_rate(by[2]['per_sec'])}/s",
                    f"{fmt_rate(by[1]['per_sec'])}/s",
                    fmt_ratio(ratio),
                    ratio >= 1.8,
                    f"{ratio / 1.8:.0%} of 1.8×",
                )
    for size, c in costs.items():
        fc = variant_rows(c.get("agentauthz-rust-failclosed"))
        if "on-error-skip" in fc and "on-error-deny" in fc:
            d = fc["on-error-deny"]["p50_ns"] - fc["on-error-skip"]["p50_ns"]
            at_most("Fail-closed cost per check (p50, deny − skip)", size, d, 500, "ns", fmt_ns(fc["on-error-deny"]["p50_ns"]), fmt_ns(fc["on-error-skip"]["p50_ns"]))
        lg = variant_rows(c.get("agentauthz-rust-log"))
        if {"log-none", "log-file", "log-file-mac"} <= set(lg):
            d = lg["log-file"]["p50_ns"] - lg["log-none"]["p50_ns"]
            at_most("Decision log to a file, per decision (p50, file − none)", size, d, 2000, "ns", fmt_ns(lg["log-file"]["p50_ns"]), fmt_ns(lg["log-none"]["p50_ns"]))
            d = lg["log-file-mac"]["p50_ns"] - lg["log-file"]["p50_ns"]
            at_most("MAC per logged decision (p50, keyed − unkeyed log)", size, d, 2000, "ns", fmt_ns(lg["log-file-mac"]["p50_ns"]), fmt_ns(lg["log-file"]["p50_ns"]))
        for variant, what in (("log-otlp", "durable spool"), ("log-otlp-buffered", "durable = false")):
            if {"log-none", variant} <= set(lg):
                d = lg[variant]["p50_ns"] - lg["log-none"]["p50_ns"]
                at_most(f"[log.otlp] per decision, {what} (p50, exporter − none)", size, d, 2000, "ns", fmt_ns(lg[variant]["p50_ns"]), fmt_ns(lg["log-none"]["p50_ns"]))
    for size, c in costs.items():
        lm = variant_rows(c.get("agentauthz-rust-limits"))
        for base, what in (("limits-absent", "counted − no limits"), ("limits-none", "counted − forbids reading nothing")):
            if {base, "limits-usage-approval"} <= set(lm):
                d = lm["limits-usage-approval"]["p50_ns"] - lm[base]["p50_ns"]
                at_most(f"Usage counters and approval lookups per check (p50, {what})", size, d, 1000, "ns", fmt_ns(lm["limits-usage-approval"]["p50_ns"]), fmt_ns(lm[base]["p50_ns"]))
    for size, c in costs.items():
        lc = c.get("agentauthz-rust-lifecycle")
        if lc and lc["entities"] >= 50_000:
            for o in lc["ops"]:
                at_most(f"Change `{o['impl']}` p50", f"{size} ({lc['entities']:,} entities)", o["p50_ns"], 5e6, "ns")
    if fleet is not None:
        target = "Offboarding propagation p99 ≤ 1 s (process A offboards → process B denies, PostgreSQL)"
        if "skipped" in fleet:
            print(f"!!!!!!!! fleet propagation SKIPPED: {fleet['skipped']} !!!!!!!!", file=sys.stderr)
            lines.append(f"| {target} | fleet | — | — | — | **skipped**: {fleet['skipped']} |")
        else:
            p99 = fleet["p99_ms"] * 1e6
            add(
                target,
                f"fleet ({fleet['samples']} samples)",
                f"p99 {fmt_ns(p99)}",
                f"p50 {fmt_ns(fleet['p50_ms'] * 1e6)}",
                fmt_ns(p99),
                p99 <= 1e9,
                f"{p99 / 1e9:.2f}× the target",
            )
    if exporter is not None:
        e = exporter
        exact = e["drained"] and e["received"] == e["decisions"] and e["gaps"] == 0 and e["duplicates_or_reordered"] == 0
        add(
            f"Exporter load: {e['offered_per_sec']:,} decisions/s offered for {e['seconds']:.0f} s → OTLP receiver, every record once and in order, spool bounded",
            "own bundle",
            f"{e['received']:,} of {e['decisions']:,} received in {e['delivered_after_s']:.1f} s "
            f"({fmt_rate(e['delivered_per_sec'])}/s delivered, {fmt_rate(e['achieved_per_sec'])}/s made), "
            f"{e['gaps']} gaps, {e['duplicates_or_reordered']} duplicates, {e['dropped']} dropped",
            f"spool peak {e['spool_peak_bytes'] / 2**20:.0f} MiB of {e['spool_max_bytes'] / 2**20:.0f} MiB",
            f"{e['achieved_per_sec'] / e['offered_per_sec']:.0%} of the offered rate",
            exact and e["spool_peak_bytes"] <= e["spool_max_bytes"] and e["achieved_per_sec"] >= 0.95 * e["offered_per_sec"],
            "; ".join(
                why
                for why, bad in (
                    ("records lost, repeated or out of order", not exact),
                    ("spool over its bound", e["spool_peak_bytes"] > e["spool_max_bytes"]),
                    (f"decisions made at {e['achieved_per_sec'] / e['offered_per_sec']:.0%} of the offered rate", e["achieved_per_sec"] < 0.95 * e["offered_per_sec"]),
                )
                if bad
            ),
        )
    return lines


def fmt_value(x: float, unit: str) -> str:
    if unit == "ns":
        return fmt_ns(x) if x >= 0 else "−" + fmt_ns(-x)
    if unit == "ms":
        return fmt_ns(x * 1e6)
    return f"{x:.2f} {unit}" if x < 100 else f"{x:,.0f} {unit}"


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
            if "/" not in impl and impl not in rows:
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

    humans: dict[str, dict[str, dict[str, Any]]] = {}
    costs: dict[str, dict[str, dict[str, Any]]] = {}
    out2: list[str] = []
    for size in sizes:
        for impl in expected:
            if "/" in impl and not (args.results / size / f"{impl}.json").is_file():
                missing.append(f"{size}/{impl}")
        hrows = load(args.results / size, "humans")
        crows = load(args.results / size, "costs", COSTS)
        if hrows:
            humans[size] = hrows
            meta = json.loads((args.workloads / size / "humans" / "workload.json").read_text())
            ref_name, notes, same = compare(hrows)
            ok = ok and same
            allow, deny = allow_ratio(hrows[ref_name]["decisions"]) if ref_name else (0, 0)
            total = max(allow + deny, 1)
            out2 += [
                (
                    f"### {size}/humans: {meta['policies']['total']:,} policies ({meta['policies']['app']:,} app + "
                    f"{meta['policies']['baseline']} baseline; {meta['policies']['permit']:,} permit, "
                    f"{meta['policies']['forbid']:,} forbid), {meta['entities']['total']:,} entities, "
                    f"{meta['requests']:,} requests, Cedar form only"
                ),
                "",
                (
                    f"Decisions of {ref_name}: {allow} allow / {deny} deny ({allow / total:.0%} allowed). "
                    f"Same decisions everywhere: **{'yes' if same else 'NO'}**."
                ),
                "",
                *size_table(size, hrows, notes, "agentauthz-rust-cedar"),
                "",
            ]
        if crows:
            costs[size] = crows
            main_ref = all_rows.get(size, {}).get("agentauthz-rust", {}).get("decisions", [])
            notes, same = check_costs(size, main_ref, crows)
            ok = ok and same
            out2 += [f"### {size}: what features cost", "", *[f"- {n}" for n in notes], "", *cost_lines(size, crows), ""]
    mem_by_size = {s: m for s in sizes if (m := memory_of(args.results, s, args.workloads))}
    targets2 = target2_lines(all_rows, humans, costs, mem_by_size, fleet_of(args.results), exporter_of(args.results))

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
        "## Targets, second step (issue 24)",
        "",
        "Cedar form: the same requests as the agent form; cost rows: variants of one engine timed",
        "call by call, interleaved on the same requests (see bench/README.md, \"What features cost\").",
        "",
        *targets2,
        "",
        "## Targets, first step (issue 7, DESIGN.md §7)",
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
        "## The cedarpy-style workload and what features cost",
        "",
        "humans/: an app in its own namespace with employee and bot principals, every request in the",
        "Cedar form with a five-field context (`ip`, `decimal`, `datetime` as `__extn` objects).",
        "",
        *out2,
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
        "make -C bench profile           # callgrind: instructions per check and per function (bench/README.md)",
        "```",
        "",
        "Workload and methods: bench/README.md.",
        "",
    ]
    text = "\n".join(doc)
    print("\n".join([*targets2, "", *targets, "", *out, *out2, *memory]))
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

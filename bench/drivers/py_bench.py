"""Python drivers of `make bench`: agentauthz's Python binding and cedarpy.

    python py_bench.py --workload DIR --impl IMPL [--seconds S] [--min-calls N] [--out FILE]

IMPL is one of
  agentauthz         Engine.check(agent=..., ...) per request (bindings-python); with
                     --form cedar|cedar-plain, Engine.check_request({principal, ...}) on
                     requests-cedar.jsonl (__extn/__entity escapes) or requests-cedar-plain.jsonl
  agentauthz-batch   Engine.check_batch([...]) in chunks of --batch requests
  agentauthz-threads decisions/s of Engine.check with 1 and 2 threads sharing the engine
                     (check releases the GIL while the engine decides)
  cedarpy            cedarpy.is_authorized with pre-parsed PolicySet, Entities and Schema
  cedarpy-batch      cedarpy.is_authorized_batch, same handles, chunks of --batch

The timing loop is the one of bench/src/measure.rs: warm up, one pass over the
requests in order timing each call and recording its decision, then further
passes until the time budget is spent. For a batch, each chunk is one sample of
(chunk time / chunk size) per decision. Output: one JSON object (see bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def decision_key(allow: bool, reasons: Sequence[str]) -> str:
    return ("allow" if allow else "deny") + "|" + ",".join(sorted(reasons))


def percentile(sorted_ns: list[int], p: float) -> int:
    if not sorted_ns:
        return 0
    rank = min(max(math.ceil(p * len(sorted_ns)), 1), len(sorted_ns))
    return sorted_ns[rank - 1]


def measure(
    n: int,
    seconds: float,
    min_calls: int,
    call: Callable[[int], Any],
    key: Callable[[Any], str],
) -> tuple[list[int], list[str], int]:
    """One call per request; returns (samples_ns, first-pass decisions, errors)."""
    budget = int(seconds * 1e9)
    clock = time.perf_counter_ns
    warm_start = clock()
    for i in range(min(n, 50)):
        call(i)
        if clock() - warm_start > budget // 10:
            break
    samples: list[int] = []
    decisions: list[str] = []
    errors = 0
    spent = 0
    i = 0
    while not (spent >= budget and len(samples) >= min_calls):
        idx = i % n
        t0 = clock()
        try:
            out = call(idx)
            failed = False
        except Exception:  # noqa: BLE001 - an error is recorded as a decision
            out = None
            failed = True
        dt = clock() - t0
        spent += dt
        samples.append(dt)
        if i < n:
            if failed:
                errors += 1
                decisions.append("error|")
            else:
                decisions.append(key(out))
        i += 1
    return samples, decisions, errors


def measure_batch(
    n: int,
    seconds: float,
    min_calls: int,
    batch: int,
    call: Callable[[int, int], list[Any]],
    key: Callable[[Any], str],
) -> tuple[list[int], list[str], int, int]:
    """Chunks of `batch` requests; returns (per-decision samples_ns, decisions, errors, decisions timed)."""
    budget = int(seconds * 1e9)
    clock = time.perf_counter_ns
    warm_start = clock()
    call(0, min(n, batch))
    _ = clock() - warm_start
    samples: list[int] = []
    decisions: list[str] = []
    total = 0
    spent = 0
    start = 0
    first_pass = True
    while not (spent >= budget and total >= min_calls):
        end = min(start + batch, n)
        t0 = clock()
        outs = call(start, end)
        dt = clock() - t0
        spent += dt
        count = end - start
        total += count
        samples.append(dt // max(count, 1))
        if first_pass:
            decisions.extend(key(o) for o in outs)
        start = end
        if start >= n:
            start = 0
            first_pass = False
    return samples, decisions, 0, total


def summary(
    impl: str,
    label: str,
    workload: str,
    setup_ms: float,
    samples: list[int],
    decisions: list[str],
    errors: int,
    calls: int | None = None,
    total_ns: int | None = None,
) -> dict[str, Any]:
    s = sorted(samples)
    calls = len(s) if calls is None else calls
    total = sum(s) if total_ns is None else total_ns
    return {
        "impl": impl,
        "label": label,
        "workload": workload,
        "setup_ms": setup_ms,
        "calls": calls,
        "p50_ns": percentile(s, 0.5),
        "p99_ns": percentile(s, 0.99),
        "mean_ns": total / calls if calls else 0,
        "per_sec": calls * 1e9 / total if total else 0,
        "errors": errors,
        "decisions": decisions,
    }


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


FORMS = {
    "agent": ("requests.jsonl", "", ""),
    "cedar": ("requests-cedar.jsonl", "-cedar", ", Cedar form (__extn)"),
    "cedar-plain": ("requests-cedar-plain.jsonl", "-cedar-plain", ", Cedar form (plain strings)"),
}


def agent_kwargs(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    kwargs = []
    for r in requests:
        kw: dict[str, Any] = {
            "agent": r["agent"],
            "action": r["action"],
            "resource": (r["resource"]["type"], r["resource"]["id"]),
        }
        for field in ("task", "on_behalf_of", "credential", "context", "now"):
            if field in r:
                kw[field] = r[field]
        kwargs.append(kw)
    return kwargs


def run_threads(args: argparse.Namespace, engine: Any, setup_ms: float, workload: Path) -> dict[str, Any]:
    """Decisions/s with 1 and 2 threads calling check on one engine for the whole budget."""
    import threading

    kwargs = agent_kwargs(read_lines(workload / "requests.jsonl"))
    n = len(kwargs)
    for kw in kwargs[:50]:
        engine.check(**kw)
    results = []
    for threads in (1, 2):
        stop = threading.Event()
        counts = [0] * threads
        errors = [0] * threads

        def work(
            t: int, threads: int = threads, stop: Any = stop, counts: list[int] = counts, errors: list[int] = errors
        ) -> None:
            check = engine.check
            i = t * n // threads
            calls = 0
            while not stop.is_set():
                try:
                    check(**kwargs[i % n])
                except Exception:  # noqa: BLE001 - counted, never expected
                    errors[t] += 1
                calls += 1
                i += 1
            counts[t] = calls

        workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
        start = time.perf_counter()
        for w in workers:
            w.start()
        time.sleep(args.seconds)
        stop.set()
        for w in workers:
            w.join()
        secs = time.perf_counter() - start
        results.append(
            {"threads": threads, "calls": sum(counts), "seconds": secs, "per_sec": sum(counts) / secs, "errors": sum(errors)}
        )
    return {
        "impl": "agentauthz-python-threads",
        "kind": "threads",
        "label": "agentauthz Python Engine.check, one engine shared by N threads",
        "workload": workload.name,
        "setup_ms": setup_ms,
        "results": results,
    }


def run_agentauthz(args: argparse.Namespace, workload: Path) -> dict[str, Any]:
    import agentauthz

    t0 = time.perf_counter()
    engine = agentauthz.Engine.load(workload / "bundle", trust_caller_time=True)
    setup_ms = (time.perf_counter() - t0) * 1e3
    if args.impl == "agentauthz-threads":
        return run_threads(args, engine, setup_ms, workload)
    file, suffix, label_suffix = FORMS[args.form]
    requests = read_lines(workload / file)

    def key(d: Any) -> str:
        return decision_key(d.allowed, d.reasons)

    if args.form != "agent" and args.impl == "agentauthz":
        check_request = engine.check_request
        samples, decisions, errors = measure(
            len(requests), args.seconds, args.min_calls, lambda i: check_request(requests[i]), key
        )
        return summary(
            f"agentauthz-python{suffix}",
            f"agentauthz Python Engine.check_request({{principal, ...}}){label_suffix}",
            workload.name,
            setup_ms,
            samples,
            decisions,
            errors,
        )

    if args.impl == "agentauthz-batch":
        samples, decisions, errors, calls = measure_batch(
            len(requests),
            args.seconds,
            args.min_calls,
            args.batch,
            lambda a, b: engine.check_batch(requests[a:b]),
            key,
        )
        return batch_summary(
            f"agentauthz-python-batch{suffix}",
            f"agentauthz Python Engine.check_batch (chunks of {args.batch}){label_suffix}",
            workload.name,
            setup_ms,
            samples,
            decisions,
            calls,
            args.batch,
            len(requests),
        )

    kwargs = agent_kwargs(requests)
    check = engine.check
    samples, decisions, errors = measure(len(kwargs), args.seconds, args.min_calls, lambda i: check(**kwargs[i]), key)
    return summary(
        "agentauthz-python",
        "agentauthz Python Engine.check(agent=..., ...)",
        workload.name,
        setup_ms,
        samples,
        decisions,
        errors,
    )


def batch_summary(
    impl: str,
    label: str,
    workload: str,
    setup_ms: float,
    samples: list[int],
    decisions: list[str],
    calls: int,
    batch: int,
    n: int,
) -> dict[str, Any]:
    # Every chunk but a trailing short one has `batch` decisions; weigh the
    # per-decision samples by their chunk sizes for the total.
    sizes: list[int] = []
    start = 0
    for _ in samples:
        end = min(start + batch, n)
        sizes.append(end - start)
        start = 0 if end >= n else end
    total = sum(s * c for s, c in zip(samples, sizes))
    return summary(impl, label, workload, setup_ms, samples, decisions, 0, calls, total)


def policy_ids(policies_text: str) -> list[str]:
    """The @id of every policy, in source order (cedarpy names them policy0, policy1, ...)."""
    return re.findall(r'^@id\("([^"]*)"\)', policies_text, flags=re.MULTILINE)


def run_cedarpy(args: argparse.Namespace, workload: Path) -> dict[str, Any]:
    import cedarpy

    cedar = workload / "cedar"
    t0 = time.perf_counter()
    schema = cedarpy.Schema.from_str((cedar / "schema.cedarschema").read_text())
    policies_text = (cedar / "policies.cedar").read_text()
    policies = cedarpy.PolicySet.from_str(policies_text)
    entities = cedarpy.Entities.from_json_str((cedar / "entities.json").read_text(), schema)
    setup_ms = (time.perf_counter() - t0) * 1e3
    ids = policy_ids(policies_text)
    # The context as a JSON string: cedarpy would json.dumps a dict on every call.
    requests = []
    for r in read_lines(workload / "requests-cedar.jsonl"):
        r["context"] = json.dumps(r["context"])
        requests.append(r)

    def key(result: Any) -> str:
        annotated = result.diagnostics.id_annotations_by_reason
        reasons = [annotated.get(p) or name_to_id(p, ids) for p in result.diagnostics.reasons]
        return decision_key(result.allowed, reasons)

    if args.impl == "cedarpy-batch":
        samples, decisions, errors, calls = measure_batch(
            len(requests),
            args.seconds,
            args.min_calls,
            args.batch,
            lambda a, b: cedarpy.is_authorized_batch(requests[a:b], policies, entities, schema),
            key,
        )
        return batch_summary(
            "cedarpy-batch",
            f"cedarpy is_authorized_batch, pre-parsed handles (chunks of {args.batch})",
            workload.name,
            setup_ms,
            samples,
            decisions,
            calls,
            args.batch,
            len(requests),
        )

    is_authorized = cedarpy.is_authorized
    samples, decisions, errors = measure(
        len(requests),
        args.seconds,
        args.min_calls,
        lambda i: is_authorized(requests[i], policies, entities, schema),
        key,
    )
    return summary(
        "cedarpy",
        "cedarpy is_authorized, pre-parsed PolicySet/Entities/Schema",
        workload.name,
        setup_ms,
        samples,
        decisions,
        errors,
    )


def name_to_id(name: str, ids: list[str]) -> str:
    m = re.fullmatch(r"policy(\d+)", name)
    if m and int(m.group(1)) < len(ids):
        return ids[int(m.group(1))]
    return name


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workload", required=True, type=Path)
    p.add_argument(
        "--impl",
        required=True,
        choices=["agentauthz", "agentauthz-batch", "agentauthz-threads", "cedarpy", "cedarpy-batch"],
    )
    p.add_argument("--form", choices=sorted(FORMS), default="agent")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--min-calls", type=int, default=3)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    if args.impl.startswith("agentauthz"):
        result = run_agentauthz(args, args.workload)
    else:
        result = run_cedarpy(args, args.workload)
    text = json.dumps(result)
    if args.out:
        args.out.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

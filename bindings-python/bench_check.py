"""Per-call `check` timing from Python against the same call in Rust, same run.

    make -C bindings-python bench        (or: .venv/bin/python bench_check.py)

Times the test bundle's read_file request: median over CHUNKS chunks of the mean
of CALLS calls. The Rust side (examples/bench_check.rs, typed API) runs right
after with the same bundle, request and method; pass --no-rust to skip it.

On a machine busy with other work, run it at real-time priority on one core
(as root): `chrt -f 50 taskset -c 1 .venv/bin/python bench_check.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any, Callable

import agentauthz

HERE = Path(__file__).resolve().parent
BUNDLE = HERE / "tests" / "bundles" / "coding-agent"
REQUEST: dict[str, Any] = {
    "agent": "coder",
    "action": "read_file",
    "resource": {"type": "Repo", "id": "acme/api"},
    "context": {"input": {"path": "src/app.py"}},
    "now": "2026-11-29T10:00:00Z",
}


def per_call_ns(chunks: int, calls: int, f: Callable[[], object]) -> float:
    """Median over `chunks` of the mean time of `calls` calls of `f`, in ns."""
    for _ in range(calls):
        f()
    samples = []
    for _ in range(chunks):
        start = time.perf_counter_ns()
        for _ in range(calls):
            f()
        samples.append((time.perf_counter_ns() - start) / calls)
    return statistics.median(samples)


def python_side(chunks: int, calls: int) -> dict[str, float]:
    engine = agentauthz.Engine.load(BUNDLE, trust_caller_time=True)
    resource = (REQUEST["resource"]["type"], REQUEST["resource"]["id"])
    context = REQUEST["context"]
    batch = [REQUEST] * calls

    def kwargs() -> object:
        return engine.check(
            agent="coder",
            action="read_file",
            resource=resource,
            context=context,
            now=REQUEST["now"],
        )

    def early_deny() -> object:
        return engine.check(
            agent="coder",
            action="no_such_tool",
            resource=resource,
            context=context,
            now=REQUEST["now"],
        )

    assert engine.check_request(REQUEST).allowed
    assert kwargs().allowed  # type: ignore[attr-defined]
    assert early_deny().reasons == ["baseline/unknown-action"]  # type: ignore[attr-defined]
    return {
        "python_check_kwargs_ns": per_call_ns(chunks, calls, kwargs),
        "python_check_early_deny_ns": per_call_ns(chunks, calls, early_deny),
        "python_check_request_ns": per_call_ns(
            chunks, calls, lambda: engine.check_request(REQUEST)
        ),
        "python_check_batch_per_request_ns": per_call_ns(
            chunks, 1, lambda: engine.check_batch(batch)
        )
        / calls,
    }


def rust_side(chunks: int, calls: int) -> dict[str, float]:
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", str(HERE.parent / "target"))
    out = subprocess.run(
        [
            *("cargo", "run", "--quiet", "--release", "-p", "agentauthz-python"),
            *("--example", "bench_check", "--", str(BUNDLE), str(chunks), str(calls)),
        ],
        cwd=HERE,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


PAIRS = {
    "overhead_check_kwargs_ns": ("python_check_kwargs_ns", "rust_check_typed_ns"),
    "overhead_check_request_ns": ("python_check_request_ns", "rust_check_from_json_ns"),
    "overhead_early_deny_ns": ("python_check_early_deny_ns", "rust_check_early_deny_ns"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5, help="alternate Python and Rust")
    parser.add_argument("--no-rust", action="store_true")
    args = parser.parse_args()

    rounds: list[dict[str, float]] = []
    for _ in range(args.rounds):
        result = python_side(args.chunks, args.calls)
        if not args.no_rust:
            result.update(rust_side(args.chunks, args.calls))
            for name, (py, rs) in PAIRS.items():
                result[name] = result[py] - result[rs]
        rounds.append(result)
    print(
        f"{args.rounds} rounds, Python then Rust in each; a round's figure is the median"
        f" over {args.chunks} chunks of {args.calls} calls; ns per call."
    )
    print("On a busy machine compare `min` (the least disturbed round) rather than `median`.")
    print(f"{'':36} {'median':>8} {'min':>8}   rounds")
    for key in rounds[0]:
        values = [r[key] for r in rounds]
        shown = " ".join(f"{v:7.0f}" for v in values)
        print(f"{key:36} {statistics.median(values):8.0f} {min(values):8.0f}   {shown}")


if __name__ == "__main__":
    main()

"""engine.metrics(): decision counters that match the checks made, folded
action labels for undeclared actions, the latency histogram, and gauges of an
exporting log sink."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agentauthz import AuthzError, Engine

from conftest import REPO, bundle_strings

BUNDLE = REPO / "policies-examples" / "coding-agent"


def push(engine: Engine, branch: str, action: str = "github:push") -> bool:
    return engine.check(
        agent="ci-bot",
        action=action,
        resource=("Repo", "acme/api"),
        task="T-42",
        credential="ci-bot-key",
        context={"branch": branch, "source_ip": "10.20.3.14"},
        now="2026-11-29T10:20:00Z",
    ).allowed


def counted(metrics: Any, decision: str, action: str) -> int:
    return sum(
        c["count"]
        for c in metrics["decisions"]
        if c["decision"] == decision and c["action"] == action
    )


def test_counters_match_the_decisions_made() -> None:
    engine = Engine.load(BUNDLE, trust_caller_time=True)
    results = [push(engine, b) for b in ("feature/a", "feature/b", "main")]
    for i in range(500):
        assert not push(engine, "x", action=f"evil:{i}")
    with pytest.raises(AuthzError) as raised:
        engine.check(
            agent="ci-bot",
            action="github:push",
            resource=("Repo", "acme/api"),
            context={"branch": 7, "source_ip": "10.20.3.14"},
            now="2026-11-29T10:20:00Z",
        )
    m = engine.metrics()
    allowed = results.count(True)
    assert counted(m, "allow", "github:push") == allowed
    assert counted(m, "deny", "github:push") == len(results) - allowed
    # 500 undeclared action names: one series, none of the names echoed.
    assert counted(m, "deny", "other") == 500
    assert not any(c["action"].startswith("evil:") for c in m["decisions"])
    errors = [c for c in m["decisions"] if c["decision"] == "error"]
    assert errors == [
        {"decision": "error", "action": "other", "reason": raised.value.code, "count": 1}
    ]
    latency = m["check_latency"]
    assert latency["count"] == len(results) + 501
    assert sum(latency["counts"]) == latency["count"]
    assert len(latency["counts"]) == len(latency["bounds_us"]) + 1
    assert latency["sum_us"] > 0
    assert "log_queue_depth" not in m and "store_staleness_seconds" not in m


def test_an_exporting_sink_has_queue_depth_and_spool_size(tmp_path: Path) -> None:
    strings = bundle_strings(BUNDLE)
    # Nothing listens on port 9: records wait in the spool.
    strings["config"] = (
        '[log.otlp]\nendpoint = "http://127.0.0.1:9/v1/logs"\n'
        f'spool = "{tmp_path / "spool"}"\ntimeout_ms = 200\n'
    )
    engine = Engine.from_strings(**strings, trust_caller_time=True)
    for b in ("a", "b", "c"):
        push(engine, b)
    engine.flush_decision_log()
    m = engine.metrics()
    assert m["log_queue_depth"] >= 3
    assert m["spool_bytes"] > 0

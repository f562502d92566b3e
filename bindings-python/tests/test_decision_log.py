"""The decision log from Python: callback, file and stdout sinks, the records
of the shared vectors (equal to the Rust ones, tests/decision-records.json),
log-only mode, and the chain checked by an independent verifier."""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from agentauthz import AuthzError, Engine, InternalError, flush_decision_logs

from conftest import REPO, REPO_RESOURCE, bundle_strings

BUNDLE = REPO / "policies-examples" / "coding-agent"
NOW = "2026-11-29T10:20:00Z"
GOLDEN = json.loads((REPO / "tests" / "decision-records.json").read_text())
VOLATILE = set(GOLDEN["volatile"])


def stripped(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in VOLATILE}


def verify_chain(lines: list[str]) -> int:
    """The verifier of docs/decision-log.md: canonical JSON, SHA-256, prev_hash, seq."""
    prev, seq = "0" * 64, 0
    for line in lines:
        rec = json.loads(line)
        body = {k: v for k, v in rec.items() if k != "hash"}
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(canonical.encode()).hexdigest() == rec["hash"]
        assert rec["prev_hash"] == prev
        assert rec["seq"] == seq + 1
        prev, seq = rec["hash"], rec["seq"]
    return seq


def push(engine: Engine, branch: str = "feature/x", agent: str = "ci-bot") -> Any:
    return engine.check(
        agent=agent,
        action="github:push",
        resource=REPO_RESOURCE,
        task="T-42",
        credential="ci-bot-key",
        context={"branch": branch, "source_ip": "10.20.3.14"},
        now=NOW,
    )


# ---------------------------------------------------------------- shared vectors


@pytest.mark.parametrize("name", sorted(GOLDEN["files"]))
def test_callback_records_equal_the_rust_ones(name: str) -> None:
    doc = json.loads((REPO / "tests" / "vectors" / name).read_text())
    expected = GOLDEN["files"][name]
    records: list[dict[str, Any]] = []
    engines: dict[str, Engine | None] = {}
    got = []
    for vector in doc["vectors"]:
        spec = vector.get("bundle", doc.get("bundle"))
        key = json.dumps(spec, sort_keys=True)
        if key not in engines:
            try:
                if isinstance(spec, str):
                    engines[key] = Engine.load(
                        REPO / spec, decision_log=records.append, trust_caller_time=True
                    )
                else:
                    engines[key] = Engine(spec, decision_log=records.append, trust_caller_time=True)
            except AuthzError:
                engines[key] = None
        engine = engines[key]
        record = None
        if engine is not None and "request" in vector:
            with contextlib.suppress(AuthzError):
                engine.check_request(vector["request"])
            assert len(records) <= 1
            if records:
                record = stripped(records.pop())
        got.append({"name": vector["name"], "record": record})
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g == e, g["name"]


def test_strings_bundle_logs_the_same_records_as_the_directory() -> None:
    a: list[dict[str, Any]] = []
    b: list[dict[str, Any]] = []
    by_dir = Engine.load(BUNDLE, decision_log=a.append, trust_caller_time=True)
    by_strings = Engine.from_strings(
        **bundle_strings(BUNDLE), decision_log=b.append, trust_caller_time=True
    )
    for engine in (by_dir, by_strings):
        push(engine)
        push(engine, branch="main")
    assert [stripped(r) for r in a] == [stripped(r) for r in b]
    assert [r["seq"] for r in a] == [1, 2]


# ---------------------------------------------------------------- sinks


def test_callback_receives_full_records_in_order() -> None:
    records: list[dict[str, Any]] = []
    engine = Engine.load(BUNDLE, trust_caller_time=True)
    assert engine.decision_log_head is None
    engine.set_decision_log(records.append)
    d = push(engine)
    push(engine, branch="main")
    with pytest.raises(AuthzError):
        engine.check(
            agent="ci-bot", action="github:push", resource=REPO_RESOURCE, context={"branch": 1}
        )
    assert [r["seq"] for r in records] == [1, 2, 3]
    first = records[0]
    assert first["decision_id"] == d.decision_id
    assert first["decision"] == d.decision
    assert first["agent"] == "ci-bot"
    assert first["prev_hash"] == "0" * 64
    assert records[1]["prev_hash"] == first["hash"]
    assert records[2]["decision"] == "error"
    assert records[2]["error"]["code"] == "request_invalid"
    assert engine.decision_log_head == {"seq": 3, "hash": records[2]["hash"]}
    engine.set_decision_log(None)
    push(engine)
    assert len(records) == 3


def test_file_sink_round_trip_and_rotation(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    engine = Engine.load(BUNDLE, decision_log=path, max_bytes=3000, trust_caller_time=True)
    for i in range(12):
        push(engine, branch="main" if i % 2 else "feature/x")
    engine.flush_decision_log()
    rotated = sorted(tmp_path.glob("decisions.*.jsonl"), key=lambda p: int(p.suffixes[0][1:]))
    assert rotated, "rotation happened"
    lines = [line for p in [*rotated, path] for line in p.read_text().splitlines()]
    assert verify_chain(lines) == 12
    assert engine.decision_log_head == {"seq": 12, "hash": json.loads(lines[-1])["hash"]}


def test_records_reach_the_file_at_interpreter_exit(tmp_path: Path) -> None:
    """A process that never flushes nor drops its engine still writes its records."""
    path = tmp_path / "exit.jsonl"
    script = f"""
import agentauthz
engine = agentauthz.Engine.load({str(BUNDLE)!r}, decision_log={str(path)!r}, trust_caller_time=True)
KEEP = [engine]
for _ in range(3):
    engine.check(agent="ci-bot", action="github:push", resource=("Repo", "acme/api"),
                 task="T-42", credential="ci-bot-key",
                 context={{"branch": "feature/x", "source_ip": "10.20.3.14"}}, now={NOW!r})
"""
    subprocess.run([sys.executable, "-c", script], check=True)
    assert verify_chain(path.read_text().splitlines()) == 3


def test_stdout_sink(capfd: pytest.CaptureFixture[str]) -> None:
    engine = Engine.load(BUNDLE, decision_log="-", trust_caller_time=True)
    push(engine)
    engine.flush_decision_log()
    out = capfd.readouterr().out.splitlines()
    assert len(out) == 1
    assert json.loads(out[0])["agent"] == "ci-bot"


def test_callback_exception_is_reported_by_flush() -> None:
    def failing(record: dict[str, Any]) -> None:
        raise ValueError(f"SIEM unreachable for {record['seq']}")

    engine = Engine.load(BUNDLE, decision_log=failing, trust_caller_time=True)
    assert push(engine).allowed, "logging never changes the decision"
    with pytest.raises(InternalError, match="SIEM unreachable for 1"):
        engine.flush_decision_log()
    engine.flush_decision_log()  # reported once


def test_bad_sink_argument() -> None:
    engine = Engine.load(BUNDLE, trust_caller_time=True)
    with pytest.raises(AuthzError, match="decision_log must be") as err:
        engine.set_decision_log(42)  # type: ignore[arg-type]
    assert err.value.code == "config_invalid"


def test_unwritable_path_is_an_io_error(tmp_path: Path) -> None:
    with pytest.raises(AuthzError) as info:
        Engine.load(
            BUNDLE, decision_log=tmp_path / "missing-dir" / "d.jsonl", trust_caller_time=True
        )
    assert info.value.code == "io"


def test_concurrent_checks_give_one_ordered_chain() -> None:
    records: list[dict[str, Any]] = []
    engine = Engine.load(BUNDLE, decision_log=records.append, trust_caller_time=True)

    def work() -> None:
        for _ in range(200):
            push(engine)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r["seq"] for r in records] == list(range(1, 801))
    for a, b in zip(records, records[1:]):
        assert b["prev_hash"] == a["hash"]


def test_flush_decision_logs_module_function(tmp_path: Path) -> None:
    path = tmp_path / "all.jsonl"
    engine = Engine.load(BUNDLE, decision_log=path, trust_caller_time=True)
    push(engine)
    flush_decision_logs()
    assert verify_chain(path.read_text().splitlines()) == 1


# ---------------------------------------------------------------- modes


def test_log_only_engine_allows_and_records_the_real_decision() -> None:
    records: list[dict[str, Any]] = []
    strings = bundle_strings(BUNDLE)
    strings["config"] = '[engine]\nmode = "log-only"\n[log]\nredact = ["branch"]\n'
    engine = Engine.from_strings(**strings, decision_log=records.append, trust_caller_time=True)
    assert engine.mode == "log-only"
    d = push(engine, branch="main")
    assert d.allowed and d.reasons == []
    (r,) = records
    assert r["mode"] == "log-only"
    assert r["decision"] == "allow"
    assert r["would_decision"] == "deny"
    assert r["would_reasons"]
    assert r["context"] == {"branch": "[redacted]", "source_ip": "10.20.3.14"}

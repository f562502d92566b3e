"""to_ocsf: the core's OCSF 1.5.0 mapping from Python. Every event equals the
one in tests/ocsf-events.json and validates against the OCSF 1.5.0 schema
(PyPI pydantic-ocsf, with the validator the Rust suite uses); a live callback
record maps and validates too; anything that is not a decision record is a
LogError (log_corrupt)."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from agentauthz import Engine, LimitError, LogError, to_ocsf

from conftest import REPO

VECTORS = json.loads((REPO / "tests" / "ocsf-events.json").read_text())
VALIDATOR = REPO / "core" / "tests" / "ocsf" / "validate.py"
BUNDLE = REPO / "policies-examples" / "coding-agent"


def validate(events: list[dict[str, Any]]) -> None:
    lines = "".join(json.dumps(e) + "\n" for e in events)
    out = subprocess.run(
        [sys.executable, str(VALIDATOR), "/dev/stdin"],
        input=lines,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == f"{len(events)} valid"


def test_every_shared_vector_record_maps_to_its_event_and_validates() -> None:
    assert len(VECTORS["events"]) > 20
    events = []
    for entry in VECTORS["events"]:
        event = to_ocsf(entry["record"])
        assert event == entry["ocsf"], entry["vector"]
        events.append(event)
    validate(events)


def test_the_validator_refuses_what_ocsf_1_5_0_does_not_define() -> None:
    event = to_ocsf(VECTORS["events"][0]["record"])
    with pytest.raises(AssertionError):
        validate([{**event, "is_admin": True}])
    with pytest.raises(AssertionError):
        validate([{**event, "class_uid": "api"}])


def test_a_callback_record_maps_to_a_valid_event() -> None:
    records: list[dict[str, Any]] = []
    engine = Engine.load(str(BUNDLE), decision_log=records.append, trust_caller_time=True)
    for branch in ("main", "feature/x"):
        engine.check(
            agent="ci-bot",
            action="github:push",
            resource=("Repo", "acme/api"),
            task="T-42",
            credential="ci-bot-key",
            context={"branch": branch, "source_ip": "10.20.3.14"},
            now="2026-11-29T10:20:00Z",
        )
    assert len(records) == 2
    events = [to_ocsf(r) for r in records]
    assert [e["metadata"]["uid"] for e in events] == [r["decision_id"] for r in records]
    assert all(e["class_uid"] == 6003 and e["api"]["operation"] == "github:push" for e in events)
    validate(events)


def test_what_is_not_a_decision_record_is_log_corrupt() -> None:
    good = VECTORS["events"][0]["record"]
    hostile: list[Any] = [
        None,
        42,
        "text",
        [],
        [good],
        {},
        {**good, "is_admin": True},
        {**good, "seq": "1"},
        {**good, "decision": "maybe"},
        {**good, "schema_version": 99},
        {**good, "seq": {1, 2}},
        {**good, "seq": 2**70},
    ]
    for value in hostile:
        with pytest.raises(LogError) as caught:
            to_ocsf(value)
        assert caught.value.code == "log_corrupt", repr(value)[:80]
    cyclic: dict[str, Any] = dict(good)
    cyclic["self"] = cyclic
    with pytest.raises(LimitError):
        to_ocsf(cyclic)

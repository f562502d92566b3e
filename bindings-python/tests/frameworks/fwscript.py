"""The scripted tool calls every framework test replays, and what must follow.

Run by the framework venvs (see the Makefile): each test module drives its
framework's real agent loop with a fake model that makes these calls in turn.
"""

from __future__ import annotations

import re
from typing import Any

from agentauthz import Engine

from conftest import SUPPORT_BUNDLE

# (tool name, arguments, call id, outcome): "ran", a policy id that denies, or an error code.
SCRIPT: list[tuple[str, dict[str, Any], str, str]] = [
    ("lookup_order", {"order_id": "o-1"}, "c1", "ran"),
    ("close_account", {"reason": "fraud"}, "c2", "no-account-closing"),
    ("issue_refund", {"order_id": "o-1", "amount": 12.34567}, "c3", "request_invalid"),
    ("issue_refund", {"order_id": "o-1", "amount": 20, "extra": "x"}, "c4", "request_invalid"),
    ("issue_refund", {"order_id": "o-2", "amount": 12.5}, "c5", "ran"),
]
FINAL = "All done."
# The tools' side effects, in the order they ran.
RAN = [("lookup_order", "o-1"), ("issue_refund", "o-2")]
DECISION_ID = re.compile(r"decision_id: ([0-9A-Za-z]+)")


def logged_engine() -> tuple[Engine, list[dict[str, Any]]]:
    records: list[dict[str, Any]] = []
    engine = Engine.load(SUPPORT_BUNDLE, decision_log=records.append, trust_caller_time=True)
    return engine, records


def check_outputs(outputs: dict[str, str], records: list[dict[str, Any]]) -> None:
    """``outputs`` maps each call id to the tool output the model saw next."""
    assert set(outputs) == {c[2] for c in SCRIPT}, outputs
    ids: list[str] = []
    for _name, _args, call_id, outcome in SCRIPT:
        text = outputs[call_id]
        if outcome == "ran":
            assert "did not run" not in text, (call_id, text)
            continue
        assert "did not run" in text and outcome in text, (call_id, text)
        if outcome == "no-account-closing":
            m = DECISION_ID.search(text)
            assert m, text
            ids.append(m.group(1))
    # One decision record per tool call; the engine logs the undecidable ones as errors.
    assert [r["action"] for r in records] == [c[0] for c in SCRIPT], records
    assert [r["decision"] for r in records] == ["allow", "deny", "error", "error", "allow"]
    assert records[1]["decision_id"] == ids[0]

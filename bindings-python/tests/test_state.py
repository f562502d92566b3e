"""``engine.state()`` and ``Engine.restore(state)``: an engine rebuilt from its
state (opaque JSON text) through the core's journal replay decides as the
original, its changes keep their original times, a change that no longer
applies is reported, and a tampered state raises a coded error.

The same checks run in bindings-node/__test__/state.test.js and
bindings-wasm/tests/node/state.test.mjs.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from agentauthz import BundleError, Engine

SCHEMA = """
entity Bucket;
entity Object in [Bucket];
action "s3:PutObject" appliesTo { principal: [Agent], resource: [Object, Bucket] };
"""
POLICIES = '@id("nothing") forbid (principal, action, resource) when { false };'
INVENTORY = """
users:
  - {id: alice}
agents:
  - {id: etl, owner: alice}
  - {id: other, owner: alice}
resources:
  - {type: Bucket, id: reports}
  - {type: Object, id: reports/q3.csv, parents: [{type: Bucket, id: reports}]}
"""


def put(engine: Engine, agent: str, now: datetime) -> tuple[str, list[str]]:
    d = engine.check(
        agent=agent, action="s3:PutObject", resource=("Object", "reports/q3.csv"), now=now
    )
    return d.decision, list(d.reasons)


def busy() -> tuple[Engine, str, datetime]:
    engine = Engine.from_strings(
        schema=SCHEMA, policies=POLICIES, inventory=INVENTORY, trust_caller_time=True
    )
    grant = engine.grant(
        agent="etl",
        actions=["s3:PutObject"],
        resource=("Bucket", "reports"),
        ttl=3600,
        reason="export",
        granted_by="alice",
    )
    engine.suspend("other", by="alice")
    return engine, grant.id, datetime.fromisoformat(grant.expires.replace("Z", "+00:00"))


class Sub(Engine):
    __slots__ = ()


def test_a_restored_engine_decides_as_the_original() -> None:
    engine, grant_id, expires = busy()
    state = engine.state()
    assert isinstance(state, str)
    restored = Sub.restore(state)
    assert type(restored) is Sub
    assert restored.policy_revision == engine.policy_revision
    assert restored.grants() == engine.grants()
    assert restored.state() == state
    assert restored.skipped_changes() == []
    for e in (engine, restored):
        assert put(e, "etl", expires - timedelta(seconds=1)) == ("allow", [f"grant/{grant_id}"])
        assert put(e, "etl", expires + timedelta(seconds=1)) == ("deny", [])
        assert put(e, "other", expires - timedelta(seconds=1)) == (
            "deny",
            ["baseline/agent-active"],
        )
    changes = json.loads(state)["changes"]
    assert [(c["seq"], c["op"]) for c in changes] == [(1, "grant"), (2, "suspend")]


def test_a_restored_engine_takes_a_decision_log() -> None:
    engine, _, expires = busy()
    records: list[dict[str, object]] = []
    restored = Engine.restore(engine.state(), decision_log=records.append)
    put(restored, "etl", expires)
    assert len(records) == 1


def test_a_skipped_change_is_reported_and_a_tampered_state_raises() -> None:
    engine, _, _ = busy()
    state = json.loads(engine.state())
    ghost = {**state["changes"][1], "seq": 3, "agent": "ghost"}
    restored = Engine.restore(json.dumps({**state, "changes": [*state["changes"], ghost]}))
    skipped = restored.skipped_changes()
    assert len(skipped) == 1 and "journal seq 3" in skipped[0]
    for bad in (
        "{",
        json.dumps({**state, "version": 2}),
        json.dumps({**state, "revision": "sha256:00"}),
        json.dumps({**state, "extra": True}),
    ):
        with pytest.raises(BundleError) as e:
            Engine.restore(bad)
        assert e.value.code == "config_invalid"
    with pytest.raises(BundleError) as e:
        Engine.restore(42)  # type: ignore[arg-type]
    assert e.value.code == "config_invalid"

"""Human approval from Python: ``needs_approval`` decisions, approve/reject
by decision id or request, who may approve (a Cedar check), digest binding,
consumption (threads), expiry by the engine clock, the journal, the
callback and the decision log. Hostile cases first.
"""

from __future__ import annotations

import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from agentauthz import Engine, LifecycleError, ManualClock, PolicyError

SCHEMA = """
entity Order;
action "billing:refund" appliesTo {
  principal: [Agent], resource: [Order],
  context: { input: { amount: Long, note?: String } }
};
"""

POLICIES = """
@id("refund-permit")
permit (principal in AgentGroup::"payers", action == Action::"billing:refund", resource);

@id("refund-limit")
@approval("owner, team:finance")
forbid (principal, action == Action::"billing:refund", resource)
when { context.input.amount > 100 };

@id("refund-hard-cap")
forbid (principal, action == Action::"billing:refund", resource)
when { context.input.amount > 10000 };
"""

INVENTORY = """
teams:
  - {id: finance}
users:
  - {id: alice}
  - {id: bob}
  - {id: fin, teams: [finance]}
  - {id: fin-off, teams: [finance], active: false}
  - {id: mallory}
agent_groups:
  - {id: payers}
agents:
  - {id: bot, owner: alice, groups: [payers]}
  - {id: bot-b, owner: bob, groups: [payers]}
resources:
  - {type: Order, id: o1}
  - {type: Order, id: o2}
"""

T0 = "2026-11-29T10:00:00Z"


def make(clock: ManualClock | None = None, **kwargs: Any) -> Engine:
    return Engine.from_strings(
        schema=SCHEMA,
        policies=POLICIES,
        inventory=INVENTORY,
        clock=clock or ManualClock(T0),
        **kwargs,
    )


def refund(engine: Engine, amount: int, agent: str = "bot", order: str = "o1") -> Any:
    return engine.check(
        agent=agent,
        action="billing:refund",
        resource=("Order", order),
        context={"input": {"amount": amount}},
    )


def wire(amount: int, agent: str = "bot", order: str = "o1") -> dict[str, Any]:
    return {
        "agent": agent,
        "action": "billing:refund",
        "resource": {"type": "Order", "id": order},
        "context": {"input": {"amount": amount}},
    }


def test_needs_approval_is_not_allowed_and_says_who_may_approve() -> None:
    engine = make()
    d = refund(engine, 500)
    assert d.decision == "needs_approval"
    assert d.allowed is False
    assert d.requires_approval is True
    assert d.approvers == ["owner", "team:finance"]
    assert d.reasons == ["refund-limit"]
    assert d.request_digest is not None and d.request_digest.startswith("sha256:")
    assert d.to_dict()["decision"] == "needs_approval"
    hard = refund(engine, 20000)
    assert hard.decision == "deny" and hard.requires_approval is False
    assert hard.request_digest is None
    small = refund(engine, 5)
    assert small.allowed and small.approvers == []


def test_only_the_approved_call_of_the_approved_agent_goes_through_once() -> None:
    engine = make()
    d = refund(engine, 500)
    approval = engine.approve(d, by="alice")
    assert approval["agent"] == "bot" and approval["uses"] == 1
    assert approval["request_digest"] == d.request_digest
    assert refund(engine, 501).decision == "needs_approval"
    assert refund(engine, 500, order="o2").decision == "needs_approval"
    assert refund(engine, 500, agent="bot-b").decision == "needs_approval"
    ok = refund(engine, 500)
    assert ok.allowed
    assert ok.reasons == [f"approval/{approval['id']}", "refund-permit"]
    assert refund(engine, 500).decision == "needs_approval"


@pytest.mark.parametrize("user", ["mallory", "bob", "fin-off", "nobody"])
def test_non_approvers_are_refused_with_a_code(user: str) -> None:
    engine = make()
    d = refund(engine, 500)
    with pytest.raises(LifecycleError) as e:
        engine.approve(d.decision_id, by=user)
    assert e.value.code == "approval_refused"
    assert not refund(engine, 500).allowed


def test_approving_nothing_waiting_is_an_error() -> None:
    engine = make()
    allowed = refund(engine, 5)
    for target in ["no-such-decision", allowed.decision_id, allowed]:
        with pytest.raises(LifecycleError) as e:
            engine.approve(target, by="alice")
        assert e.value.code == "approval_invalid"
    with pytest.raises(LifecycleError) as e:
        engine.approve(request=wire(20000), by="alice")
    assert e.value.code == "approval_invalid"
    with pytest.raises(LifecycleError) as e:
        engine.approve(by="alice")
    assert e.value.code == "approval_invalid"
    bads: list[dict[str, Any]] = [{"uses": 0}, {"uses": -1}, {"uses": "1"}, {"ttl": -5}, {"ttl": 0}]
    for bad in bads:
        with pytest.raises(LifecycleError) as e:
            engine.approve(request=wire(500), by="alice", **bad)
        assert e.value.code == "approval_invalid", bad


def test_an_approval_expires_by_the_engine_clock() -> None:
    clock = ManualClock(T0)
    engine = make(clock)
    engine.approve(request=wire(500), by="fin", ttl=timedelta(seconds=30))
    clock.advance(30)
    assert refund(engine, 500).decision == "needs_approval"


def test_concurrent_checks_take_exactly_one_use() -> None:
    engine = make()
    engine.approve(request=wire(500), by="alice", uses=1)
    results: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            allowed = refund(engine, 500).allowed
            with lock:
                results.append(allowed)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1


def test_pending_requests_callback_and_reject(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make()
    seen: list[dict[str, Any]] = []
    engine.on_approval_request(seen.append)
    first = refund(engine, 500)
    refund(engine, 500)
    refund(engine, 700, agent="bot-b")
    assert [s["request"]["context"]["input"]["amount"] for s in seen] == [500, 700]
    assert seen[0]["decision_id"] == first.decision_id
    assert len(engine.approvals()) == 2
    assert [p["request"]["agent"] for p in engine.approvals("bot-b")] == ["bot-b"]
    with pytest.raises(LifecycleError) as e:
        engine.reject(first, by="mallory")
    assert e.value.code == "approval_refused"
    rejected = engine.reject(first, by="alice")
    assert rejected["request_digest"] == first.request_digest
    assert [p["request"]["agent"] for p in engine.approvals()] == ["bot-b"]

    def broken(_: dict[str, Any]) -> None:
        raise RuntimeError("notifier down")

    # A failing notifier is reported as unraisable; the agent still gets its decision.
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    engine.on_approval_request(broken)
    assert refund(engine, 900).decision == "needs_approval"
    assert [type(u.exc_value) for u in unraisable] == [RuntimeError]
    engine.on_approval_request(None)


def test_approvals_are_journaled_and_recorded(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    records: list[dict[str, Any]] = []
    clock = ManualClock(T0)
    bundle = {"schema": SCHEMA, "policies": POLICIES, "inventory": INVENTORY}
    engine = Engine(bundle, journal=journal, clock=clock, decision_log=records.append)
    engine.approve(request=wire(500), by="alice", uses=2)
    assert refund(engine, 500).allowed
    del engine  # one writer at a time
    again = Engine(bundle, journal=journal, clock=clock)
    assert refund(again, 500).allowed
    assert refund(again, 500).decision == "needs_approval"
    actions = [r["action"] for r in records]
    assert actions == ["agentauthz:approve", "agentauthz:consume_approval", "billing:refund"]
    assert records[0]["principal"] == {"type": "User", "id": "alice"}


def test_a_bad_annotation_refuses_the_bundle_with_a_location() -> None:
    with pytest.raises(PolicyError) as e:
        Engine.from_strings(
            schema=SCHEMA,
            policies=POLICIES
            + '\n@id("x")\n@approval("boss")\nforbid (principal, action, resource);\n',
            inventory=INVENTORY,
        )
    assert e.value.code == "approval_annotation_invalid"
    assert e.value.details[0]["location"]["file"] == "policies.cedar"

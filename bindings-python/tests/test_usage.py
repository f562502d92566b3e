"""Rate and budget limits (``context.usage``) and the emergency stop from Python:
forged counters, bad units, unknown agents, racing threads, window edges on a
manual clock, and a lockdown racing checks. The cross-language scenario is
tests/vectors/scenarios/rate-limits-lockdown.json (test_scenarios.py).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from agentauthz import Engine, LifecycleError, ManualClock, RequestError

SCHEMA = """
entity Mailbox;
action "email:send", "ping" appliesTo { principal: [Agent], resource: [Mailbox] };
"""

POLICIES = """
@id("agents-may")
permit (principal is Agent, action, resource);

@id("email-hourly-cap")
forbid (principal, action == Action::"email:send", resource)
when { context.usage.action.calls_1h >= 50 };

@id("token-budget")
forbid (principal, action, resource)
when { context.usage.units_1h.tokens > 1000 };
"""

INVENTORY = """
users:
  - {id: alice}
agents:
  - {id: bot, owner: alice}
  - {id: bot2, owner: alice}
resources:
  - {type: Mailbox, id: inbox}
"""

START = "2027-01-15T08:00:00Z"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def engine(clock: ManualClock) -> Engine:
    return Engine.from_strings(schema=SCHEMA, policies=POLICIES, inventory=INVENTORY, clock=clock)


def send(engine: Engine, agent: str = "bot", **extra: Any) -> Any:
    return engine.check(agent=agent, action="email:send", resource=("Mailbox", "inbox"), **extra)


def test_a_caller_cannot_supply_its_counters(engine: Engine) -> None:
    with pytest.raises(RequestError) as e:
        send(engine, context={"usage": {"calls_1h": 0}})
    assert e.value.code == "request_invalid"
    with pytest.raises(RequestError):
        engine.check_request(
            {
                "principal": {"type": "Agent", "id": "bot"},
                "action": {"type": "Action", "id": "email:send"},
                "resource": {"type": "Mailbox", "id": "inbox"},
                "context": {"usage": {}},
            }
        )


@pytest.mark.parametrize("units", [-1, 1.5, float("nan"), float("inf"), 10**30, True, "5", None])
def test_bad_units_are_refused(engine: Engine, units: Any) -> None:
    with pytest.raises(RequestError) as e:
        engine.record_usage("bot", units, "tokens")
    assert e.value.code == "usage_invalid"
    assert engine.usage("bot")["units_1h"]["tokens"] == 0


def test_bad_kinds_and_agents_are_refused(engine: Engine) -> None:
    for agent, kind in [("bot", "gold"), ("ghost", "tokens"), ("bot", "")]:
        with pytest.raises(RequestError) as e:
            engine.record_usage(agent, 5, kind)
        assert e.value.code == "usage_invalid"
    with pytest.raises(RequestError):
        engine.usage("ghost")
    with pytest.raises(RequestError):
        engine.usage("bot", "nope")


def test_a_token_budget_caps_calls(engine: Engine, clock: ManualClock) -> None:
    engine.record_usage("bot", 1000, "tokens")
    assert engine.check(agent="bot", action="ping", resource=("Mailbox", "inbox")).allowed
    engine.record_usage("bot", 1.0, "tokens")
    d = engine.check(agent="bot", action="ping", resource=("Mailbox", "inbox"))
    assert d.reasons == ["token-budget"]
    usage = engine.usage("bot", "ping")
    assert usage["units_1h"] == {"tokens": 1001, "usd_cents": 0}
    assert usage["calls_1h"] == 1
    clock.advance(3660)
    assert engine.check(agent="bot", action="ping", resource=("Mailbox", "inbox")).allowed


def test_the_hour_window_edges(engine: Engine, clock: ManualClock) -> None:
    for _ in range(50):
        assert send(engine).allowed
    assert send(engine).reasons == ["email-hourly-cap"]
    clock.advance(3600)
    assert not send(engine).allowed
    clock.advance(60)
    assert send(engine).allowed
    # The clock going back holds the windows still: nothing is forgotten.
    clock.advance(-7200)
    assert engine.usage("bot", "email:send")["action"]["calls_1h"] == 1


def test_racing_threads_lose_no_counts_and_the_cap_holds(engine: Engine) -> None:
    allowed = []
    lock = threading.Lock()

    def work() -> None:
        n = sum(1 for _ in range(40) if send(engine).allowed)
        for _ in range(40):
            assert engine.check(agent="bot2", action="ping", resource=("Mailbox", "inbox")).allowed
        with lock:
            allowed.append(n)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 50
    assert engine.usage("bot", "email:send")["action"]["calls_1h"] == 50
    assert engine.usage("bot2")["calls_1m"] == 240


def test_lockdown_until_lifted(engine: Engine) -> None:
    assert engine.lockdown_status() is None
    with pytest.raises(LifecycleError):
        engine.lift_lockdown(by="alice")
    with pytest.raises(LifecycleError):
        engine.lockdown("", by="alice")
    engine.lockdown("incident 7", by="alice")
    status = engine.lockdown_status()
    assert status is not None
    assert (status["reason"], status["by"], status["since"]) == (
        "incident 7",
        "alice",
        START.replace("Z", ".000Z"),
    )
    assert send(engine).reasons == ["baseline/lockdown"]
    assert send(engine, agent="bot2").reasons == ["baseline/lockdown"]
    assert engine.usage("bot")["calls_1h"] == 0
    engine.lift_lockdown(by="alice")
    assert send(engine).allowed


def test_a_lockdown_racing_checks(engine: Engine) -> None:
    locked = threading.Event()
    stop = threading.Event()
    late_allows: list[Any] = []

    def work() -> None:
        while not stop.is_set():
            was_locked = locked.is_set()
            d = engine.check(agent="bot2", action="ping", resource=("Mailbox", "inbox"))
            if was_locked and d.allowed:
                late_allows.append(d)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    engine.lockdown("race", by="alice")
    locked.set()
    threading.Event().wait(0.05)
    stop.set()
    for t in threads:
        t.join()
    assert late_allows == []

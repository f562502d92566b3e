"""Who decides: the time rule, session audiences and task windows, the checks
every request form gets, the guardrails, the inventory's vocabularies and
lifecycle decisions with guardrails switched off.

Every case ends in a deny or a coded error, never an allow. The engine clock
is the real one: windows here are either long closed (2020) or wide open.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentauthz import (
    Engine,
    InventoryError,
    LifecycleError,
    RequestError,
    SessionError,
    generate_session_key,
)

SCHEMA = """
entity Doc;
entity Ticket;
action "read" appliesTo {
  principal: [Agent], resource: [Doc],
  context: { ticket?: Ticket }
};
"""

POLICIES = '@id("read-all")\npermit (principal, action == Action::"read", resource);\n'

INVENTORY = """
users:
  - {id: alice}
  - {id: bob, active: false}
agents:
  - {id: ci-bot, owner: alice}
  - {id: old-bot, owner: alice, status: offboarded}
credentials:
  - {id: old-key, agent: ci-bot, kind: api_token,
     issued: "2019-01-01T00:00:00Z", expires: "2020-01-01T00:00:00Z"}
  - {id: future-key, agent: ci-bot, kind: api_token,
     issued: "2099-01-01T00:00:00Z", expires: "2100-01-01T00:00:00Z"}
tasks:
  - {id: T-closed, agent: ci-bot,
     not_before: "2020-01-01T00:00:00Z", not_after: "2020-01-02T00:00:00Z"}
resources:
  - {type: Doc, id: readme}
  - {type: Ticket, id: TK-1}
"""

SESSIONS = '[sessions]\naudience = "tools"\n'
ALL_OFF = (
    "[baseline]\nowner-required = false\nagent-active = false\ntask-window = false\n"
    "no-human-credentials = false\ncredential-expired = false\non-behalf-of-active = false\n"
)
DOC = ("Doc", "readme")


def engine(config: str = SESSIONS, trust: bool = False, inventory: str = INVENTORY) -> Engine:
    e = Engine.from_strings(
        schema=SCHEMA,
        policies=POLICIES,
        inventory=inventory,
        config=config,
        trust_caller_time=trust,
    )
    e.set_session_keys(signing={"kid": "k1", "key": generate_session_key("k1")["secret"]})
    return e


def cedar(principal: str, context: dict[str, Any]) -> dict[str, Any]:
    return {
        "principal": {"type": "Agent", "id": principal},
        "action": {"type": "Action", "id": "read"},
        "resource": {"type": "Doc", "id": "readme"},
        "context": context,
    }


def entity(ty: str, eid: str) -> dict[str, Any]:
    return {"__entity": {"type": ty, "id": eid}}


def denied(decision: Any, reasons: list[str]) -> None:
    assert not decision.allowed
    assert decision.reasons == reasons


def test_a_caller_cannot_set_the_time_unless_the_engine_trusts_it() -> None:
    e = engine()
    # A past `now` would revive the expired credential and the closed task.
    with pytest.raises(RequestError) as err:
        e.check(
            agent="ci-bot",
            action="read",
            resource=DOC,
            credential="old-key",
            task="T-closed",
            now="2020-01-01T12:00:00Z",
        )
    assert err.value.code == "request_invalid"
    with pytest.raises(RequestError):
        e.check_request(cedar("ci-bot", {"now": "2020-01-01T12:00:00Z"}))
    # At the engine clock, both are past.
    denied(
        e.check(agent="ci-bot", action="read", resource=DOC, credential="old-key", task="T-closed"),
        ["baseline/credential-expired", "baseline/task-window"],
    )
    # A trusting engine takes the caller's time, for every guardrail alike.
    trusting = engine(trust=True)
    denied(
        trusting.check(
            agent="ci-bot", action="read", resource=DOC, task="T-closed", now="2020-01-03T00:00:00Z"
        ),
        ["baseline/task-window"],
    )


def test_a_session_check_is_at_the_engine_clock_for_its_audience_only() -> None:
    e = engine(trust=True)
    token, _ = e.issue_session("ci-bot")
    with pytest.raises(RequestError):
        e.check(session=token, action="read", resource=DOC, now="2020-01-01T00:00:00Z")
    with pytest.raises(SessionError) as err:
        e.check(session=token, action="read", resource=DOC, audience="billing")
    assert err.value.code == "session_invalid"
    with pytest.raises(SessionError) as err:
        e.issue_session("ci-bot", audience="billing")
    assert err.value.code == "session_invalid"
    with pytest.raises(LifecycleError) as lerr:
        e.issue_session("ci-bot", task="T-closed")
    assert lerr.value.code == "lifecycle_invalid"


@pytest.mark.parametrize("config", [SESSIONS, ALL_OFF])
def test_the_cedar_form_gets_the_unknown_entity_denials(config: str) -> None:
    e = engine(config)
    denied(
        e.check_request(cedar("ci-bot", {"on_behalf_of": entity("User", "mallory")})),
        ["baseline/unknown-on-behalf-of"],
    )
    denied(e.check_request(cedar("ghost-bot", {})), ["baseline/unknown-agent"])
    denied(
        e.check_request(cedar("ci-bot", {"ticket": entity("Ticket", "TK-404")})),
        ["baseline/unknown-entity"],
    )
    denied(
        e.check(
            agent="ci-bot",
            action="read",
            resource=DOC,
            context={"ticket": {"type": "Ticket", "id": "TK-404"}},
        ),
        ["baseline/unknown-entity"],
    )


def test_guardrails_for_inactive_users_and_unissued_credentials() -> None:
    e = engine()
    denied(
        e.check(agent="ci-bot", action="read", resource=DOC, on_behalf_of="bob"),
        ["baseline/on-behalf-of-active"],
    )
    denied(
        e.check(agent="ci-bot", action="read", resource=DOC, credential="future-key"),
        ["baseline/credential-expired"],
    )


def test_credential_kind_is_checked_in_a_cedar_entities_array() -> None:
    entities = [
        {"uid": {"type": "User", "id": "alice"}, "attrs": {"active": True}, "parents": []},
        {
            "uid": {"type": "Agent", "id": "ci-bot"},
            "attrs": {"owner": entity("User", "alice"), "kind": "ci", "status": "active"},
            "parents": [],
        },
        {
            "uid": {"type": "Credential", "id": "k"},
            "attrs": {"agent": entity("Agent", "ci-bot"), "kind": "Human_Token", "revoked": False},
            "parents": [],
        },
    ]
    with pytest.raises(InventoryError) as err:
        engine(inventory=json.dumps(entities))
    assert err.value.code == "inventory_invalid"


def test_offboarding_is_final_and_holds_with_agent_active_off() -> None:
    e = engine(ALL_OFF)
    denied(e.check(agent="old-bot", action="read", resource=DOC), ["baseline/agent-offboarded"])
    e.suspend("ci-bot", by="alice")
    denied(e.check(agent="ci-bot", action="read", resource=DOC), ["baseline/agent-suspended"])
    e.offboard("ci-bot", by="alice")
    denied(e.check_request(cedar("ci-bot", {})), ["baseline/agent-offboarded"])
    with pytest.raises(LifecycleError) as err:
        e.add_task(
            id="T-new",
            agent="ci-bot",
            not_before="2020-01-01T00:00:00Z",
            not_after="2100-01-01T00:00:00Z",
            by="alice",
        )
    assert err.value.code == "lifecycle_invalid"
    with pytest.raises(LifecycleError):
        e.transfer_owner("ci-bot", owner="alice", by="alice")

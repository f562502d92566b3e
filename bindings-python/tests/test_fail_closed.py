"""Fail closed from Python (issue #13): a forbid whose evaluation errors
denies — never an allow — with the forbid as a reason and the error kept;
`on_error = "skip"` keeps Cedar's rule; log-only paths record the would-be
deny; load warnings and strict mode; dangling inventory references."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from agentauthz import Engine, InventoryError, PolicyError

NOW = "2026-11-29T10:00:00Z"
HUGE = 1 << 62

SCHEMA = """
entity Org;
entity Repo in [Org] { classification: String };
action "repo:read" appliesTo { principal: [Agent], resource: [Repo],
  context: { reviewer?: User } };
action "upload" appliesTo { principal: [Agent], resource: [Repo],
  context: { input: { bytes: Long, parts: Long } } };
"""
INVENTORY = """
users: [{id: alice}]
agents: [{id: ci-bot, owner: alice}]
resources:
  - {type: Repo, id: acme/api, attrs: {classification: public}}
"""
ALLOW = '@id("allow-all") permit (principal, action, resource);'
RESTRICTED = (
    '@id("no-restricted") forbid (principal, action, resource)\n'
    'when { resource.classification == "restricted" };'
)
UPLOAD = (
    '@id("upload-limit") forbid (principal, action == Action::"upload", resource)\n'
    "when { context.input.bytes * context.input.parts > 5368709120 };"
)
REVIEWER = (
    '@id("reviewer-active") forbid (principal, action, resource)\n'
    "when { context has reviewer && !context.reviewer.active };"
)


def engine(*policies: str, config: str | None = None, **kw: Any) -> Engine:
    kw.setdefault("trust_caller_time", True)
    return Engine.from_strings(
        schema=SCHEMA, policies=list(policies), inventory=INVENTORY, config=config, **kw
    )


def read(e: Engine, repo: str, **context: Any) -> Any:
    return e.check(
        agent="ci-bot", action="repo:read", resource=("Repo", repo), context=context, now=NOW
    )


def upload(e: Engine, bytes_: int, parts: int) -> Any:
    return e.check(
        agent="ci-bot",
        action="upload",
        resource=("Repo", "acme/api"),
        context={"input": {"bytes": bytes_, "parts": parts}},
        now=NOW,
    )


def assert_fail_closed(decision: Any, forbid: str) -> None:
    assert not decision.allowed, decision.to_dict()
    assert decision.decision == "deny"
    assert forbid in decision.reasons
    assert forbid in [e["policy"] for e in decision.errors]


def test_forbid_on_a_resource_the_inventory_does_not_list_denies() -> None:
    e = engine(ALLOW, RESTRICTED)
    assert_fail_closed(read(e, "acme/ghost"), "no-restricted")
    assert read(e, "acme/api").allowed


def test_overflow_on_tool_input_denies() -> None:
    e = engine(ALLOW, UPLOAD)
    assert_fail_closed(upload(e, HUGE, 4), "upload-limit")
    assert upload(e, 1024, 4).allowed


def test_entity_typed_context_field_naming_an_unknown_entity_denies() -> None:
    e = engine(ALLOW, REVIEWER)
    d = read(e, "acme/api", reviewer={"type": "User", "id": "mallory"})
    assert not d.allowed
    assert "reviewer-active" in d.reasons or any(
        r.startswith("baseline/unknown") for r in d.reasons
    )


def test_a_just_in_time_grant_loses_to_an_erroring_forbid() -> None:
    e = engine(UPLOAD)
    e.grant(
        agent="ci-bot",
        actions=["upload"],
        resource=("Repo", "acme/api"),
        ttl=3600,
        reason="migration",
        granted_by="alice",
    )
    ok = e.check(
        agent="ci-bot",
        action="upload",
        resource=("Repo", "acme/api"),
        context={"input": {"bytes": 1, "parts": 1}},
    )
    assert ok.allowed
    hostile = e.check(
        agent="ci-bot",
        action="upload",
        resource=("Repo", "acme/api"),
        context={"input": {"bytes": HUGE, "parts": 4}},
    )
    assert_fail_closed(hostile, "upload-limit")


def test_a_long_deny_list_denies_whether_or_not_it_errors() -> None:
    terms = " || ".join(f'resource.classification == "c{i}"' for i in range(2000))
    policy = f'@id("deny-list") forbid (principal, action, resource) when {{ {terms} }};'
    e = engine(ALLOW, policy)
    assert any(w["policy"] == "deny-list" and w["kind"] == "depth" for w in e.warnings())
    out: list[Any] = []
    # A thread with a small stack: Cedar stops with "recursion limit reached".
    previous = threading.stack_size(2 << 20)
    try:
        t = threading.Thread(target=lambda: out.append(read(e, "acme/api")))
        t.start()
        t.join()
    finally:
        threading.stack_size(previous)
    (d,) = out
    assert_fail_closed(d, "deny-list")
    assert any("recursion limit" in err["message"] for err in d.errors)


def test_an_erroring_permit_simply_does_not_permit() -> None:
    e = engine(
        '@id("p") permit (principal, action, resource)\n'
        'when { resource.classification == "public" };'
    )
    d = read(e, "acme/ghost")
    assert not d.allowed and d.reasons == [] and len(d.errors) == 1


def test_on_error_skip_keeps_cedars_rule() -> None:
    e = engine(ALLOW, RESTRICTED, config='[engine]\non_error = "skip"\n')
    assert e.on_error == "skip"
    d = read(e, "acme/ghost")
    assert d.allowed and d.reasons == ["allow-all"] and len(d.errors) == 1
    assert engine(ALLOW).on_error == "deny"


def test_log_only_paths_record_the_would_be_fail_closed_deny() -> None:
    records: list[dict[str, Any]] = []
    e = engine(ALLOW, RESTRICTED, decision_log=records.append)
    read(e, "acme/ghost")
    assert records[-1]["decision"] == "deny" and records[-1]["fail_closed"] is True

    shadow = RESTRICTED.replace('@id("no-restricted")', '@id("no-restricted") @mode("log-only")')
    e = engine(ALLOW, shadow, decision_log=records.append)
    assert read(e, "acme/ghost").allowed, "a log-only forbid does not change the decision"
    rec = records[-1]
    assert rec["decision"] == "allow" and rec["would_decision"] == "deny"
    assert rec["would_reasons"] == ["no-restricted"] and rec["fail_closed"] is True

    e = engine(
        ALLOW, RESTRICTED, config='[engine]\nmode = "log-only"\n', decision_log=records.append
    )
    assert read(e, "acme/ghost").allowed
    rec = records[-1]
    assert rec["would_decision"] == "deny" and rec["fail_closed"] is True


def test_warnings_and_strict_mode() -> None:
    e = engine(ALLOW, RESTRICTED, UPLOAD)
    kinds = {(w["policy"], w["kind"]) for w in e.warnings()}
    assert ("no-restricted", "absent_entity") in kinds
    assert ("upload-limit", "overflow") in kinds
    located = next(w for w in e.warnings() if w["policy"] == "no-restricted")
    assert located["location"]["line"] == 2
    assert engine(ALLOW).warnings() == []
    with pytest.raises(PolicyError) as err:
        engine(ALLOW, RESTRICTED, config="[engine]\nstrict = true\n")
    assert err.value.code == "policy_may_error"


def test_dangling_reference_in_a_resource_attribute_is_inventory_invalid() -> None:
    with pytest.raises(InventoryError) as err:
        Engine.from_strings(
            schema="entity Doc { reviewers: Set<User> };\n"
            "action read appliesTo { principal: [Agent], resource: [Doc] };",
            policies='@id("p") permit (principal, action, resource);',
            inventory="users: [{id: alice}]\nagents: [{id: ci-bot, owner: alice}]\n"
            "resources:\n  - {type: Doc, id: d1, attrs: {reviewers: [{type: User, id: ghost}]}}\n",
        )
    assert err.value.code == "inventory_invalid"
    assert "ghost" in str(err.value)

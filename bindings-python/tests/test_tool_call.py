"""Engine.check_tool_call: the core's one tool-call mapper, as Python calls it.

The coercions themselves are the core's (core/tests/tool_call.rs); here: the
keyword arguments reach the core, Python values (floats, None) are coerced,
and every refusal is a coded RequestError / LimitError, never a crash.
"""

from __future__ import annotations

from typing import Any

import pytest

from agentauthz import Engine, LimitError, RequestError, generate_session_key

SCHEMA = """
entity Account;
type Refund = { amount: decimal, currency: String, note?: String };
action "refund" appliesTo {
  principal: [Agent], resource: [Account],
  context: { input: { refund: Refund, count?: Long } }
};
"""

POLICIES = """
@id("refund-small")
permit (principal, action == Action::"refund", resource)
when { context.input.refund.amount.lessThanOrEqual(decimal("100.0")) };

@id("refund-count")
forbid (principal, action == Action::"refund", resource)
when { context.input has count && context.input.count > 10 };
"""

INVENTORY = """
users:
  - {id: alice}
agents:
  - {id: ci-bot, owner: alice}
resources:
  - {type: Account, id: acme}
"""

ACME = ("Account", "acme")


@pytest.fixture
def records() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def engine(records: list[dict[str, Any]]) -> Engine:
    e = Engine.from_strings(
        schema=SCHEMA,
        policies=POLICIES,
        inventory=INVENTORY,
        config='[sessions]\naudience = "tools"\n',
        decision_log=records.append,
    )
    key = generate_session_key("k1")
    e.set_session_keys(signing={"kid": "k1", "key": key["secret"]})
    return e


def refund(amount: Any, **extra: Any) -> dict[str, Any]:
    return {"refund": {"amount": amount, "currency": "EUR", **extra}}


def call(engine: Engine, input: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("agent", "ci-bot")
    kwargs.setdefault("action", "refund")
    return engine.check_tool_call(tool="issue_refund", resource=ACME, input=input, **kwargs)


def test_floats_and_nones_are_coerced(engine: Engine, records: list[dict[str, Any]]) -> None:
    d = call(engine, refund(12.5, note=None) | {"count": 3.0})
    assert d.allowed
    assert d.reasons == ["refund-small"]
    assert records[-1]["decision_id"] == d.decision_id
    assert records[-1]["context"]["input"]["refund"]["amount"] == {
        "__extn": {"fn": "decimal", "arg": "12.5"}
    }
    assert not call(engine, refund(100.5)).allowed
    assert not call(engine, refund(1) | {"count": 11.0}).allowed


def test_no_action_is_a_recorded_deny(engine: Engine, records: list[dict[str, Any]]) -> None:
    d = call(engine, {"anything": None}, action=None)
    assert not d.allowed
    assert d.reasons == ["baseline/unknown-action"]
    assert records[-1]["decision_id"] == d.decision_id
    assert records[-1]["action"] == "issue_refund"


@pytest.mark.parametrize(
    ("input", "message"),
    [
        (
            refund(12.34567),
            "input.refund.amount: 12.34567 has more than 4 fraction digits for decimal",
        ),
        (refund(1e20), "input.refund.amount: 1e+20 is out of range for decimal"),
        (refund(5) | {"count": 3.5}, "input.count: 3.5 is not an integer for Long"),
        ({"refund": {"amount": 5, "currency": None}}, "input.refund.currency: null"),
        (refund(5, extra=1), "input.refund.extra: not an attribute"),
        ({"refund": {"amount": 5}}, "input.refund.currency: required attribute is missing"),
    ],
)
def test_what_cannot_fit_is_a_request_error(engine: Engine, input: Any, message: str) -> None:
    with pytest.raises(RequestError) as e:
        call(engine, input)
    assert e.value.code == "request_invalid"
    assert message in str(e.value)


def test_identity_forms(engine: Engine) -> None:
    token, _ = engine.issue_session("ci-bot")
    assert call(engine, refund(1), agent=None, session=token).allowed
    assert call(engine, refund(1), agent=None, session=token, audience="tools").allowed
    for kwargs in (
        {"session": token},
        {"agent": None},
        {"agent": None, "session": token, "task": "T-1"},
        {"audience": "tools"},
    ):
        with pytest.raises(RequestError) as e:
            call(engine, refund(1), **kwargs)
        assert e.value.code == "request_invalid", kwargs


def test_bad_arguments_are_coded_errors(engine: Engine) -> None:
    with pytest.raises(RequestError):
        call(engine, refund(float("nan")))
    with pytest.raises(RequestError):
        call(engine, refund(1), context={"input": refund(1)})
    with pytest.raises(RequestError):
        engine.check_tool_call(tool=3, action="refund", resource=ACME, agent="ci-bot")  # type: ignore[arg-type]
    deep: Any = 1
    for _ in range(200):
        deep = [deep]
    with pytest.raises(LimitError):
        call(engine, deep)

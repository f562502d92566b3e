"""agentauthz.toolcall.ToolCallGuard: the one tool-call mapper the framework adapters share,
against the real engine. Hostile cases first: how could a caller turn a refusal
into a run, crash the host, or lose a decision record?"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from typing import Any

import pytest

from agentauthz import Decision, Engine, RequestError
from agentauthz.toolcall import ToolCall, ToolCallGuard, Verdict, refusal_text

from conftest import NOW, SUPPORT_ACCOUNT, SUPPORT_BUNDLE


@pytest.fixture
def records() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def engine(records: list[dict[str, Any]]) -> Engine:
    return Engine.load(SUPPORT_BUNDLE, decision_log=records.append, trust_caller_time=True)


def guard(engine: Engine, **options: Any) -> ToolCallGuard:
    options.setdefault("agent", "support-bot")
    options.setdefault("resource", SUPPORT_ACCOUNT)
    options.setdefault("now", NOW)
    return ToolCallGuard(engine, **options)


REFUND = ToolCall("issue_refund", {"order_id": "o-1", "amount": 12.5}, id="c1")


def refused(v: Verdict, code: str | None = None) -> str:
    assert not v.allowed
    assert v.refusal is not None and "did not run" in v.refusal
    if code is not None:
        assert v.error is not None
        assert code in v.refusal
    return v.refusal


# ---- hostile: option callables, on_decision, bad arguments


@pytest.mark.parametrize(
    "option", ["agent", "resource", "action", "context", "task", "now", "input", "credential"]
)
def test_a_raising_option_callable_refuses(
    engine: Engine, records: list[dict[str, Any]], option: str
) -> None:
    def boom(call: ToolCall) -> Any:
        raise KeyError(call.name)

    v = guard(engine, **{option: boom}).check(REFUND)
    text = refused(v, "KeyError")
    assert "issue_refund" in text
    assert v.decision is None
    assert records == []  # nothing was decided


def test_a_raising_option_callable_raises_on_request(engine: Engine) -> None:
    def boom(call: ToolCall) -> Any:
        raise KeyError(call.name)

    with pytest.raises(KeyError):
        guard(engine, agent=boom, on_error="raise").check(REFUND)


def test_a_readme_style_action_lambda_with_an_unlisted_tool_is_a_refusal(engine: Engine) -> None:
    g = guard(engine, action=lambda call: {"issue_refund": "issue_refund"}[call.name])
    refused(g.check(ToolCall("drop_tables", {})), "KeyError")


def test_on_decision_raising_never_allows(engine: Engine, records: list[dict[str, Any]]) -> None:
    def veto(decision: Decision, call: ToolCall) -> None:
        raise RuntimeError("audit sink down")

    g = guard(engine, on_decision=veto)
    allowed_then_vetoed = g.check(REFUND)
    text = refused(allowed_then_vetoed, "RuntimeError")
    assert allowed_then_vetoed.decision is not None and allowed_then_vetoed.decision.allowed
    assert allowed_then_vetoed.decision.decision_id in text
    denied = g.check(ToolCall("close_account", {}))
    assert "no-account-closing" in refused(denied)
    assert [r["decision"] for r in records] == ["allow", "deny"]  # one record each
    with pytest.raises(RuntimeError):
        guard(engine, on_decision=veto, on_error="raise").check(REFUND)


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ("not a dict", "request_invalid"),
        (["order_id", "o-1"], "request_invalid"),
        ({"order_id": "o-1", "amount": 12.34567}, "request_invalid"),  # 5 digits
        ({"order_id": "o-1", "amount": 12.5, "extra": 1}, "request_invalid"),
        ({"order_id": "o-1"}, "request_invalid"),  # missing amount
        ({"order_id": 7, "amount": 1}, "request_invalid"),
        ({"order_id": "o-1", "amount": float("nan")}, None),
        ({"order_id": "o-1", "amount": 10**40}, None),
        ({"order_id": "o-1", "amount": "1.0", "note": object()}, None),
    ],
)
def test_malformed_arguments_refuse(
    engine: Engine, records: list[dict[str, Any]], args: Any, code: str | None
) -> None:
    v = guard(engine).check(ToolCall("issue_refund", args, id="c9"))
    refused(v, code)
    assert v.error is not None
    assert v.artifact()["error"]["code"] == (code or v.artifact()["error"]["code"])
    # What reached the engine is logged once, as an error; what the binding
    # could not even convert never reached it.
    assert [r["decision"] for r in records] in ([], ["error"])
    with pytest.raises(RequestError):
        guard(engine, on_error="raise").check(ToolCall("issue_refund", args))


def test_huge_and_deep_arguments_refuse(engine: Engine) -> None:
    deep: Any = "x"
    for _ in range(100_000):
        deep = {"a": deep}
    refused(guard(engine).check(ToolCall("issue_refund", deep)))
    huge = {"order_id": "o" * 20_000_000, "amount": 1}
    v = guard(engine).check(ToolCall("issue_refund", huge))
    text = refused(v)
    assert len(text) < 2000  # the model is not handed the input back


def test_cyclic_arguments_refuse(engine: Engine) -> None:
    args: dict[str, Any] = {"order_id": "o-1", "amount": 1}
    args["self"] = args
    refused(guard(engine).check(ToolCall("issue_refund", args)))


def test_an_unmapped_tool_is_a_deny(engine: Engine, records: list[dict[str, Any]]) -> None:
    g = guard(engine, action={"refund": "issue_refund"})
    v = g.check(ToolCall("lookup_order", {"order_id": "o-1"}))
    assert "baseline/unknown-action" in refused(v)
    assert v.error is None and v.decision is not None
    assert v.decision.reasons == ["baseline/unknown-action"]
    assert len(records) == 1 and records[0]["decision"] == "deny"


def test_a_tool_named_like_another_tools_mapped_action_is_not_that_action(engine: Engine) -> None:
    # `refund` maps to issue_refund; a tool literally named issue_refund is unlisted.
    g = guard(engine, action={"refund": "issue_refund"})
    assert g.check(ToolCall("refund", {"order_id": "o", "amount": 5})).allowed
    v = g.check(ToolCall("issue_refund", {"order_id": "o", "amount": 5}))
    assert v.decision is not None and v.decision.reasons == ["baseline/unknown-action"]


def test_the_action_map_is_copied(engine: Engine) -> None:
    mapping = {"refund": "issue_refund"}
    g = guard(engine, action=mapping)
    mapping["lookup_order"] = "lookup_order"
    assert not g.check(ToolCall("lookup_order", {"order_id": "o"})).allowed


def test_an_action_callable_returning_none_is_a_deny(engine: Engine) -> None:
    v = guard(engine, action=lambda call: None).check(REFUND)
    assert v.decision is not None and v.decision.reasons == ["baseline/unknown-action"]


def test_an_async_option_in_a_sync_check_refuses_without_a_warning(engine: Engine) -> None:
    async def agent(call: ToolCall) -> str:
        return "support-bot"

    refused(guard(engine, agent=agent).check(REFUND), "TypeError")


def test_errors_are_logged(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="agentauthz"):
        guard(engine).check(ToolCall("issue_refund", "nope"))
    assert "request_invalid" in caplog.text


def test_options_are_validated(engine: Engine) -> None:
    with pytest.raises(ValueError, match="on_error"):
        guard(engine, on_error="ignore")
    with pytest.raises(TypeError, match="agent"):
        ToolCallGuard(engine, resource=SUPPORT_ACCOUNT)
    with pytest.raises(TypeError, match="action"):
        guard(engine, action=42)
    with pytest.raises(TypeError, match="Engine"):
        ToolCallGuard(object(), agent="a", resource=SUPPORT_ACCOUNT)  # type: ignore[arg-type]


# ---- what it decides


def test_allowed_and_denied_calls(engine: Engine, records: list[dict[str, Any]]) -> None:
    seen: list[tuple[str, str]] = []
    g = guard(engine, on_decision=lambda d, call: seen.append((call.name, d.decision)))
    ok = g.check(REFUND)
    assert ok.allowed and ok.refusal is None and ok.error is None
    assert ok.decision is not None and ok.decision.reasons == ["support-refund-small"]
    big = g.check(ToolCall("issue_refund", {"order_id": "o-2", "amount": 250}))
    assert "no policy permits this call" in refused(big)
    closing = g.check(ToolCall("close_account", {"reason": None}))
    text = refused(closing)
    assert closing.decision is not None
    assert "no-account-closing" in text and closing.decision.decision_id in text
    assert closing.artifact()["reasons"] == ["no-account-closing"]
    assert seen == [("issue_refund", "allow"), ("issue_refund", "deny"), ("close_account", "deny")]
    assert [r["decision_id"] for r in records] == [
        v.decision.decision_id for v in (ok, big, closing) if v.decision is not None
    ]
    assert records[0]["context"]["input"]["amount"] is not None


def test_decimal_and_int_amounts_fit(engine: Engine) -> None:
    for amount in (99.9999, 100, 0.5):
        assert (
            guard(engine)
            .check(ToolCall("issue_refund", {"order_id": "o", "amount": amount}))
            .allowed
        ), amount


def test_options_receive_the_call(engine: Engine) -> None:
    seen: list[Any] = []

    def resource(call: ToolCall) -> tuple[str, str]:
        seen.append((call.name, call.id, call.raw))
        return SUPPORT_ACCOUNT

    assert (
        guard(engine, resource=resource)
        .check(ToolCall("lookup_order", {"order_id": "o"}, id="c7", raw="framework-object"))
        .allowed
    )
    assert seen == [("lookup_order", "c7", "framework-object")]


def test_input_option_replaces_the_arguments(engine: Engine) -> None:
    g = guard(engine, input=lambda call: {"order_id": call.args["id"]})
    assert g.check(ToolCall("lookup_order", {"id": "o-1"})).allowed


def test_acheck_awaits_async_options(engine: Engine, records: list[dict[str, Any]]) -> None:
    decisions: list[str] = []

    async def agent(call: ToolCall) -> str:
        await asyncio.sleep(0)
        return "support-bot"

    async def on_decision(decision: Decision, call: ToolCall) -> None:
        decisions.append(decision.decision)

    g = guard(engine, agent=agent, on_decision=on_decision)
    assert asyncio.run(g.acheck(REFUND)).allowed
    assert not asyncio.run(g.acheck(ToolCall("close_account", {}))).allowed
    assert decisions == ["allow", "deny"]
    assert len(records) == 2

    async def failing(decision: Decision, call: ToolCall) -> None:
        raise RuntimeError("nope")

    refused(asyncio.run(guard(engine, on_decision=failing).acheck(REFUND)), "RuntimeError")


def test_refusal_text() -> None:
    with pytest.raises(ValueError, match="denying decision or an error"):
        refusal_text("x")
    text = refusal_text("x", error=RequestError("bad", code="request_invalid"))
    assert text == (
        "Tool call 'x' was refused: authorization could not be decided "
        "(error: request_invalid: bad). The tool did not run."
    )


def test_import_agentauthz_imports_no_framework() -> None:
    code = (
        "import sys, agentauthz, agentauthz.toolcall\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('langchain', 'langgraph', 'agents', 'google', 'crewai', 'llama_index')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)

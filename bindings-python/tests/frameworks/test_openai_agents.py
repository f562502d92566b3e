"""agentauthz.openai_agents with the real openai-agents SDK and a scripted model (no network)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest

os.environ["OPENAI_AGENTS_DISABLE_TRACING"] = "1"

from agents import (
    Agent,
    FunctionTool,
    Model,
    ModelResponse,
    RunConfig,
    Runner,
    Usage,
    WebSearchTool,
    function_tool,
)
from agents.tool_context import ToolContext
from agents.tool_guardrails import ToolInputGuardrailData
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

from agentauthz import Engine, LifecycleError
from agentauthz.openai_agents import guard_agent, pending_approvals, tool_input_guardrail

from conftest import NOW, SUPPORT_ACCOUNT, SUPPORT_BUNDLE, bundle_strings
from fwscript import FINAL, RAN, SCRIPT, check_outputs, logged_engine

ran: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def _clear() -> None:
    ran.clear()


def make_tools() -> list[Any]:
    @function_tool
    def lookup_order(order_id: str) -> str:
        """Look an order up."""
        ran.append(("lookup_order", order_id))
        return f"order {order_id}: shipped"

    @function_tool
    def issue_refund(order_id: str, amount: float) -> str:
        """Refund an order."""
        ran.append(("issue_refund", order_id))
        return f"refunded {amount} on {order_id}"

    @function_tool
    def close_account(reason: str) -> str:
        """Close the customer's account."""
        ran.append(("close_account", reason))
        return "closed"

    return [lookup_order, issue_refund, close_account]


def text_message(text: str) -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id="m",
        type="message",
        role="assistant",
        status="completed",
        content=[ResponseOutputText(type="output_text", text=text, annotations=[])],
    )


class ScriptedModel(Model):
    """Makes the scripted calls, one per turn, and records every input it is given."""

    def __init__(self, calls: list[tuple[str, Any, str]]) -> None:
        self.turns: list[Any] = [
            ResponseFunctionToolCall(
                type="function_call",
                name=name,
                arguments=args if isinstance(args, str) else json.dumps(args),
                call_id=call_id,
            )
            for name, args, call_id in calls
        ]
        self.inputs: list[Any] = []

    async def get_response(self, system_instructions: Any, input: Any, *a: Any, **k: Any) -> Any:
        self.inputs.append(input)
        item = self.turns.pop(0) if self.turns else text_message(FINAL)
        return ModelResponse(output=[item], usage=Usage(), response_id=None)

    def stream_response(self, *a: Any, **k: Any) -> AsyncIterator[Any]:
        raise NotImplementedError


def outputs_seen(model: ScriptedModel) -> dict[str, str]:
    """Each function call's output as the model received it on its next turn."""
    seen: dict[str, str] = {}
    for items in model.inputs:
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and item.get("type") == "function_call_output":
                seen[item["call_id"]] = str(item["output"])
    return seen


OPTIONS: dict[str, Any] = {"agent": "support-bot", "resource": SUPPORT_ACCOUNT, "now": NOW}
SCRIPTED = [(name, args, call_id) for name, args, call_id, _ in SCRIPT]
RUN_CONFIG = RunConfig(tracing_disabled=True)


def build(
    calls: list[tuple[str, Any, str]], **options: Any
) -> tuple[Any, ScriptedModel, list[Any]]:
    engine, records = logged_engine()
    model = ScriptedModel(calls)
    agent = guard_agent(
        Agent(name="support", model=model, tools=make_tools()), engine, **{**OPTIONS, **options}
    )
    return agent, model, records


def run_sync(agent: Agent[Any], text: str = "help") -> Any:
    try:
        return Runner.run_sync(agent, text, run_config=RUN_CONFIG)
    finally:
        # run_sync leaves its thread's default loop open on purpose; close it here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            asyncio.get_event_loop_policy().get_event_loop().close()
        asyncio.set_event_loop(None)


def test_agent_run_sync() -> None:
    agent, model, records = build(SCRIPTED)
    result = run_sync(agent)
    assert result.final_output == FINAL
    assert ran == RAN
    check_outputs(outputs_seen(model), records)


@pytest.mark.asyncio
async def test_agent_run_async() -> None:
    agent, model, records = build(SCRIPTED)
    result = await Runner.run(agent, "help", run_config=RUN_CONFIG)
    assert result.final_output == FINAL
    assert ran == RAN
    check_outputs(outputs_seen(model), records)


def test_unmapped_tool_and_bad_json_are_refused() -> None:
    calls = [
        ("lookup_order", {"order_id": "o-1"}, "c1"),
        ("issue_refund", "{not json", "c2"),
        ("issue_refund", "[1, 2]", "c3"),
        ("issue_refund", json.dumps({"order_id": "o" * 5_000_000, "amount": 1}), "c5"),
    ]
    agent, model, records = build(calls, action={"issue_refund": "issue_refund"})
    run_sync(agent)
    assert ran == []
    seen = outputs_seen(model)
    assert "baseline/unknown-action" in seen["c1"]
    assert "request_parse" in seen["c2"]
    assert "request_invalid" in seen["c3"]
    assert "did not run" in seen["c5"] and len(seen["c5"]) < 2000
    assert records[0]["reasons"] == ["baseline/unknown-action"]


@pytest.mark.asyncio
async def test_guardrail_refuses_json_too_deep_to_parse() -> None:
    # The SDK's own argument parsing (before guardrails) raises on this too; the
    # guardrail itself must still refuse, not raise.
    engine, records = logged_engine()
    guardrail = tool_input_guardrail(engine, **OPTIONS)
    deep = "[" * 100_000 + "]" * 100_000
    ctx = ToolContext(context=None, tool_name="issue_refund", tool_call_id="c", tool_arguments=deep)
    out = await guardrail.run(ToolInputGuardrailData(context=ctx, agent=Agent(name="a")))
    assert out.behavior["type"] == "reject_content"
    assert "request_parse" in out.behavior["message"] and len(out.behavior["message"]) < 2000
    assert out.output_info["error"]["code"] == "request_parse"
    assert records == []


def test_raising_options_and_on_decision_refuse() -> None:
    def agent_of(call: Any) -> str:
        raise RuntimeError("identity service down")

    agent, model, records = build([("lookup_order", {"order_id": "o-1"}, "c1")], agent=agent_of)
    run_sync(agent)
    assert ran == [] and records == []
    assert "RuntimeError" in outputs_seen(model)["c1"]

    def veto(decision: Any, call: Any) -> None:
        raise RuntimeError("audit down")

    agent, model, records = build([("lookup_order", {"order_id": "o-1"}, "c1")], on_decision=veto)
    run_sync(agent)
    assert ran == [] and len(records) == 1


def test_option_callables_see_the_sdk_context() -> None:
    seen: list[tuple[str, str]] = []

    def agent_of(call: Any) -> str:
        seen.append((call.raw.context.tool_name, call.raw.agent.name))
        return "support-bot"

    agent, _, _ = build([("lookup_order", {"order_id": "o-1"}, "c1")], agent=agent_of)
    run_sync(agent)
    assert seen == [("lookup_order", "support")] and ran == RAN[:1]


def test_guard_agent_refuses_unguardable_tools_and_does_not_stack() -> None:
    engine, _ = logged_engine()
    with pytest.raises(TypeError, match="input guardrail"):
        guard_agent(Agent(name="a", tools=[WebSearchTool()]), engine, **OPTIONS)
    agent = Agent(name="a", tools=make_tools())
    guard_agent(guard_agent(agent, engine, **OPTIONS), engine, **OPTIONS)
    for t in agent.tools:
        assert isinstance(t, FunctionTool)
        assert [g.get_name() for g in t.tool_input_guardrails or []] == ["agentauthz"]


def test_tool_input_guardrail_on_one_tool() -> None:
    engine, records = logged_engine()
    tools = make_tools()
    tools[2].tool_input_guardrails = [tool_input_guardrail(engine, **OPTIONS)]
    model = ScriptedModel([("close_account", {"reason": "x"}, "c1")])
    run_sync(Agent(name="a", model=model, tools=tools), "go")
    assert ran == [] and "no-account-closing" in outputs_seen(model)["c1"]
    assert len(records) == 1


# ---- human approval through the SDK's tool approval (needs_approval / interruptions)

APPROVAL_POLICY = """
@id("support-refund-large")
permit (principal in AgentGroup::"support", action == Action::"issue_refund", resource)
when { context.input.amount.lessThanOrEqual(decimal("1000.0")) };

@id("refund-over-100")
@approval("owner")
forbid (principal, action == Action::"issue_refund", resource)
when { context.input.amount.greaterThan(decimal("100.0")) };
"""


def approval_engine() -> Engine:
    strings = bundle_strings(SUPPORT_BUNDLE)
    strings["policies"] = {**strings["policies"], "approval.cedar": APPROVAL_POLICY}
    return Engine.from_strings(**strings, trust_caller_time=True)


def refunds(*amounts: float) -> list[tuple[str, Any, str]]:
    # Amounts the tool's float parameter keeps as they are: the SDK asks for
    # approval without asking the engine when its validation would change them.
    return [
        ("issue_refund", {"order_id": "o-9", "amount": a}, f"r{i}") for i, a in enumerate(amounts)
    ]


def approval_agent(engine: Engine, *amounts: float, **options: Any) -> tuple[Any, ScriptedModel]:
    model = ScriptedModel(refunds(*amounts))
    agent = guard_agent(
        Agent(name="support", model=model, tools=make_tools()),
        engine,
        approval="interrupt",
        **{**OPTIONS, **options},
    )
    return agent, model


async def resume(agent: Any, result: Any, decide: str = "approve", **kw: Any) -> Any:
    state = result.to_state()
    for item in result.interruptions:
        getattr(state, decide)(item, **kw)
    return await Runner.run(agent, state, run_config=RUN_CONFIG)


@pytest.mark.asyncio
async def test_sdk_approval_without_the_engines_runs_nothing() -> None:
    engine = approval_engine()
    agent, model = approval_agent(engine, 250.5)
    result = await Runner.run(agent, "help", run_config=RUN_CONFIG)
    assert ran == [] and len(result.interruptions) == 1
    # The human (or the model's app) approves in the SDK only, even "always".
    result = await resume(agent, result, always_approve=True)
    assert ran == []
    out = outputs_seen(model)["r0"]
    assert "did not run" in out and "refund-over-100" in out and "approval" in out
    assert result.final_output == FINAL


@pytest.mark.asyncio
async def test_engine_approval_runs_the_approved_arguments_once() -> None:
    engine = approval_engine()
    agent, model = approval_agent(engine, 250.5, 260.5, 250.5)
    result = await Runner.run(agent, "help", run_config=RUN_CONFIG)
    waiting = pending_approvals(result)
    assert len(waiting) == 1 and waiting[0]["item"] is result.interruptions[0]
    assert waiting[0]["approvers"] == ["owner"] and waiting[0]["args"]["amount"] == 250.5
    assert waiting[0]["request_digest"].startswith("sha256:")
    engine.approve(waiting[0]["decision_id"], by="alice")
    result = await resume(agent, result)
    assert ran == [("issue_refund", "o-9")]
    # 260 was not approved: paused again; approving it in the SDK only does not run it.
    second = pending_approvals(result)
    assert [w["args"]["amount"] for w in second] == [260.5]
    result = await resume(agent, result)
    assert ran == [("issue_refund", "o-9")]
    # 250 again: the engine's approval was used up.
    assert [w["args"]["amount"] for w in pending_approvals(result)] == [250.5]
    result = await resume(agent, result)
    assert ran == [("issue_refund", "o-9")]
    assert result.final_output == FINAL
    seen = outputs_seen(model)
    assert "did not run" not in seen["r0"]
    assert "did not run" in seen["r1"] and "did not run" in seen["r2"]


@pytest.mark.asyncio
async def test_a_rejected_call_and_a_non_owner_stay_refused() -> None:
    engine = approval_engine()
    agent, model = approval_agent(engine, 250.5, 250.5)
    result = await Runner.run(agent, "help", run_config=RUN_CONFIG)
    decision_id = pending_approvals(result)[0]["decision_id"]
    with pytest.raises(LifecycleError):
        engine.approve(decision_id, by="mallory")
    engine.approve(decision_id, by="alice")
    result = await resume(agent, result, decide="reject")  # the SDK's reject wins for r0
    assert "did not run" not in outputs_seen(model)["r0"]  # the SDK's rejection text
    # The engine's approval was still unused: the model's identical r1 took it, once.
    assert ran == [("issue_refund", "o-9")]
    assert result.interruptions == [] and result.final_output == FINAL


@pytest.mark.asyncio
async def test_one_check_per_call_and_raising_callbacks_do_not_allow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    records: list[dict[str, Any]] = []
    engine = approval_engine()
    engine.set_decision_log(records.append)
    engine.on_approval_request(lambda _: 1 / 0)
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    agent, model = approval_agent(engine, 5.5, 250.5)
    result = await Runner.run(agent, "help", run_config=RUN_CONFIG)
    assert [type(u.exc_value) for u in unraisable] == [ZeroDivisionError]
    assert ran == [("issue_refund", "o-9")]  # 5 ran, 250 waits
    assert [r["decision"] for r in records] == ["allow", "needs_approval"]
    result = await resume(agent, result)
    assert ran == [("issue_refund", "o-9")]

    def veto(decision: Any, call: Any) -> None:
        raise RuntimeError("audit down")

    agent, model = approval_agent(engine, 250.5, on_decision=veto)
    result = await Runner.run(agent, "help", run_config=RUN_CONFIG)
    assert result.interruptions == [] and ran == [("issue_refund", "o-9")]
    assert "did not run" in outputs_seen(model)["r0"]  # refused, not paused

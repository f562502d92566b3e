"""agentauthz.openai_agents with the real openai-agents SDK and a scripted model (no network)."""

from __future__ import annotations

import asyncio
import json
import os
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

from agentauthz.openai_agents import guard_agent, tool_input_guardrail

from conftest import NOW, SUPPORT_ACCOUNT
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

"""agentauthz.crewai with the real crewai Crew and a scripted ReAct model (no network)."""

from __future__ import annotations

import json
import os
import re
from typing import Any

for _var, _value in {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_DISABLE_TRACKING": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
}.items():
    os.environ[_var] = _value

import warnings  # noqa: E402

import pytest  # noqa: E402

# crewai's lazy module loader warns about itself while importing (ImportWarning).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ImportWarning)
    from crewai import Agent, Crew, Task
    from crewai.hooks import clear_all_tool_call_hooks
    from crewai.llms.base_llm import BaseLLM
    from crewai.tools import tool

from agentauthz.crewai import AuthorizationHooks, authorize  # noqa: E402

from conftest import NOW, SUPPORT_ACCOUNT  # noqa: E402
from fwscript import FINAL, RAN, SCRIPT, check_outputs, logged_engine  # noqa: E402

# crewai reads its own deprecated fields while it sets an Agent up.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:crewai.*")

ran: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def _clear() -> Any:
    ran.clear()
    clear_all_tool_call_hooks()
    yield
    clear_all_tool_call_hooks()


@tool("lookup_order")
def lookup_order(order_id: str) -> str:
    """Look an order up."""
    ran.append(("lookup_order", order_id))
    return f"order {order_id}: shipped"


@tool("issue_refund")
def issue_refund(order_id: str, amount: float) -> str:
    """Refund an order."""
    ran.append(("issue_refund", order_id))
    return f"refunded {amount}"


@tool("close_account")
def close_account(reason: str) -> str:
    """Close the customer's account."""
    ran.append(("close_account", reason))
    return "closed"


TOOLS = [lookup_order, issue_refund, close_account]


class ScriptedLLM(BaseLLM):
    """Answers in CrewAI's ReAct text format, one scripted call per turn, and keeps
    every prompt it is given."""

    calls: list[Any] = []  # noqa: RUF012 (a pydantic field)
    prompts: list[str] = []  # noqa: RUF012

    def call(self, messages: Any, *args: Any, **kwargs: Any) -> str:
        self.prompts.append(json.dumps(messages) if not isinstance(messages, str) else messages)
        if not self.calls:
            return f"Thought: I now know the final answer\nFinal Answer: {FINAL}"
        name, args_, _ = self.calls.pop(0)
        return f"Thought: next step\nAction: {name}\nAction Input: {json.dumps(args_)}"

    def supports_function_calling(self) -> bool:
        return False


OPTIONS: dict[str, Any] = {"agent": "support-bot", "resource": SUPPORT_ACCOUNT, "now": NOW}
SCRIPTED = [(name, args, call_id) for name, args, call_id, _ in SCRIPT]


def crew(model: ScriptedLLM, tools: list[Any] = TOOLS) -> Crew:
    agent = Agent(
        role="support",
        goal="help the customer",
        backstory="a support agent",
        llm=model,
        tools=tools,
        max_iter=10,
        allow_delegation=False,
    )
    task = Task(description="help", expected_output="a summary", agent=agent)
    return Crew(agents=[agent], tasks=[task])


def observations(model: ScriptedLLM) -> list[str]:
    """The tool observations, in order, from the prompt after each call."""
    out: list[str] = []
    for before, after in zip(model.prompts, model.prompts[1:]):
        new = after[len(before) :] if after.startswith(before[:-2]) else after
        m = re.findall(r"Observation: (.*?)(?:\\n|\")", new)
        out.append(m[-1] if m else "")
    return out


def outputs_by_call(model: ScriptedLLM) -> dict[str, str]:
    seen = observations(model)
    return {call_id: seen[i] for i, (_, _, call_id) in enumerate(SCRIPTED)}


def test_hooks_run_sync() -> None:
    engine, records = logged_engine()
    hooks = AuthorizationHooks(engine, **OPTIONS).register()
    model = ScriptedLLM(model="scripted", calls=list(SCRIPTED), prompts=[])
    result = crew(model).kickoff()
    hooks.unregister()
    assert str(result) == FINAL
    assert ran == RAN
    check_outputs(outputs_by_call(model), records)


@pytest.mark.asyncio
async def test_hooks_run_async() -> None:
    engine, records = logged_engine()
    AuthorizationHooks(engine, **OPTIONS).register()
    model = ScriptedLLM(model="scripted", calls=list(SCRIPTED), prompts=[])
    result = await crew(model).kickoff_async()
    assert str(result) == FINAL
    assert ran == RAN
    check_outputs(outputs_by_call(model), records)


def test_unmapped_tool_and_raising_options_refuse() -> None:
    engine, records = logged_engine()
    AuthorizationHooks(engine, **OPTIONS, action={"issue_refund": "issue_refund"}).register()
    model = ScriptedLLM(model="scripted", calls=[SCRIPTED[0]], prompts=[])
    crew(model).kickoff()
    assert ran == [] and "baseline/unknown-action" in observations(model)[0]
    assert len(records) == 1
    clear_all_tool_call_hooks()

    def boom(call: Any) -> Any:
        raise KeyError("tenant")

    AuthorizationHooks(engine, **{**OPTIONS, "agent": boom}).register()
    model = ScriptedLLM(model="scripted", calls=[SCRIPTED[0]], prompts=[])
    crew(model).kickoff()
    assert ran == [] and "KeyError" in observations(model)[0]


def test_on_error_raise_is_rejected() -> None:
    # CrewAI runs the tool when a hook raises: the hooks must not raise.
    engine, _ = logged_engine()
    with pytest.raises(ValueError, match="on_error"):
        AuthorizationHooks(engine, **OPTIONS, on_error="raise")
    with pytest.raises(ValueError, match="on_error"):
        authorize(engine, **OPTIONS, on_error="raise")


def test_decorated_tool() -> None:
    engine, records = logged_engine()
    guard = authorize(engine, **OPTIONS)

    @guard
    @tool("close_account")
    def guarded_close(reason: str) -> str:
        """Close the customer's account."""
        ran.append(("close_account", reason))
        return "closed"

    @tool("lookup_order")
    @authorize(engine, tool_name="lookup_order", **OPTIONS)
    def guarded_lookup(order_id: str) -> str:
        """Look an order up."""
        ran.append(("lookup_order", order_id))
        return "shipped"

    calls = [SCRIPTED[0], SCRIPTED[1]]
    model = ScriptedLLM(model="scripted", calls=calls, prompts=[])
    crew(model, tools=[guarded_lookup, guarded_close]).kickoff()
    assert ran == [("lookup_order", "o-1")]
    seen = observations(model)
    assert "no-account-closing" in seen[1] and "decision_id" in seen[1]
    assert [r["decision"] for r in records] == ["allow", "deny"]

"""agentauthz.adk with the real google-adk Runner and a scripted model (no network)."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from google.adk.agents import LlmAgent
from google.adk.apps import App
from google.adk.models.base_llm import BaseLlm
from google.adk.models.llm_request import LlmRequest
from google.adk.models.llm_response import LlmResponse
from google.adk.runners import InMemoryRunner
from google.adk.sessions import InMemorySessionService
from google.genai import types

from agentauthz.adk import AuthorizationPlugin, before_tool_callback

from conftest import NOW, SUPPORT_ACCOUNT
from fwscript import FINAL, RAN, SCRIPT, check_outputs, logged_engine

ran: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def _clear() -> None:
    ran.clear()


def lookup_order(order_id: str) -> dict[str, Any]:
    """Look an order up."""
    ran.append(("lookup_order", order_id))
    return {"status": "shipped"}


def issue_refund(order_id: str, amount: float) -> dict[str, Any]:
    """Refund an order."""
    ran.append(("issue_refund", order_id))
    return {"refunded": amount}


def close_account(reason: str) -> dict[str, Any]:
    """Close the customer's account."""
    ran.append(("close_account", reason))
    return {"closed": True}


TOOLS: list[Any] = [lookup_order, issue_refund, close_account]


class ScriptedLlm(BaseLlm):
    """Makes the scripted calls, one per turn, and records every request's contents."""

    calls: list[Any] = []  # noqa: RUF012 (a pydantic field)
    requests: list[list[types.Content]] = []  # noqa: RUF012

    async def generate_content_async(
        self, llm_request: LlmRequest, stream: bool = False
    ) -> AsyncGenerator[LlmResponse, None]:
        self.requests.append(list(llm_request.contents))
        if self.calls:
            name, args, call_id = self.calls.pop(0)
            part = types.Part(function_call=types.FunctionCall(name=name, args=args, id=call_id))
        else:
            part = types.Part(text=FINAL)
        yield LlmResponse(content=types.Content(role="model", parts=[part]))


def outputs_seen(model: ScriptedLlm) -> dict[str, str]:
    seen: dict[str, str] = {}
    for contents in model.requests:
        for content in contents:
            for part in content.parts or []:
                if part.function_response is not None and part.function_response.id:
                    seen[part.function_response.id] = json.dumps(part.function_response.response)
    return seen


OPTIONS: dict[str, Any] = {"agent": "support-bot", "resource": SUPPORT_ACCOUNT, "now": NOW}
SCRIPTED = [(name, args, call_id) for name, args, call_id, _ in SCRIPT]


def new_model(calls: list[Any]) -> ScriptedLlm:
    return ScriptedLlm(model="scripted", calls=list(calls), requests=[])


def message() -> types.Content:
    return types.Content(role="user", parts=[types.Part(text="help")])


def run_sync(runner: InMemoryRunner) -> str:
    service = runner.session_service
    assert isinstance(service, InMemorySessionService)
    session = service.create_session_sync(app_name="support", user_id="u")
    texts = [
        p.text
        for event in runner.run(user_id="u", session_id=session.id, new_message=message())
        for p in (event.content.parts if event.content else None) or []
        if p.text
    ]
    return texts[-1]


async def run_async(runner: InMemoryRunner) -> str:
    session = await runner.session_service.create_session(app_name="support", user_id="u")
    texts: list[str] = []
    async for event in runner.run_async(user_id="u", session_id=session.id, new_message=message()):
        texts += [p.text for p in (event.content.parts if event.content else None) or [] if p.text]
    return texts[-1]


def plugin_runner(calls: list[Any], **options: Any) -> tuple[InMemoryRunner, ScriptedLlm, Any]:
    engine, records = logged_engine()
    model = new_model(calls)
    app = App(
        name="support",
        root_agent=LlmAgent(name="support", model=model, tools=TOOLS),
        plugins=[AuthorizationPlugin(engine, **{**OPTIONS, **options})],
    )
    runner = InMemoryRunner(app=app)
    return runner, model, records


def test_plugin_run_sync() -> None:
    runner, model, records = plugin_runner(SCRIPTED)
    assert run_sync(runner) == FINAL
    assert ran == RAN
    check_outputs(outputs_seen(model), records)


@pytest.mark.asyncio
async def test_plugin_run_async() -> None:
    runner, model, records = plugin_runner(SCRIPTED)
    assert await run_async(runner) == FINAL
    assert ran == RAN
    check_outputs(outputs_seen(model), records)


@pytest.mark.asyncio
async def test_agent_before_tool_callback() -> None:
    engine, records = logged_engine()
    model = new_model(SCRIPTED)
    agent = LlmAgent(
        name="support",
        model=model,
        tools=TOOLS,
        before_tool_callback=before_tool_callback(engine, **OPTIONS),
    )
    assert await run_async(InMemoryRunner(agent=agent, app_name="support")) == FINAL
    assert ran == RAN
    check_outputs(outputs_seen(model), records)


def test_unmapped_and_unknown_tools_are_denied() -> None:
    calls = [("lookup_order", {"order_id": "o-1"}, "c1"), ("drop_tables", {}, "c2")]
    runner, model, records = plugin_runner(calls, action={"issue_refund": "issue_refund"})
    run_sync(runner)
    assert ran == []
    seen = outputs_seen(model)
    assert "baseline/unknown-action" in seen["c1"]
    assert "baseline/unknown-action" in seen["c2"]
    assert len(records) == 2


def test_raising_option_and_on_decision_refuse() -> None:
    def boom(call: Any) -> Any:
        raise KeyError("tenant")

    runner, model, records = plugin_runner(
        [("lookup_order", {"order_id": "o"}, "c1")], resource=boom
    )
    run_sync(runner)
    assert ran == [] and records == [] and "KeyError" in outputs_seen(model)["c1"]

    def veto(decision: Any, call: Any) -> None:
        raise RuntimeError("audit down")

    runner, model, records = plugin_runner(
        [("lookup_order", {"order_id": "o"}, "c1")], on_decision=veto
    )
    run_sync(runner)
    assert ran == [] and len(records) == 1 and "RuntimeError" in outputs_seen(model)["c1"]


def test_option_callables_see_the_tool_context() -> None:
    seen: list[Any] = []

    def agent_of(call: Any) -> str:
        seen.append((call.name, call.id, call.raw.agent_name))
        return "support-bot"

    runner, _, _ = plugin_runner([("lookup_order", {"order_id": "o-1"}, "c1")], agent=agent_of)
    run_sync(runner)
    assert seen == [("lookup_order", "c1", "support")] and ran == RAN[:1]

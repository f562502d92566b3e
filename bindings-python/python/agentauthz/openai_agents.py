"""OpenAI Agents SDK (``openai-agents``) integration: authorize every function tool call.

    from agents import Agent
    from agentauthz.openai_agents import guard_agent

    agent = guard_agent(Agent(name="support", tools=[lookup_order, issue_refund]),
                        engine, agent="support-bot", resource=("Account", "acme"))

``tool_input_guardrail(engine, ...)`` builds one ``ToolInputGuardrail`` to put
in a ``FunctionTool``'s ``tool_input_guardrails``; ``guard_agent`` adds it to
every tool of an ``Agent``. The tool name is the action (or ``action`` maps it)
and the tool arguments (JSON) are ``context.input``. On a deny or an error the
tool does not run and the model gets the reasons and ``decision_id`` as the
tool's output (``reject_content``); the outcome is the guardrail's
``output_info``.

Options are those of ``agentauthz.toolcall.ToolCallGuard``; option callables
receive a ``ToolCall`` whose ``raw`` is the SDK's ``ToolInputGuardrailData``
(``raw.context`` is the ``ToolContext``, ``raw.agent`` the ``Agent``).

This module imports ``agents`` (``pip install agentauthz[openai-agents]``);
``import agentauthz`` does not.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from agents import Agent, FunctionTool, ToolGuardrailFunctionOutput, ToolInputGuardrail
from agents.tool_guardrails import ToolInputGuardrailData

from ._native import Engine
from .errors import RequestError
from .toolcall import ToolCall, ToolCallGuard, Verdict

__all__ = ["DEFAULT_NAME", "guard_agent", "tool_input_guardrail"]

DEFAULT_NAME = "agentauthz"

A = TypeVar("A", bound=Agent[Any])


class _NotJson:
    """Tool arguments that are not JSON: refused with ``request_parse``."""

    def __init__(self, error: Exception) -> None:
        self.error = error


def _arguments(text: str) -> Any:
    try:
        return json.loads(text) if text else {}
    except (ValueError, RecursionError) as e:  # RecursionError: nested too deep to parse
        return _NotJson(e)


def tool_input_guardrail(
    engine: Engine, *, name: str = DEFAULT_NAME, **options: Any
) -> ToolInputGuardrail[Any]:
    """A ``ToolInputGuardrail`` that asks ``engine`` before the tool runs."""
    guard = ToolCallGuard(engine, **options)

    async def authorize(data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
        ctx = data.context
        args = _arguments(ctx.tool_arguments)
        call = ToolCall(ctx.tool_name, args, id=ctx.tool_call_id, raw=data)
        if isinstance(args, _NotJson):
            error = RequestError(f"tool arguments are not JSON: {args.error}", code="request_parse")
            if guard.on_error == "raise":
                raise error
            verdict = Verdict(call, None, error)
        else:
            verdict = await guard.acheck(call)
        if verdict.allowed:
            return ToolGuardrailFunctionOutput.allow(output_info=verdict.artifact())
        return ToolGuardrailFunctionOutput.reject_content(
            verdict.refusal or "", output_info=verdict.artifact()
        )

    return ToolInputGuardrail(guardrail_function=authorize, name=name)


def guard_agent(
    sdk_agent: A,
    engine: Engine,
    /,
    *,
    name: str = DEFAULT_NAME,
    **options: Any,
) -> A:
    """Adds one agentauthz guardrail to every function tool of ``sdk_agent`` (in place;
    a ``FunctionTool`` shared with other agents is guarded for them too).

    Raises ``TypeError`` when the agent has a tool the SDK runs without input
    guardrails (hosted tools such as web search), rather than leave it unguarded.
    Tools of MCP servers and of handed-off agents are not ``agent.tools``: guard
    those agents too. A guardrail of the same ``name`` is replaced, not doubled.
    Returns ``sdk_agent``.
    """
    unguardable = [
        getattr(t, "name", type(t).__name__)
        for t in sdk_agent.tools
        if not isinstance(t, FunctionTool)
    ]
    if unguardable:
        raise TypeError(
            f"guard_agent: tools {unguardable} take no input guardrail; remove them or "
            "authorize them another way"
        )
    guardrail = tool_input_guardrail(engine, name=name, **options)
    for tool in sdk_agent.tools:
        assert isinstance(tool, FunctionTool)
        existing = [g for g in tool.tool_input_guardrails or [] if g.get_name() != name]
        # Ours first: a later guardrail may raise; authorization is decided before it.
        tool.tool_input_guardrails = [guardrail, *existing]
    return sdk_agent

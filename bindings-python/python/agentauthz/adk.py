"""Google ADK (``google-adk``) integration: authorize every tool call.

    from google.adk.runners import InMemoryRunner
    from agentauthz.adk import AuthorizationPlugin

    runner = InMemoryRunner(agent=root_agent, app_name="support", plugins=[
        AuthorizationPlugin(engine, agent="support-bot", resource=("Account", "acme")),
    ])

``AuthorizationPlugin`` guards every tool of every agent a ``Runner`` runs;
``before_tool_callback(engine, ...)`` builds an ``LlmAgent(before_tool_callback=...)``
for one agent. The tool name is the action (or ``action`` maps it) and the tool
arguments are ``context.input``. On a deny or an error the tool does not run:
its response to the model is ``{"error": <reasons and decision_id>, "agentauthz":
<the outcome>}``.

Options are those of ``agentauthz.toolcall.ToolCallGuard``; option callables
receive a ``ToolCall`` whose ``raw`` is the ADK ``ToolContext`` (state, agent
name, ``function_call_id``).

ADK runs plugins before agent callbacks, and a later callback may still change
the arguments in place: register no argument-rewriting callback after this one.

This module imports ``google.adk`` (``pip install agentauthz[adk]``);
``import agentauthz`` does not.
"""

from __future__ import annotations

from typing import Any, Callable

from google.adk.plugins.base_plugin import BasePlugin
from google.adk.tools.base_tool import BaseTool
from google.adk.tools.tool_context import ToolContext

from ._native import Engine
from .toolcall import ToolCall, ToolCallGuard, Verdict

__all__ = ["DEFAULT_NAME", "AuthorizationPlugin", "before_tool_callback", "refusal_response"]

DEFAULT_NAME = "agentauthz"


def refusal_response(verdict: Verdict) -> dict[str, Any]:
    """The tool response the model sees instead of the tool's result."""
    return {"error": verdict.refusal, "agentauthz": verdict.artifact()}


async def _decide(
    guard: ToolCallGuard, tool: BaseTool, args: Any, tool_context: ToolContext
) -> dict[str, Any] | None:
    call = ToolCall(
        tool.name, args, id=getattr(tool_context, "function_call_id", None), raw=tool_context
    )
    verdict = await guard.acheck(call)
    return None if verdict.allowed else refusal_response(verdict)


class AuthorizationPlugin(BasePlugin):
    """A Runner plugin that checks every tool call with agentauthz before it runs."""

    def __init__(self, engine: Engine, *, name: str = DEFAULT_NAME, **options: Any) -> None:
        super().__init__(name=name)
        self.guard = ToolCallGuard(engine, **options)

    async def before_tool_callback(
        self, *, tool: BaseTool, tool_args: dict[str, Any], tool_context: ToolContext
    ) -> dict[str, Any] | None:
        return await _decide(self.guard, tool, tool_args, tool_context)


def before_tool_callback(engine: Engine, **options: Any) -> Callable[..., Any]:
    """An ``LlmAgent(before_tool_callback=...)`` that checks each of its tool calls."""
    guard = ToolCallGuard(engine, **options)

    async def authorize(
        tool: BaseTool, args: dict[str, Any], tool_context: ToolContext
    ) -> dict[str, Any] | None:
        return await _decide(guard, tool, args, tool_context)

    return authorize

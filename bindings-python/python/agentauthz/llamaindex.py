"""LlamaIndex (``llama-index-core``) integration: authorize every tool call.

LlamaIndex has no pre-tool hook, so the tools are wrapped:

    from agentauthz.llamaindex import authorize_tools

    tools = authorize_tools([lookup_order, issue_refund], engine,
                            agent="support-bot", resource=("Account", "acme"))
    agent = FunctionAgent(tools=tools, llm=llm)

``AuthorizedTool(tool, guard)`` wraps one ``FunctionTool``/``BaseTool`` (same
name, description and schema); ``authorize_tools`` wraps a list with one guard.
The tool name is the action (or ``action`` maps it) and the keyword arguments
are ``context.input``. On a deny or an error the wrapped tool does not run: the
call returns a ``ToolOutput`` with ``is_error=True`` whose content names the
reasons and ``decision_id`` (the outcome is its ``raw_output``).

Options are those of ``agentauthz.toolcall.ToolCallGuard``; option callables
receive a ``ToolCall`` whose ``raw`` is the wrapped tool.

This module imports ``llama_index.core`` (``pip install agentauthz[llamaindex]``);
``import agentauthz`` does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.tools import AsyncBaseTool, BaseTool, ToolMetadata, ToolOutput
from llama_index.core.tools.types import adapt_to_async_tool

from ._native import Engine
from .errors import RequestError
from .toolcall import ToolCall, ToolCallGuard, Verdict

__all__ = ["AuthorizedTool", "authorize_tools"]


class AuthorizedTool(AsyncBaseTool):
    """A tool that asks agentauthz before each call of the tool it wraps."""

    def __init__(self, tool: BaseTool, guard: ToolCallGuard) -> None:
        self.tool: AsyncBaseTool = adapt_to_async_tool(tool)
        self.guard = guard

    @property
    def metadata(self) -> ToolMetadata:
        return self.tool.metadata

    def _call_of(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> ToolCall | Verdict:
        name = self.metadata.get_name()
        call = ToolCall(name, kwargs, raw=self.tool)
        if args:  # positional input has no field names to check against the schema
            error = RequestError(
                f"tool {name!r} was called with positional arguments; agentauthz checks "
                "keyword arguments only",
                code="request_invalid",
            )
            if self.guard.on_error == "raise":
                raise error
            return Verdict(call, None, error)
        return call

    def _refusal(self, verdict: Verdict, kwargs: dict[str, Any]) -> ToolOutput:
        return ToolOutput(
            content=verdict.refusal or "",
            tool_name=self.metadata.get_name(),
            raw_input={"kwargs": kwargs},
            raw_output=verdict.artifact(),
            is_error=True,
        )

    def call(self, *args: Any, **kwargs: Any) -> ToolOutput:
        call = self._call_of(args, kwargs)
        verdict = call if isinstance(call, Verdict) else self.guard.check(call)
        if not verdict.allowed:
            return self._refusal(verdict, kwargs)
        return self.tool.call(*args, **kwargs)

    async def acall(self, *args: Any, **kwargs: Any) -> ToolOutput:
        call = self._call_of(args, kwargs)
        verdict = call if isinstance(call, Verdict) else await self.guard.acheck(call)
        if not verdict.allowed:
            return self._refusal(verdict, kwargs)
        return await self.tool.acall(*args, **kwargs)


def authorize_tools(
    tools: Sequence[BaseTool], engine: Engine, **options: Any
) -> list[AuthorizedTool]:
    """Each tool wrapped in an ``AuthorizedTool`` sharing one guard."""
    guard = ToolCallGuard(engine, **options)
    return [AuthorizedTool(tool, guard) for tool in tools]

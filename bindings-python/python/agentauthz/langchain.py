"""LangChain 1.x and LangGraph integration: authorize every tool call.

The tool name is the action and the tool arguments go to ``context["input"]``.
On deny the tool does not run; the model receives an error ``ToolMessage``
(``status="error"``) naming the policies that denied it, with the Decision as
its ``artifact``.

    from langchain.agents import create_agent
    from agentauthz.langchain import AuthorizationMiddleware

    agent = create_agent(model, tools, middleware=[
        AuthorizationMiddleware(engine, agent="ci-bot", resource=("Repo", "acme/api")),
    ])

For a LangGraph ``ToolNode``:

    authz = ToolCallAuthorizer(engine, agent="ci-bot", resource=("Repo", "acme/api"))
    ToolNode(tools, wrap_tool_call=authz.wrap_tool_call, awrap_tool_call=authz.awrap_tool_call)

Every option is a value or a callable that receives the ``ToolCallRequest``
(``request.tool_call`` is ``{"name", "args", "id"}``; ``request.state`` and
``request.runtime`` are there too).

This module imports LangChain; ``import agentauthz`` does not.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Callable, Literal, Union

from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import ToolMessage

from ._native import Decision, Engine
from .errors import AuthzError

if TYPE_CHECKING:
    from langgraph.prebuilt.tool_node import ToolCallRequest
    from langgraph.types import Command

__all__ = ["AuthorizationMiddleware", "ToolCallAuthorizer", "denial_message"]

ToolResult = Union[ToolMessage, "Command[Any]"]
Handler = Callable[["ToolCallRequest"], ToolResult]
AsyncHandler = Callable[["ToolCallRequest"], Awaitable[ToolResult]]


def denial_message(tool_name: str, decision: Decision) -> str:
    """The text the model sees when a tool call is denied."""
    reasons = ", ".join(decision.reasons) or "no policy permits this call"
    return (
        f"Tool call '{tool_name}' was denied by authorization policy "
        f"(reasons: {reasons}; decision_id: {decision.decision_id}). The tool did not run."
    )


_ARGS: Any = object()  # default of `input`: the tool call's arguments


def _value(option: Any, request: ToolCallRequest) -> Any:
    return option(request) if callable(option) else option


class ToolCallAuthorizer:
    """Checks a tool call with the engine before it runs.

    ``wrap_tool_call`` and ``awrap_tool_call`` have the signatures LangGraph's
    ``ToolNode(wrap_tool_call=..., awrap_tool_call=...)`` and LangChain's
    ``AgentMiddleware`` expect.

    ``action`` defaults to the tool name and ``input`` (``context["input"]``) to the
    tool arguments; give ``input`` a callable returning ``None`` to leave it out for
    actions whose schema declares no ``input``. ``context`` adds other context fields.

    ``on_error="raise"`` (default) lets an ``AuthzError`` (e.g. tool arguments
    that do not fit the schema's ``input`` context) propagate; ``"deny"`` turns
    it into an error ToolMessage instead. Either way the tool does not run.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        agent: Any,
        resource: Any,
        context: Any = None,
        action: Any = None,
        input: Any = _ARGS,
        task: Any = None,
        on_behalf_of: Any = None,
        credential: Any = None,
        now: Any = None,
        on_error: Literal["raise", "deny"] = "raise",
    ) -> None:
        if on_error not in ("raise", "deny"):
            raise ValueError(f"on_error must be 'raise' or 'deny', not {on_error!r}")
        self.engine = engine
        self.agent = agent
        self.resource = resource
        self.context = context
        self.action = action
        self.input = input
        self.task = task
        self.on_behalf_of = on_behalf_of
        self.credential = credential
        self.now = now
        self.on_error = on_error

    def decide(self, request: ToolCallRequest) -> Decision:
        """The engine's decision for this tool call."""
        call = request.tool_call
        context = dict(_value(self.context, request) or {})
        tool_input = call["args"] if self.input is _ARGS else _value(self.input, request)
        if tool_input is not None:
            context["input"] = tool_input
        return self.engine.check(
            agent=_value(self.agent, request),
            action=_value(self.action, request) or call["name"],
            resource=_value(self.resource, request),
            context=context,
            task=_value(self.task, request),
            on_behalf_of=_value(self.on_behalf_of, request),
            credential=_value(self.credential, request),
            now=_value(self.now, request),
        )

    def _refusal(self, request: ToolCallRequest) -> ToolMessage | None:
        """None when the call may run, else the error message for the model."""
        call = request.tool_call
        try:
            decision = self.decide(request)
        except AuthzError as e:
            if self.on_error == "raise":
                raise
            return ToolMessage(
                content=f"Tool call '{call['name']}' was refused: {e}. The tool did not run.",
                tool_call_id=call["id"],
                name=call["name"],
                status="error",
            )
        if decision.allowed:
            return None
        return ToolMessage(
            content=denial_message(call["name"], decision),
            tool_call_id=call["id"],
            name=call["name"],
            status="error",
            artifact=decision.to_dict(),
        )

    def wrap_tool_call(self, request: ToolCallRequest, handler: Handler) -> ToolResult:
        refusal = self._refusal(request)
        return handler(request) if refusal is None else refusal

    async def awrap_tool_call(self, request: ToolCallRequest, handler: AsyncHandler) -> ToolResult:
        refusal = self._refusal(request)
        return await handler(request) if refusal is None else refusal


class AuthorizationMiddleware(AgentMiddleware):
    """LangChain ``create_agent`` middleware: every tool call is checked first.

    Takes the options of ``ToolCallAuthorizer``. Its ``wrap_tool_call`` and
    ``awrap_tool_call`` also work as LangGraph ``ToolNode`` wrappers.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        agent: Any,
        resource: Any,
        context: Any = None,
        action: Any = None,
        input: Any = _ARGS,
        task: Any = None,
        on_behalf_of: Any = None,
        credential: Any = None,
        now: Any = None,
        on_error: Literal["raise", "deny"] = "raise",
    ) -> None:
        super().__init__()
        self.authorizer = ToolCallAuthorizer(
            engine,
            agent=agent,
            resource=resource,
            context=context,
            action=action,
            input=input,
            task=task,
            on_behalf_of=on_behalf_of,
            credential=credential,
            now=now,
            on_error=on_error,
        )

    def wrap_tool_call(self, request: ToolCallRequest, handler: Handler) -> ToolResult:
        return self.authorizer.wrap_tool_call(request, handler)

    async def awrap_tool_call(self, request: ToolCallRequest, handler: AsyncHandler) -> ToolResult:
        return await self.authorizer.awrap_tool_call(request, handler)

"""LangChain 1.x and LangGraph integration: authorize every tool call.

The tool name is the action (or ``action`` maps it) and the tool arguments go
to ``context["input"]``. On deny, or when the call cannot be decided (tool
arguments that do not fit the schema, an option callable that raises), the
tool does not run: the model receives an error ``ToolMessage``
(``status="error"``) naming the reasons and the ``decision_id`` (or the error
code), with the outcome as its ``artifact``.

    from langchain.agents import create_agent
    from agentauthz.langchain import AuthorizationMiddleware

    agent = create_agent(model, tools, middleware=[
        AuthorizationMiddleware(engine, agent="ci-bot", resource=("Repo", "acme/api")),
    ])

For a LangGraph ``ToolNode``:

    authz = ToolCallAuthorizer(engine, agent="ci-bot", resource=("Repo", "acme/api"))
    ToolNode(tools, wrap_tool_call=authz.wrap_tool_call, awrap_tool_call=authz.awrap_tool_call)

Options are those of ``agentauthz.toolcall.ToolCallGuard`` (the same as the
LangChain.js adapter's): each is a value or a callable that receives the
``ToolCallRequest`` (``request.tool_call`` is ``{"name", "args", "id"}``;
``request.state`` and ``request.runtime`` are there too). ``action`` is also a
mapping of tool name to action (an unlisted tool is denied,
``baseline/unknown-action``). ``on_error="deny"`` (default) refuses on errors,
``"raise"`` propagates them. ``on_decision(decision, tool_call)`` observes every
decision. ``name`` tells two middleware instances in one agent apart.

Human approval: a call whose decision is ``needs_approval`` (an ``@approval``
forbid) pauses the graph with LangGraph's ``interrupt()`` (``approval="interrupt"``,
the default; a graph without a checkpointer cannot resume, so there the call
is refused instead). The interrupt's value is
``Verdict.approval_request()``: the tool, its arguments, ``decision_id``,
``request_digest``, ``approvers`` and ``reasons``. A human approves with
``engine.approve(decision_id, by=user)`` (the engine checks that ``user`` may)
and the app resumes the graph with ``Command(resume=...)``: the tool call is
checked again and runs once if the engine holds a matching approval. The
resume value is never an approval: resumed without one (or after
``engine.reject``), the call is refused. ``approval="deny"`` refuses at once.

This module imports LangChain; ``import agentauthz`` does not.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING, Any, Callable, Literal, Union

from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import ToolMessage
from langgraph.config import get_config
from langgraph.constants import CONFIG_KEY_CHECKPOINTER
from langgraph.types import interrupt

from ._native import Decision, Engine
from .toolcall import ARGS, ToolCall, ToolCallGuard, Verdict, refusal_text

if TYPE_CHECKING:
    from langgraph.prebuilt.tool_node import ToolCallRequest
    from langgraph.types import Command

__all__ = ["DEFAULT_NAME", "AuthorizationMiddleware", "ToolCallAuthorizer", "denial_message"]

DEFAULT_NAME = "AuthorizationMiddleware"

ToolResult = Union[ToolMessage, "Command[Any]"]
Handler = Callable[["ToolCallRequest"], ToolResult]
AsyncHandler = Callable[["ToolCallRequest"], Awaitable[ToolResult]]
OnDecision = Callable[[Decision, dict[str, Any]], Any]


def denial_message(tool_name: str, decision: Decision) -> str:
    """The text the model sees when a tool call is denied."""
    return refusal_text(tool_name, decision)


def _of_request(option: Any) -> Any:
    """LangChain option callables receive the ToolCallRequest (``call.raw``)."""
    if callable(option) and not isinstance(option, Mapping):
        return lambda call: option(call.raw)
    return option


def _resumable() -> bool:
    """Whether this run can pause and resume: it has a checkpointer."""
    try:
        return get_config().get("configurable", {}).get(CONFIG_KEY_CHECKPOINTER) is not None
    except RuntimeError:  # not inside a graph run
        return False


class ToolCallAuthorizer:
    """Checks a tool call with the engine before it runs.

    ``wrap_tool_call`` and ``awrap_tool_call`` have the signatures LangGraph's
    ``ToolNode(wrap_tool_call=..., awrap_tool_call=...)`` and LangChain's
    ``AgentMiddleware`` expect. ``input`` defaults to the tool arguments; give it
    a callable returning ``None`` to leave ``context.input`` out.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        resource: Any,
        agent: Any = None,
        session: Any = None,
        audience: Any = None,
        token: Any = None,
        context: Any = None,
        action: Any = None,
        input: Any = ARGS,
        task: Any = None,
        on_behalf_of: Any = None,
        credential: Any = None,
        now: Any = None,
        on_error: Literal["raise", "deny"] = "deny",
        on_decision: OnDecision | None = None,
        approval: Literal["interrupt", "deny"] = "interrupt",
    ) -> None:
        if approval not in ("interrupt", "deny"):
            raise ValueError(f"approval must be 'interrupt' or 'deny', not {approval!r}")
        self.engine = engine
        self.on_error = on_error
        self.approval = approval
        user_on_decision = on_decision
        self.guard = ToolCallGuard(
            engine,
            resource=_of_request(resource),
            agent=_of_request(agent),
            session=_of_request(session),
            audience=_of_request(audience),
            token=_of_request(token),
            action=_of_request(action),
            input=_of_request(input),
            context=_of_request(context),
            task=_of_request(task),
            on_behalf_of=_of_request(on_behalf_of),
            credential=_of_request(credential),
            now=_of_request(now),
            on_error=on_error,
            on_decision=(
                None
                if user_on_decision is None
                else lambda d, call: user_on_decision(d, call.raw.tool_call)
            ),
        )

    @staticmethod
    def _call(request: ToolCallRequest) -> ToolCall:
        tc = request.tool_call
        return ToolCall(tc["name"], tc.get("args"), tc.get("id"), raw=request)

    def verdict(self, request: ToolCallRequest) -> Verdict:
        """The guard's verdict for this tool call: allowed, or the refusal."""
        return self.guard.check(self._call(request))

    def decide(self, request: ToolCallRequest) -> Decision:
        """The engine's Decision for this tool call; raises what stopped the check."""
        verdict = self.verdict(request)
        if verdict.error is not None:
            raise verdict.error
        assert verdict.decision is not None
        return verdict.decision

    @staticmethod
    def _refusal(request: ToolCallRequest, verdict: Verdict, resumed: bool = False) -> ToolMessage:
        tc = request.tool_call
        text = verdict.refusal or ""
        if resumed:
            text = "The run was resumed without an approval the engine holds. " + text
        return ToolMessage(
            content=text,
            tool_call_id=tc.get("id") or "",
            name=tc["name"],
            status="error",
            artifact=verdict.artifact(),
        )

    def _pause(self, request: ToolCallRequest, verdict: Verdict) -> ToolMessage:
        """Interrupts the graph for a human's approval. Only the engine's recorded
        approval lets the call run: a resumed graph checks the call again (in
        ``wrap_tool_call``) before it reaches here, so when ``interrupt`` returns,
        the engine still wants an approval and the resume value is ignored."""
        interrupt(verdict.approval_request())
        return self._refusal(request, verdict, resumed=True)

    def _pauses(self, verdict: Verdict) -> bool:
        return verdict.needs_approval and self.approval == "interrupt" and _resumable()

    def wrap_tool_call(self, request: ToolCallRequest, handler: Handler) -> ToolResult:
        verdict = self.verdict(request)
        if verdict.allowed:
            return handler(request)
        if self._pauses(verdict):
            return self._pause(request, verdict)
        return self._refusal(request, verdict)

    async def awrap_tool_call(self, request: ToolCallRequest, handler: AsyncHandler) -> ToolResult:
        verdict = await self.guard.acheck(self._call(request))
        if verdict.allowed:
            return await handler(request)
        if self._pauses(verdict):
            return self._pause(request, verdict)
        return self._refusal(request, verdict)


class AuthorizationMiddleware(AgentMiddleware):
    """LangChain ``create_agent`` middleware: every tool call is checked first.

    Takes the options of ``ToolCallAuthorizer`` and ``name`` (default
    ``"AuthorizationMiddleware"``; give a second instance in one agent another
    name). Its ``wrap_tool_call`` and ``awrap_tool_call`` also work as LangGraph
    ``ToolNode`` wrappers.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        resource: Any,
        agent: Any = None,
        session: Any = None,
        audience: Any = None,
        token: Any = None,
        context: Any = None,
        action: Any = None,
        input: Any = ARGS,
        task: Any = None,
        on_behalf_of: Any = None,
        credential: Any = None,
        now: Any = None,
        on_error: Literal["raise", "deny"] = "deny",
        on_decision: OnDecision | None = None,
        approval: Literal["interrupt", "deny"] = "interrupt",
        name: str = DEFAULT_NAME,
    ) -> None:
        super().__init__()
        if not isinstance(name, str) or not name:
            raise ValueError("name must be a non-empty string")
        self._name = name
        self.authorizer = ToolCallAuthorizer(
            engine,
            resource=resource,
            agent=agent,
            session=session,
            audience=audience,
            token=token,
            context=context,
            action=action,
            input=input,
            task=task,
            on_behalf_of=on_behalf_of,
            credential=credential,
            now=now,
            on_error=on_error,
            on_decision=on_decision,
            approval=approval,
        )

    @property
    def name(self) -> str:
        return self._name

    def wrap_tool_call(self, request: ToolCallRequest, handler: Handler) -> ToolResult:
        return self.authorizer.wrap_tool_call(request, handler)

    async def awrap_tool_call(self, request: ToolCallRequest, handler: AsyncHandler) -> ToolResult:
        return await self.authorizer.awrap_tool_call(request, handler)

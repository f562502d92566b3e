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

Human approval: with ``guard_agent(..., approval="interrupt")`` a call whose
decision is ``needs_approval`` pauses the run through the SDK's own tool
approval: the agent's function tools get a ``needs_approval`` callable that
asks the engine, so the call shows up in ``result.interruptions``. A human
approves in the engine (``engine.approve(decision_id, by=user)``; the
decision id, digest and approvers of each interruption are in
``pending_approvals(result)``) and the app resumes with
``state = result.to_state(); state.approve(item); Runner.run(agent, state)``.
The SDK's approval alone runs nothing: the guardrail checks the call again
before it runs and refuses it unless the engine holds a matching approval
(bound to these arguments, used once). ``state.reject(item)`` refuses it.
The decision is made once per call: the ``needs_approval`` check's verdict is
handed to the guardrail of the same call (same run, call id and arguments).
With ``approval="interrupt"`` the SDK also asks for approval of arguments it
cannot parse or validate (its rule); the guardrail then refuses them.
The default ``approval="deny"`` refuses at once.

This module imports ``agents`` (``pip install agentauthz[openai-agents]``);
``import agentauthz`` does not.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any, Literal, TypeVar

from agents import (
    Agent,
    FunctionTool,
    RunContextWrapper,
    ToolGuardrailFunctionOutput,
    ToolInputGuardrail,
)
from agents.tool_context import ToolContext
from agents.tool_guardrails import ToolInputGuardrailData

from ._native import Engine
from .errors import RequestError
from .toolcall import ToolCall, ToolCallGuard, Verdict

__all__ = ["DEFAULT_NAME", "guard_agent", "pending_approvals", "tool_input_guardrail"]

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


# Verdicts of needs_approval checks that let the call go on, waiting for the
# same call's guardrail. Bounded: a run that stops in between leaves one behind.
_MAX_HANDED_OVER = 1024


class _Handover:
    """Hands a verdict from a tool's ``needs_approval`` check to its guardrail,
    so one tool call is decided once (a second check would take a one-use
    approval twice). Keyed by the run (its ``Usage`` object, shared by the run's
    contexts), the call id and the arguments: nothing else can pick it up."""

    def __init__(self) -> None:
        self._verdicts: OrderedDict[tuple[int, str, str], Verdict] = OrderedDict()

    @staticmethod
    def _key(ctx: RunContextWrapper[Any], call_id: str, args: Any) -> tuple[int, str, str]:
        return (id(ctx.usage), call_id, json.dumps(args, sort_keys=True, default=repr))

    def put(self, ctx: RunContextWrapper[Any], call_id: str, verdict: Verdict) -> None:
        self._verdicts[self._key(ctx, call_id, verdict.call.args)] = verdict
        while len(self._verdicts) > _MAX_HANDED_OVER:
            self._verdicts.popitem(last=False)

    def take(self, ctx: RunContextWrapper[Any], call_id: str, args: Any) -> Verdict | None:
        try:
            return self._verdicts.pop(self._key(ctx, call_id, args), None)
        except (TypeError, ValueError):
            return None


def tool_input_guardrail(
    engine: Engine, *, name: str = DEFAULT_NAME, **options: Any
) -> ToolInputGuardrail[Any]:
    """A ``ToolInputGuardrail`` that asks ``engine`` before the tool runs."""
    return _guardrail(ToolCallGuard(engine, **options), name, None)


def _guardrail(
    guard: ToolCallGuard, name: str, handover: _Handover | None
) -> ToolInputGuardrail[Any]:
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
            handed = handover.take(ctx, ctx.tool_call_id, args) if handover else None
            verdict = handed if handed is not None else await guard.acheck(call)
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
    approval: Literal["deny", "interrupt"] = "deny",
    **options: Any,
) -> A:
    """Adds one agentauthz guardrail to every function tool of ``sdk_agent`` (in place;
    a ``FunctionTool`` shared with other agents is guarded for them too).

    Raises ``TypeError`` when the agent has a tool the SDK runs without input
    guardrails (hosted tools such as web search), rather than leave it unguarded.
    Tools of MCP servers and of handed-off agents are not ``agent.tools``: guard
    those agents too. A guardrail of the same ``name`` is replaced, not doubled.
    ``approval="interrupt"`` also sets each tool's ``needs_approval`` (see the
    module docs; a tool's own ``needs_approval`` still applies too).
    Returns ``sdk_agent``.
    """
    if approval not in ("deny", "interrupt"):
        raise ValueError(f"approval must be 'deny' or 'interrupt', not {approval!r}")
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
    guard = ToolCallGuard(engine, **options)
    handover = _Handover() if approval == "interrupt" else None
    guardrail = _guardrail(guard, name, handover)
    for tool in sdk_agent.tools:
        assert isinstance(tool, FunctionTool)
        existing = [g for g in tool.tool_input_guardrails or [] if g.get_name() != name]
        # Ours first: a later guardrail may raise; authorization is decided before it.
        tool.tool_input_guardrails = [guardrail, *existing]
        if handover is not None:
            own = getattr(tool.needs_approval, "__agentauthz_own__", tool.needs_approval)
            tool.needs_approval = _needs_approval(guard, handover, sdk_agent, tool, own)
    return sdk_agent


def _needs_approval(
    guard: ToolCallGuard, handover: _Handover, sdk_agent: Agent[Any], tool: FunctionTool, own: Any
) -> Any:
    """The SDK's ``needs_approval`` for ``tool``: the engine's check, whose verdict
    the guardrail then uses (unless it pauses the run: the call is then checked
    again after the human's approval)."""

    async def needs_approval(
        ctx: RunContextWrapper[Any], params: dict[str, Any], call_id: str
    ) -> bool:
        if own is True:
            return True
        if callable(own) and await own(ctx, params, call_id):
            return True
        tool_ctx = ToolContext.from_agent_context(
            ctx,
            call_id,
            agent=sdk_agent,
            tool_name=tool.name,
            tool_arguments=json.dumps(params),
        )
        data = ToolInputGuardrailData(context=tool_ctx, agent=sdk_agent)
        verdict = await guard.acheck(ToolCall(tool.name, params, id=call_id, raw=data))
        if verdict.needs_approval:
            pending[call_id] = verdict.approval_request()
            while len(pending) > _MAX_HANDED_OVER:
                pending.popitem(last=False)
            return True
        handover.put(ctx, call_id, verdict)
        return False

    # What pending_approvals shows (ids and digests only; approving is the engine's).
    pending: OrderedDict[str, dict[str, Any]] = OrderedDict()
    needs_approval.__agentauthz_own__ = own  # type: ignore[attr-defined]
    needs_approval.__agentauthz_pending__ = pending  # type: ignore[attr-defined]
    return needs_approval


def pending_approvals(result: Any) -> list[dict[str, Any]]:
    """The run's interruptions that wait for an agentauthz approval: for each, the
    approval request (``Verdict.approval_request()``: tool, arguments,
    ``decision_id``, ``request_digest``, ``approvers``, ``reasons``) and the
    SDK's approval item under ``"item"`` (for ``state.approve``/``state.reject``).
    Interruptions of other causes (a tool's own ``needs_approval``) are left out."""
    out: list[dict[str, Any]] = []
    for item in getattr(result, "interruptions", None) or []:
        raw = getattr(item, "raw_item", None)
        call_id = getattr(raw, "call_id", None)
        agent = getattr(item, "agent", None)
        for tool in getattr(agent, "tools", None) or []:
            waiting = getattr(getattr(tool, "needs_approval", None), "__agentauthz_pending__", None)
            if isinstance(waiting, dict) and isinstance(call_id, str) and call_id in waiting:
                out.append({**waiting[call_id], "item": item})
                break
    return out

"""The one tool-call mapper every framework adapter uses.

A framework hands a tool call to a ``ToolCallGuard`` as a ``ToolCall`` (the
tool's name, its arguments, the call id, and the framework's own object);
the guard resolves its options, asks ``Engine.check_tool_call`` and returns a
``Verdict``: run the tool, or show the model ``verdict.refusal``.

    guard = ToolCallGuard(engine, agent="ci-bot", resource=("Repo", "acme/api"),
                          action={"read_file": "repo:read"})
    verdict = guard.check(ToolCall("read_file", {"path": "src/app.py"}, id="c1"))
    if not verdict.allowed:
        return verdict.refusal        # the model sees the reasons and decision_id

Options are values or callables of the ``ToolCall`` (``call.raw`` is the
framework's object). ``action``: ``None`` uses the tool name; a mapping maps
tool names to actions, and a tool it does not list is checked with no action,
which the engine denies with reason ``baseline/unknown-action``; a callable
returns the action (``None`` for "no action").

Failures never run the tool. With ``on_error="deny"`` (the default) an
``AuthzError`` from the engine (e.g. tool arguments that do not fit the
schema's ``context.input``) or any exception from an option callable or from
``on_decision`` becomes a refusal that names the error code; with
``on_error="raise"`` it propagates. ``on_decision(decision, call)`` runs after
every decision and before the tool: it observes, and it may veto by raising
(the call is then refused; it can never turn a deny into an allow).

``acheck`` is the async form: option callables and ``on_decision`` may then
return awaitables. The check itself runs inline (it takes microseconds and
releases the GIL), not in a thread.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from typing import Any, Callable, Literal

from ._native import Decision, Engine
from .errors import AuthzError

__all__ = ["ARGS", "ToolCall", "ToolCallGuard", "Verdict", "refusal_text"]

log = logging.getLogger("agentauthz")

# The longest error message quoted to the model: errors can quote tool input.
_MAX_ERROR_CHARS = 500


class _Args:
    def __repr__(self) -> str:
        return "ARGS"


ARGS: Any = _Args()
"""Default of ``input``: the tool call's arguments."""


class ToolCall:
    """A framework-neutral tool call: ``name``, ``args`` (as the model gave them),
    ``id`` (the framework's call id, if any) and ``raw`` (the framework's object)."""

    __slots__ = ("args", "id", "name", "raw")

    def __init__(self, name: str, args: Any, id: str | None = None, raw: Any = None) -> None:
        self.name = name
        self.args = args
        self.id = id
        self.raw = raw

    def __repr__(self) -> str:
        return f"ToolCall(name={self.name!r}, id={self.id!r})"


def _short(text: str) -> str:
    return text if len(text) <= _MAX_ERROR_CHARS else text[:_MAX_ERROR_CHARS] + "…"


def _code(error: BaseException) -> str:
    """The core's code for an AuthzError; the exception type for anything else."""
    return error.code if isinstance(error, AuthzError) else type(error).__name__


def refusal_text(
    tool: str, decision: Decision | None = None, error: BaseException | None = None
) -> str:
    """The text the model sees when a tool call does not run (every adapter uses it)."""
    if error is None and decision is not None and decision.requires_approval:
        return (
            f"Tool call {tool!r} needs a human's approval "
            f"(approvers: {', '.join(decision.approvers)}; reasons: {', '.join(decision.reasons)}; "
            f"decision_id: {decision.decision_id}; request_digest: {decision.request_digest}). "
            "The tool did not run."
        )
    if decision is not None and not decision.allowed:
        reasons = ", ".join(decision.reasons) or "no policy permits this call"
        return (
            f"Tool call {tool!r} was denied by authorization policy "
            f"(reasons: {reasons}; decision_id: {decision.decision_id}). The tool did not run."
        )
    if error is not None:
        what = f"decision_id: {decision.decision_id}; " if decision is not None else ""
        return (
            f"Tool call {tool!r} was refused: authorization could not be decided "
            f"({what}error: {_code(error)}: {_short(str(error))}). The tool did not run."
        )
    raise ValueError("refusal_text needs a denying decision or an error")


class Verdict:
    """The outcome of one guarded tool call: ``allowed``, else ``refusal`` (the
    text for the model). ``decision`` is the engine's Decision when there is one;
    ``error`` the exception that stopped the check (the tool does not run)."""

    __slots__ = ("call", "decision", "error")

    def __init__(
        self, call: ToolCall, decision: Decision | None, error: BaseException | None = None
    ) -> None:
        self.call = call
        self.decision = decision
        self.error = error

    @property
    def allowed(self) -> bool:
        return self.error is None and self.decision is not None and self.decision.allowed

    @property
    def needs_approval(self) -> bool:
        """The engine asks for a human's approval (``decision == "needs_approval"``)."""
        return self.error is None and self.decision is not None and self.decision.requires_approval

    def approval_request(self) -> dict[str, Any]:
        """What a human needs to approve this call: the tool, its arguments and the
        Decision's id, digest, approvers and reasons. It holds no credential: approving
        means ``engine.approve(decision_id, by=...)``, which the engine itself checks."""
        d = self.decision
        if d is None or not self.needs_approval:
            raise ValueError("approval_request needs a needs_approval decision")
        return {
            "type": "agentauthz/approval",
            "tool": self.call.name,
            "tool_call_id": self.call.id,
            "args": self.call.args,
            "decision_id": d.decision_id,
            "request_digest": d.request_digest,
            "approvers": list(d.approvers),
            "reasons": list(d.reasons),
        }

    @property
    def refusal(self) -> str | None:
        """None when the tool may run, else the message for the model."""
        if self.allowed:
            return None
        return refusal_text(self.call.name, self.decision, self.error)

    def artifact(self) -> dict[str, Any]:
        """Machine-readable outcome: the Decision's dict, plus ``error`` when one stopped it."""
        out: dict[str, Any] = self.decision.to_dict() if self.decision is not None else {}
        if self.error is not None:
            out["error"] = {"code": _code(self.error), "message": _short(str(self.error))}
        return out

    def __repr__(self) -> str:
        state = "allow" if self.allowed else "refuse"
        return f"<Verdict {state} {self.call!r}>"


Option = Any  # a value, or a callable of the ToolCall returning it


class ToolCallGuard:
    """Checks tool calls with ``engine.check_tool_call`` before they run.

    Identity: ``agent`` (an agent id), ``session`` (a session token, with
    ``audience``) or ``token`` (an identity provider's JWT, verified by the
    engine on every call against ``[identity.issuers]``; a string, or a
    callable returning the current token per call). ``resource`` is
    ``(type, id)`` or ``{"type", "id"}``.
    ``input`` defaults to the tool arguments (``context.input``; the core coerces
    them to the schema's type: ``None`` at optional fields dropped, numbers to
    ``decimal`` where declared, anything else a ``request_invalid`` error).
    ``context`` adds other context fields. See the module docstring for
    ``action``, ``on_error`` and ``on_decision``.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        resource: Option,
        agent: Option = None,
        session: Option = None,
        audience: Option = None,
        token: Option = None,
        action: Mapping[str, str | None] | Callable[[ToolCall], Any] | None = None,
        input: Option = ARGS,
        context: Option = None,
        task: Option = None,
        on_behalf_of: Option = None,
        credential: Option = None,
        now: Option = None,
        on_error: Literal["deny", "raise"] = "deny",
        on_decision: Callable[[Decision, ToolCall], Any] | None = None,
    ) -> None:
        if on_error not in ("deny", "raise"):
            raise ValueError(f"on_error must be 'deny' or 'raise', not {on_error!r}")
        if not hasattr(engine, "check_tool_call"):
            raise TypeError("ToolCallGuard needs an agentauthz Engine")
        if agent is None and session is None and token is None:
            raise TypeError(
                "ToolCallGuard needs `agent`, `session` or `token` (a value or a callable)"
            )
        if resource is None:
            raise TypeError("ToolCallGuard needs `resource` (a value or a callable)")
        if action is not None and not (isinstance(action, Mapping) or callable(action)):
            raise TypeError(
                "`action` must be None, a mapping of tool name to action, or a callable"
            )
        if on_decision is not None and not callable(on_decision):
            raise TypeError("`on_decision` must be callable")
        self.engine = engine
        self.on_error = on_error
        self.on_decision = on_decision
        # A copy: a caller mutating its dict later cannot widen the map.
        self.action = dict(action) if isinstance(action, Mapping) else action
        options: dict[str, Any] = {
            "agent": agent,
            "session": session,
            "audience": audience,
            "token": token,
            "resource": resource,
            "context": context,
            "task": task,
            "on_behalf_of": on_behalf_of,
            "credential": credential,
            "now": now,
        }
        if input is not ARGS:
            options["input"] = input
        self._input_is_args = input is ARGS
        # Sorted once: fixed values, and the callables resolved per call.
        self._static = {k: v for k, v in options.items() if not callable(v)}
        self._dynamic = [(k, v) for k, v in options.items() if callable(v)]

    def _action(self, call: ToolCall) -> Any:
        if self.action is None:
            return call.name
        if isinstance(self.action, dict):
            return self.action.get(call.name)  # unlisted: None → baseline/unknown-action
        return self.action(call)

    # ---- sync

    def check(self, call: ToolCall) -> Verdict:
        """Decide ``call``; never raises with ``on_error="deny"``."""
        decision: Decision | None = None
        try:
            kwargs = dict(self._static)
            for key, option in self._dynamic:
                kwargs[key] = _sync(option(call))
            if self._input_is_args:
                kwargs["input"] = call.args
            action = _sync(self._action(call))
            decision = self.engine.check_tool_call(tool=call.name, action=action, **kwargs)
            if self.on_decision is not None:
                _sync(self.on_decision(decision, call))
        except Exception as error:  # fail closed: the tool does not run
            return self._failed(call, decision, error)
        return Verdict(call, decision)

    # ---- async

    async def acheck(self, call: ToolCall) -> Verdict:
        """``check`` for async frameworks: option callables may be coroutines."""
        decision: Decision | None = None
        try:
            kwargs = dict(self._static)
            for key, option in self._dynamic:
                value = option(call)
                kwargs[key] = await value if inspect.isawaitable(value) else value
            if self._input_is_args:
                kwargs["input"] = call.args
            action = self._action(call)
            if inspect.isawaitable(action):
                action = await action
            decision = self.engine.check_tool_call(tool=call.name, action=action, **kwargs)
            if self.on_decision is not None:
                result = self.on_decision(decision, call)
                if inspect.isawaitable(result):
                    await result
        except Exception as error:
            return self._failed(call, decision, error)
        return Verdict(call, decision)

    def _failed(self, call: ToolCall, decision: Decision | None, error: Exception) -> Verdict:
        if self.on_error == "raise":
            raise error
        log.warning(
            "agentauthz refused tool call %r: %s: %s", call.name, _code(error), _short(str(error))
        )
        return Verdict(call, decision, error)


def _sync(value: Any) -> Any:
    """A callable's result in a sync check: an awaitable cannot be awaited here."""
    if inspect.isawaitable(value):
        if inspect.iscoroutine(value):
            value.close()  # no "never awaited" warning
        raise TypeError("an option returned an awaitable in a sync check; use acheck")
    return value

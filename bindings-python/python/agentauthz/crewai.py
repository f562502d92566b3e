"""CrewAI (``crewai``) integration: authorize every tool call.

    from agentauthz.crewai import AuthorizationHooks

    hooks = AuthorizationHooks(engine, agent="support-bot", resource=("Account", "acme"))
    hooks.register()          # every tool call of every crew in this process
    ...
    hooks.unregister()

CrewAI's before-tool-call hook can only block (returning ``False``), and the
model then sees "Tool execution blocked by hook". ``AuthorizationHooks``
registers a before hook that blocks and an after hook, which CrewAI runs for
blocked calls too, that replaces that text with the reasons and
``decision_id`` (or the error code). CrewAI swallows exceptions raised in hooks
and runs the tool anyway, so these hooks never raise: ``on_error`` must be
``"deny"`` here.

For one tool, decorate it (above ``@tool``: the tool's name is the one checked):

    @authorize(engine, agent="support-bot", resource=("Account", "acme"))
    @tool("issue_refund")
    def issue_refund(order_id: str, amount: float) -> str: ...

The tool name is the action (or ``action`` maps it) and the tool arguments are
``context.input``. Options are those of ``agentauthz.toolcall.ToolCallGuard``;
option callables receive a ``ToolCall`` whose ``raw`` is CrewAI's
``ToolCallHookContext`` (``agent``, ``task``, ``crew``) or, for ``authorize``,
the decorated function. Hooks registered after these may still change the
arguments in place: register ``AuthorizationHooks`` last.

This module imports ``crewai`` (``pip install agentauthz[crewai]``);
``import agentauthz`` does not.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections import OrderedDict
from typing import Any, Callable, TypeVar, cast

from crewai.hooks import (
    ToolCallHookContext,
    register_after_tool_call_hook,
    register_before_tool_call_hook,
    unregister_after_tool_call_hook,
    unregister_before_tool_call_hook,
)
from crewai.tools import BaseTool

from ._native import Engine
from .toolcall import ToolCall, ToolCallGuard, Verdict, refusal_text

__all__ = ["AuthorizationHooks", "authorize"]

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

# Refusals waiting for their after hook; bounded so a path that skips the after
# hook cannot grow it without end (the call stays blocked either way).
_MAX_PENDING = 1024


def _no_raise(options: dict[str, Any]) -> None:
    if options.get("on_error", "deny") != "deny":
        raise ValueError(
            "CrewAI runs the tool when a hook raises, so the agentauthz hooks take "
            "on_error='deny' only"
        )


class AuthorizationHooks:
    """A before/after tool-call hook pair for CrewAI (see the module docstring)."""

    def __init__(self, engine: Engine, **options: Any) -> None:
        _no_raise(options)
        self.guard = ToolCallGuard(engine, **options)
        self._pending: OrderedDict[int, tuple[Any, str]] = OrderedDict()
        self._lock = threading.Lock()

    def before_tool_call(self, context: ToolCallHookContext) -> bool | None:
        """Returns False (block) unless the call is allowed; never raises."""
        try:
            call = ToolCall(context.tool_name, context.tool_input, raw=context)
            verdict = self.guard.check(call)
            if verdict.allowed:
                return None
            text = verdict.refusal or ""
        except Exception as error:  # fail closed: a raising hook would let the tool run
            name = getattr(context, "tool_name", "?")
            text = refusal_text(str(name), error=error)
        with self._lock:
            # The after hook gets a new context holding the same tool_input dict.
            self._pending[id(context.tool_input)] = (context.tool_input, text)
            while len(self._pending) > _MAX_PENDING:
                self._pending.popitem(last=False)
        return False

    def after_tool_call(self, context: ToolCallHookContext) -> str | None:
        """For a call this object blocked: the refusal text instead of CrewAI's."""
        with self._lock:
            entry = self._pending.get(id(context.tool_input))
            if entry is None or entry[0] is not context.tool_input:
                return None
            del self._pending[id(context.tool_input)]
        return entry[1]

    def register(self) -> AuthorizationHooks:
        """Registers both hooks globally (every crew in this process)."""
        register_before_tool_call_hook(self.before_tool_call)
        register_after_tool_call_hook(self.after_tool_call)
        return self

    def unregister(self) -> None:
        unregister_before_tool_call_hook(self.before_tool_call)
        unregister_after_tool_call_hook(self.after_tool_call)


def authorize(engine: Engine, *, tool_name: str | None = None, **options: Any) -> Callable[[T], T]:
    """Decorator for one tool: check before each call.

    Above ``@tool`` it wraps the ``Tool``'s function and checks the tool's name;
    on a plain function (sync or async) it checks ``tool_name``, default the
    function's name. On a refusal the function does not run and returns the
    refusal text, which CrewAI hands the model as the tool's output.
    """
    _no_raise(options)
    guard = ToolCallGuard(engine, **options)

    def decorate(target: T) -> T:
        if isinstance(target, BaseTool):
            func = getattr(target, "func", None)
            if not callable(func):
                raise TypeError("authorize: this CrewAI tool has no `func`; use AuthorizationHooks")
            target.func = wrap(func, tool_name or target.name)  # type: ignore[attr-defined]
            return target
        if not callable(target):
            raise TypeError("authorize decorates a CrewAI tool or a function")
        name = tool_name or str(getattr(target, "__name__", ""))
        return cast(T, wrap(target, name))

    def wrap(fn: F, name: str) -> F:
        signature = inspect.signature(fn)

        def call_of(args: tuple[Any, ...], kwargs: dict[str, Any]) -> ToolCall | Verdict:
            call = ToolCall(name, kwargs, raw=fn)
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError as e:
                return Verdict(call, None, e)
            return ToolCall(name, dict(bound.arguments), raw=fn)

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                call = call_of(args, kwargs)
                verdict = call if isinstance(call, Verdict) else await guard.acheck(call)
                if not verdict.allowed:
                    return verdict.refusal
                return await fn(*args, **kwargs)

            return cast(F, guarded_async)

        @functools.wraps(fn)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            call = call_of(args, kwargs)
            verdict = call if isinstance(call, Verdict) else guard.check(call)
            if not verdict.allowed:
                return verdict.refusal
            return fn(*args, **kwargs)

        return cast(F, guarded)

    return decorate

"""``agentauthz.Engine``: the native engine plus the ``guard`` decorator."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable, TypeVar, cast

from . import _native
from .errors import Denied

__all__ = ["Engine"]

F = TypeVar("F", bound=Callable[..., Any])


def _value(arg: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A guard argument: a callable receives the guarded call's arguments."""
    return arg(*args, **kwargs) if callable(arg) else arg


class Engine(_native.Engine):
    """In-process authorization for agents.

    Build one with ``Engine.load(dir)`` or ``Engine.from_strings(schema=..., policies=...)``,
    then ask ``engine.check(agent=..., action=..., resource=(type, id))`` before every
    tool call. An Engine is safe to share across threads; ``check`` releases the GIL.
    """

    __slots__ = ()

    def guard(
        self,
        *,
        agent: Any,
        action: Any,
        resource: Any,
        context: Any = None,
        task: Any = None,
        on_behalf_of: Any = None,
        credential: Any = None,
        now: Any = None,
    ) -> Callable[[F], F]:
        """Decorator: check before each call of a sync or async function.

        Each argument is a value, or a callable that receives the decorated
        function's ``*args, **kwargs`` and returns the value (e.g.
        ``resource=lambda path: ("File", path)``). On deny the function does not
        run and ``agentauthz.Denied`` is raised, carrying the Decision; bad input
        raises ``AuthzError`` as ``check`` does.
        """

        def authorize(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            decision = self.check(
                agent=_value(agent, args, kwargs),
                action=_value(action, args, kwargs),
                resource=_value(resource, args, kwargs),
                context=_value(context, args, kwargs),
                task=_value(task, args, kwargs),
                on_behalf_of=_value(on_behalf_of, args, kwargs),
                credential=_value(credential, args, kwargs),
                now=_value(now, args, kwargs),
            )
            if not decision.allowed:
                raise Denied(decision)

        def decorate(fn: F) -> F:
            if inspect.iscoroutinefunction(fn):

                @functools.wraps(fn)
                async def guarded_async(*args: Any, **kwargs: Any) -> Any:
                    authorize(args, kwargs)
                    return await fn(*args, **kwargs)

                return cast(F, guarded_async)

            @functools.wraps(fn)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                authorize(args, kwargs)
                return fn(*args, **kwargs)

            return cast(F, guarded)

        return decorate

"""OpenTelemetry spans for checks, in the host's current trace (opt-in).

    from agentauthz.tracing import TracedEngine

    engine = TracedEngine.load("policies-examples/coding-agent")

A ``TracedEngine`` is an ``Engine`` whose ``check`` and ``check_tool_call``
each record a span ``agentauthz.check`` (a child of the caller's current span)
through the host's OpenTelemetry API package (``opentelemetry-api``), with
the decision, action, agent, reasons (policy ids), decision id and policy
revision as attributes — never a token, the context or the tool input. A
request that raises sets the span's status to error with the error code only
(the message may quote input). ``opentelemetry-api`` is imported when the
first ``TracedEngine`` is built: without it that raises ``ImportError``
saying what to install, and plain ``Engine`` checks are unaffected.
"""

from __future__ import annotations

from typing import Any

from ._engine import Engine
from ._native import Decision, __version__
from .errors import AuthzError

__all__ = ["TracedEngine"]

SPAN_NAME = "agentauthz.check"


def _tracer() -> Any:
    try:
        from opentelemetry import trace
    except ImportError as e:
        raise ImportError(
            "agentauthz.tracing needs the OpenTelemetry API package: "
            "pip install opentelemetry-api (checks without tracing need nothing)"
        ) from e
    return trace.get_tracer("agentauthz", __version__)


class TracedEngine(Engine):
    """An ``Engine`` that records one span per check (see the module docs)."""

    __slots__ = ("_tracer",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The native constructor took the arguments; only the tracer is set here.
        self._tracer = _tracer()

    def check(self, **kwargs: Any) -> Decision:
        return self._traced(super().check, kwargs)

    def check_tool_call(self, **kwargs: Any) -> Decision:
        return self._traced(super().check_tool_call, kwargs)

    def _traced(self, check: Any, kwargs: dict[str, Any]) -> Decision:
        from opentelemetry.trace import SpanKind, Status, StatusCode

        with self._tracer.start_as_current_span(
            SPAN_NAME,
            kind=SpanKind.INTERNAL,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            action = kwargs.get("action")
            if isinstance(action, str):
                span.set_attribute("agentauthz.action", action)
            agent = kwargs.get("agent")
            if isinstance(agent, str):
                span.set_attribute("gen_ai.agent.id", agent)
            try:
                decision: Decision = check(**kwargs)
            except AuthzError as e:
                span.set_attribute("error.type", e.code)
                span.set_status(Status(StatusCode.ERROR, e.code))
                raise
            except BaseException as e:
                span.set_attribute("error.type", type(e).__qualname__)
                span.set_status(Status(StatusCode.ERROR))
                raise
            span.set_attribute("agentauthz.decision", decision.decision)
            span.set_attribute("agentauthz.reasons", decision.reasons)
            span.set_attribute("agentauthz.decision_id", decision.decision_id)
            span.set_attribute("agentauthz.policy_revision", decision.policy_revision)
            return decision

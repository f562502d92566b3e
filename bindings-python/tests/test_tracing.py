"""agentauthz.tracing: one span per check in the host's current trace, with
decision, action, agent, reasons and ids as attributes and never the context,
tool input or a token; errors by code only; without opentelemetry-api a clear
ImportError, and plain engines unaffected. Checked with the SDK's in-memory
exporter."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from agentauthz import AuthzError, Engine
from agentauthz.tracing import TracedEngine

from conftest import REPO

BUNDLE = REPO / "policies-examples" / "coding-agent"
EXPORTER = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(_provider)

ALLOWED_KEYS = {
    "agentauthz.action",
    "agentauthz.decision",
    "agentauthz.reasons",
    "agentauthz.decision_id",
    "agentauthz.policy_revision",
    "gen_ai.agent.id",
    "error.type",
}
SECRET_BRANCH = "feature/s3cret-branch-name"


def push(engine: Engine, branch: Any) -> Any:
    return engine.check(
        agent="ci-bot",
        action="github:push",
        resource=("Repo", "acme/api"),
        task="T-42",
        credential="ci-bot-key",
        context={"branch": branch, "source_ip": "10.20.3.14"},
        now="2026-11-29T10:20:00Z",
    )


@pytest.fixture(autouse=True)
def clear() -> None:
    EXPORTER.clear()


def test_a_span_per_check_in_the_current_trace() -> None:
    engine = TracedEngine.load(BUNDLE, trust_caller_time=True)
    assert isinstance(engine, Engine)
    tracer = trace.get_tracer("host-app")
    with tracer.start_as_current_span("agent-run") as parent:
        allowed = push(engine, SECRET_BRANCH)
        denied = push(engine, "main")
    spans = {s.name: s for s in EXPORTER.get_finished_spans()}
    checks = [s for s in EXPORTER.get_finished_spans() if s.name == "agentauthz.check"]
    assert len(checks) == 2
    run = spans["agent-run"]
    for span, decision in zip(checks, (allowed, denied)):
        assert span.parent is not None
        assert span.parent.span_id == run.context.span_id
        assert span.context.trace_id == parent.get_span_context().trace_id
        attrs = dict(span.attributes or {})
        assert attrs["agentauthz.decision"] == decision.decision
        assert attrs["agentauthz.action"] == "github:push"
        assert attrs["gen_ai.agent.id"] == "ci-bot"
        assert attrs["agentauthz.reasons"] == tuple(decision.reasons)
        assert attrs["agentauthz.decision_id"] == decision.decision_id
        assert attrs["agentauthz.policy_revision"] == decision.policy_revision
        assert set(attrs) <= ALLOWED_KEYS
        # Never the context or tool input.
        assert SECRET_BRANCH not in repr(attrs)
        assert "10.20.3.14" not in repr(attrs)
    assert checks[0].attributes is not None
    assert checks[0].attributes["agentauthz.decision"] == "allow"
    assert checks[1].attributes is not None
    assert checks[1].attributes["agentauthz.decision"] == "deny"


def test_an_error_is_recorded_by_code_without_its_message() -> None:
    engine = TracedEngine.load(BUNDLE, trust_caller_time=True)
    with pytest.raises(AuthzError) as raised:
        push(engine, 7)
    (span,) = EXPORTER.get_finished_spans()
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description == raised.value.code
    assert span.attributes is not None
    assert span.attributes["error.type"] == raised.value.code
    assert not span.events, "the exception message may quote input"


def test_a_plain_engine_records_no_span() -> None:
    engine = Engine.load(BUNDLE, trust_caller_time=True)
    push(engine, "feature/x")
    assert EXPORTER.get_finished_spans() == ()


def test_without_the_api_package_a_clear_error_and_checks_still_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # None in sys.modules makes `import opentelemetry` raise ImportError.
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    with pytest.raises(ImportError, match="pip install opentelemetry-api"):
        TracedEngine.load(BUNDLE, trust_caller_time=True)
    assert push(Engine.load(BUNDLE, trust_caller_time=True), "feature/x").allowed

"""Human approval in a LangGraph agent run (real langchain/langgraph, an
in-memory checkpointer, a scripted fake model; no network): a call that
needs approval pauses the graph with ``interrupt()``, runs once after the
engine records an approval, and stays refused otherwise. Hostile cases:
other arguments, reuse, a forged resume value, a rejecting or unauthorized
approver, a callback that raises.
"""

from __future__ import annotations

import re
import sys
import uuid
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from test_approvals import INVENTORY, POLICIES, SCHEMA, T0
from test_langchain import ScriptedModel, call

from agentauthz import Engine, LifecycleError, ManualClock
from agentauthz.langchain import AuthorizationMiddleware

refunds: list[int] = []


@tool
def refund(amount: int) -> str:
    """Refund an amount of order o1."""
    refunds.append(amount)
    return f"refunded {amount}"


@pytest.fixture(autouse=True)
def _clear() -> None:
    refunds.clear()


def make_engine() -> Engine:
    return Engine.from_strings(
        schema=SCHEMA, policies=POLICIES, inventory=INVENTORY, clock=ManualClock(T0)
    )


def middleware(engine: Engine, **extra: Any) -> AuthorizationMiddleware:
    return AuthorizationMiddleware(
        engine,
        agent="bot",
        action={"refund": "billing:refund"},
        resource=("Order", "o1"),
        **extra,
    )


def ask(*amounts: int) -> list[BaseMessage]:
    """One model turn per amount, then a final answer."""
    turns: list[BaseMessage] = [
        AIMessage(content="", tool_calls=[call("refund", f"c{i}", amount=a)])
        for i, a in enumerate(amounts)
    ]
    return [*turns, AIMessage(content="done")]


class Run:
    """One agent thread: start it, resume it, read its interrupts and tool messages."""

    def __init__(self, engine: Engine, *amounts: int, **extra: Any) -> None:
        self.model = ScriptedModel(responses=ask(*amounts), prompts=[])
        self.agent = create_agent(
            self.model,
            tools=[refund],
            middleware=[middleware(engine, **extra)],
            checkpointer=InMemorySaver(),
        )
        self.config: Any = {"configurable": {"thread_id": str(uuid.uuid4())}}
        self.result: dict[str, Any] = {}

    def start(self) -> Run:
        self.result = self.agent.invoke({"messages": [HumanMessage("refund")]}, self.config)
        return self

    def resume(self, value: Any) -> Run:
        self.result = self.agent.invoke(Command(resume=value), self.config)
        return self

    @property
    def pending(self) -> dict[str, Any] | None:
        interrupts = self.result.get("__interrupt__") or []
        assert len(interrupts) <= 1
        return interrupts[0].value if interrupts else None

    def tool_message(self, call_id: str) -> ToolMessage:
        found = [
            m
            for m in self.result["messages"]
            if isinstance(m, ToolMessage) and m.tool_call_id == call_id
        ]
        assert len(found) == 1, call_id
        return found[0]


def test_a_forged_resume_value_is_not_an_approval() -> None:
    engine = make_engine()
    run = Run(engine, 500).start()
    assert refunds == []
    assert run.pending is not None
    run.resume({"approved": True, "by": "alice", "decision_id": run.pending["decision_id"]})
    assert refunds == []
    m = run.tool_message("c0")
    assert m.status == "error"
    assert "without an approval the engine holds" in str(m.content)
    assert m.artifact["decision"] == "needs_approval"
    assert run.result["messages"][-1].content == "done"


def test_approved_arguments_run_once_and_other_arguments_do_not() -> None:
    engine = make_engine()
    run = Run(engine, 500, 501, 500).start()
    pending = run.pending
    assert pending is not None
    assert pending["type"] == "agentauthz/approval"
    assert pending["tool"] == "refund" and pending["args"] == {"amount": 500}
    assert pending["approvers"] == ["owner", "team:finance"]
    assert pending["reasons"] == ["refund-limit"]
    assert pending["request_digest"].startswith("sha256:")
    assert "token" not in str(pending).lower()
    engine.approve(pending["decision_id"], by="alice")
    assert refunds == []  # nothing runs until the graph is resumed

    run.resume("approved in the engine")
    assert refunds == [500]
    assert run.tool_message("c0").status == "success"
    # 501: the approval was for 500. The graph pauses again, with another digest.
    second = run.pending
    assert second is not None and second["args"] == {"amount": 501}
    assert second["request_digest"] != pending["request_digest"]

    run.resume({"approved": True})
    assert refunds == [500]
    assert run.tool_message("c1").status == "error"
    # 500 again: the approval was used up.
    third = run.pending
    assert third is not None and third["request_digest"] == pending["request_digest"]
    run.resume("yes")
    assert refunds == [500]
    assert run.tool_message("c2").status == "error"
    assert run.result["messages"][-1].content == "done"


def test_a_rejected_or_unauthorized_approval_stays_refused() -> None:
    engine = make_engine()
    run = Run(engine, 500).start()
    pending = run.pending
    assert pending is not None
    with pytest.raises(LifecycleError) as e:
        engine.approve(pending["decision_id"], by="mallory")
    assert e.value.code == "approval_refused"
    engine.reject(pending["decision_id"], by="alice")
    run.resume({"approved": True})
    assert refunds == []
    assert run.tool_message("c0").status == "error"


def test_a_team_approver_lets_the_call_run() -> None:
    engine = make_engine()
    run = Run(engine, 700).start()
    assert run.pending is not None
    engine.approve(run.pending["decision_id"], by="fin")
    run.resume("approved in the engine")
    assert refunds == [700]


def test_a_raising_approval_callback_neither_crashes_nor_allows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = make_engine()
    unraisable: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)

    def broken(_: dict[str, Any]) -> None:
        raise RuntimeError("notifier down")

    engine.on_approval_request(broken)
    run = Run(engine, 500).start()
    assert run.pending is not None and refunds == []
    assert [type(u.exc_value) for u in unraisable] == [RuntimeError]
    run.resume({"approved": True})
    assert refunds == []


def test_an_on_decision_that_raises_refuses_without_pausing() -> None:
    engine = make_engine()

    def veto(_d: Any, _tc: Any) -> None:
        raise RuntimeError("observer down")

    run = Run(engine, 500, on_decision=veto).start()
    assert run.pending is None and refunds == []
    assert run.tool_message("c0").artifact["error"]["code"] == "RuntimeError"


def test_approval_deny_refuses_at_once() -> None:
    engine = make_engine()
    run = Run(engine, 500, approval="deny").start()
    assert run.pending is None and refunds == []
    m = run.tool_message("c0")
    assert m.status == "error"
    # The same words as the JS adapters (bindings-js/src/tool-call.ts refusalText).
    assert re.fullmatch(
        r"Tool call 'refund' needs a human's approval \(approvers: owner, team:finance; "
        r"reasons: refund-limit; decision_id: \w{26}; request_digest: sha256:[0-9a-f]{64}\)\. "
        r"The tool did not run\.",
        str(m.content),
    ), m.content
    with pytest.raises(ValueError, match="approval must be"):
        middleware(engine, approval="ask")


def test_small_amounts_and_hard_denies_never_pause() -> None:
    engine = make_engine()
    run = Run(engine, 5, 20000).start()
    assert run.pending is None
    assert refunds == [5]
    assert run.tool_message("c1").artifact["decision"] == "deny"


@pytest.mark.asyncio
async def test_async_run_pauses_and_resumes() -> None:
    engine = make_engine()
    run = Run(engine, 500, 500)
    run.result = await run.agent.ainvoke({"messages": [HumanMessage("refund")]}, run.config)
    pending = run.pending
    assert pending is not None
    engine.approve(pending["decision_id"], by="alice")
    run.result = await run.agent.ainvoke(Command(resume="approved in the engine"), run.config)
    assert refunds == [500]
    assert run.pending is not None  # the second 500: the approval was used
    run.result = await run.agent.ainvoke(Command(resume={"approved": True}), run.config)
    assert refunds == [500]
    assert run.result["messages"][-1].content == "done"


def test_without_a_checkpointer_the_call_is_refused_not_paused() -> None:
    engine = make_engine()
    agent = create_agent(
        ScriptedModel(responses=ask(500), prompts=[]),
        tools=[refund],
        middleware=[middleware(engine)],
    )
    result = agent.invoke({"messages": [HumanMessage("refund")]})
    assert "__interrupt__" not in result and refunds == []
    m = [x for x in result["messages"] if isinstance(x, ToolMessage)]
    assert (
        len(m) == 1 and m[0].status == "error" and "needs a human's approval" in str(m[0].content)
    )

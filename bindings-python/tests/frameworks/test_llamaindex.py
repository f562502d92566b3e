"""agentauthz.llamaindex with the real llama-index-core FunctionAgent and a scripted model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.tools import FunctionTool

from agentauthz.llamaindex import AuthorizedTool, authorize_tools
from agentauthz.toolcall import ToolCallGuard

from conftest import NOW, SUPPORT_ACCOUNT
from fwscript import FINAL, RAN, SCRIPT, check_outputs, logged_engine

# llama-index's workflow runtime walks pydantic models with inspect.getmembers,
# touching their deprecated attributes.
pytestmark = pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecationWarning")

ran: list[tuple[str, str]] = []


@pytest.fixture(autouse=True)
def _clear() -> None:
    ran.clear()


def lookup_order(order_id: str) -> str:
    """Look an order up."""
    ran.append(("lookup_order", order_id))
    return f"order {order_id}: shipped"


def issue_refund(order_id: str, amount: float) -> str:
    """Refund an order."""
    ran.append(("issue_refund", order_id))
    return f"refunded {amount}"


def close_account(reason: str) -> str:
    """Close the customer's account."""
    ran.append(("close_account", reason))
    return "closed"


def tools() -> list[FunctionTool]:
    return [FunctionTool.from_defaults(fn=f) for f in (lookup_order, issue_refund, close_account)]


class Script:
    """A response generator for MockFunctionCallingLLM: one scripted call per turn."""

    def __init__(self, calls: list[tuple[str, Any, str]]) -> None:
        self.calls = list(calls)
        self.seen: list[list[ChatMessage]] = []

    def __call__(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatMessage:
        self.seen.append(list(messages))
        if not self.calls:
            return ChatMessage(role=MessageRole.ASSISTANT, content=FINAL)
        name, args, call_id = self.calls.pop(0)
        block = ToolCallBlock(tool_call_id=call_id, tool_name=name, tool_kwargs=args)
        return ChatMessage(role=MessageRole.ASSISTANT, blocks=[block])

    def outputs(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for messages in self.seen:
            for m in messages:
                if m.role == MessageRole.TOOL:
                    out[m.additional_kwargs["tool_call_id"]] = str(m.content)
        return out


OPTIONS: dict[str, Any] = {"agent": "support-bot", "resource": SUPPORT_ACCOUNT, "now": NOW}
SCRIPTED = [(name, args, call_id) for name, args, call_id, _ in SCRIPT]


async def run(calls: list[Any], **options: Any) -> tuple[str, Script, list[dict[str, Any]]]:
    engine, records = logged_engine()
    script = Script(calls)
    agent = FunctionAgent(
        tools=list[Any](authorize_tools(tools(), engine, **{**OPTIONS, **options})),
        llm=MockFunctionCallingLLM(response_generator=script),
    )
    result = await agent.run(user_msg="help")
    return str(result), script, records


@pytest.mark.asyncio
async def test_agent_run() -> None:
    result, script, records = await run(SCRIPTED)
    assert result == FINAL
    assert ran == RAN
    check_outputs(script.outputs(), records)


@pytest.mark.asyncio
async def test_unmapped_tool_and_raising_options_refuse() -> None:
    calls = [("lookup_order", {"order_id": "o-1"}, "c1")]
    _, script, records = await run(calls, action={"issue_refund": "issue_refund"})
    assert ran == [] and "baseline/unknown-action" in script.outputs()["c1"]
    assert len(records) == 1

    def boom(call: Any) -> Any:
        raise KeyError("tenant")

    _, script, records = await run(calls, resource=boom)
    assert ran == [] and records == [] and "KeyError" in script.outputs()["c1"]


def test_sync_call_and_positional_arguments() -> None:
    engine, records = logged_engine()
    guard = ToolCallGuard(engine, **OPTIONS)
    lookup, refund, close = (AuthorizedTool(t, guard) for t in tools())
    assert lookup.metadata.name == "lookup_order"
    assert lookup.metadata.get_parameters_dict() == tools()[0].metadata.get_parameters_dict()
    assert not lookup.call(order_id="o-1").is_error
    denied = close.call(reason="x")
    assert denied.is_error and "no-account-closing" in denied.content
    assert denied.raw_output["reasons"] == ["no-account-closing"]
    bad = refund.call(order_id="o-1", amount=1.23456)
    assert bad.is_error and "request_invalid" in bad.content
    positional = lookup.call("o-1")
    assert positional.is_error and "positional" in positional.content
    assert ran == [("lookup_order", "o-1")]
    assert [r["decision"] for r in records] == ["allow", "deny", "error"]

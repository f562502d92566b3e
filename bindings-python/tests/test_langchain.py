"""End-to-end agent runs with the real langchain and langgraph packages and a
scripted fake chat model (no network): denied tools never run, allowed ones do,
and the model sees the denial reasons."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Annotated, Any

import pytest
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, StateGraph
from langgraph.prebuilt import ToolNode
from typing_extensions import TypedDict

from agentauthz import Engine, RequestError
from agentauthz.langchain import AuthorizationMiddleware, ToolCallAuthorizer

from conftest import BUNDLE, NOW, REPO_RESOURCE

engine = Engine.load(BUNDLE, trust_caller_time=True)
executed: list[tuple[str, dict[str, Any]]] = []


@tool
def read_file(path: str) -> str:
    """Read a file of the repository."""
    executed.append(("read_file", {"path": path}))
    return f"<contents of {path}>"


@tool
def write_file(path: str, content: str) -> str:
    """Write a file of the repository."""
    executed.append(("write_file", {"path": path, "content": content}))
    return f"wrote {len(content)} bytes to {path}"


@tool
def run_shell(command: str) -> str:
    """Run a shell command in the repository."""
    executed.append(("run_shell", {"command": command}))
    return f"$ {command}\nok"


TOOLS = [read_file, write_file, run_shell]


class ScriptedModel(FakeMessagesListChatModel):
    """Replays scripted AIMessages and records every prompt it is given."""

    prompts: list[list[BaseMessage]] = []  # noqa: RUF012 (a pydantic field)

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedModel:
        return self

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self.prompts.append(list(messages))
        return super()._generate(messages, *args, **kwargs)


def call(name: str, call_id: str, **args: Any) -> dict[str, Any]:
    return {"name": name, "args": args, "id": call_id, "type": "tool_call"}


def script() -> list[BaseMessage]:
    """One turn per step; the third step asks for two tools at once."""
    return [
        AIMessage(content="", tool_calls=[call("read_file", "c1", path="src/app.py")]),
        AIMessage(content="", tool_calls=[call("read_file", "c2", path="deploy/prod.env")]),
        AIMessage(
            content="",
            tool_calls=[
                call("write_file", "c3", path="src/app.py", content="print('fixed')\n"),
                call("run_shell", "c4", command="rm -rf /"),
            ],
        ),
        AIMessage(content="", tool_calls=[call("run_shell", "c5", command="pytest -q")]),
        AIMessage(content="All done."),
    ]


ALLOWED = [
    ("read_file", {"path": "src/app.py"}),
    ("write_file", {"path": "src/app.py", "content": "print('fixed')\n"}),
    ("run_shell", {"command": "pytest -q"}),
]
DENIED = {"c2": ["no-secrets"], "c4": []}


@pytest.fixture(autouse=True)
def _clear() -> None:
    executed.clear()


def options(**extra: Any) -> dict[str, Any]:
    return {"agent": "coder", "resource": REPO_RESOURCE, "now": NOW, **extra}


def check_run(model: ScriptedModel, messages: list[AnyMessage]) -> None:
    # Only the allowed tools ran, in order.
    assert executed == ALLOWED
    tool_messages = {m.tool_call_id: m for m in messages if isinstance(m, ToolMessage)}
    assert set(tool_messages) == {"c1", "c2", "c3", "c4", "c5"}
    for call_id, reasons in DENIED.items():
        m = tool_messages[call_id]
        assert m.status == "error"
        assert "denied by authorization policy" in str(m.content)
        for reason in reasons:
            assert reason in str(m.content)
        assert m.artifact["decision"] == "deny"
        assert m.artifact["reasons"] == reasons
    for call_id in ("c1", "c3", "c5"):
        assert tool_messages[call_id].status == "success"
    # The model saw the denial reasons in the prompt after the denied call.
    seen_after_c2 = [
        m for m in model.prompts[2] if isinstance(m, ToolMessage) and m.tool_call_id == "c2"
    ]
    assert seen_after_c2 and "no-secrets" in str(seen_after_c2[0].content)
    assert messages[-1].content == "All done."
    assert len(model.prompts) == 5


def new_model() -> ScriptedModel:
    return ScriptedModel(responses=script(), prompts=[])


def test_create_agent_with_middleware_sync() -> None:
    model = new_model()
    agent = create_agent(
        model, tools=TOOLS, middleware=[AuthorizationMiddleware(engine, **options())]
    )
    result = agent.invoke({"messages": [HumanMessage("fix the failing test")]})
    check_run(model, result["messages"])


@pytest.mark.asyncio
async def test_create_agent_with_middleware_async() -> None:
    model = new_model()
    agent = create_agent(
        model, tools=TOOLS, middleware=[AuthorizationMiddleware(engine, **options())]
    )
    result = await agent.ainvoke({"messages": [HumanMessage("fix the failing test")]})
    check_run(model, result["messages"])


def test_middleware_options_may_be_callables() -> None:
    model = ScriptedModel(
        responses=[
            AIMessage(content="", tool_calls=[call("read_file", "c1", path="src/app.py")]),
            AIMessage(content="done"),
        ],
        prompts=[],
    )
    seen: list[str] = []

    def agent_of(request: Any) -> str:
        seen.append(request.tool_call["name"])
        return "orphan"

    mw = AuthorizationMiddleware(engine, **options(agent=agent_of))
    result = create_agent(model, tools=TOOLS, middleware=[mw]).invoke(
        {"messages": [HumanMessage("read")]}
    )
    assert seen == ["read_file"]
    assert executed == []
    denied = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert denied[0].status == "error" and "baseline/owner-required" in str(denied[0].content)


def test_bad_tool_input_raises_by_default_and_denies_on_request() -> None:
    # read_file's input.path is a String in the schema: 7 does not validate.
    def bad_call() -> ScriptedModel:
        return ScriptedModel(
            responses=[
                AIMessage(content="", tool_calls=[call("read_file", "c1", path=7)]),
                AIMessage(content="done"),
            ],
            prompts=[],
        )

    raising = create_agent(
        bad_call(), tools=TOOLS, middleware=[AuthorizationMiddleware(engine, **options())]
    )
    with pytest.raises(RequestError):
        raising.invoke({"messages": [HumanMessage("read")]})
    assert executed == []

    denying = create_agent(
        bad_call(),
        tools=TOOLS,
        middleware=[AuthorizationMiddleware(engine, **options(on_error="deny"))],
    )
    result = denying.invoke({"messages": [HumanMessage("read")]})
    refused = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert refused[0].status == "error" and "request_invalid" in str(refused[0].content)
    assert executed == []


# ---- LangGraph: a StateGraph with a ToolNode wrapped by the authorizer


class State(TypedDict):
    messages: Annotated[list[AnyMessage], operator.add]


def build_graph(model: ScriptedModel, authz: ToolCallAuthorizer) -> Any:
    def call_model(state: State) -> dict[str, list[AnyMessage]]:
        return {"messages": [model.invoke(state["messages"])]}

    def route(state: State) -> str:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else END

    graph = StateGraph(State)
    graph.add_node("model", call_model)
    graph.add_node(
        "tools",
        ToolNode(TOOLS, wrap_tool_call=authz.wrap_tool_call, awrap_tool_call=authz.awrap_tool_call),
    )
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", route, ["tools", END])
    graph.add_edge("tools", "model")
    return graph.compile()


def test_langgraph_tool_node_sync() -> None:
    model = new_model()
    app = build_graph(model, ToolCallAuthorizer(engine, **options()))
    result = app.invoke({"messages": [HumanMessage("fix the failing test")]})
    check_run(model, result["messages"])


@pytest.mark.asyncio
async def test_langgraph_tool_node_async() -> None:
    model = new_model()
    app = build_graph(model, ToolCallAuthorizer(engine, **options()))
    result = await app.ainvoke({"messages": [HumanMessage("fix the failing test")]})
    check_run(model, result["messages"])


def test_middleware_methods_work_as_tool_node_wrappers() -> None:
    model = new_model()
    mw = AuthorizationMiddleware(engine, **options())
    app = build_graph(model, mw.authorizer)
    app_direct = build_graph(new_model(), mw)  # type: ignore[arg-type]
    check_run(model, app.invoke({"messages": [HumanMessage("go")]})["messages"])
    executed.clear()
    result = app_direct.invoke({"messages": [HumanMessage("go")]})
    assert executed == ALLOWED
    assert len([m for m in result["messages"] if isinstance(m, ToolMessage)]) == 5


def test_on_error_is_validated() -> None:
    with pytest.raises(ValueError, match="on_error"):
        ToolCallAuthorizer(engine, agent="coder", resource=REPO_RESOURCE, on_error="ignore")  # type: ignore[arg-type]

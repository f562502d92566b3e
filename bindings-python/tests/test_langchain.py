"""End-to-end agent runs with the real langchain and langgraph packages and a
scripted fake chat model (no network): denied tools never run, allowed ones do,
and the model sees the denial reasons."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

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
        assert m.artifact["decision_id"] in str(m.content)
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


def bad_call(*calls: dict[str, Any]) -> ScriptedModel:
    return ScriptedModel(
        responses=[
            AIMessage(content="", tool_calls=list(calls or [call("read_file", "c1", path=7)])),
            AIMessage(content="done"),
        ],
        prompts=[],
    )


def test_bad_tool_input_is_refused_by_default_and_raises_on_request() -> None:
    # read_file's input.path is a String in the schema: 7 does not validate; an
    # extra field does not either. Neither crashes the run by default.
    model = bad_call(
        call("read_file", "c1", path=7), call("read_file", "c2", path="a.py", mode="rb")
    )
    denying = create_agent(
        model, tools=TOOLS, middleware=[AuthorizationMiddleware(engine, **options())]
    )
    result = denying.invoke({"messages": [HumanMessage("read")]})
    refused = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert [m.status for m in refused] == ["error", "error"]
    for m in refused:
        assert "request_invalid" in str(m.content) and "did not run" in str(m.content)
        assert m.artifact["error"]["code"] == "request_invalid"
    assert any("request_invalid" in str(m.content) for m in model.prompts[1])
    assert executed == []

    raising = create_agent(
        bad_call(),
        tools=TOOLS,
        middleware=[AuthorizationMiddleware(engine, **options(on_error="raise"))],
    )
    with pytest.raises(RequestError):
        raising.invoke({"messages": [HumanMessage("read")]})
    assert executed == []


def test_readme_style_action_lambda_with_unlisted_tool_is_refused() -> None:
    actions = {"read_file": "read_file"}
    mw = AuthorizationMiddleware(
        engine, **options(action=lambda request: actions[request.tool_call["name"]])
    )
    result = create_agent(
        bad_call(call("run_shell", "c1", command="pytest")), tools=TOOLS, middleware=[mw]
    ).invoke({"messages": [HumanMessage("run")]})
    refused = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert refused[0].status == "error" and "KeyError" in str(refused[0].content)
    assert executed == []


def test_action_map_unlisted_tool_is_denied_and_on_decision_sees_each_call() -> None:
    records: list[dict[str, Any]] = []
    logged = Engine.load(BUNDLE, decision_log=records.append, trust_caller_time=True)
    seen: list[tuple[str, str]] = []
    mw = AuthorizationMiddleware(
        logged,
        **options(
            action={"cat": "read_file", "read_file": None},
            on_decision=lambda d, tc: seen.append((tc["name"], d.decision)),
        ),
    )
    model = bad_call(
        call("read_file", "c1", path="src/app.py"), call("run_shell", "c2", command="pytest")
    )
    result = create_agent(model, tools=TOOLS, middleware=[mw]).invoke(
        {"messages": [HumanMessage("go")]}
    )
    refused = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert all("baseline/unknown-action" in str(m.content) for m in refused)
    assert executed == []
    # The two calls run in parallel: either order.
    assert sorted(seen) == [("read_file", "deny"), ("run_shell", "deny")]
    assert len(records) == 2  # one record per tool call


def test_two_named_middleware_instances_in_one_agent() -> None:
    first = AuthorizationMiddleware(engine, **options())
    second = AuthorizationMiddleware(engine, **options(agent="orphan"), name="SecondAuthz")
    assert first.name == "AuthorizationMiddleware" and second.name == "SecondAuthz"
    result = create_agent(
        bad_call(call("read_file", "c1", path="src/app.py")),
        tools=TOOLS,
        middleware=[first, second],
    ).invoke({"messages": [HumanMessage("go")]})
    refused = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert "baseline/owner-required" in str(refused[0].content)  # the second one denied
    assert executed == []
    with pytest.raises(AssertionError, match="duplicate"):
        create_agent(bad_call(), tools=TOOLS, middleware=[first, first])
    with pytest.raises(ValueError, match="name"):
        AuthorizationMiddleware(engine, **options(), name="")


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


def test_decide_returns_the_decision_and_raises_errors() -> None:
    authz = ToolCallAuthorizer(engine, **options())

    class Request:
        tool_call: ClassVar[dict[str, Any]] = {
            "name": "read_file",
            "args": {"path": "a"},
            "id": "c",
        }

    assert authz.decide(Request()).allowed  # type: ignore[arg-type]
    Request.tool_call = {"name": "read_file", "args": {"path": 1}, "id": "c"}
    with pytest.raises(RequestError):
        authz.decide(Request())  # type: ignore[arg-type]

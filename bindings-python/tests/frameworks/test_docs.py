"""The framework pages' Python snippets run, with a scripted model (no network).

Each page's blocks run in order in one namespace that holds ``BUNDLE`` (the
support bundle) and ``model`` (a scripted model that asks for a refund of 250,
which the bundle denies). Each page runs in the venv that has its framework
(Makefile: pytest and pytest-frameworks); elsewhere it is skipped.
"""

from __future__ import annotations

import asyncio
import importlib
import re
import warnings
from typing import Any, Callable

import pytest

from conftest import REPO, SUPPORT_BUNDLE

# The frameworks' own deprecation warnings (see test_llamaindex.py and test_crewai.py).
pytestmark = [
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecationWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:crewai.*"),
]

DOCS = REPO / "docs" / "frameworks"
CALL = ("issue_refund", {"order_id": "o-1", "amount": 250}, "c1")


def blocks(page: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / page).read_text(), flags=re.S)


def framework_tests(name: str) -> Any:
    """A framework's test module (its scripted model), untyped: each lives in its own venv."""
    return importlib.import_module(name)


def run_page(page: str, model: Any) -> None:
    namespace: dict[str, Any] = {"__name__": "docs", "BUNDLE": str(SUPPORT_BUNDLE), "model": model}
    for i, block in enumerate(blocks(page)):
        exec(compile(block, f"{page}[python block {i}]", "exec"), namespace)


def assert_refused(text: str) -> None:
    assert "denied by authorization policy" in text, text
    assert re.search(r"decision_id: \w+", text), text


def openai_agents() -> None:
    t = framework_tests("test_openai_agents")

    model = t.ScriptedModel([CALL])
    try:
        run_page("openai-agents.md", model)
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            asyncio.get_event_loop_policy().get_event_loop().close()
        asyncio.set_event_loop(None)
    assert_refused(t.outputs_seen(model)["c1"])


def adk() -> None:
    t = framework_tests("test_adk")

    model = t.new_model([CALL])
    run_page("adk.md", model)
    assert_refused(t.outputs_seen(model)["c1"])


def llamaindex() -> None:
    t = framework_tests("test_llamaindex")

    script = t.Script([CALL])
    run_page("llamaindex.md", t.MockFunctionCallingLLM(response_generator=script))
    assert_refused(script.outputs()["c1"])


def crewai() -> None:
    t = framework_tests("test_crewai")

    model = t.ScriptedLLM(model="scripted", calls=[CALL], prompts=[])
    try:
        run_page("crewai.md", model)
    finally:
        t.clear_all_tool_call_hooks()
    assert_refused(t.observations(model)[0])


def langchain() -> None:
    t = framework_tests("test_langchain")
    messages = importlib.import_module("langchain_core.messages")
    AIMessage, ToolMessage = messages.AIMessage, messages.ToolMessage

    name, args, call_id = CALL
    model = t.ScriptedModel(
        responses=[
            AIMessage(content="", tool_calls=[t.call(name, call_id, **args)]),
            AIMessage(content="Refund refused."),
        ],
        prompts=[],
    )
    run_page("langchain.md", model)
    seen = [m for m in model.prompts[1] if isinstance(m, ToolMessage)]
    assert_refused(str(seen[0].content))


PAGES: dict[str, tuple[str, Callable[[], None]]] = {
    "openai-agents.md": ("agents", openai_agents),
    "adk.md": ("google.adk", adk),
    "llamaindex.md": ("llama_index.core", llamaindex),
    "crewai.md": ("crewai", crewai),
    "langchain.md": ("langchain", langchain),
}


def test_every_python_page_runs_here() -> None:
    # The TypeScript pages' snippets run in the Node suite.
    pages = {p.name for p in DOCS.glob("*.md") if "```python" in p.read_text()} - {"README.md"}
    assert pages == set(PAGES)
    for page in PAGES:
        assert blocks(page), page


@pytest.mark.parametrize("page", sorted(PAGES))
def test_page_snippet_runs(page: str, capsys: pytest.CaptureFixture[str]) -> None:
    module, check = PAGES[page]
    with warnings.catch_warnings():  # crewai warns about its own lazy imports
        warnings.simplefilter("ignore")
        pytest.importorskip(module, reason=f"{page} runs in the venv that has {module}")
    check()
    assert capsys.readouterr().out.strip()  # the snippet printed the agent's answer

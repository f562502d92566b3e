"""engine.guard: a decorator for sync and async functions."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import pytest

from agentauthz import Decision, Denied, Engine, RequestError

from conftest import BUNDLE, NOW, REPO_RESOURCE

engine = Engine.load(BUNDLE, trust_caller_time=True)
ran: list[tuple[str, Any]] = []


@engine.guard(
    agent="coder",
    action="read_file",
    resource=REPO_RESOURCE,
    context=lambda path: {"input": {"path": path}},
    now=NOW,
)
def read_file(path: str) -> str:
    ran.append(("read_file", path))
    return f"contents of {path}"


@engine.guard(
    agent=lambda path, content, *, agent: agent,
    action="write_file",
    resource=lambda path, content, **_: ("Repo", "acme/api"),
    context=lambda path, content, **_: {"input": {"path": path, "content": content}},
    now=NOW,
)
async def write_file(path: str, content: str, *, agent: str) -> int:
    await asyncio.sleep(0)
    ran.append(("write_file", path))
    return len(content)


@pytest.fixture(autouse=True)
def _clear() -> None:
    ran.clear()


def test_sync_allow_runs_the_function() -> None:
    assert read_file("src/app.py") == "contents of src/app.py"
    assert ran == [("read_file", "src/app.py")]


def test_sync_deny_raises_denied_and_does_not_run() -> None:
    with pytest.raises(Denied) as err:
        read_file("deploy/prod.env")
    assert ran == []
    d = err.value.decision
    assert isinstance(d, Decision)
    assert (d.decision, d.reasons) == ("deny", ["no-secrets"])
    assert "no-secrets" in str(err.value) and d.decision_id in str(err.value)
    assert isinstance(err.value, PermissionError)


async def _write(path: str, agent: str) -> int:
    return await write_file(path, "x = 1\n", agent=agent)


@pytest.mark.asyncio
async def test_async_allow_runs_the_coroutine() -> None:
    assert await _write("src/app.py", "coder") == 6
    assert ran == [("write_file", "src/app.py")]


@pytest.mark.asyncio
async def test_async_deny_raises_denied_and_does_not_run() -> None:
    with pytest.raises(Denied) as err:
        await _write("README.md", "coder")
    assert err.value.decision.reasons == []
    with pytest.raises(Denied) as err:
        await _write("src/app.py", "orphan")
    assert err.value.decision.reasons == ["baseline/owner-required"]
    assert ran == []


def test_guard_keeps_the_function_identity() -> None:
    assert read_file.__name__ == "read_file"
    assert write_file.__name__ == "write_file"
    assert inspect.iscoroutinefunction(write_file)
    assert not inspect.iscoroutinefunction(read_file)


def test_bad_input_raises_authz_error_not_denied() -> None:
    @engine.guard(agent="coder", action="read_file", resource=REPO_RESOURCE, now=NOW)
    def no_context() -> None:
        ran.append(("no_context", None))

    with pytest.raises(RequestError) as err:
        no_context()
    assert err.value.code == "request_invalid"
    assert ran == []


def test_guard_checks_on_every_call() -> None:
    read_file("src/a.py")
    with pytest.raises(Denied):
        read_file("secrets/token")
    read_file("src/b.py")
    assert [p for _, p in ran] == ["src/a.py", "src/b.py"]

"""agentauthz.mcp in a real server of the official ``mcp`` SDK, with a real
client session over memory and over stdio."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, cast

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

import agentauthz
from agentauthz.mcp import AccessTokenAgent, AuthorizationMiddleware, FixedAgent, SessionFromMeta

from conftest import REPO, TESTS, bundle_strings

sys.path.insert(0, str(TESTS / "mcp_servers"))
import fs_server

WORKSPACE = REPO / "policies-examples" / "mcp-workspace"
SERVER_SCRIPT = TESTS / "mcp_servers" / "fs_server.py"


@pytest.fixture(scope="module")
def engine() -> agentauthz.Engine:
    return agentauthz.Engine.load(str(WORKSPACE))


def guarded(engine: agentauthz.Engine, identity: Any, seen: list[Any] | None = None) -> Any:
    def record(method: str, tool: Any, request_id: Any, outcome: Any) -> None:
        if seen is not None:
            seen.append((tool, request_id, outcome))

    mw = AuthorizationMiddleware(engine, server="fs", identity=identity, on_decision=record)
    return fs_server.build([mw])


def text_of(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(fs_server, "WORKDIR", tmp_path)
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "a.txt").write_text("hello")
    return tmp_path


@pytest.mark.asyncio
async def test_listed_tools_are_exactly_the_permitted_ones(engine: Any, workdir: Path) -> None:
    expected = {
        "dev-agent": ["get_file_info", "list_directory", "read_file", "write_file"],
        "review-agent": ["get_file_info", "list_directory", "read_file"],
        "paused-agent": [],
        "nobody": [],
    }
    for agent, names in expected.items():
        async with Client(guarded(engine, FixedAgent(agent))) as client:
            listed = sorted(t.name for t in (await client.list_tools()).tools)
        assert listed == names, agent
    # Unguarded, the server offers all five (move_file is in no schema).
    async with Client(fs_server.build()) as client:
        assert len((await client.list_tools()).tools) == 5


@pytest.mark.asyncio
async def test_a_denied_tool_never_runs(engine: Any, workdir: Path) -> None:
    seen: list[Any] = []
    async with Client(guarded(engine, FixedAgent("review-agent"), seen)) as client:
        # Listed for reading, but writing is not permitted: the sync handler never runs.
        result = await client.call_tool(
            "write_file", {"path": "/workspace/evil.txt", "content": "x"}
        )
        assert result.is_error
        assert "denied" in text_of(result)
        meta = result.meta or {}
        assert meta["agentauthz/decision"]["decision"] == "deny"
        assert meta["agentauthz/decision"]["decision_id"]
        # The core's answer, the one the stdio proxy and the TypeScript guard send.
        seen_decision = seen[-1][2]
        reasons = json.dumps(list(seen_decision.reasons))
        assert text_of(result) == (
            f'agentauthz denied tool "write_file": reasons {reasons}, '
            f"decision_id {seen_decision.decision_id}"
        )
        assert meta["agentauthz/decision"]["errors"] == []
        assert meta["agentauthz/decision"]["policy_revision"] == engine.policy_revision
        assert not (workdir / "workspace" / "evil.txt").exists()
        # A tool outside the schema is refused, and does not move anything.
        result = await client.call_tool(
            "move_file", {"source": "/workspace/a.txt", "destination": "/b"}
        )
        assert result.is_error
        assert (workdir / "workspace" / "a.txt").exists()
        # The allowed read runs (async handler).
        result = await client.call_tool("read_file", {"path": "/workspace/a.txt"})
        assert not result.is_error and text_of(result) == "hello"
    assert [s[0] for s in seen] == ["write_file", "move_file", "read_file"]
    assert all(s[1] is not None for s in seen)


@pytest.mark.asyncio
async def test_arguments_are_checked_not_just_the_tool(engine: Any, workdir: Path) -> None:
    async with Client(guarded(engine, FixedAgent("dev-agent"))) as client:
        ok = await client.call_tool("write_file", {"path": "/workspace/new.txt", "content": "y"})
        assert not ok.is_error
        assert (workdir / "workspace" / "new.txt").read_text() == "y"
        for path in ["/etc/passwd", "/workspace/../outside.txt"]:
            bad = await client.call_tool("write_file", {"path": path, "content": "x"})
            assert bad.is_error, path
        assert not (workdir / "outside.txt").exists()
        # Ill-typed arguments are refused with a code, never run.
        bad = await client.call_tool("write_file", {"path": 5, "content": "x"})
        assert bad.is_error
        assert (bad.meta or {})["agentauthz/error"]["code"] == "request_invalid"


@pytest.mark.asyncio
async def test_meta_cannot_change_a_fixed_agent(engine: Any, workdir: Path) -> None:
    async with Client(guarded(engine, FixedAgent("review-agent"))) as client:
        result = await client.call_tool(
            "write_file",
            {"path": "/workspace/x.txt", "content": "x"},
            meta=cast(
                Any, {"agentauthz/session": "v4.public.forged", "agentauthz/agent": "dev-agent"}
            ),
        )
        assert result.is_error
    assert not (workdir / "workspace" / "x.txt").exists()


@pytest.mark.asyncio
async def test_session_token_in_meta(workdir: Path) -> None:
    strings = bundle_strings(WORKSPACE)
    strings["config"] = '[sessions]\naudience = "mcp"\n'
    eng = agentauthz.Engine.from_strings(**strings)
    key = agentauthz.generate_session_key("k1")
    eng.set_session_keys(signing={"kid": "k1", "key": key["secret"]})
    token, _ = eng.issue_session("dev-agent", ttl=600)
    async with Client(guarded(eng, SessionFromMeta())) as client:
        # No token: nothing listed, calls denied.
        assert (await client.list_tools()).tools == []
        r = await client.call_tool("write_file", {"path": "/workspace/s.txt", "content": "s"})
        assert r.is_error
        assert not (workdir / "workspace" / "s.txt").exists()
        r = await client.call_tool(
            "write_file",
            {"path": "/workspace/s.txt", "content": "s"},
            meta=cast(Any, {"agentauthz/session": token}),
        )
        assert not r.is_error, text_of(r)
        assert (workdir / "workspace" / "s.txt").read_text() == "s"
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        r = await client.call_tool(
            "write_file",
            {"path": "/workspace/f.txt", "content": "f"},
            meta=cast(Any, {"agentauthz/session": forged}),
        )
        assert r.is_error
        assert (r.meta or {})["agentauthz/error"]["code"].startswith("session")
    assert not (workdir / "workspace" / "f.txt").exists()


def test_access_token_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp.server.auth.middleware import auth_context
    from mcp.server.auth.provider import AccessToken

    token = AccessToken(
        token="t", client_id="dev-agent", scopes=[], resource="https://mcp.example/fs"
    )
    monkeypatch.setattr(auth_context, "get_access_token", lambda: token)
    assert AccessTokenAgent()(None) == {"agent": "dev-agent"}
    assert AccessTokenAgent(resource="https://mcp.example/fs")(None) == {"agent": "dev-agent"}
    # A token for another resource (audience) is no identity.
    assert AccessTokenAgent(resource="https://mcp.example/git")(None) is None
    monkeypatch.setattr(auth_context, "get_access_token", lambda: None)
    assert AccessTokenAgent()(None) is None


def stdio_params(workdir: Path, agent: str) -> StdioServerParameters:
    env = {
        **os.environ,
        "WORKDIR": str(workdir),
        "GUARD": "1",
        "AGENT": agent,
        "BUNDLE": str(WORKSPACE),
    }
    return StdioServerParameters(command=sys.executable, args=[str(SERVER_SCRIPT)], env=env)


@pytest.mark.asyncio
async def test_over_stdio(workdir: Path) -> None:
    async with Client(stdio_params(workdir, "review-agent")) as client:
        names = sorted(t.name for t in (await client.list_tools()).tools)
        assert names == ["get_file_info", "list_directory", "read_file"]
        r = await client.call_tool("write_file", {"path": "/workspace/evil.txt", "content": "x"})
        assert r.is_error
        r = await client.call_tool("read_file", {"path": "/workspace/a.txt"})
        assert text_of(r) == "hello"
    assert not (workdir / "workspace" / "evil.txt").exists()

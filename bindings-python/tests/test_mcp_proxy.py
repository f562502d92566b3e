"""``agentauthz mcp proxy`` in front of a real Python MCP server (official SDK):
a real client session through it, and raw JSON-RPC for what a client library
would never send (malformed messages, 10 MB lines, a server that dies mid-call)."""

from __future__ import annotations

import functools
import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from conftest import REPO, TESTS

WORKSPACE = REPO / "policies-examples" / "mcp-workspace"
SERVER_SCRIPT = TESTS / "mcp_servers" / "fs_server.py"


@functools.cache
def cli() -> str:
    """The agentauthz binary of this checkout, built (or found up to date) by cargo."""
    out = subprocess.run(
        ["cargo", "build", "--release", "-p", "agentauthz-cli", "--message-format=json"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable"):
            return str(msg["executable"])
    raise AssertionError("cargo built no agentauthz executable")


def proxy_argv(workdir: Path, log: Path, agent: str = "dev-agent", *extra: str) -> list[str]:
    return [
        cli(),
        "mcp",
        "proxy",
        "--bundle",
        str(WORKSPACE),
        "--agent",
        agent,
        "--server",
        "fs",
        "--log",
        str(log),
        *extra,
        "--",
        sys.executable,
        str(SERVER_SCRIPT),
    ]


def server_env(workdir: Path) -> dict[str, str]:
    return {**os.environ, "WORKDIR": str(workdir), "GUARD": "0"}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "a.txt").write_text("hello")
    return tmp_path


def text_of(result: Any) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


@pytest.mark.asyncio
async def test_a_real_client_through_the_proxy(workdir: Path) -> None:
    log = workdir / "proxy.log"
    argv = proxy_argv(workdir, log, "review-agent")
    params = StdioServerParameters(command=argv[0], args=argv[1:], env=server_env(workdir))
    async with Client(params) as client:
        names = sorted(t.name for t in (await client.list_tools()).tools)
        assert names == ["get_file_info", "list_directory", "read_file"]
        denied = await client.call_tool(
            "write_file", {"path": "/workspace/evil.txt", "content": "x"}
        )
        assert denied.is_error and "denied" in text_of(denied)
        ok = await client.call_tool("read_file", {"path": "/workspace/a.txt"})
        assert not ok.is_error and text_of(ok) == "hello"
        moved = await client.call_tool(
            "move_file", {"source": "/workspace/a.txt", "destination": "/b"}
        )
        assert moved.is_error
    assert not (workdir / "workspace" / "evil.txt").exists()
    assert (workdir / "workspace" / "a.txt").exists()
    events = [json.loads(line) for line in log.read_text().splitlines()]
    decisions = [e for e in events if e["event"] == "decision"]
    assert [(e["tool"], e["decision"]["decision"]) for e in decisions] == [
        ("write_file", "deny"),
        ("read_file", "allow"),
        ("move_file", "deny"),
    ]
    assert all("mcp_id" in e and e["decision"]["decision_id"] for e in decisions)


class Raw:
    """The proxy driven line by line."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.p = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env
        )
        self.buf = b""

    def send(self, line: str | bytes) -> None:
        data = line.encode() if isinstance(line, str) else line
        assert self.p.stdin is not None
        self.p.stdin.write(data + b"\n")
        self.p.stdin.flush()

    def recv(self, timeout: float = 20.0) -> dict[str, Any]:
        assert self.p.stdout is not None
        deadline = time.monotonic() + timeout
        fd = self.p.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, "no answer (hang)"
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 1 << 20)
                assert chunk, "proxy closed its output"
                self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        msg: dict[str, Any] = json.loads(line)
        return msg

    def request(self, id: Any, method: str, params: Any = None) -> dict[str, Any]:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(json.dumps(msg))
        return self.recv()

    def initialize(self) -> None:
        r = self.request(
            0,
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        )
        assert "result" in r, r
        self.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))

    def close(self) -> int:
        if self.p.stdin:
            self.p.stdin.close()
        try:
            return self.p.wait(timeout=20)
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait()
            if self.p.stdout:
                self.p.stdout.close()


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def test_malformed_and_hostile_messages_get_coded_errors(workdir: Path) -> None:
    raw = Raw(proxy_argv(workdir, workdir / "log"), server_env(workdir))
    try:
        raw.initialize()
        raw.send("{not json")
        assert raw.recv()["error"]["data"]["code"] == "request_parse"
        raw.send('[{"jsonrpc":"2.0","id":1,"method":"tools/list"}]')
        assert raw.recv()["error"]["data"]["code"] == "request_parse"
        dup = (
            '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"read_file",'
            '"name":"write_file","arguments":{"path":"/workspace/x","content":"y"}}}'
        )
        raw.send(dup)
        assert raw.recv()["error"]["data"]["code"] == "request_parse"
        raw.send(b"\xff\xfe not utf-8")
        assert raw.recv()["error"]["data"]["code"] == "request_parse"
        # The session still works.
        r = raw.request(
            3, "tools/call", {"name": "read_file", "arguments": {"path": "/workspace/a.txt"}}
        )
        assert r["result"]["content"][0]["text"] == "hello"
    finally:
        raw.close()
    assert not (workdir / "workspace" / "x").exists()


def test_ten_megabyte_messages(workdir: Path) -> None:
    raw = Raw(proxy_argv(workdir, workdir / "log"), server_env(workdir))
    try:
        raw.initialize()
        big = "x" * (10 * 1024 * 1024)
        # A 10 MB tools/call: over the request bound, refused with a code; nothing written.
        r = raw.request(
            1,
            "tools/call",
            {"name": "write_file", "arguments": {"path": "/workspace/big", "content": big}},
        )
        assert r["error"]["data"]["code"] == "input_too_large"
        # A 10 MB message of another kind passes to the server and back.
        r = raw.request(2, "ping", {"_meta": {"pad": big}})
        assert r["id"] == 2 and "result" in r, r
        # A 20 MB line (over the 16 MiB message bound) is refused unread.
        raw.send(
            json.dumps(
                {"jsonrpc": "2.0", "id": 3, "method": "ping", "params": {"_meta": {"pad": big * 2}}}
            )
        )
        r = raw.recv()
        assert r["id"] is None and r["error"]["data"]["code"] == "input_too_large"
        r = raw.request(4, "tools/list")
        assert [t["name"] for t in r["result"]["tools"]]
        # Memory stays bounded: the 20 MB line was never held.
        assert peak_rss_kib(raw.p.pid) < 200 * 1024
    finally:
        raw.close()
    assert not (workdir / "workspace" / "big").exists()


def test_a_server_that_exits_mid_call(workdir: Path) -> None:
    raw = Raw(proxy_argv(workdir, workdir / "log"), server_env(workdir))
    try:
        raw.initialize()
        start = time.monotonic()
        r = raw.request(
            7,
            "tools/call",
            {"name": "write_file", "arguments": {"path": "/workspace/CRASH", "content": "x"}},
        )
        assert r["id"] == 7
        assert r["error"]["data"]["code"] == "io"
        assert time.monotonic() - start < 15
        assert raw.p.wait(timeout=15) == 2
    finally:
        raw.close()

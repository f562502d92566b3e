"""Added latency of `agentauthz mcp proxy` per tools/call: the same SDK server
(tests/mcp_servers/fs_server.py) driven over stdio directly and through the
proxy, alternating in one run. Prints median and p90 per call.

    export CARGO_BUILD_TARGET=x86_64-unknown-linux-gnu CARGO_TARGET_DIR=../target
    .venv/bin/python bench_mcp_proxy.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SERVER = HERE / "tests" / "mcp_servers" / "fs_server.py"
BUNDLE = REPO / "policies-examples" / "mcp-workspace"
CALLS = int(os.environ.get("CALLS", "300"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))


def cli() -> str:
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
    raise SystemExit("no agentauthz executable")


def run(argv: list[str], env: dict[str, str]) -> list[float]:
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    assert p.stdin and p.stdout

    def rpc(msg: dict) -> dict:
        p.stdin.write(json.dumps(msg).encode() + b"\n")
        p.stdin.flush()
        return json.loads(p.stdout.readline())

    rpc(
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "b", "version": "1"},
            },
        }
    )
    p.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
    times = []
    for i in range(1, CALLS + 1):
        msg = {
            "jsonrpc": "2.0",
            "id": i,
            "method": "tools/call",
            "params": {"name": "read_file", "arguments": {"path": "/workspace/a.txt"}},
        }
        t = time.perf_counter()
        r = rpc(msg)
        times.append(time.perf_counter() - t)
        assert r.get("result", {}).get("content"), r
    p.stdin.close()
    p.wait()
    return times[10:]  # warm-up


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "workspace").mkdir()
        (Path(d) / "workspace" / "a.txt").write_text("hello")
        env = {**os.environ, "WORKDIR": d, "GUARD": "0"}
        server = [sys.executable, str(SERVER)]
        proxy = [
            cli(),
            "mcp",
            "proxy",
            "--bundle",
            str(BUNDLE),
            "--agent",
            "dev-agent",
            "--server",
            "fs",
            "--log",
            os.devnull,
            "--",
            *server,
        ]
        direct: list[float] = []
        proxied: list[float] = []
        for _ in range(ROUNDS):
            direct += run(server, env)
            proxied += run(proxy, env)

    def q(xs: list[float], f: float) -> float:
        return sorted(xs)[int(f * (len(xs) - 1))] * 1e6

    for name, xs in [("direct", direct), ("proxy", proxied)]:
        print(
            f"{name:7s} n={len(xs)} median {statistics.median(xs) * 1e6:8.0f} us",
            f"p90 {q(xs, 0.9):8.0f} us",
        )
    added = (statistics.median(proxied) - statistics.median(direct)) * 1e6
    print(f"added by the proxy per tools/call: median {added:.0f} us")


if __name__ == "__main__":
    main()

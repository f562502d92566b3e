"""A filesystem-like MCP server (official SDK) for the tests.

Files live under $WORKDIR (a tool's "/workspace/a.txt" is $WORKDIR/workspace/a.txt).
GUARD=1 puts agentauthz.mcp in front (fixed agent $AGENT, bundle $BUNDLE);
GUARD=0 runs it bare (for the proxy). Writing ".../CRASH" exits the process mid-call.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import MCPServer

WORKDIR = Path(os.environ.get("WORKDIR", "."))


def real(path: str) -> Path:
    return WORKDIR / path.lstrip("/")


def build(middleware: list[Any] | None = None) -> MCPServer:
    server = MCPServer("fs", middleware=middleware or [])

    @server.tool()
    async def read_file(path: str) -> str:
        """Read a file (async handler)."""
        return real(path).read_text()

    @server.tool()
    def write_file(path: str, content: str) -> str:
        """Write a file (sync handler)."""
        if path.endswith("CRASH"):
            os._exit(3)
        target = real(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        return f"wrote {len(content)} bytes"

    @server.tool()
    def list_directory(path: str) -> str:
        return "\n".join(sorted(p.name for p in real(path).iterdir()))

    @server.tool()
    def get_file_info(path: str) -> str:
        return str(real(path).stat().st_size)

    @server.tool()
    def move_file(source: str, destination: str) -> str:
        """Not in the bundle's schema: never listed, never callable."""
        real(source).rename(real(destination))
        return "moved"

    return server


if __name__ == "__main__":
    middleware: list[Any] = []
    if os.environ.get("GUARD") == "1":
        import agentauthz
        from agentauthz.mcp import AuthorizationMiddleware, FixedAgent

        engine = agentauthz.Engine.load(os.environ["BUNDLE"])
        middleware = [
            AuthorizationMiddleware(engine, server="fs", identity=FixedAgent(os.environ["AGENT"]))
        ]
    build(middleware).run()

"""Human approval in agentauthz.mcp, with a real server and client of the
official ``mcp`` SDK (in memory): a call that needs approval returns a
pending result and never runs until the engine records an approval;
elicitation notifies, and approves only as the user the server trusts,
through the engine's own check. Hostile cases first."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, cast

import mcp_types as types
import pytest
from mcp import Client

import agentauthz
from agentauthz.mcp import APPROVAL_META_KEY, AuthorizationMiddleware, FixedAgent

from conftest import REPO, TESTS, bundle_strings

sys.path.insert(0, str(TESTS / "mcp_servers"))
import fs_server

WORKSPACE = REPO / "policies-examples" / "mcp-workspace"

# Writing under /workspace/deploy/ needs the agent owner's (alice's) approval.
APPROVAL_POLICY = """
@id("mcp/fs-deploy-needs-owner")
@approval("owner")
forbid (principal, action == Action::"fs:write_file", resource == McpServer::"fs")
when { context.input.path like "/workspace/deploy/*" };
"""

DEPLOY = {"path": "/workspace/deploy/app.conf", "content": "v2"}


def make_engine() -> agentauthz.Engine:
    strings = bundle_strings(WORKSPACE)
    strings["policies"] = {**strings["policies"], "approval.cedar": APPROVAL_POLICY}
    return agentauthz.Engine.from_strings(**strings)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(fs_server, "WORKDIR", tmp_path)
    (tmp_path / "workspace" / "deploy").mkdir(parents=True)
    return tmp_path


@pytest.fixture(params=["legacy", "2026-07-28"])
def mode(request: pytest.FixtureRequest) -> str:
    """Elicitation as a server-to-client request (handshake versions) and inside
    an ``input_required`` result that the client answers by retrying (2026-07-28)."""
    return cast(str, request.param)


def written(workdir: Path) -> bool:
    return (workdir / "workspace" / "deploy" / "app.conf").exists()


def server(engine: agentauthz.Engine, **extra: Any) -> Any:
    mw = AuthorizationMiddleware(engine, server="fs", identity=FixedAgent("dev-agent"), **extra)
    return fs_server.build([mw])


def pending_of(result: Any) -> dict[str, Any]:
    assert result.is_error
    meta = result.meta or {}
    pending = meta[APPROVAL_META_KEY]
    assert pending["status"] == "pending"
    assert meta["agentauthz/decision"]["decision"] == "needs_approval"
    return cast(dict[str, Any], pending)


class Elicitor:
    """A client's elicitation handler: records the requests, answers with ``answer``."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.asked: list[types.ElicitRequestParams] = []

    async def __call__(self, context: Any, params: types.ElicitRequestParams) -> Any:
        self.asked.append(params)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


ACCEPT = types.ElicitResult(action="accept", content={"approve": True})


@pytest.mark.asyncio
async def test_pending_result_names_the_decision_and_holds_no_token(workdir: Path) -> None:
    engine = make_engine()
    async with Client(server(engine)) as client:  # no elicitation capability
        result = await client.call_tool("write_file", DEPLOY)
    pending = pending_of(result)
    assert pending["approvers"] == ["owner"]
    assert pending["reasons"] == ["mcp/fs-deploy-needs-owner"]
    assert pending["request_digest"].startswith("sha256:")
    text = "".join(getattr(c, "text", "") for c in result.content)
    assert "needs approval" in text and pending["decision_id"] in text
    assert "v4.public" not in str(result.model_dump()) and "token" not in text.lower()
    assert not written(workdir)
    assert [p["decision_id"] for p in engine.approvals("dev-agent")] == [pending["decision_id"]]


@pytest.mark.asyncio
async def test_an_accepted_elicitation_is_not_an_approval_without_a_trusted_approver(
    workdir: Path,
    mode: str,
) -> None:
    engine = make_engine()
    elicitor = Elicitor(ACCEPT)
    async with Client(
        server(engine), mode=cast(Any, mode), elicitation_callback=elicitor
    ) as client:
        result = await client.call_tool("write_file", DEPLOY)
        # A forged approval claim in _meta is ignored too.
        forged = await client.call_tool(
            "write_file", DEPLOY, meta=cast(Any, {"agentauthz/approved": True, "approved": True})
        )
    assert len(elicitor.asked) == 2
    assert "only notifies" in elicitor.asked[0].message
    pending_of(result)
    pending_of(forged)
    assert not written(workdir)


@pytest.mark.asyncio
async def test_an_elicitation_answered_for_a_non_approver_is_refused(
    workdir: Path, mode: str
) -> None:
    engine = make_engine()
    async with Client(
        server(engine, approver=lambda ctx: "mallory"),
        mode=cast(Any, mode),
        elicitation_callback=Elicitor(ACCEPT),
    ) as client:
        pending_of(await client.call_tool("write_file", DEPLOY))
    assert not written(workdir)


@pytest.mark.parametrize(
    "answer",
    [
        RuntimeError("client crashed"),
        types.ErrorData(code=types.INVALID_REQUEST, message="no"),
        types.ElicitResult(action="decline"),
        types.ElicitResult(action="accept", content={"approve": False}),
        types.ElicitResult(action="accept", content={"approve": "true"}),
    ],
)
@pytest.mark.asyncio
async def test_a_failing_or_declining_elicitation_stays_pending(
    workdir: Path, mode: str, answer: Any
) -> None:
    if mode == "2026-07-28" and not isinstance(answer, types.ElicitResult):
        pytest.skip("2026-07-28: a failing callback fails the client's own retry, not the server")
    engine = make_engine()
    async with Client(
        server(engine, approver=lambda ctx: "alice"),
        mode=cast(Any, mode),
        elicitation_callback=Elicitor(answer),
    ) as client:
        pending_of(await client.call_tool("write_file", DEPLOY))
        # The server still answers.
        ok = await client.call_tool("write_file", {"path": "/workspace/a.txt", "content": "a"})
        assert not ok.is_error
    assert not written(workdir)


@pytest.mark.asyncio
async def test_a_raising_approver_resolver_stays_pending(workdir: Path, mode: str) -> None:
    engine = make_engine()

    def broken(ctx: Any) -> str:
        raise RuntimeError("directory down")

    async with Client(
        server(engine, approver=broken), mode=cast(Any, mode), elicitation_callback=Elicitor(ACCEPT)
    ) as client:
        pending_of(await client.call_tool("write_file", DEPLOY))
    assert not written(workdir)


@pytest.mark.asyncio
async def test_an_owner_approval_runs_the_same_arguments_once(workdir: Path) -> None:
    engine = make_engine()
    async with Client(server(engine)) as client:
        pending = pending_of(await client.call_tool("write_file", DEPLOY))
        engine.approve(pending["decision_id"], by="alice")
        # Other arguments are not approved.
        other = await client.call_tool("write_file", {**DEPLOY, "content": "v3"})
        assert pending_of(other)["request_digest"] != pending["request_digest"]
        assert not written(workdir)
        ok = await client.call_tool("write_file", DEPLOY)
        assert not ok.is_error
        assert (workdir / "workspace" / "deploy" / "app.conf").read_text() == "v2"
        # Used up.
        pending_of(await client.call_tool("write_file", DEPLOY))


@pytest.mark.asyncio
async def test_elicitation_by_the_trusted_owner_approves_through_the_engine(
    workdir: Path,
    mode: str,
) -> None:
    engine = make_engine()
    records: list[dict[str, Any]] = []
    engine.set_decision_log(records.append)
    elicitor = Elicitor(ACCEPT)
    async with Client(
        server(engine, approver=lambda ctx: "alice"),
        mode=cast(Any, mode),
        elicitation_callback=elicitor,
    ) as client:
        ok = await client.call_tool("write_file", DEPLOY)
        assert not ok.is_error, ok
    assert written(workdir)
    asked = elicitor.asked[0]
    assert isinstance(asked, types.ElicitRequestFormParams)
    assert asked.requested_schema["required"] == ["approve"]
    approve = [r for r in records if r["action"] == "agentauthz:approve"]
    assert approve and approve[0]["principal"] == {"type": "User", "id": "alice"}


@pytest.mark.asyncio
async def test_elicit_false_sends_no_elicitation(workdir: Path, mode: str) -> None:
    engine = make_engine()
    elicitor = Elicitor(ACCEPT)
    async with Client(
        server(engine, elicit=False, approver=lambda ctx: "alice"),
        mode=cast(Any, mode),
        elicitation_callback=elicitor,
    ) as client:
        pending_of(await client.call_tool("write_file", DEPLOY))
    assert elicitor.asked == []
    assert not written(workdir)

"""SCIM import: `agentauthz inventory import --scim Users.json Groups.json` on
documents produced by scim2-models (the IdP side), then the imported bundle
decides: a deactivated owner's agents are denied by owner-required and listed
by posture; agents and their owner links are kept."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from scim2_models import Email, Group, GroupMember, ListResponse, User
from test_mcp_proxy import cli

import agentauthz

from conftest import REPO

WORKSPACE = REPO / "policies-examples" / "mcp-workspace"


def test_scim_import_cuts_off_deactivated_owners(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(WORKSPACE, bundle)
    alice: Any = User(
        id="u-1",
        user_name="alice",
        active=False,
        emails=[Email(value="alice@acme.example", primary=True)],
    )
    dana: Any = User(
        id="u-2", user_name="dana", active=True, emails=[Email(value="dana@acme.example")]
    )
    users = ListResponse[User[Any]](total_results=2, resources=[alice, dana])
    dev = Group(
        id="g-1",
        display_name="dev",
        members=[GroupMember(value="u-2", display="dana", ref=None, type=None)],
    )
    groups = ListResponse[Group](total_results=1, resources=[dev])
    (tmp_path / "Users.json").write_text(json.dumps(users.model_dump(mode="json")))
    (tmp_path / "Groups.json").write_text(json.dumps(groups.model_dump(mode="json")))
    out = subprocess.run(
        [
            cli(),
            "inventory",
            "import",
            "--bundle",
            str(bundle),
            "--scim",
            str(tmp_path / "Users.json"),
            str(tmp_path / "Groups.json"),
            "--out",
            str(tmp_path / "inventory.json"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "1 inactive: alice" in out.stderr
    inventory = json.loads((tmp_path / "inventory.json").read_text())
    by_id = {u["id"]: u for u in inventory["users"]}
    assert by_id["alice"]["active"] is False
    assert by_id["dana"] == {
        "id": "dana",
        "email": "dana@acme.example",
        "active": True,
        "teams": ["dev"],
    }
    # Agents and their owner links are kept.
    assert {a["id"]: a.get("owner") for a in inventory["agents"]}["dev-agent"] == "alice"
    (bundle / "inventory.yaml").unlink()
    (bundle / "inventory.json").write_text(json.dumps(inventory))
    engine = agentauthz.Engine.load(str(bundle))
    d = engine.check(
        agent="dev-agent",
        action="fs:read_file",
        resource=("McpServer", "fs"),
        context={"input": {"path": "/workspace/a.txt"}},
    )
    assert not d.allowed and "baseline/owner-required" in d.reasons
    report = subprocess.run(
        [cli(), "posture", "--bundle", str(bundle), "--format", "json"],
        capture_output=True,
        text=True,
    )
    findings = json.loads(report.stdout)["findings"]
    assert any(f["rule"] == "AAZ002" and f["entity"] == 'Agent::"dev-agent"' for f in findings)
    # Not a ListResponse: refused, nothing written.
    (tmp_path / "bad.json").write_text(json.dumps(alice.model_dump(mode="json")))
    bad = subprocess.run(
        [
            cli(),
            "inventory",
            "import",
            "--bundle",
            str(bundle),
            "--scim",
            str(tmp_path / "bad.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "ListResponse" in bad.stderr

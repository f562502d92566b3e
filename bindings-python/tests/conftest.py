from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import agentauthz

# The end-to-end agent tests must never reach LangSmith.
for _var in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGSMITH_API_KEY", "LANGCHAIN_API_KEY"):
    os.environ.pop(_var, None)

TESTS = Path(__file__).resolve().parent
REPO = TESTS.parent.parent
BUNDLE = TESTS / "bundles" / "coding-agent"
NOW = "2026-11-29T10:00:00Z"
REPO_RESOURCE = ("Repo", "acme/api")


def bundle_strings(directory: Path) -> dict[str, Any]:
    """A bundle directory as Engine.from_strings keyword arguments (the WASM way)."""
    inventory = [
        directory / name
        for name in ("inventory.yaml", "inventory.yml", "inventory.json")
        if (directory / name).is_file()
    ]
    config = directory / "agentauthz.toml"
    return {
        "schema": (directory / "schema.cedarschema").read_text(),
        "policies": {
            p.name: p.read_text() for p in sorted((directory / "policies").glob("*.cedar"))
        },
        "inventory": inventory[0].read_text() if inventory else None,
        "config": config.read_text() if config.is_file() else None,
    }


@pytest.fixture(scope="session")
def engine() -> agentauthz.Engine:
    return agentauthz.Engine.load(BUNDLE, trust_caller_time=True)


# A support agent whose tools take a decimal refund amount (the framework adapter tests).
SUPPORT_BUNDLE = TESTS / "bundles" / "support-agent"
SUPPORT_ACCOUNT = ("Account", "acme")

"""The install check (scripts/install-check.sh) runs the shared vectors against a
built wheel installed into a fresh venv; these tests make sure that is what ran,
and that the wheel carries its licence and metadata. Elsewhere they skip."""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

import pytest

import agentauthz

PREFIX = os.environ.get("AGENTAUTHZ_INSTALLED_PREFIX")
pytestmark = pytest.mark.skipif(not PREFIX, reason="only in the install check")


def test_the_package_is_imported_from_the_fresh_environment() -> None:
    assert PREFIX
    prefix = Path(PREFIX).resolve()
    for module in (agentauthz, agentauthz._native):
        assert module.__file__
        assert Path(module.__file__).resolve().is_relative_to(prefix), module.__file__


def test_the_wheel_carries_its_licence_and_metadata() -> None:
    meta = metadata.metadata("agentauthz")
    assert meta["License-Expression"] == "Apache-2.0"
    assert sorted(meta.get_all("License-File") or []) == ["LICENSE", "NOTICE"]
    assert meta["Requires-Python"] == ">=3.9"
    files = {str(f) for f in metadata.files("agentauthz") or []}
    for name in ("LICENSE", "NOTICE"):
        assert any(f.endswith(f".dist-info/licenses/{name}") for f in files), files
    assert metadata.version("agentauthz") == agentauthz.__version__
    # The long description is the README PyPI shows: no links into the repository tree.
    description = str(meta.json.get("description", ""))
    assert "pip install agentauthz" in description
    assert "](../" not in description and "](./" not in description

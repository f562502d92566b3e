"""Signed bundles: verify_bundle over the shared fixtures, and the status of
an engine whose bundle does not come from a URL."""

from __future__ import annotations

from pathlib import Path

import pytest

import agentauthz
from agentauthz import BundleError, Engine

from conftest import BUNDLE

FIXTURES = Path(__file__).resolve().parents[2] / "tests" / "vectors" / "bundles"
KEYS = {"fixture": (FIXTURES / "fixture.public.paserk").read_text().strip()}


def test_a_signed_archive_verifies_to_its_revision_and_files() -> None:
    archive = (FIXTURES / "coding-agent.tar.gz").read_bytes()
    signature = (FIXTURES / "coding-agent.tar.gz.sig").read_bytes()
    verified = agentauthz.verify_bundle(archive, signature, KEYS)
    assert verified["kid"] == "fixture"
    assert verified["revision"].startswith("sha256:")
    assert "schema.cedarschema" in verified["files"]
    assert any(p.startswith("policies/") for p in verified["files"])


@pytest.mark.parametrize(
    ("archive", "signature", "keys", "code"),
    [
        (b"", b"", KEYS, "bundle_signature_invalid"),
        ("coding-agent.tar.gz", "support-agent.tar.gz.sig", KEYS, "bundle_signature_invalid"),
        ("coding-agent.tar.gz", "coding-agent.tar.gz.sig", {}, "bundle_signature_invalid"),
        (
            "coding-agent.tar.gz",
            "coding-agent.tar.gz.sig",
            {"other": KEYS["fixture"]},
            "bundle_signature_invalid",
        ),
        (
            "coding-agent.tar.gz",
            "coding-agent.tar.gz.sig",
            {"fixture": "k4.public.AAAA"},
            "key_invalid",
        ),
        ("truncated", "coding-agent.tar.gz.sig", KEYS, "bundle_archive_invalid"),
    ],
)
def test_tampered_input_is_a_coded_error(
    archive: str | bytes, signature: str | bytes, keys: dict[str, str], code: str
) -> None:
    def read(x: str | bytes) -> bytes:
        if isinstance(x, bytes):
            return x
        if x == "truncated":
            whole = (FIXTURES / "coding-agent.tar.gz").read_bytes()
            return whole[: len(whole) // 2]
        return (FIXTURES / x).read_bytes()

    with pytest.raises(agentauthz.AuthzError) as err:
        agentauthz.verify_bundle(read(archive), read(signature), keys)
    assert err.value.code == code


def test_an_engine_from_a_directory_has_no_bundle_status() -> None:
    engine = Engine.load(BUNDLE)
    assert engine.bundle_status() is None
    with pytest.raises(BundleError) as err:
        engine.poll_bundle()
    assert err.value.code == "config_invalid"

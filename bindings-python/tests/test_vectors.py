"""The shared request/decision vectors (tests/vectors/*.json at the repo root),
run through the Python API; plus this package's own vector file.

Each distinct bundle is loaded once, natively (Engine.load) for a directory and
with Engine.from_strings for an object of strings. Directory bundles are also
run through from_strings (the WASM way) to show both loaders agree.
"""

from __future__ import annotations

import json
from typing import Any, Callable

import pytest

from agentauthz import AuthzError, Engine

from conftest import REPO, TESTS, bundle_strings

VECTOR_FILES = sorted((REPO / "tests" / "vectors").glob("*.json")) + sorted(
    (TESTS / "vectors").glob("*.json")
)


def _load(bundle: Any, via: str) -> Engine:
    if isinstance(bundle, str):
        directory = REPO / bundle
        return (
            Engine.load(directory, trust_caller_time=True)
            if via == "load"
            else Engine(bundle_strings(directory), trust_caller_time=True)
        )
    return Engine(bundle, trust_caller_time=True)


_engines: dict[tuple[str, str], Engine | AuthzError] = {}


def engine_for(bundle: Any, via: str) -> Engine:
    """One engine per distinct bundle (and loader); a load error is cached too."""
    key = (json.dumps(bundle, sort_keys=True), via)
    if key not in _engines:
        try:
            _engines[key] = _load(bundle, via)
        except AuthzError as e:
            _engines[key] = e
    found = _engines[key]
    if isinstance(found, AuthzError):
        raise found
    return found


def _cases() -> list[Any]:
    cases = []
    for path in VECTOR_FILES:
        doc = json.loads(path.read_text())
        for vector in doc["vectors"]:
            bundle = vector.get("bundle", doc.get("bundle"))
            vias = ["load", "strings"] if isinstance(bundle, str) else ["strings"]
            for via in vias:
                cases.append(
                    pytest.param(bundle, vector, via, id=f"{path.stem}:{vector['name']}:{via}")
                )
    return cases


CASES = _cases()


def test_vector_files_found() -> None:
    assert VECTOR_FILES, "no vector files"
    assert len(CASES) > 20


def _kwargs_check(engine: Engine, request: dict[str, Any]) -> Any:
    """The same agent-form request through engine.check(**kwargs)."""
    r = dict(request)
    resource = r.pop("resource")
    if isinstance(resource, dict) and set(resource) == {"type", "id"}:
        resource = (resource["type"], resource["id"])
    return engine.check(resource=resource, **r)


def _run(
    bundle: Any, vector: dict[str, Any], via: str, check: Callable[[Engine, Any], Any]
) -> None:
    expect = vector["expect"]
    try:
        engine = engine_for(bundle, via)
        if "request" not in vector:
            pytest.fail(f"expected {expect}, but the bundle loaded")
        decision = check(engine, vector["request"])
    except AuthzError as e:
        assert expect.get("error") == e.code, f"unexpected error: {e}"
        return
    assert "error" not in expect, f"expected error {expect['error']}, got {decision!r}"
    assert decision.decision == expect["decision"], decision
    # reasons compare as an exact set (tests/vectors/README.md)
    assert sorted(decision.reasons) == sorted(expect["reasons"]), decision
    assert decision.reasons == sorted(decision.reasons), "reasons are sorted"


@pytest.mark.parametrize(("bundle", "vector", "via"), CASES)
def test_vector_check_request(bundle: Any, vector: dict[str, Any], via: str) -> None:
    _run(bundle, vector, via, lambda e, r: e.check_request(r))


KWARGS = {"agent", "action", "resource", "task", "on_behalf_of", "credential", "context", "now"}


@pytest.mark.parametrize(
    ("bundle", "vector", "via"),
    [
        c
        for c in CASES
        if (c.values[2] == "load" or not isinstance(c.values[0], str))
        and "agent" in c.values[1].get("request", {})
        and set(c.values[1]["request"]) <= KWARGS
    ],
)
def test_vector_check_kwargs(bundle: Any, vector: dict[str, Any], via: str) -> None:
    _run(bundle, vector, via, _kwargs_check)


def test_vectors_as_one_batch_per_file() -> None:
    """check_batch over every non-error vector of a bundle gives the same decisions."""
    for path in VECTOR_FILES:
        doc = json.loads(path.read_text())
        groups: dict[str, list[dict[str, Any]]] = {}
        for v in doc["vectors"]:
            if "error" in v["expect"] or "request" not in v:
                continue
            groups.setdefault(json.dumps(v.get("bundle", doc.get("bundle"))), []).append(v)
        for bundle_key, vectors in groups.items():
            engine = engine_for(json.loads(bundle_key), "strings")
            decisions = engine.check_batch([v["request"] for v in vectors])
            got = [(d.decision, sorted(d.reasons)) for d in decisions]
            want = [(v["expect"]["decision"], sorted(v["expect"]["reasons"])) for v in vectors]
            assert got == want, path.name

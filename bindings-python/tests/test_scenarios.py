"""The shared scenarios (tests/vectors/scenarios/*.json at the repo root): run-time
changes, sessions and checks on an engine with a ``ManualClock``, through the
Python API. The format is in tests/vectors/README.md; the runner knows no scenario.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from agentauthz import AuthzError, Engine, ManualClock, generate_session_key

from conftest import REPO, bundle_strings

SCENARIOS = sorted((REPO / "tests" / "vectors" / "scenarios").glob("*.json"))
_NAME = re.compile(r"\$\{([^}]*)\}")


def test_scenarios_found() -> None:
    assert len(SCENARIOS) >= 8


def _substitute(value: Any, saved: dict[str, str]) -> Any:
    """Replaces every ``${name}`` inside a string by what a step saved as ``name``."""
    if isinstance(value, str):
        return _NAME.sub(lambda m: saved[m.group(1)], value)
    if isinstance(value, list):
        return [_substitute(v, saved) for v in value]
    if isinstance(value, dict):
        return {k: _substitute(v, saved) for k, v in value.items()}
    return value


def _resource(r: dict[str, str]) -> tuple[str, str]:
    return (r["type"], r["id"])


def _bundle(spec: Any, via: str) -> Any:
    """A scenario's bundle: a directory (as a path, or read into strings), or strings."""
    if not isinstance(spec, str):
        return spec
    return REPO / spec if via == "load" else bundle_strings(REPO / spec)


def _step(
    engine: Engine, clock: ManualClock, step: dict[str, Any], saved: dict[str, str], via: str
) -> Any:
    """Runs one step through the Python API; returns a Decision, a dict, or None."""
    by = step.get("by", "scenario")
    if "advance" in step:
        return clock.advance(step["advance"])
    if "set_time" in step:
        return clock.set(step["set_time"])
    if "apply" in step:
        return engine.apply(step["apply"], by=by)
    if "grant" in step:
        g = dict(step["grant"])
        g["resource"] = _resource(g["resource"])
        if "ttl_seconds" in g:
            g["ttl"] = g.pop("ttl_seconds")
        grant = engine.grant(**g)
        if "as" in step:
            saved[step["as"]] = grant.id
        return grant
    if "generate_session_key" in step:
        kid = step["generate_session_key"]
        engine.set_session_keys(signing={"kid": kid, "key": generate_session_key(kid)["secret"]})
        return None
    if "issue_session" in step:
        s = dict(step["issue_session"])
        if "ttl_seconds" in s:
            s["ttl"] = s.pop("ttl_seconds")
        token, claims = engine.issue_session(s.pop("agent"), **s)
        if "as" in step:
            saved[step["as"]] = token
            saved[step["as"] + ".id"] = claims["session_id"]
        return claims
    if "check_session" in step:
        r = dict(step["check_session"])
        r["resource"] = _resource(r["resource"])
        return engine.check(**r)
    if "reload" in step:
        return engine.reload(_bundle(step["reload"], via))
    if "approve" in step:
        a = dict(step["approve"])
        target = a.pop("decision_id", None)
        if "ttl_seconds" in a:
            a["ttl"] = a.pop("ttl_seconds")
        approval = engine.approve(target, by=by, **a)
        if "as" in step:
            saved[step["as"]] = approval["id"]
        return approval
    if "reject" in step:
        r = dict(step["reject"])
        return engine.reject(r.pop("decision_id", None), by=by, **r)
    if "check" in step:
        decision = engine.check_request(step["check"])
        if "as" in step:
            saved[step["as"]] = decision.decision_id
        return decision
    if "record_usage" in step:
        r = step["record_usage"]
        return engine.record_usage(r["agent"], r["units"], r["kind"])
    if "usage" in step:
        return engine.usage(step["usage"]["agent"], step["usage"].get("action"))
    if "lockdown_status" in step:
        return engine.lockdown_status()
    raise AssertionError(f"unknown step {step}")


def _contains(got: Any, want: Any) -> bool:
    """Whether ``got`` holds every member ``want`` names, with the same values."""
    if isinstance(want, dict) and isinstance(got, dict):
        return all(k in got and _contains(got[k], v) for k, v in want.items())
    return bool(got == want)


def _compare(expect: dict[str, Any] | None, run: Any) -> None:
    try:
        got = run()
    except AuthzError as e:
        assert expect is not None and expect.get("error") == e.code, f"unexpected error: {e!r}"
        return
    if expect is None:
        return
    assert "error" not in expect, f"expected error {expect['error']}, got {got!r}"
    if "value" in expect:
        assert _contains(got, expect["value"]), f"expected {expect['value']}, got {got!r}"
    if "decision" in expect:
        assert got.decision == expect["decision"], got
        assert sorted(got.reasons) == sorted(expect["reasons"]), got
        if "errors" in expect:
            assert sorted(e["policy"] for e in got.errors) == sorted(expect["errors"]), got


def _cases() -> list[Any]:
    """Each scenario from strings; one named by a directory also through Engine.load."""
    cases = []
    for path in SCENARIOS:
        by_dir = isinstance(json.loads(path.read_text())["bundle"], str)
        for via in ["load", "strings"] if by_dir else ["strings"]:
            cases.append(pytest.param(path, via, id=f"{path.stem}:{via}"))
    return cases


@pytest.mark.parametrize(("path", "via"), _cases())
def test_scenario(path: Path, via: str) -> None:
    doc = json.loads(path.read_text())
    clock = ManualClock(doc["start"])
    engine = Engine(_bundle(doc["bundle"], via), clock=clock)
    saved: dict[str, str] = {}
    for i, raw in enumerate(doc["steps"]):
        try:
            step = _substitute(raw, saved)
            for _ in range(step.get("repeat", 1)):
                _compare(step.get("expect"), lambda s=step: _step(engine, clock, s, saved, via))
        except (AssertionError, KeyError) as e:
            pytest.fail(f"{path.stem}: step {i} ({raw.get('note', '')}): {e!r}")


def test_manual_clock() -> None:
    from datetime import datetime, timedelta, timezone

    clock = ManualClock(datetime(2026, 11, 29, 10, tzinfo=timezone.utc))
    assert clock.now == "2026-11-29T10:00:00.000Z"
    clock.advance(timedelta(minutes=1, milliseconds=500))
    clock.advance(-0.5)
    assert clock.now == "2026-11-29T10:01:00.000Z"
    clock.set("2026-11-29T11:00:00+01:00")
    assert clock.now == "2026-11-29T10:00:00.000Z"
    for bad in (float("nan"), float("inf"), 1e300, True, "1", None):
        with pytest.raises(AuthzError) as e:
            clock.advance(bad)  # type: ignore[arg-type]
        assert e.value.code == "request_invalid"
    for when in ("tomorrow", datetime(2026, 1, 1), 3):
        with pytest.raises(AuthzError) as e:
            clock.set(when)  # type: ignore[arg-type]
        assert e.value.code == "request_invalid"
        with pytest.raises(AuthzError):
            ManualClock(when)  # type: ignore[arg-type]
    assert clock.now == "2026-11-29T10:00:00.000Z", "a refused change moves nothing"
    with pytest.raises(AuthzError) as e:
        Engine.from_strings(schema="", policies="", clock="2026-11-29T10:00:00Z")  # type: ignore[arg-type]
    assert e.value.code == "bundle_invalid"

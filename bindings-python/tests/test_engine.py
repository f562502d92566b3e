"""The Engine and Decision API over the test bundle."""

from __future__ import annotations

import datetime as dt
import os
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import agentauthz
from agentauthz import Decision, Engine, RequestError

from conftest import BUNDLE, NOW, REPO_RESOURCE, bundle_strings


def read(engine: Engine, path: str, **kwargs: Any) -> Decision:
    return engine.check(
        agent=kwargs.pop("agent", "coder"),
        action="read_file",
        resource=kwargs.pop("resource", REPO_RESOURCE),
        context={"input": {"path": path}},
        now=kwargs.pop("now", NOW),
        **kwargs,
    )


def test_load_returns_the_python_engine(engine: Engine) -> None:
    assert type(engine) is Engine
    assert isinstance(engine, agentauthz._native.Engine)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", engine.policy_revision)
    assert engine.policy_revision in repr(engine)


def test_load_accepts_str_and_pathlike() -> None:
    assert (
        Engine.load(str(BUNDLE), trust_caller_time=True).policy_revision
        == Engine.load(BUNDLE, trust_caller_time=True).policy_revision
    )


def test_allow_and_deny_are_decisions(engine: Engine) -> None:
    allowed = read(engine, "src/app.py")
    assert allowed.allowed is True
    assert allowed.decision == "allow"
    assert allowed.reasons == ["coders-read"]
    assert allowed.errors == []
    assert allowed.policy_revision == engine.policy_revision
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", allowed.decision_id)

    denied = read(engine, "prod.env")
    assert denied.allowed is False
    assert denied.decision == "deny"
    assert denied.reasons == ["no-secrets"]
    assert denied.decision_id != allowed.decision_id


def test_decision_repr_and_dict(engine: Engine) -> None:
    d = read(engine, "prod.env")
    text = repr(d)
    assert text.startswith("<Decision deny")
    assert "no-secrets" in text and d.decision_id in text and d.policy_revision in text
    assert d.to_dict() == {
        "decision": "deny",
        "reasons": ["no-secrets"],
        "errors": [],
        "decision_id": d.decision_id,
        "policy_revision": d.policy_revision,
    }


def test_decision_has_no_truth_value(engine: Engine) -> None:
    # `if engine.check(...):` would read every deny as an allow.
    d = read(engine, "prod.env")
    with pytest.raises(TypeError, match=r"decision\.allowed"):
        bool(d)


def test_decision_is_immutable(engine: Engine) -> None:
    d = read(engine, "src/app.py")
    with pytest.raises(AttributeError):
        d.decision = "allow"  # type: ignore[misc]


def test_resource_forms(engine: Engine) -> None:
    for resource in (
        ("Repo", "acme/api"),
        ["Repo", "acme/api"],
        {"type": "Repo", "id": "acme/api"},
    ):
        assert read(engine, "src/app.py", resource=resource).reasons == ["coders-read"]


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (("Repo",), "pair"),
        (("Repo", "a", "b"), "pair"),
        (("Repo", 3), "resource id"),
        ({"type": "Repo"}, "resource"),
        ({"type": "Repo", "id": "x", "extra": 1}, "resource"),
        ("Repo::acme/api", "tuple"),
        (None, "tuple"),
    ],
)
def test_bad_resource_is_a_request_error(engine: Engine, resource: Any, message: str) -> None:
    with pytest.raises(RequestError, match=message) as err:
        read(engine, "src/app.py", resource=resource)
    assert err.value.code == "request_parse"


def test_now_as_aware_datetime(engine: Engine) -> None:
    inside = dt.datetime(2026, 11, 29, 10, 30, 0, 123456, tzinfo=dt.timezone.utc)
    after = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.timezone.utc)
    assert read(engine, "src/app.py", task="T-1", now=inside).allowed
    assert read(engine, "src/app.py", task="T-1", now=after).reasons == ["baseline/task-window"]
    # 11:30 in UTC+2 is 09:30Z: inside the window; 13:30 in UTC+2 is 11:30Z: after it.
    plus2 = dt.timezone(dt.timedelta(hours=2))
    assert read(
        engine, "src/app.py", task="T-1", now=dt.datetime(2026, 11, 29, 11, 30, tzinfo=plus2)
    ).allowed
    late = dt.datetime(2026, 11, 29, 13, 30, tzinfo=plus2)
    assert read(engine, "src/app.py", task="T-1", now=late).reasons == ["baseline/task-window"]


def test_now_defaults_to_the_clock(engine: Engine) -> None:
    # Without `now` the engine's clock is used; no time-dependent policy applies here.
    d = engine.check(
        agent="coder", action="read_file", resource=REPO_RESOURCE, context={"input": {"path": "a"}}
    )
    assert d.reasons == ["coders-read"]


def test_naive_datetime_is_refused(engine: Engine) -> None:
    with pytest.raises(RequestError, match="naive") as err:
        read(engine, "src/app.py", now=dt.datetime(2026, 11, 29, 10, 0))
    assert err.value.code == "request_invalid"


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"agent": 7}, "request_parse"),
        ({"task": ["T-1"]}, "request_parse"),
        ({"credential": b"coder-token"}, "request_parse"),
        ({"on_behalf_of": 1}, "request_parse"),
        ({"now": 1764410400}, "request_parse"),
        ({"now": "yesterday"}, "request_invalid"),
        ({"context": [("input", {"path": "a"})]}, "request_parse"),
        ({"context": {"input": {"path": object()}}}, "request_parse"),
        ({"context": {"input": {"path": 1}}}, "request_invalid"),
        ({"context": {"input": {"path": "a"}, "now": NOW}}, "request_invalid"),
        ({"context": {}}, "request_invalid"),
    ],
)
def test_bad_check_arguments_raise_request_errors(
    engine: Engine, kwargs: dict[str, Any], code: str
) -> None:
    args: dict[str, Any] = {
        "agent": "coder",
        "action": "read_file",
        "resource": REPO_RESOURCE,
        "context": {"input": {"path": "src/app.py"}},
        "now": NOW,
    }
    args.update(kwargs)
    with pytest.raises(RequestError) as err:
        engine.check(**args)
    assert err.value.code == code


def test_check_is_keyword_only(engine: Engine) -> None:
    with pytest.raises(TypeError):
        engine.check("coder", "read_file", REPO_RESOURCE)  # type: ignore[call-arg]


def test_check_request_agent_and_cedar_forms(engine: Engine) -> None:
    agent_form = {
        "agent": "coder",
        "action": "read_file",
        "resource": {"type": "Repo", "id": "acme/api"},
        "context": {"input": {"path": "src/app.py"}},
        "now": NOW,
    }
    cedar_form = {
        "principal": {"type": "Agent", "id": "coder"},
        "action": {"type": "Action", "id": "read_file"},
        "resource": {"type": "Repo", "id": "acme/api"},
        "context": {"now": NOW, "input": {"path": "prod.env"}},
    }
    assert engine.check_request(agent_form).reasons == ["coders-read"]
    assert engine.check_request(cedar_form).reasons == ["no-secrets"]
    with pytest.raises(RequestError, match="agent") as err:
        engine.check_request({"action": "read_file"})
    assert err.value.code == "request_parse"
    with pytest.raises(RequestError):
        engine.check_request(["not", "a", "request"])  # type: ignore[arg-type]


def test_check_batch(engine: Engine) -> None:
    def request(path: str) -> dict[str, Any]:
        return {
            "agent": "coder",
            "action": "read_file",
            "resource": {"type": "Repo", "id": "acme/api"},
            "context": {"input": {"path": path}},
            "now": NOW,
        }

    decisions = engine.check_batch([request("src/a.py"), request("x.env"), request("b")])
    assert [d.decision for d in decisions] == ["allow", "deny", "allow"]
    assert [d.reasons for d in decisions] == [["coders-read"], ["no-secrets"], ["coders-read"]]
    assert len({d.decision_id for d in decisions}) == 3
    assert engine.check_batch([]) == []
    # All or nothing: the first bad request raises, with its index.
    bad = request("c")
    bad["context"] = {"input": {"path": 3}}
    with pytest.raises(RequestError, match=r"request \[1\]") as err:
        engine.check_batch([request("a"), bad])
    assert err.value.code == "request_invalid"


def test_from_strings_policy_forms() -> None:
    strings = bundle_strings(BUNDLE)
    policies = strings["policies"]
    assert isinstance(policies, dict)
    by_name = Engine.from_strings(**strings, trust_caller_time=True)
    as_list = Engine.from_strings(
        **{**strings, "policies": list(policies.values())}, trust_caller_time=True
    )
    as_text = Engine.from_strings(
        **{**strings, "policies": "\n".join(policies.values())}, trust_caller_time=True
    )
    for e in (by_name, as_list, as_text):
        assert read(e, "src/app.py").reasons == ["coders-read"]
        assert read(e, "prod.env").reasons == ["no-secrets"]
        assert type(e) is Engine


def test_from_strings_without_inventory_denies_unknown_agents() -> None:
    strings = bundle_strings(BUNDLE)
    e = Engine.from_strings(
        schema=strings["schema"], policies=strings["policies"], trust_caller_time=True
    )
    assert read(e, "src/app.py").reasons == ["baseline/unknown-agent"]


def test_config_switches_a_guardrail_off() -> None:
    strings = bundle_strings(BUNDLE)
    strict = Engine.from_strings(**strings, trust_caller_time=True)
    relaxed = Engine.from_strings(
        **{**strings, "config": "[baseline]\nowner-required = false\n"}, trust_caller_time=True
    )
    assert read(strict, "src/app.py", agent="orphan").reasons == ["baseline/owner-required"]
    assert read(relaxed, "src/app.py", agent="orphan").reasons == ["coders-read"]
    assert strict.policy_revision != relaxed.policy_revision


def test_engine_constructor_takes_a_directory_or_strings() -> None:
    assert (
        Engine(BUNDLE, trust_caller_time=True).policy_revision
        == Engine.load(BUNDLE, trust_caller_time=True).policy_revision
    )
    strings = {k: v for k, v in bundle_strings(BUNDLE).items() if v is not None}
    assert (
        Engine(strings, trust_caller_time=True).policy_revision
        == Engine.from_strings(**strings, trust_caller_time=True).policy_revision
    )
    with pytest.raises(agentauthz.BundleError) as err:
        Engine(42, trust_caller_time=True)  # type: ignore[arg-type]
    assert err.value.code == "bundle_invalid"


def test_reload_from_directory_and_strings(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(BUNDLE, bundle)
    e = Engine.load(bundle, trust_caller_time=True)
    before = e.policy_revision
    assert read(e, "README.md").reasons == ["coders-read"]

    (bundle / "policies" / "freeze.cedar").write_text(
        '@id("freeze")\nforbid (principal, action, resource);\n'
    )
    e.reload(bundle)
    assert e.policy_revision != before
    assert read(e, "README.md").reasons == ["freeze"]

    e.reload(bundle_strings(BUNDLE))
    assert (
        e.policy_revision
        == Engine.from_strings(**bundle_strings(BUNDLE), trust_caller_time=True).policy_revision
    )
    assert read(e, "README.md").reasons == ["coders-read"]


def test_failed_reload_keeps_the_active_bundle(engine: Engine) -> None:
    e = Engine.load(BUNDLE, trust_caller_time=True)
    before = e.policy_revision
    with pytest.raises(agentauthz.PolicyError):
        e.reload({**bundle_strings(BUNDLE), "policies": "permit (principal, action, resource"})
    with pytest.raises(agentauthz.BundleError):
        e.reload("/nonexistent/bundle")
    assert e.policy_revision == before
    assert read(e, "src/app.py").reasons == ["coders-read"]


def test_engine_subclass_keeps_its_type() -> None:
    class MyEngine(Engine):
        pass

    e = MyEngine.load(BUNDLE)
    assert type(e) is MyEngine
    assert type(MyEngine.from_strings(**bundle_strings(BUNDLE))) is MyEngine


def test_version_and_exports() -> None:
    assert agentauthz.__version__ == agentauthz._native.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", agentauthz.__version__)
    for name in agentauthz.__all__:
        assert hasattr(agentauthz, name), name


def test_import_does_not_import_langchain() -> None:
    code = (
        "import sys, agentauthz\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('langchain', 'langchain_core', 'langgraph', 'pydantic'))\n"
        "assert not bad, bad\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH", "LANGCHAIN"))}
    subprocess.run([sys.executable, "-c", code], check=True, env=env)


def test_errors_pickle() -> None:
    with pytest.raises(agentauthz.PolicyError) as err:
        Engine.from_strings(
            schema="", policies="permit (principal, action, resource", trust_caller_time=True
        )
    clone = pickle.loads(pickle.dumps(err.value))
    assert type(clone) is agentauthz.PolicyError
    assert (clone.code, clone.details, str(clone)) == (
        err.value.code,
        err.value.details,
        str(err.value),
    )


def test_reasons_are_sorted_for_early_denials(engine: Engine) -> None:
    d = read(engine, "src/app.py", task="T-404", credential="nope", on_behalf_of="nobody")
    assert set(d.reasons) == {
        "baseline/unknown-task",
        "baseline/unknown-credential",
        "baseline/unknown-on-behalf-of",
    }
    assert d.reasons == sorted(d.reasons)

"""Every core error code reaches Python as the right AuthzError subclass."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import pytest

import agentauthz
from agentauthz import ERROR_CODES, AuthzError, Engine, errors

from conftest import BUNDLE, NOW, REPO_RESOURCE, bundle_strings

FAMILY_CLASSES = {
    "bundle": agentauthz.BundleError,
    "schema": agentauthz.SchemaError,
    "policy": agentauthz.PolicyError,
    "inventory": agentauthz.InventoryError,
    "request": agentauthz.RequestError,
    "test": agentauthz.TestError,
    "lifecycle": agentauthz.LifecycleError,
    "journal": agentauthz.JournalError,
    "log": agentauthz.LogError,
    "session": agentauthz.SessionError,
    "token": agentauthz.TokenError,
    "limit": agentauthz.LimitError,
    "internal": agentauthz.InternalError,
}


def test_code_table_matches_the_core() -> None:
    core = {c["code"]: c["family"] for c in agentauthz.error_codes()}
    python = {code: cls.family for code, cls in ERROR_CODES.items()}
    assert python == core
    assert list(ERROR_CODES) == [c["code"] for c in agentauthz.error_codes()]


def test_every_family_has_its_class() -> None:
    for family, cls in FAMILY_CLASSES.items():
        assert cls.family == family
        assert issubclass(cls, AuthzError)
    assert set(FAMILY_CLASSES) == {c["family"] for c in agentauthz.error_codes()}


@pytest.mark.parametrize("code", [c["code"] for c in agentauthz.error_codes()])
def test_each_code_converts_through_the_native_path(code: str) -> None:
    with pytest.raises(AuthzError) as err:
        agentauthz._native._raise_error(code, f"a {code} error")
    assert type(err.value) is ERROR_CODES[code]
    assert err.value.code == code
    assert err.value.details == [{"message": f"a {code} error"}]
    assert str(err.value) == f"[{code}] a {code} error"


def test_unknown_code_falls_back_to_its_family() -> None:
    e = errors._from_native(
        {"code": "policy_new_kind", "family": "policy", "message": "m", "details": []}
    )
    assert type(e) is agentauthz.PolicyError and e.code == "policy_new_kind"
    e = errors._from_native({"code": "x", "family": "new", "message": "m", "details": []})
    assert type(e) is AuthzError


def test_a_panic_becomes_an_internal_error() -> None:
    with pytest.raises(agentauthz.InternalError) as err:
        agentauthz._native._panic("boom")
    assert err.value.code == "internal"
    assert "boom" in str(err.value)
    # BaseException-derived PanicException never escapes.
    assert isinstance(err.value, Exception)


# ---- each code, triggered for real where the API can trigger it

SCHEMA = BUNDLE / "schema.cedarschema"


def strings(**override: Any) -> dict[str, Any]:
    return {**bundle_strings(BUNDLE), **override}


def copy_bundle(tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(BUNDLE, target)
    return target


def io_error(tmp_path: Path) -> None:
    b = copy_bundle(tmp_path)
    (b / "schema.cedarschema").write_bytes(b"\xff\xfe not utf-8")
    Engine.load(b, trust_caller_time=True)


def missing_schema(tmp_path: Path) -> None:
    b = copy_bundle(tmp_path)
    (b / "schema.cedarschema").unlink()
    Engine.load(b, trust_caller_time=True)


def bad_strings_shape(tmp_path: Path) -> None:
    Engine({"schema": "", "policies": 3}, trust_caller_time=True)


def bad_config(tmp_path: Path) -> None:
    Engine.from_strings(
        **strings(config="[baseline]\nno-such-guard = true\n"), trust_caller_time=True
    )


def schema_parse(tmp_path: Path) -> None:
    Engine.from_strings(**strings(schema="entity Repo"), trust_caller_time=True)


def schema_invalid(tmp_path: Path) -> None:
    Engine.from_strings(**strings(schema="entity Agent;"), trust_caller_time=True)


def policy_parse(tmp_path: Path) -> None:
    Engine.from_strings(
        **strings(policies="permit (principal, action, resource"), trust_caller_time=True
    )


def policy_id_missing(tmp_path: Path) -> None:
    Engine.from_strings(
        **strings(policies="permit (principal, action, resource);"), trust_caller_time=True
    )


def policy_id_duplicate(tmp_path: Path) -> None:
    p = '@id("same")\npermit (principal, action, resource);\n'
    Engine.from_strings(**strings(policies={"a.cedar": p, "b.cedar": p}), trust_caller_time=True)


def policy_invalid(tmp_path: Path) -> None:
    Engine.from_strings(
        **strings(policies='@id("x")\npermit (principal is Robot, action, resource);'),
        trust_caller_time=True,
    )


def policy_may_error(tmp_path: Path) -> None:
    # Strict mode: a forbid reading an attribute of an entity the inventory lacks.
    Engine.from_strings(
        **strings(
            policies='@id("x") forbid (principal, action, resource)\n'
            'when { User::"ghost".active };',
            config="[engine]\nstrict = true\n",
        )
    )


def inventory_parse(tmp_path: Path) -> None:
    Engine.from_strings(**strings(inventory="agents: [unclosed"), trust_caller_time=True)


def inventory_invalid(tmp_path: Path) -> None:
    Engine.from_strings(
        **strings(inventory="agents:\n  - id: a\n    owner: nobody\n"), trust_caller_time=True
    )


def request_parse(tmp_path: Path) -> None:
    Engine.load(BUNDLE, trust_caller_time=True).check_request({"agent": "coder"})


def request_invalid(tmp_path: Path) -> None:
    Engine.load(BUNDLE, trust_caller_time=True).check(
        agent="coder", action="read_file", resource=REPO_RESOURCE, context={}, now=NOW
    )


def grant_invalid(tmp_path: Path) -> None:
    Engine.load(BUNDLE, trust_caller_time=True).grant(
        agent="nobody",
        actions=["read_file"],
        resource=REPO_RESOURCE,
        ttl=60,
        reason="r",
        granted_by="alice",
    )


def lifecycle_invalid(tmp_path: Path) -> None:
    Engine.load(BUNDLE, trust_caller_time=True).suspend("nobody", by="alice")


def journal_corrupt(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    journal.write_bytes(b'{"seq":1,')
    Engine.load(BUNDLE, journal=journal, trust_caller_time=True)


def journal_locked(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    first = Engine.load(BUNDLE, journal=journal)
    try:
        Engine.load(BUNDLE, journal=journal)
    finally:
        del first


def log_locked(tmp_path: Path) -> None:
    import fcntl

    log = tmp_path / "decisions.jsonl"
    # Another writer (here: this test, through the OS) holds the log's lock.
    with open(tmp_path / "decisions.jsonl.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        Engine.load(BUNDLE, decision_log=log)


def log_corrupt(tmp_path: Path) -> None:
    log = tmp_path / "decisions.jsonl"
    log.write_bytes(b'{"schema_version":1,"seq":1,')
    Engine.load(BUNDLE, decision_log=log)


def _session_engine() -> tuple[Engine, str]:
    strings = {**bundle_strings(BUNDLE), "config": '[sessions]\naudience = "tools"\n'}
    engine = Engine(strings, trust_caller_time=True)
    pair = agentauthz.generate_session_key("k1")
    engine.set_session_keys(signing={"kid": "k1", "key": pair["secret"]})
    token, _ = engine.issue_session("coder", audience="tools")
    return engine, token


def session_invalid(tmp_path: Path) -> None:
    engine, token = _session_engine()
    engine.verify_session(token, audience="billing")


def session_revoked(tmp_path: Path) -> None:
    engine, token = _session_engine()
    engine.suspend("coder", by="alice")
    engine.verify_session(token, audience="tools")


def key_invalid(tmp_path: Path) -> None:
    Engine.load(BUNDLE, trust_caller_time=True).set_session_keys(
        verifying={"k1": "k4.public.not-a-key"}
    )


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"x": value}
    return value


def input_too_deep(tmp_path: Path) -> None:
    Engine.load(BUNDLE).check(
        agent="coder", action="read_file", resource=REPO_RESOURCE, context={"input": _nested(100)}
    )


def input_too_large(tmp_path: Path) -> None:
    Engine.load(BUNDLE).check_request(
        {"agent": "coder", "context": {"input": {"path": "x" * (2 << 20)}}}
    )


def usage_invalid(tmp_path: Path) -> None:
    Engine.load(BUNDLE).record_usage("coder", -1, "tokens")


def approval_annotation_invalid(tmp_path: Path) -> None:
    Engine.from_strings(
        **strings(
            policies={
                "mine.cedar": '@id("a")\n@approval("boss")\nforbid (principal, action, resource);\n'
            }
        ),
        trust_caller_time=True,
    )


def approval_invalid(tmp_path: Path) -> None:
    Engine.load(BUNDLE).approve("no-such-decision", by="alice")


def approval_refused(tmp_path: Path) -> None:
    engine = Engine.from_strings(
        **strings(
            policies={
                "mine.cedar": '@id("p")\npermit (principal, action, resource);\n'
                '@id("f")\n@approval("owner")\nforbid (principal, action, resource);\n'
            }
        ),
        trust_caller_time=True,
    )
    engine.approve(
        request={
            "agent": "coder",
            "action": "read_file",
            "resource": {"type": "Repo", "id": "acme/api"},
            "context": {"input": {"path": "README.md"}},
            "now": "2026-11-29T10:00:00Z",
        },
        by="nobody",
    )


def internal(tmp_path: Path) -> None:
    agentauthz._native._panic("triggered")


def _token_engine(config: str | None = None) -> Engine:
    import test_idp_tokens as idp

    return Engine.from_strings(
        schema=idp.SCHEMA,
        policies=idp.POLICIES,
        inventory=idp.INVENTORY,
        config=config or idp.identity_config(),
        clock=agentauthz.ManualClock("2026-11-29T10:00:00Z"),
    )


def _token_check(token: str, config: str | None = None) -> None:
    _token_engine(config).check(token=token, action="tools:call", resource=("Tool", "s"))


def token_invalid(_: Path) -> None:
    _token_check("not.a.jwt")


def token_expired(_: Path) -> None:
    import test_idp_tokens as idp

    _token_check(idp.sign(idp.claims(exp=idp.T0 - 3600)))


def token_audience(_: Path) -> None:
    import test_idp_tokens as idp

    _token_check(idp.sign(idp.claims(aud="https://other.test")))


def issuer_unknown(_: Path) -> None:
    import test_idp_tokens as idp

    _token_check(idp.sign(idp.claims(iss="https://evil.test")))


def jwks_unavailable(_: Path) -> None:
    import test_idp_tokens as idp

    config = (
        f'[identity]\naudience = "{idp.AUD}"\n[identity.issuers.corp]\n'
        f'issuer = "{idp.ISS}"\njwks_url = "http://127.0.0.1:9/jwks"\n'
    )
    _token_check(idp.sign(idp.claims()), config)


BUNDLES = Path(__file__).resolve().parents[2] / "tests" / "vectors" / "bundles"
BUNDLE_KEYS = {"fixture": (BUNDLES / "fixture.public.paserk").read_text().strip()}


def bundle_archive_invalid(_: Path) -> None:
    # A valid signature (of another bundle) over bytes that are no archive.
    agentauthz.verify_bundle(
        b"not gzip", (BUNDLES / "support-agent.tar.gz.sig").read_bytes(), BUNDLE_KEYS
    )


def bundle_signature_invalid(_: Path) -> None:
    archive = (BUNDLES / "coding-agent.tar.gz").read_bytes()
    agentauthz.verify_bundle(
        archive, (BUNDLES / "support-agent.tar.gz.sig").read_bytes(), BUNDLE_KEYS
    )


def bundle_unavailable(tmp_path: Path) -> None:
    (tmp_path / "agentauthz.toml").write_text(
        '[bundle]\nurl = "http://127.0.0.1:9/bundle.tar.gz"\n'
        f'public_keys = {{ fixture = "{BUNDLE_KEYS["fixture"]}" }}\npoll_seconds = 0\n'
    )
    Engine.load(tmp_path)


TRIGGERS: dict[str, list[Callable[[Path], None]]] = {
    "io": [io_error],
    "bundle_invalid": [missing_schema, bad_strings_shape],
    "config_invalid": [bad_config],
    "schema_parse": [schema_parse],
    "schema_invalid": [schema_invalid],
    "policy_parse": [policy_parse],
    "policy_id_missing": [policy_id_missing],
    "policy_id_duplicate": [policy_id_duplicate],
    "policy_invalid": [policy_invalid],
    "policy_may_error": [policy_may_error],
    "inventory_parse": [inventory_parse],
    "inventory_invalid": [inventory_invalid],
    "request_parse": [request_parse],
    "request_invalid": [request_invalid],
    "grant_invalid": [grant_invalid],
    "lifecycle_invalid": [lifecycle_invalid],
    "journal_corrupt": [journal_corrupt],
    "journal_locked": [journal_locked],
    "log_locked": [log_locked],
    "log_corrupt": [log_corrupt],
    "session_invalid": [session_invalid],
    "session_revoked": [session_revoked],
    "key_invalid": [key_invalid],
    "token_invalid": [token_invalid],
    "token_expired": [token_expired],
    "token_audience": [token_audience],
    "issuer_unknown": [issuer_unknown],
    "jwks_unavailable": [jwks_unavailable],
    "input_too_deep": [input_too_deep],
    "input_too_large": [input_too_large],
    "usage_invalid": [usage_invalid],
    "approval_annotation_invalid": [approval_annotation_invalid],
    "approval_invalid": [approval_invalid],
    "approval_refused": [approval_refused],
    "bundle_archive_invalid": [bundle_archive_invalid],
    "bundle_signature_invalid": [bundle_signature_invalid],
    "bundle_unavailable": [bundle_unavailable],
    "internal": [internal],
    # test_invalid: the core has no policy-test API exposed to bindings yet.
    # session_expired: needs the engine clock to pass a token's expiry, which
    # the Python API does not let a test move; the core tests and the WASM
    # suite (whose clock is Date.now) cover it.
    # All are covered by test_each_code_converts_through_the_native_path.
}
UNTRIGGERABLE = {
    "test_invalid",
    "session_expired",
}


def test_every_code_is_triggered_or_listed_as_untriggerable() -> None:
    assert set(TRIGGERS) | UNTRIGGERABLE == set(ERROR_CODES)


@pytest.mark.parametrize(
    ("code", "trigger"),
    [(code, t) for code, ts in TRIGGERS.items() for t in ts],
    ids=lambda x: x if isinstance(x, str) else x.__name__,
)
def test_real_error(tmp_path: Path, code: str, trigger: Callable[[Path], None]) -> None:
    with pytest.raises(AuthzError) as err:
        trigger(tmp_path)
    assert err.value.code == code, str(err.value)
    assert type(err.value) is ERROR_CODES[code]
    assert err.value.details and all(isinstance(d["message"], str) for d in err.value.details)


def test_errors_carry_locations() -> None:
    with pytest.raises(agentauthz.PolicyError) as err:
        Engine.from_strings(
            **strings(policies={"mine.cedar": '@id("a")\npermit (principal, action, resource)\n'}),
            trust_caller_time=True,
        )
    located = [d for d in err.value.details if "location" in d]
    assert located, err.value.details
    loc = located[0]["location"]
    assert loc["file"] == "mine.cedar"
    assert isinstance(loc["line"], int) and isinstance(loc["column"], int)
    assert "mine.cedar:" in str(err.value)


def test_every_core_family_has_a_hand_written_class() -> None:
    families = {c["family"] for c in agentauthz.error_codes()}
    assert set(errors.FAMILY_CLASSES) == families
    assert all(cls is not AuthzError for cls in ERROR_CODES.values())
    assert errors.FAMILY_CLASSES == FAMILY_CLASSES


def test_the_code_table_is_built_from_the_native_list(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    listed = [
        {"code": "policy_parse", "family": "policy"},
        {"code": "policy_from_a_newer_core", "family": "policy"},
        {"code": "of_a_new_family", "family": "new"},
    ]
    monkeypatch.setattr(agentauthz._native, "error_codes", lambda: listed)
    spec = importlib.util.spec_from_file_location(
        "agentauthz._errors_probe", errors.__file__, submodule_search_locations=None
    )
    assert spec is not None and spec.loader is not None
    fresh = importlib.util.module_from_spec(spec)
    fresh.__package__ = "agentauthz"
    spec.loader.exec_module(fresh)
    assert list(fresh.ERROR_CODES) == [c["code"] for c in listed]
    assert fresh.ERROR_CODES["policy_from_a_newer_core"] is fresh.PolicyError
    assert fresh.ERROR_CODES["of_a_new_family"] is fresh.AuthzError

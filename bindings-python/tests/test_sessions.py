"""Agent sessions: issue a signed token for an agent, then check with it.

The binding has no engine-clock injection, so token expiry is covered by the
core's tests (core/tests/lifecycle.rs); everything here runs at the real time,
well inside the tokens' lifetimes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

import pytest

from agentauthz import AuthzError, Engine, RequestError, generate_session_key

SCHEMA = """
entity Bucket;
entity Object in [Bucket];
action "s3:GetObject" appliesTo { principal: [Agent], resource: [Object, Bucket] };
"""

POLICIES = """
@id("read-public")
permit (principal, action == Action::"s3:GetObject", resource in Bucket::"public");
"""

INVENTORY = """
users:
  - {id: alice}
agents:
  - {id: etl, owner: alice}
  - {id: other, owner: alice}
tasks:
  - {id: T1, agent: etl, not_before: "2020-01-01T00:00:00Z", not_after: "2100-01-01T00:00:00Z"}
resources:
  - {type: Bucket, id: public}
  - {type: Object, id: public/readme, parents: [{type: Bucket, id: public}]}
"""

CONFIG = '[sessions]\naudience = "tools"\nallowed_audiences = ["billing"]\nmax_ttl_seconds = 600\n'
README = ("Object", "public/readme")


def make_engine(inventory: str = INVENTORY) -> Engine:
    return Engine.from_strings(
        schema=SCHEMA, policies=POLICIES, inventory=inventory, config=CONFIG, trust_caller_time=True
    )


@pytest.fixture
def issuer() -> Engine:
    engine = make_engine()
    key = generate_session_key("k1")
    engine.set_session_keys(signing={"kid": "k1", "key": key["secret"]})
    return engine


def read(engine: Engine, token: str, **kwargs: Any) -> Any:
    return engine.check(session=token, action="s3:GetObject", resource=README, **kwargs)


def code_of(excinfo: pytest.ExceptionInfo[AuthzError]) -> str:
    assert isinstance(excinfo.value, AuthzError)
    return excinfo.value.code


def test_round_trip_the_token_names_the_agent(issuer: Engine) -> None:
    token, claims = issuer.issue_session("etl", task="T1", ttl=timedelta(minutes=5))
    assert token.startswith("v4.public.")
    assert claims["agent"] == "etl"
    assert claims["task"] == "T1"
    assert claims["audience"] == "tools"
    assert claims["expires_at"] - claims["issued_at"] == 300_000
    assert issuer.verify_session(token) == claims
    decision = read(issuer, token)
    assert decision.allowed
    assert decision.reasons == ["read-public"]
    # The same request by agent decides the same way.
    assert issuer.check(agent="etl", action="s3:GetObject", resource=README).reasons == [
        "read-public"
    ]


def test_ttl_is_capped_by_the_configuration(issuer: Engine) -> None:
    _, claims = issuer.issue_session("etl", ttl=3600)
    assert claims["expires_at"] - claims["issued_at"] == 600_000
    with pytest.raises(AuthzError) as e:
        issuer.issue_session("etl", ttl=-1)
    assert code_of(e) == "session_invalid"


def test_a_tampered_token_is_session_invalid(issuer: Engine) -> None:
    token, _ = issuer.issue_session("etl")
    i = len(token) // 2
    tampered = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
    calls: list[Callable[[], object]] = [
        lambda: read(issuer, tampered),
        lambda: issuer.verify_session(tampered),
    ]
    for call in calls:
        with pytest.raises(AuthzError) as e:
            call()
        assert code_of(e) == "session_invalid"


def test_a_wrong_audience_is_session_invalid(issuer: Engine) -> None:
    token, _ = issuer.issue_session("etl")
    with pytest.raises(AuthzError) as e:
        read(issuer, token, audience="billing")
    assert code_of(e) == "session_invalid"
    billing, claims = issuer.issue_session("etl", audience="billing")
    assert claims["audience"] == "billing"
    assert issuer.verify_session(billing, audience="billing")["agent"] == "etl"
    with pytest.raises(AuthzError) as e:
        issuer.verify_session(billing)
    assert code_of(e) == "session_invalid"


def test_a_revoked_session_is_session_revoked(issuer: Engine) -> None:
    token, claims = issuer.issue_session("etl")
    other, _ = issuer.issue_session("other")
    issuer.revoke_session(claims["session_id"], by="alice")
    with pytest.raises(AuthzError) as e:
        read(issuer, token)
    assert code_of(e) == "session_revoked"
    assert read(issuer, other).allowed


def test_a_suspended_agent_cannot_use_or_get_a_session(issuer: Engine) -> None:
    token, _ = issuer.issue_session("etl")
    # A verifier whose inventory has `etl` suspended refuses its token.
    suspended = INVENTORY.replace(
        "{id: etl, owner: alice}", "{id: etl, owner: alice, status: suspended}"
    )
    verifier = make_engine(suspended)
    verifier.set_session_keys(verifying=issuer.session_public_keys())
    with pytest.raises(AuthzError) as e:
        read(verifier, token)
    assert code_of(e) == "session_revoked"
    # And no session is issued for it, an unknown agent, or another agent's task.
    verifier.set_session_keys(signing={"kid": "k2", "key": generate_session_key("k2")["secret"]})
    calls: list[Callable[[], object]] = [
        lambda: verifier.issue_session("etl"),
        lambda: issuer.issue_session("ghost"),
        lambda: issuer.issue_session("other", task="T1"),
    ]
    for call in calls:
        with pytest.raises(AuthzError) as e:
            call()
        assert code_of(e) == "lifecycle_invalid"


def test_a_verifier_with_only_public_keys_accepts_the_issuers_tokens(issuer: Engine) -> None:
    public = issuer.session_public_keys()
    assert list(public) == ["k1"]
    assert public["k1"].startswith("k4.public.")
    verifier = make_engine()
    verifier.set_session_keys(verifying=public)
    token, claims = issuer.issue_session("etl")
    assert verifier.verify_session(token) == claims
    assert read(verifier, token).reasons == ["read-public"]
    with pytest.raises(AuthzError) as e:
        verifier.issue_session("etl")
    assert code_of(e) == "key_invalid"
    # A token signed by another key is refused.
    stranger = make_engine()
    stranger.set_session_keys(signing={"kid": "k1", "key": generate_session_key("k1")["secret"]})
    foreign, _ = stranger.issue_session("etl")
    with pytest.raises(AuthzError) as e:
        read(verifier, foreign)
    assert code_of(e) == "session_invalid"


def test_bad_keys_are_key_invalid() -> None:
    engine = make_engine()
    bad: list[dict[str, Any]] = [
        {"signing": {"kid": "k1", "key": "not a key"}},
        {"verifying": {"k1": "k4.public.nope"}},
        {"signing": {"kid": "k1"}},
    ]
    for kwargs in bad:
        with pytest.raises(AuthzError) as e:
            engine.set_session_keys(**kwargs)
        assert code_of(e) == "key_invalid"


def test_exactly_one_of_agent_and_session(issuer: Engine) -> None:
    token, _ = issuer.issue_session("etl")
    with pytest.raises(RequestError):
        issuer.check(agent="etl", session=token, action="s3:GetObject", resource=README)
    with pytest.raises(RequestError):
        issuer.check(action="s3:GetObject", resource=README)
    with pytest.raises(RequestError):
        issuer.check(session=token, task="T1", action="s3:GetObject", resource=README)
    with pytest.raises(RequestError):
        issuer.check(agent="etl", audience="tools", action="s3:GetObject", resource=README)


def test_generate_session_key() -> None:
    key = generate_session_key("k9")
    assert key["kid"] == "k9"
    assert key["secret"].startswith("k4.secret.")
    assert key["public"].startswith("k4.public.")
    assert generate_session_key("k9")["secret"] != key["secret"]


def test_suspending_the_agent_at_run_time_revokes_its_sessions(issuer: Engine) -> None:
    token, _ = issuer.issue_session("etl")
    issuer.suspend("etl", by="alice")
    with pytest.raises(AuthzError) as e:
        read(issuer, token)
    assert code_of(e) == "session_revoked"
    issuer.reactivate("etl", by="alice")
    assert read(issuer, token).allowed
    issuer.offboard("etl", by="alice")
    with pytest.raises(AuthzError) as e:
        issuer.verify_session(token)
    assert code_of(e) == "session_revoked"

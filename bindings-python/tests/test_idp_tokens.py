"""Identity-provider tokens through the Python binding: every hostile token
class is a TokenError with its code, or a deny, never an allow. Tokens are
signed here with PyJWT and the locally generated keys of core/tests/identity/.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest

import agentauthz
from agentauthz import Engine, ManualClock, RequestError, TokenError
from agentauthz.mcp import AuthorizationMiddleware, BearerToken

from conftest import REPO, TESTS, bundle_strings

KEYS = REPO / "core" / "tests" / "identity"
ISS = "https://idp.test"
AUD = "https://tools.test/mcp"
T0 = 1_795_946_400  # 2026-11-29T10:00:00Z

SCHEMA = """
entity Tool;
type TokenInfo = {
  issuer: String, subject?: String, client_id?: String, jti?: String,
  scopes: Set<String>, actors: Set<String>
};
action "tools:call" appliesTo {
  principal: [Agent], resource: [Tool], context: { token?: TokenInfo }
};
"""

POLICIES = """
@id("call-with-scope")
permit (principal, action == Action::"tools:call", resource)
when { context has token && context.token.scopes.contains("tools.call") };
"""

INVENTORY = """
users:
  - {id: alice}
  - {id: bob, active: false}
agents:
  - {id: ci-bot, owner: alice}
  - {id: bobs-bot, owner: bob}
"""


def identity_config() -> str:
    jwks = (KEYS / "jwks.json").read_text().replace("\n", "")
    return (
        f'[identity]\naudience = "{AUD}"\n[identity.issuers.corp]\n'
        f"issuer = \"{ISS}\"\njwks = '{jwks}'\n"
    )


@pytest.fixture
def engine() -> Engine:
    clock = ManualClock("2026-11-29T10:00:00Z")
    return Engine.from_strings(
        schema=SCHEMA,
        policies=POLICIES,
        inventory=INVENTORY,
        config=identity_config(),
        clock=clock,
    )


def claims(client: str = "ci-bot", **changes: Any) -> dict[str, Any]:
    c: dict[str, Any] = {
        "iss": ISS,
        "aud": AUD,
        "client_id": client,
        "sub": client,
        "iat": T0 - 10,
        "exp": T0 + 300,
        "jti": f"jti-{client}",
        "scope": "tools.call",
    }
    c.update(changes)
    return {k: v for k, v in c.items() if v is not None}


def sign(
    c: dict[str, Any], *, alg: str = "RS256", kid: str = "rsa-1", pem: str = "rsa1.pem"
) -> str:
    key = (KEYS / pem).read_text()
    return jwt.encode(c, key, algorithm=alg, headers={"kid": kid})


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def check(engine: Engine, token: str) -> agentauthz.Decision:
    return engine.check(token=token, action="tools:call", resource=("Tool", "search"))


def code(engine: Engine, token: str) -> str:
    with pytest.raises(TokenError) as info:
        check(engine, token)
    return info.value.code


def test_a_valid_token_is_allowed_by_its_scope(engine: Engine) -> None:
    d = check(engine, sign(claims()))
    assert d.allowed and d.reasons == ["call-with-scope"]
    assert not check(engine, sign(claims(scope="openid"))).allowed
    for alg, kid, pem in [
        ("PS256", "rsa-1", "rsa1.pem"),
        ("ES256", "ec-1", "ec1.pem"),
        ("EdDSA", "ed-1", "ed1.pem"),
    ]:
        assert check(engine, sign(claims(), alg=alg, kid=kid, pem=pem)).allowed, alg


def test_hostile_tokens_are_refused_with_their_code(engine: Engine) -> None:
    assert code(engine, sign(claims(aud="https://other.test"))) == "token_audience"
    assert code(engine, sign(claims(iss="https://evil.test"))) == "issuer_unknown"
    assert code(engine, sign(claims(exp=T0 - 120))) == "token_expired"
    assert code(engine, sign(claims(nbf=T0 + 600))) == "token_expired"
    assert code(engine, sign(claims(nbf="99999999999"))) == "token_invalid"
    # alg none, with and without a signature.
    header = b64(json.dumps({"alg": "none"}).encode())
    body = b64(json.dumps(claims()).encode())
    for t in (f"{header}.{body}.", f"{header}.{body}.AAAA"):
        assert code(engine, t) == "token_invalid"
    # HS256 with the RSA public key as the secret (built by hand: PyJWT refuses
    # to use a PEM public key as an HMAC secret, which is the point).
    import hashlib
    import hmac

    pub = (KEYS / "rsa1.pub.pem").read_bytes()
    h = b64(json.dumps({"alg": "HS256", "kid": "rsa-1", "typ": "JWT"}).encode())
    mac = hmac.new(pub, f"{h}.{body}".encode(), hashlib.sha256).digest()
    assert code(engine, f"{h}.{body}.{b64(mac)}") == "token_invalid"
    # A key the issuer does not publish (the rotated one, before rotation).
    assert code(engine, sign(claims(), kid="rsa-2", pem="rsa2.pem")) == "token_invalid"
    for garbage in ("", "x", "a.b.c", "a" * 20000):
        assert code(engine, garbage) == "token_invalid"
    # The family and the codes are the core's.
    assert agentauthz.ERROR_CODES["jwks_unavailable"] is TokenError


def test_unknown_and_deprovisioned_agents_are_denied(engine: Engine) -> None:
    d = check(engine, sign(claims("stranger")))
    assert not d.allowed and d.reasons == ["baseline/unknown-agent"]
    d = check(engine, sign(claims("bobs-bot")))
    assert not d.allowed and "baseline/owner-required" in d.reasons


def test_rotation_with_keys_given_as_data(engine: Engine) -> None:
    rotated = sign(claims(), kid="rsa-2", pem="rsa2.pem")
    assert code(engine, rotated) == "token_invalid"
    engine.set_issuer_jwks(ISS, (KEYS / "jwks-rotated.json").read_text())
    assert check(engine, rotated).allowed
    assert check(engine, sign(claims())).allowed


def test_delegation_and_verify_token(engine: Engine) -> None:
    t = sign(
        claims(sub="alice", act={"client_id": "ci-bot", "sub": "ci-bot", "act": {"sub": "gw"}})
    )
    c = engine.verify_token(t)
    assert c["agent"] == "ci-bot" and c["on_behalf_of"] == "alice"
    assert c["actors"] == ["ci-bot", "gw"]
    assert t not in json.dumps(c)
    assert check(engine, t).allowed


def test_the_caller_cannot_forge_identity_or_scopes(engine: Engine) -> None:
    t = sign(claims(scope="openid"))
    with pytest.raises(RequestError):
        engine.check(
            token=t,
            action="tools:call",
            resource=("Tool", "s"),
            context={"token": {"issuer": ISS, "scopes": ["tools.call"], "actors": []}},
        )
    with pytest.raises(RequestError):
        engine.check(token=t, agent="ci-bot", action="tools:call", resource=("Tool", "s"))
    with pytest.raises(RequestError):
        engine.check(token=t, on_behalf_of="alice", action="tools:call", resource=("Tool", "s"))


def test_records_never_hold_the_token() -> None:
    records: list[dict[str, Any]] = []
    engine = Engine.from_strings(
        schema=SCHEMA,
        policies=POLICIES,
        inventory=INVENTORY,
        config=identity_config(),
        clock=ManualClock("2026-11-29T10:00:00Z"),
        decision_log=records.append,
    )
    good, bad = sign(claims()), sign(claims(aud="https://other.test"))
    assert check(engine, good).allowed
    with pytest.raises(TokenError):
        check(engine, bad)
    assert len(records) == 2
    assert records[0]["context"]["token"]["issuer"] == ISS
    assert records[1]["principal"] == {"type": "Token", "id": "unverified"}
    text = json.dumps(records)
    for t in (good, bad):
        for part in t.split("."):
            assert part not in text


def test_tool_calls_take_a_token(engine: Engine) -> None:
    d = engine.check_tool_call(
        tool="search", action="tools:call", resource=("Tool", "s"), token=sign(claims())
    )
    assert d.allowed
    with pytest.raises(TokenError):
        engine.check_tool_call(
            tool="search", action="tools:call", resource=("Tool", "s"), token="nope"
        )


MCP_WORKSPACE = REPO / "policies-examples" / "mcp-workspace"


@pytest.mark.asyncio
async def test_mcp_guard_with_the_requests_bearer_token(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    sys.path.insert(0, str(TESTS / "mcp_servers"))
    import fs_server
    from mcp import Client

    strings = bundle_strings(MCP_WORKSPACE)
    strings["config"] = (strings["config"] or "") + "\n" + identity_config()
    engine = Engine.from_strings(**strings, clock=ManualClock("2026-11-29T10:00:00Z"))
    holder: dict[str, str | None] = {"token": None}
    mw = AuthorizationMiddleware(
        engine, server="fs", identity=BearerToken(token_of=lambda ctx: holder["token"])
    )
    monkeypatch.setattr(fs_server, "WORKDIR", tmp_path)
    (tmp_path / "workspace").mkdir()
    (tmp_path / "workspace" / "a.txt").write_text("hello")
    async with Client(fs_server.build([mw])) as client:
        holder["token"] = sign(claims("review-agent"))
        r = await client.call_tool("read_file", {"path": "/workspace/a.txt"})
        assert not r.is_error
        r = await client.call_tool("write_file", {"path": "/workspace/x.txt", "content": "x"})
        assert r.is_error
        holder["token"] = sign(claims("review-agent", aud="https://other.test"))
        r = await client.call_tool("read_file", {"path": "/workspace/a.txt"})
        assert r.is_error
        holder["token"] = None
        r = await client.call_tool("read_file", {"path": "/workspace/a.txt"})
        assert r.is_error


def test_cli_check_with_token_env(tmp_path: Any) -> None:
    import os
    import subprocess

    from test_mcp_proxy import cli

    bundle = tmp_path / "b"
    (bundle / "policies").mkdir(parents=True)
    (bundle / "schema.cedarschema").write_text(SCHEMA)
    (bundle / "policies" / "p.cedar").write_text(POLICIES)
    (bundle / "inventory.yaml").write_text(INVENTORY)
    (bundle / "agentauthz.toml").write_text(identity_config())
    request = tmp_path / "req.json"
    request.write_text(
        json.dumps({"action": "tools:call", "resource": {"type": "Tool", "id": "s"}})
    )
    log = tmp_path / "log.jsonl"
    argv = [cli(), "check", "--bundle", str(bundle), "--request", str(request)]
    argv += ["--token-env", "IDP_TOKEN", "--now", "2026-11-29T10:00:00Z"]
    good = sign(claims())
    env = {**os.environ, "IDP_TOKEN": good}
    ok = subprocess.run(
        [*argv, "--decision-log", str(log)], env=env, capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["decision"] == "allow"
    assert good not in log.read_text() and good not in ok.stdout + ok.stderr
    env["IDP_TOKEN"] = sign(claims(aud="https://other.test"))
    bad = subprocess.run(argv, env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "token_audience" in bad.stderr
    assert env["IDP_TOKEN"] not in bad.stderr

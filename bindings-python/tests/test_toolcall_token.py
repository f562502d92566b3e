"""The tool-call mapper's ``token`` option: each call is checked with an
identity provider's JWT (a string, or a callable per call), verified by the
engine. Tokens are signed here with the locally generated keys of
core/tests/identity/ (as test_idp_tokens.py does). Hostile cases first."""

from __future__ import annotations

from typing import Any

from langchain.agents import create_agent
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import tool
from test_idp_tokens import INVENTORY, SCHEMA, claims, identity_config, sign
from test_langchain import ScriptedModel, call

from agentauthz import Engine, ManualClock
from agentauthz.langchain import AuthorizationMiddleware
from agentauthz.toolcall import ToolCall, ToolCallGuard

POLICIES = """
@id("call-with-scope")
permit (principal, action == Action::"tools:call", resource)
when { context has token && context.token.scopes.contains("tools.call") };
"""


def make_engine() -> Engine:
    return Engine.from_strings(
        schema=SCHEMA,
        policies=POLICIES,
        inventory=INVENTORY,
        config=identity_config(),
        clock=ManualClock("2026-11-29T10:00:00Z"),
    )


def guard(engine: Engine, token: Any, **extra: Any) -> ToolCallGuard:
    return ToolCallGuard(
        engine,
        token=token,
        action=lambda call: "tools:call",
        resource=("Tool", "search"),
        input=None,
        **extra,
    )


def search() -> ToolCall:
    return ToolCall("search", {"q": "x"}, id="c1")


def test_hostile_tokens_are_refused_with_their_code() -> None:
    engine = make_engine()
    cases = {
        "token_audience": sign(claims(aud="https://other.test")),
        "token_expired": sign(claims(exp=1_795_946_400 - 120)),
        "issuer_unknown": sign(claims(iss="https://evil.test")),
        "token_invalid": "not.a.jwt",
    }
    for code, token in cases.items():
        verdict = guard(engine, token).check(search())
        assert not verdict.allowed
        assert verdict.artifact()["error"]["code"] == code, code
        assert token not in (verdict.refusal or "")  # the token is never quoted


def test_a_token_callable_that_raises_or_returns_nothing_refuses() -> None:
    engine = make_engine()

    def broken(call: ToolCall) -> str:
        raise RuntimeError("token cache down")

    verdict = guard(engine, broken).check(search())
    assert not verdict.allowed and verdict.artifact()["error"]["code"] == "RuntimeError"
    assert not guard(engine, lambda call: None).check(search()).allowed


def test_a_valid_token_is_checked_per_call() -> None:
    engine = make_engine()
    good, narrow = sign(claims()), sign(claims(scope="openid"))
    assert guard(engine, good).check(search()).allowed
    assert not guard(engine, narrow).check(search()).allowed
    tokens = iter([good, narrow])
    per_call = guard(engine, lambda call: next(tokens))
    assert per_call.check(search()).allowed
    assert not per_call.check(search()).allowed


def test_the_token_names_the_agent_and_baselines_still_apply() -> None:
    engine = make_engine()
    # bobs-bot (owner bob is inactive): the token identifies it, the baseline denies.
    bob = sign(claims(client="bobs-bot"))
    assert not guard(engine, bob).check(search()).allowed


def test_langchain_middleware_reads_the_token_from_the_run() -> None:
    engine = make_engine()
    ran: list[str] = []

    @tool
    def search_docs(q: str) -> str:
        """Search."""
        ran.append(q)
        return "found"

    tokens = {"ok": sign(claims()), "narrow": sign(claims(scope="openid"))}
    model = ScriptedModel(
        responses=[
            AIMessage(content="", tool_calls=[call("search_docs", "c1", q="a")]),
            AIMessage(content="done"),
        ],
        prompts=[],
    )
    for which, expect in [("ok", ["a"]), ("narrow", [])]:
        ran.clear()
        model = ScriptedModel(responses=list(model.responses), prompts=[])
        agent = create_agent(
            model,
            tools=[search_docs],
            middleware=[
                AuthorizationMiddleware(
                    engine,
                    token=lambda request, which=which: tokens[which],
                    action={"search_docs": "tools:call"},
                    resource=("Tool", "search"),
                    input=lambda request: None,
                )
            ],
        )
        result = agent.invoke({"messages": [HumanMessage("go")]})
        assert ran == expect, which
        m = next(x for x in result["messages"] if isinstance(x, ToolMessage))
        assert (m.status == "success") == bool(expect)

"""Property tests across the Python boundary (run by test_properties.py in a
child process, so a crash fails a test instead of killing the runner).

Hypothesis throws random and adversarial values (deep, cyclic, wide, wrong
types, lone surrogates, NUL, bytes, huge ints, NaN, user Mapping/Sequence
types) at every exported function, in every argument. Each call returns or
raises an AuthzError with a known code, and afterwards the engine still
decides a known allow and a known deny correctly.
"""

from __future__ import annotations

import os
from collections import OrderedDict, UserList
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agentauthz
from agentauthz import AuthzError, Engine

from conftest import BUNDLE, NOW, REPO_RESOURCE

ENGINE = Engine.load(BUNDLE, trust_caller_time=True)
KNOWN = {c["code"] for c in agentauthz.error_codes()}
EXAMPLES = int(os.environ.get("AGENTAUTHZ_PROPERTY_EXAMPLES", "250"))
ODD_TEXT = ["\ud800", "\udfff", "a\x00b", "\x00", "\ufeff", "\u202e", "", " " * 3, "x" * 5000]


class View(Mapping[str, Any]):
    """A user Mapping that is not a dict."""

    def __init__(self, inner: dict[str, Any]) -> None:
        self._inner = inner

    def __getitem__(self, k: str) -> Any:
        return self._inner[k]

    def __iter__(self) -> Iterator[str]:
        return iter(self._inner)

    def __len__(self) -> int:
        return len(self._inner)


class Raising(Mapping[str, Any]):
    """A Mapping whose reading raises."""

    def __getitem__(self, k: str) -> Any:
        raise ValueError("from a user __getitem__")

    def __iter__(self) -> Iterator[str]:
        return iter(["input"])

    def __len__(self) -> int:
        return 1


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**63 - 2, max_value=2**70)
    | st.floats()
    | st.text(max_size=20)
    | st.sampled_from(ODD_TEXT)
    | st.binary(max_size=8)
    | st.just(object())
    | st.just(Raising())
)


def containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.text(max_size=6) | st.sampled_from(["input", "path", "agent", "context"])
    return (
        st.lists(children, max_size=4)
        | st.dictionaries(keys, children, max_size=4)
        | st.dictionaries(st.integers(), children, max_size=2)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(keys, children, max_size=3).map(OrderedDict)
        | st.dictionaries(keys, children, max_size=3).map(View)
        | st.lists(children, max_size=3).map(UserList)
        | st.frozensets(st.integers() | st.text(max_size=4), max_size=3)
    )


values = st.recursive(scalars, containers, max_leaves=12)


@st.composite
def deep(draw: st.DrawFn) -> Any:
    depth = draw(st.integers(min_value=60, max_value=5000))
    wrap = draw(
        st.sampled_from(
            [
                lambda v: {"x": v},
                lambda v: [v],
                lambda v: (v,),
                lambda v: OrderedDict(x=v),
                lambda v: View({"x": v}),
                lambda v: UserList([v]),
            ]
        )
    )
    v: Any = draw(scalars)
    for _ in range(depth):
        v = wrap(v)
    return v


@st.composite
def cyclic(draw: st.DrawFn) -> Any:
    kind = draw(st.sampled_from(["dict", "list", "view", "nested"]))
    if kind == "dict":
        d: dict[str, Any] = {"path": "x"}
        d["self"] = d
        return d
    if kind == "list":
        items: list[Any] = [1]
        items.append(items)
        return items
    inner: dict[str, Any] = {}
    view = View(inner)
    inner["self"] = view if kind == "view" else [{"again": view}]
    return view


hostile = values | deep() | cyclic()

# Every exported function, with the value in each argument it takes. Paths
# that a call would create (a decision log, a journal) never get the value.
CALLS: dict[str, Callable[[Engine, Any], object]] = {
    "Engine": lambda e, v: Engine(v),
    "Engine.load": lambda e, v: Engine.load(v),
    "Engine.recover": lambda e, v: Engine(BUNDLE, recover=v),
    "from_strings.schema": lambda e, v: Engine.from_strings(schema=v, policies=""),
    "from_strings.policies": lambda e, v: Engine.from_strings(schema="", policies=v),
    "from_strings.inventory": lambda e, v: Engine.from_strings(
        schema="", policies="", inventory=v, config=v
    ),
    "check.agent": lambda e, v: e.check(agent=v, action="read_file", resource=REPO_RESOURCE),
    "check.action": lambda e, v: e.check(agent="coder", action=v, resource=REPO_RESOURCE),
    "check.resource": lambda e, v: e.check(agent="coder", action="read_file", resource=v),
    "check.context": lambda e, v: e.check(
        agent="coder", action="read_file", resource=REPO_RESOURCE, context=v, now=NOW
    ),
    "check.context.input": lambda e, v: e.check(
        agent="coder", action="read_file", resource=REPO_RESOURCE, context={"input": v}, now=NOW
    ),
    "check.options": lambda e, v: e.check(
        agent="coder",
        action="read_file",
        resource=REPO_RESOURCE,
        task=v,
        on_behalf_of=v,
        credential=v,
        now=v,
    ),
    "check.session": lambda e, v: e.check(
        session=v, action="read_file", resource=REPO_RESOURCE, audience=v
    ),
    "check_request": lambda e, v: e.check_request(v),
    "check_request.context": lambda e, v: e.check_request(
        {"agent": "coder", "action": "read_file", "resource": v, "context": v}
    ),
    "check_batch": lambda e, v: e.check_batch(v),
    "check_batch.item": lambda e, v: e.check_batch([v]),
    "reload": lambda e, v: e.reload(v),
    "reload.strings": lambda e, v: e.reload({"schema": v, "policies": v}),
    "set_decision_log": lambda e, v: e.set_decision_log(
        42 if isinstance(v, (str, os.PathLike)) else v  # type: ignore[arg-type]
    ),
    "set_decision_log.max_bytes": lambda e, v: e.set_decision_log(None, max_bytes=v),
    "grant": lambda e, v: e.grant(
        agent=v, actions=v, resource=v, ttl=v, until=v, starts=v, task=v, reason=v, granted_by=v
    ),
    "grant.resource": lambda e, v: e.grant(
        agent="coder", actions=["read_file"], resource=v, ttl=60, reason="r", granted_by=v
    ),
    "revoke": lambda e, v: e.revoke(v, by=v),
    "grants": lambda e, v: e.grants(v),
    "grant_policy_text": lambda e, v: e.grant_policy_text(v),
    "suspend": lambda e, v: e.suspend(v, by=v),
    "reactivate": lambda e, v: e.reactivate(v, by=v),
    "offboard": lambda e, v: e.offboard(v, by=v),
    "rotate_credential": lambda e, v: e.rotate_credential(v, expires=v, by=v),
    "transfer_owner": lambda e, v: e.transfer_owner(v, owner=v, by=v),
    "add_task": lambda e, v: e.add_task(
        id=v, agent=v, not_before=v, not_after=v, purpose=v, on_behalf_of=v, by=v
    ),
    "apply": lambda e, v: e.apply(v, by="t"),
    "apply.by": lambda e, v: e.apply({"op": "suspend", "agent": v}, by=v),
    "issue_session": lambda e, v: e.issue_session(v, task=v, ttl=v, audience=v),
    "verify_session": lambda e, v: e.verify_session(v, audience=v),
    "revoke_session": lambda e, v: e.revoke_session(v, by=v),
    "approve": lambda e, v: e.approve(v, by=v, uses=v, ttl=v),
    "approve.request": lambda e, v: e.approve(request=v, by="alice"),
    "reject": lambda e, v: e.reject(v, by=v),
    "approvals": lambda e, v: e.approvals(v),
    "set_session_keys": lambda e, v: e.set_session_keys(signing=v, verifying=v),
    "generate_session_key": lambda e, v: agentauthz.generate_session_key(v),
}


def decides_correctly(engine: Engine) -> None:
    def read(path: str) -> agentauthz.Decision:
        return engine.check(
            agent="coder",
            action="read_file",
            resource=REPO_RESOURCE,
            context={"input": {"path": path}},
            now=NOW,
        )

    assert read("src/app.py").reasons == ["coders-read"]
    assert read("prod.env").reasons == ["no-secrets"]


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(name=st.sampled_from(sorted(CALLS)), value=hostile)
def test_any_value_in_any_argument_is_decided_or_a_coded_error(name: str, value: Any) -> None:
    try:
        CALLS[name](ENGINE, value)
    except AuthzError as e:
        assert e.code in KNOWN, (name, e)
        assert isinstance(e.details, list) and e.details, (name, e)
    decides_correctly(ENGINE)


def test_the_engine_still_decides_after_everything(tmp_path: Path) -> None:
    decides_correctly(ENGINE)
    assert ENGINE.policy_revision == Engine.load(BUNDLE, trust_caller_time=True).policy_revision

"""Hostile input across the Python boundary: a coded AuthzError, never a crash.

Values an attacker may shape (tool arguments in ``context``, whole requests)
are walked with the core's depth and size limits and a cycle check, whatever
their type: dict or list subclasses, user ``Mapping`` / ``Sequence`` types,
tuples, sets. The cases that crashed the interpreter before run in a child
process, so a crash fails the test instead of killing the runner.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import OrderedDict, UserDict, UserList
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

import agentauthz
from agentauthz import AuthzError, Engine, RequestError

from conftest import BUNDLE, NOW, REPO_RESOURCE, TESTS

TOO_DEEP = "input_too_deep"
TOO_LARGE = "input_too_large"


def check(engine: Engine, context: Any) -> agentauthz.Decision:
    return engine.check(
        agent="coder", action="read_file", resource=REPO_RESOURCE, context=context, now=NOW
    )


def allowed(engine: Engine) -> bool:
    return check(engine, {"input": {"path": "src/app.py"}}).allowed


def run_child(body: str, timeout: float = 120) -> list[Any]:
    """Runs `body` in a fresh interpreter; it prints one JSON line per case.
    A crash (a signal) fails the test with the cases that finished before it."""
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(TESTS)!r})
        import agentauthz
        from agentauthz import Engine, AuthzError
        from conftest import BUNDLE, NOW, REPO_RESOURCE
        engine = Engine.load(BUNDLE, trust_caller_time=True)

        def outcome(f):
            try:
                f()
            except AuthzError as e:
                return {{"code": e.code, "message": str(e)[:200]}}
            except BaseException as e:
                return {{"raised": type(e).__name__, "message": str(e)[:200]}}
            return {{"ok": True}}

        def report(name, f):
            print(json.dumps({{"case": name, **outcome(f)}}), flush=True)

        def still_answers():
            d = engine.check(agent="coder", action="read_file", resource=REPO_RESOURCE,
                             context={{"input": {{"path": "src/app.py"}}}}, now=NOW)
            print(json.dumps({{"case": "after", "allowed": d.allowed}}), flush=True)
        """
    ) + textwrap.dedent(body)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0, (
        f"child died with {proc.returncode} after {lines}\n{proc.stderr[-2000:]}"
    )
    return lines


# ---------------------------------------------------------------- deep values


DEEP_CASES = """
import collections
from collections.abc import Mapping, Sequence

class M(Mapping):
    def __init__(self, inner): self.inner = inner
    def __getitem__(self, k):
        if k != "x": raise KeyError(k)
        return self.inner
    def __iter__(self): return iter(["x"])
    def __len__(self): return 1

class S(Sequence):
    def __init__(self, inner): self.inner = inner
    def __getitem__(self, i):
        if i != 0: raise IndexError(i)
        return self.inner
    def __len__(self): return 1

class L(list): pass

def nest(make, n):
    v = "leaf"
    for _ in range(n):
        v = make(v)
    return v

N = 20_000
makers = {
    "dict": lambda v: {"x": v},
    "OrderedDict": lambda v: collections.OrderedDict(x=v),
    "UserDict": lambda v: collections.UserDict(x=v),
    "Mapping": M,
    "list": lambda v: [v],
    "list subclass": lambda v: L([v]),
    "UserList": lambda v: collections.UserList([v]),
    "tuple": lambda v: (v,),
    "Sequence": S,
}
for name, make in makers.items():
    deep = nest(make, N)
    ctx = {"input": {"path": "x", "deep": deep}}
    report("check " + name, lambda: engine.check(agent="coder", action="read_file",
           resource=REPO_RESOURCE, context=ctx, now=NOW))
    req = {"agent": "coder", "action": "read_file", "resource": {"type": "Repo", "id": "acme/api"},
           "context": ctx}
    report("check_request " + name, lambda: engine.check_request(req))
    report("check_batch " + name, lambda: engine.check_batch([req]))
    report("check_request top " + name, lambda: engine.check_request(deep))
    report("apply " + name, lambda: engine.apply({"op": "suspend", "agent": deep}, by="t"))
    report("reload " + name, lambda: engine.reload({"schema": deep, "policies": ""}))
    report("set_session_keys " + name, lambda: engine.set_session_keys(verifying={"k": deep}))
    report("resource " + name, lambda: engine.check(agent="coder", action="read_file",
           resource={"type": deep, "id": "x"}, now=NOW))
still_answers()
"""


def test_deep_values_of_every_container_type_are_refused_in_a_child() -> None:
    lines = run_child(DEEP_CASES, timeout=300)
    cases = [line for line in lines if line["case"] != "after"]
    assert len(cases) == 9 * 8, lines
    for case in cases:
        assert case.get("code") == TOO_DEEP, case
    assert lines[-1] == {"case": "after", "allowed": True}


CYCLE_CASES = """
from collections.abc import Mapping

class SelfMap(Mapping):
    def __getitem__(self, k): return self
    def __iter__(self): return iter(["me"])
    def __len__(self): return 1

d = {"path": "x"}; d["self"] = d
l = []; l.append(l)
cases = {"dict": d, "list": l, "Mapping": SelfMap()}
for name, value in cases.items():
    report("check " + name, lambda: engine.check(agent="coder", action="read_file",
           resource=REPO_RESOURCE, context={"input": value}, now=NOW))
    req = {"agent": "coder", "context": value}
    report("check_request " + name, lambda: engine.check_request(req))
    report("check_batch " + name, lambda: engine.check_batch([value]))
still_answers()
"""


def test_cycles_are_refused_as_too_deep() -> None:
    lines = run_child(CYCLE_CASES)
    cases = [line for line in lines if line["case"] != "after"]
    assert len(cases) == 9
    for case in cases:
        assert case.get("code") == TOO_DEEP, case
        assert "cycle" in case["message"], case
    assert lines[-1] == {"case": "after", "allowed": True}


def test_shared_values_are_not_cycles(engine: Engine) -> None:
    path = {"path": "src/app.py"}
    shared = [path, path, [path, path]]
    # `tags` is not in the schema, so the core refuses it: the binding did not call it a cycle.
    with pytest.raises(RequestError) as err:
        check(engine, {"input": {"path": "src/app.py"}, "tags": shared})
    assert err.value.code == "request_invalid"


def test_depth_at_the_limit_and_beyond(engine: Engine) -> None:
    def nest(n: int) -> Any:
        v: Any = "leaf"
        for _ in range(n):
            v = {"x": v}
        return v

    with pytest.raises(AuthzError) as err:
        check(engine, {"input": {"path": "x", "deep": nest(200)}})
    assert err.value.code == TOO_DEEP
    # Shallow nesting is not a limit error (the schema refuses the unknown field).
    with pytest.raises(RequestError) as err:
        check(engine, {"input": {"path": "x", "deep": nest(5)}})
    assert err.value.code != TOO_DEEP
    assert allowed(engine)


# ---------------------------------------------------------------- size


def test_too_many_items_is_too_large(engine: Engine) -> None:
    with pytest.raises(AuthzError) as err:
        check(engine, {"input": {"path": "x", "many": list(range(200_001))}})
    assert err.value.code == TOO_LARGE
    with pytest.raises(AuthzError) as err:
        engine.check_request({"agent": "coder", "context": {str(i): i for i in range(200_001)}})
    assert err.value.code == TOO_LARGE
    assert allowed(engine)


def test_a_batch_is_bounded_per_request_not_in_total(engine: Engine) -> None:
    req = {
        "agent": "coder",
        "action": "read_file",
        "resource": {"type": "Repo", "id": "acme/api"},
        "context": {"input": {"path": "src/" + "x" * 500}},
        "now": NOW,
    }
    decisions = engine.check_batch([req] * 3000)  # about 2 MB in all
    assert len(decisions) == 3000
    big = {**req, "context": {"input": {"path": "x" * (2 << 20)}}}
    with pytest.raises(AuthzError) as err:
        engine.check_batch([req, big])
    assert err.value.code == TOO_LARGE


def test_too_much_text_is_too_large(engine: Engine) -> None:
    with pytest.raises(AuthzError) as err:
        check(engine, {"input": {"path": "x" * (2 << 20)}})
    assert err.value.code == TOO_LARGE
    assert allowed(engine)


def test_an_endless_user_sequence_stops_at_the_size_limit(engine: Engine) -> None:
    class Endless(Sequence[int]):
        def __getitem__(self, i: Any) -> Any:
            return 1

        def __len__(self) -> int:
            return 1

        def __iter__(self) -> Iterator[int]:
            while True:
                yield 1

    with pytest.raises(AuthzError) as err:
        check(engine, {"input": {"path": "x", "n": Endless()}})
    assert err.value.code == TOO_LARGE


# ---------------------------------------------------------------- any Mapping / Sequence


def test_mapping_and_sequence_types_convert_like_dict_and_list(engine: Engine) -> None:
    class Frozen(Mapping[str, Any]):
        def __init__(self, **kw: Any) -> None:
            self._d = kw

        def __getitem__(self, k: str) -> Any:
            return self._d[k]

        def __iter__(self) -> Iterator[str]:
            return iter(self._d)

        def __len__(self) -> int:
            return len(self._d)

    for ctx in (
        OrderedDict(input=OrderedDict(path="src/app.py")),
        UserDict(input=UserDict(path="src/app.py")),
        Frozen(input=Frozen(path="src/app.py")),
    ):
        assert check(engine, ctx).reasons == ["coders-read"], ctx
    req = {
        "agent": "coder",
        "action": "read_file",
        "resource": OrderedDict(type="Repo", id="acme/api"),
        "context": Frozen(input={"path": "src/app.py"}),
        "now": NOW,
    }
    assert engine.check_request(Frozen(**req)).allowed
    assert [d.allowed for d in engine.check_batch(UserList([req, req]))] == [True, True]
    assert [d.allowed for d in engine.check_batch((req,))] == [True]


def test_user_code_that_rewrites_the_dict_being_read_changes_nothing(engine: Engine) -> None:
    # Converting `n` runs user code that empties and refills the dict being
    # read; it is read as it was when the call began, and nothing crashes.
    context: dict[str, Any] = {}

    class Rewriter(Sequence[int]):
        def __getitem__(self, i: Any) -> Any:
            return 1

        def __len__(self) -> int:
            return 1

        def __iter__(self) -> Iterator[int]:
            context.clear()
            context.update({f"k{i}": i for i in range(100)})
            yield 1

    context.update({"input": {"path": "src/app.py"}, "n": Rewriter(), "z": 1})
    with pytest.raises(RequestError) as err:
        check(engine, context)
    assert "k0" not in str(err.value), err.value
    context.clear()
    context.update({"input": {"path": "src/app.py"}, "n": Rewriter()})
    req = {
        "agent": "coder",
        "action": "read_file",
        "resource": {"type": "Repo", "id": "acme/api"},
        "context": context,
        "now": NOW,
    }
    with pytest.raises(RequestError):
        engine.check_request(req)
    assert allowed(engine)


# ---------------------------------------------------------------- user code that raises


class Boom(Exception):
    pass


class RaisingMapping(Mapping[str, Any]):
    def __init__(self, where: str, exc: BaseException) -> None:
        self.where = where
        self.exc = exc

    def _maybe(self, where: str) -> None:
        if self.where == where:
            raise self.exc

    def __getitem__(self, k: str) -> Any:
        self._maybe("getitem")
        return "x"

    def __iter__(self) -> Iterator[str]:
        self._maybe("iter")
        return iter(["path"])

    def __len__(self) -> int:
        return 1

    def items(self) -> Any:
        self._maybe("items")
        return super().items()


@pytest.mark.parametrize("where", ["getitem", "iter", "items"])
def test_an_exception_from_user_code_is_a_coded_error_caused_by_it(
    engine: Engine, where: str
) -> None:
    with pytest.raises(RequestError) as err:
        check(engine, {"input": RaisingMapping(where, Boom("from the user"))})
    assert err.value.code == "request_parse"
    assert isinstance(err.value.__cause__, Boom)
    assert "Boom: from the user" in str(err.value)
    with pytest.raises(RequestError) as err:
        engine.check_request(RaisingMapping(where, Boom("again")))
    assert isinstance(err.value.__cause__, Boom)
    assert allowed(engine)


def test_keyboard_interrupt_from_user_code_propagates(engine: Engine) -> None:
    with pytest.raises(KeyboardInterrupt):
        check(engine, {"input": RaisingMapping("getitem", KeyboardInterrupt())})
    assert allowed(engine)


def test_a_raising_sequence_iterator(engine: Engine) -> None:
    class Bad(Sequence[Any]):
        def __getitem__(self, i: Any) -> Any:
            raise IndexError

        def __len__(self) -> int:
            return 1

        def __iter__(self) -> Iterator[Any]:
            yield 1
            raise Boom("mid-way")

    with pytest.raises(RequestError) as err:
        engine.check_batch(Bad())
    assert isinstance(err.value.__cause__, Boom)


# ---------------------------------------------------------------- text and odd values


@pytest.mark.parametrize(
    "value",
    [
        "\ud800",  # a lone surrogate: not encodable as UTF-8
        b"bytes",
        bytearray(b"x"),
        object(),
        2**64,
        float("nan"),
        float("inf"),
        {1: "int key"},
        {("tuple",): "key"},
    ],
    ids=repr,
)
def test_values_without_a_json_form_are_request_parse(engine: Engine, value: Any) -> None:
    with pytest.raises(RequestError) as err:
        check(engine, {"input": {"path": value}})
    assert err.value.code == "request_parse", err.value
    with pytest.raises(RequestError):
        engine.check_request({"agent": "coder", "context": {"x": value}})
    assert allowed(engine)


def test_nul_and_odd_text_are_data(engine: Engine) -> None:
    for path in ("a\x00b", "\u202e", "\uffff", "x" * 100_000):
        decision = check(engine, {"input": {"path": path}})
        assert decision.decision in ("allow", "deny")
    for agent in ("co\x00der", "\x00", ""):
        try:
            decision = engine.check(
                agent=agent, action="read_file", resource=REPO_RESOURCE, now=NOW
            )
        except RequestError:
            continue
        assert not decision.allowed


def test_sets_convert_to_arrays(engine: Engine) -> None:
    with pytest.raises(RequestError) as err:
        check(engine, {"input": {"path": frozenset(["a"])}})
    assert err.value.code == "request_invalid"  # a set where a String is declared


# ---------------------------------------------------------------- wrong types everywhere

BAD_VALUES: list[Any] = [None, 42, 1.5, b"x", ["x"], {"x": 1}, object(), "\ud800"]


def _calls(engine: Engine, v: Any, log: Path) -> dict[str, Any]:
    return {
        "check.agent": lambda: engine.check(agent=v, action="read_file", resource=REPO_RESOURCE),
        "check.action": lambda: engine.check(agent="coder", action=v, resource=REPO_RESOURCE),
        "check.resource": lambda: engine.check(agent="coder", action="read_file", resource=v),
        "check.context": lambda: engine.check(
            agent="coder", action="read_file", resource=REPO_RESOURCE, context=v
        ),
        "check.now": lambda: engine.check(
            agent="coder", action="read_file", resource=REPO_RESOURCE, now=v
        ),
        "check_request": lambda: engine.check_request(v),
        "check_batch": lambda: engine.check_batch(v),
        "reload": lambda: engine.reload(v),
        "Engine": lambda: Engine(v),
        "Engine.load": lambda: Engine.load(v),
        "Engine.journal": lambda: Engine(BUNDLE, journal=v),
        "Engine.recover": lambda: Engine(BUNDLE, recover=v),
        "from_strings": lambda: Engine.from_strings(schema=v, policies=v),
        "set_decision_log": lambda: engine.set_decision_log(v),
        "set_decision_log.max_bytes": lambda: engine.set_decision_log(log, max_bytes=v),
        "grant": lambda: engine.grant(
            agent=v, actions=v, resource=v, ttl=v, reason=v, granted_by=v
        ),
        "revoke": lambda: engine.revoke(v, by=v),
        "grants": lambda: engine.grants(v),
        "grant_policy_text": lambda: engine.grant_policy_text(v),
        "suspend": lambda: engine.suspend(v, by="t"),
        "reactivate": lambda: engine.reactivate("coder", by=v),
        "offboard": lambda: engine.offboard(v, by=v),
        "rotate_credential": lambda: engine.rotate_credential(v, expires=v, by=v),
        "transfer_owner": lambda: engine.transfer_owner(v, owner=v, by=v),
        "add_task": lambda: engine.add_task(
            id=v, agent=v, not_before=v, not_after=v, purpose=v, on_behalf_of=v, by=v
        ),
        "apply": lambda: engine.apply(v, by=v),
        "issue_session": lambda: engine.issue_session(v, task=v, ttl=v, audience=v),
        "verify_session": lambda: engine.verify_session(v, audience=v),
        "revoke_session": lambda: engine.revoke_session(v, by=v),
        "approve": lambda: engine.approve(v, by=v, uses=v, ttl=v),
        "approve.request": lambda: engine.approve(request=v, by="alice"),
        "reject": lambda: engine.reject(v, request=v, by=v),
        "approvals": lambda: engine.approvals(v),
        "on_approval_request": lambda: engine.on_approval_request(v),
        "set_session_keys": lambda: engine.set_session_keys(signing=v, verifying=v),
        "generate_session_key": lambda: agentauthz.generate_session_key(v),
    }


@pytest.mark.parametrize("value", BAD_VALUES, ids=repr)
def test_every_function_refuses_a_wrong_type_with_a_code(tmp_path: Path, value: Any) -> None:
    engine = Engine.load(BUNDLE, trust_caller_time=True)
    known = {c["code"] for c in agentauthz.error_codes()}
    for name, call in _calls(engine, value, tmp_path / "log.jsonl").items():
        try:
            call()
        except AuthzError as e:
            assert e.code in known, (name, e)
        except Exception as e:  # pragma: no cover - the failure being tested
            pytest.fail(f"{name}({value!r}) raised {type(e).__name__}: {e}")
    # None of it changed what the engine answers (the agent was never suspended).
    assert allowed(engine)

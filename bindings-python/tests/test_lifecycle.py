"""Grants and lifecycle operations from Python: every operation, grant windows
(checked against the request's ``now``), forbid over grant, revoke, offboarding,
the journal (reload, torn last line, recover) and the error classes.

The same scenario is mirrored in bindings-node/__test__/lifecycle.test.js and
bindings-wasm/tests/node/lifecycle.test.mjs, with the same decisions.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

import agentauthz
from agentauthz import Engine, Grant, JournalError, LifecycleError

SCHEMA = """
entity Bucket;
entity Object in [Bucket];
action "s3:GetObject" appliesTo { principal: [Agent], resource: [Object, Bucket] };
action "s3:PutObject" appliesTo {
  principal: [Agent], resource: [Object, Bucket],
  context: { bytes?: Long }
};
"""

POLICIES = """
@id("read-public")
permit (principal, action == Action::"s3:GetObject", resource in Bucket::"public");

@id("no-big-uploads")
forbid (principal, action == Action::"s3:PutObject", resource)
when { context has bytes && context.bytes > 1000 };
"""

# Task windows are wide so that checks at the wall-clock time fall inside them.
INVENTORY = """
users:
  - {id: alice}
  - {id: carol}
agents:
  - {id: etl, owner: alice}
  - {id: orphan}
  - {id: other, owner: alice}
credentials:
  - id: etl-key
    agent: etl
    kind: service_account_key
    issued: "2026-01-01T00:00:00Z"
    expires: "2026-06-01T00:00:00Z"
tasks:
  - {id: T1, agent: etl, not_before: "2020-01-01T00:00:00Z", not_after: "2100-01-01T00:00:00Z"}
  - {id: T-other, agent: other, not_before: "2020-01-01T00:00:00Z",
     not_after: "2100-01-01T00:00:00Z"}
resources:
  - {type: Bucket, id: public}
  - {type: Bucket, id: reports}
  - {type: Object, id: reports/q3.csv, parents: [{type: Bucket, id: reports}]}
  - {type: Object, id: public/readme, parents: [{type: Bucket, id: public}]}
"""

Q3 = ("Object", "reports/q3.csv")


def engine() -> Engine:
    return Engine.from_strings(
        schema=SCHEMA, policies=POLICIES, inventory=INVENTORY, trust_caller_time=True
    )


def bundle_dir(tmp_path: Path) -> Path:
    d = tmp_path / "bundle"
    (d / "policies").mkdir(parents=True)
    (d / "schema.cedarschema").write_text(SCHEMA)
    (d / "policies" / "s3.cedar").write_text(POLICIES)
    (d / "inventory.yaml").write_text(INVENTORY)
    return d


def put(e: Engine, agent: str = "etl", **kw: object) -> tuple[bool, list[str]]:
    d = e.check(agent=agent, action="s3:PutObject", resource=kw.pop("resource", Q3), **kw)  # type: ignore[arg-type]
    return d.allowed, d.reasons


def window() -> tuple[datetime, datetime]:
    """A one-hour grant window starting a day from now (whole seconds, UTC)."""
    starts = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    return starts, starts + timedelta(hours=1)


def grant(e: Engine, **kw: Any) -> Grant:
    args: dict[str, Any] = {
        "agent": "etl",
        "actions": ["s3:PutObject"],
        "resource": ("Bucket", "reports"),
        "reason": "quarterly export",
        "granted_by": "alice",
        **kw,
    }
    if "until" not in args and "ttl" not in args:
        args["ttl"] = 600
    return e.grant(**args)


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_grant_applies_inside_its_window_only() -> None:
    e = engine()
    starts, until = window()
    assert put(e, now=starts) == (False, [])
    g = grant(e, starts=starts, until=until)
    assert isinstance(g, Grant)
    assert g.starts == starts.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert g.expires == until.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert (g.agent, g.actions, g.resource) == ("etl", ["s3:PutObject"], ("Bucket", "reports"))
    assert (g.task, g.reason, g.granted_by) == (None, "quarterly export", "alice")
    reason = f"grant/{g.id}"
    second = timedelta(seconds=1)
    for now, allowed in [
        (starts - second, False),
        (starts, True),
        (until - second, True),
        (until, False),
        (until + second, False),
    ]:
        assert put(e, now=iso(now)) == (allowed, [reason] if allowed else []), now
    # Not other resources, actions or agents.
    inside = iso(starts)
    assert not put(e, now=inside, resource=("Object", "public/readme"))[0]
    assert not e.check(agent="etl", action="s3:GetObject", resource=Q3, now=inside).allowed
    assert not put(e, agent="other", now=inside)[0]
    assert e.grants("etl") == [g] and e.grants() == [g] and e.grants("other") == []
    text = e.grant_policy_text(g.id)
    assert text is not None and f'@id("{reason}")' in text and "permit" in text
    assert e.grant_policy_text("nope") is None
    assert g.to_dict()["resource"] == {"type": "Bucket", "id": "reports"}


def test_ttl_as_seconds_or_timedelta_and_until_as_text() -> None:
    e = engine()
    a = grant(e, ttl=600)
    b = grant(e, ttl=timedelta(minutes=10))
    for g in (a, b):
        starts = datetime.fromisoformat(g.starts.replace("Z", "+00:00"))
        expires = datetime.fromisoformat(g.expires.replace("Z", "+00:00"))
        assert expires - starts == timedelta(minutes=10)
    starts, until = window()
    c = grant(e, starts=iso(starts), until=iso(until))
    assert c.expires.startswith(iso(until)[:-1])
    assert put(e) == (True, sorted([f"grant/{a.id}", f"grant/{b.id}"]))
    assert len({a.id, b.id, c.id}) == 3


def test_a_forbid_wins_over_a_grant() -> None:
    e = engine()
    grant(e)
    assert put(e, context={"bytes": 5000}) == (False, ["no-big-uploads"])


def test_a_task_scoped_grant_needs_its_task() -> None:
    e = engine()
    g = grant(e, task="T1")
    assert g.task == "T1"
    assert put(e) == (False, [])
    assert put(e, task="T1") == (True, [f"grant/{g.id}"])
    with pytest.raises(LifecycleError) as err:
        grant(e, task="T-other")
    assert err.value.code == "grant_invalid"


def test_revoke_ends_a_grant() -> None:
    e = engine()
    g = grant(e)
    assert put(e)[0]
    e.revoke(g.id, by="alice")
    assert put(e) == (False, [])
    assert e.grants() == []
    with pytest.raises(LifecycleError) as err:
        e.revoke(g.id, by="alice")
    assert err.value.code == "lifecycle_invalid"


@pytest.mark.parametrize(
    "kw",
    [
        {"agent": "ghost"},
        {"actions": ["s3:DeleteBucket"]},
        {"actions": []},
        {"actions": "s3:PutObject"},
        {"resource": ("Bucket", "nope")},
        {"until": "2020-01-01T00:00:00Z"},
        {"until": "2100-01-01T00:00:00Z", "ttl": 600},
        {"reason": " "},
        {"starts": "yesterday"},
        {"until": datetime(2100, 1, 1)},
        {"ttl": -1},
        {"ttl": timedelta(seconds=1.5)},
        {"ttl": "10"},
    ],
    ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()),
)
def test_bad_grants_raise_grant_invalid(kw: dict[str, object]) -> None:
    e = engine()
    with pytest.raises(LifecycleError) as err:
        grant(e, **kw)
    assert err.value.code == "grant_invalid", str(err.value)
    assert err.value.family == "lifecycle"
    assert e.grants() == []


def test_suspend_reactivate_offboard() -> None:
    e = engine()
    g = grant(e)
    assert put(e, task="T1") == (True, [f"grant/{g.id}"])
    e.suspend("etl", by="alice")
    assert put(e, task="T1") == (False, ["baseline/agent-active"])
    with pytest.raises(LifecycleError, match="suspended"):
        grant(e)
    e.reactivate("etl", by="alice")
    assert put(e, task="T1") == (True, [f"grant/{g.id}"])

    e.rotate_credential(
        "etl-key", expires=datetime.now(timezone.utc) + timedelta(days=30), by="alice"
    )
    with_key = {"agent": "etl", "action": "s3:GetObject", "resource": ("Object", "public/readme")}
    assert e.check(**with_key, credential="etl-key").reasons == ["read-public"]  # type: ignore[arg-type]

    e.offboard("etl", by="alice")
    assert e.grants("etl") == []
    allowed, reasons = put(e, task="T1")
    assert not allowed and "baseline/task-revoked" in reasons, reasons
    assert put(e) == (False, ["baseline/agent-active"])
    # Its credential is marked revoked (the guard for expired or revoked credentials).
    d = e.check(**with_key, credential="etl-key")  # type: ignore[arg-type]
    assert (d.allowed, d.reasons) == (
        False,
        ["baseline/agent-active", "baseline/credential-expired"],
    )
    ops: list[Callable[[], None]] = [
        lambda: e.reactivate("etl", by="alice"),
        lambda: e.suspend("etl", by="alice"),
        lambda: e.suspend("ghost", by="alice"),
        lambda: e.offboard("ghost", by="alice"),
        lambda: e.suspend("other", by=" "),
    ]
    for op in ops:
        with pytest.raises(LifecycleError) as err:
            op()
        assert err.value.code == "lifecycle_invalid"


def test_rotate_credential_and_transfer_owner() -> None:
    e = engine()
    read = {"agent": "etl", "action": "s3:GetObject", "resource": ("Object", "public/readme")}
    d = e.check(**read, credential="etl-key")  # type: ignore[arg-type]
    assert (d.allowed, d.reasons) == (False, ["baseline/credential-expired"])
    e.rotate_credential(
        "etl-key", expires=datetime.now(timezone.utc) + timedelta(days=365), by="alice"
    )
    d = e.check(**read, credential="etl-key")  # type: ignore[arg-type]
    assert (d.allowed, d.reasons) == (True, ["read-public"])
    with pytest.raises(LifecycleError) as err:
        e.rotate_credential("etl-key", expires="2026-01-01T00:00:00Z", by="alice")
    assert err.value.code == "lifecycle_invalid"

    orphan = {**read, "agent": "orphan"}
    d = e.check(**orphan)  # type: ignore[arg-type]
    assert (d.allowed, d.reasons) == (False, ["baseline/owner-required"])
    e.transfer_owner("orphan", owner="carol", by="alice")
    d = e.check(**orphan)  # type: ignore[arg-type]
    assert (d.allowed, d.reasons) == (True, ["read-public"])
    with pytest.raises(LifecycleError):
        e.transfer_owner("orphan", owner="nobody", by="alice")


def test_add_task_makes_a_new_task_usable() -> None:
    e = engine()
    read = {"agent": "etl", "action": "s3:GetObject", "resource": ("Object", "public/readme")}
    d = e.check(**read, task="T9", now="2026-11-29T10:00:00Z")  # type: ignore[arg-type]
    assert (d.allowed, d.reasons) == (False, ["baseline/unknown-task"])
    spec = {
        "id": "T9",
        "agent": "etl",
        "not_before": "2026-11-29T09:00:00Z",
        "not_after": datetime(2026, 11, 29, 12, tzinfo=timezone.utc),
        "purpose": "backfill",
        "on_behalf_of": "carol",
    }
    e.add_task(**spec, by="alice")  # type: ignore[arg-type]
    d = e.check(**read, task="T9", now="2026-11-29T10:00:00Z")  # type: ignore[arg-type]
    assert (d.allowed, d.reasons) == (True, ["read-public"])
    d = e.check(**read, task="T9", now="2026-11-29T12:00:00Z")  # type: ignore[arg-type]
    assert (d.allowed, d.reasons) == (False, ["baseline/task-window"])
    with pytest.raises(LifecycleError):
        e.add_task(**spec, by="alice")  # type: ignore[arg-type]


def test_apply_takes_changes_in_journal_form() -> None:
    e = engine()
    entry = e.apply({"op": "suspend", "agent": "etl"}, by="alice")
    assert (entry["seq"], entry["by"], entry["op"], entry["agent"]) == (
        1,
        "alice",
        "suspend",
        "etl",
    )
    d = e.check(agent="etl", action="s3:GetObject", resource=("Object", "public/readme"))
    assert (d.allowed, d.reasons) == (False, ["baseline/agent-active"])
    for bad in ({"op": "explode"}, {"op": "suspend"}, {"op": "suspend", "agent": "ghost"}):
        with pytest.raises(LifecycleError) as err:
            e.apply(bad, by="alice")
        assert err.value.code == "lifecycle_invalid"
    assert e.journal_path is None
    assert e.skipped_changes() == []


def test_changes_are_logged_with_who_made_them() -> None:
    records: list[dict[str, object]] = []
    e = Engine.from_strings(
        schema=SCHEMA,
        policies=POLICIES,
        inventory=INVENTORY,
        decision_log=records.append,
        trust_caller_time=True,
    )
    g = grant(e)
    e.offboard("etl", by="carol")
    e.flush_decision_log()
    assert [r["action"] for r in records] == ["agentauthz:grant", "agentauthz:offboard"]
    assert records[0]["resource"] == {"type": "Grant", "id": g.id}
    assert records[1]["principal"] == {"type": "User", "id": "carol"}


def test_operations_while_checking_from_threads() -> None:
    e = engine()
    stop = threading.Event()
    seen: set[tuple[bool, tuple[str, ...]]] = set()

    def checker() -> None:
        while not stop.is_set():
            allowed, reasons = put(e)
            seen.add((allowed, tuple(r.split("/")[0] for r in reasons)))

    threads = [threading.Thread(target=checker) for _ in range(2)]
    for t in threads:
        t.start()
    try:
        for _ in range(20):
            g = grant(e)
            e.revoke(g.id, by="alice")
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert seen <= {(False, ()), (True, ("grant",))}
    assert e.grants() == []


# ---- the journal


def test_a_journaled_grant_is_there_after_reload(tmp_path: Path) -> None:
    bundle = bundle_dir(tmp_path)
    journal = tmp_path / "changes.jsonl"
    e = Engine.load(bundle, journal=journal, trust_caller_time=True)
    assert e.journal_path == str(journal)
    g = grant(e, task="T1")
    e.suspend("other", by="alice")
    lines = journal.read_text().splitlines()
    assert len(lines) == 2 and '"op":"grant"' in lines[0]
    del e  # one writer at a time

    again = Engine.load(bundle, journal=journal, trust_caller_time=True)
    assert again.grants() == [g]
    assert put(again, task="T1") == (True, [f"grant/{g.id}"])
    d = again.check(agent="other", action="s3:GetObject", resource=("Object", "public/readme"))
    assert d.reasons == ["baseline/agent-active"]
    assert again.skipped_changes() == []
    del again
    # The same through the constructor.
    assert Engine(bundle, journal=str(journal), trust_caller_time=True).grants() == [g]


def test_a_torn_journal_needs_recover(tmp_path: Path) -> None:
    bundle = bundle_dir(tmp_path)
    journal = tmp_path / "changes.jsonl"
    g = grant(Engine.load(bundle, journal=journal, trust_caller_time=True))
    with journal.open("ab") as f:
        f.write(b'{"seq":2,"at":"2026-11-')  # a crash while appending: no newline
    with pytest.raises(JournalError) as err:
        Engine.load(bundle, journal=journal, trust_caller_time=True)
    assert err.value.code == "journal_corrupt" and err.value.family == "journal"
    assert err.value.details[0]["location"]["line"] == 2
    recovered = Engine.load(bundle, journal=journal, recover=True, trust_caller_time=True)
    assert recovered.grants() == [g]
    grant(recovered)
    del recovered
    assert len(Engine.load(bundle, journal=journal, trust_caller_time=True).grants()) == 2


def test_the_bundle_config_names_the_journal(tmp_path: Path) -> None:
    bundle = bundle_dir(tmp_path)
    (bundle / "agentauthz.toml").write_text('[journal]\npath = "state/changes.jsonl"\n')
    (bundle / "state").mkdir()
    e = Engine.load(bundle, trust_caller_time=True)
    assert e.journal_path == str(bundle / "state" / "changes.jsonl")
    g = grant(e)
    del e
    assert Engine.load(bundle, trust_caller_time=True).grants() == [g]


def test_error_classes_are_exported() -> None:
    assert agentauthz.ERROR_CODES["grant_invalid"] is LifecycleError
    assert agentauthz.ERROR_CODES["journal_corrupt"] is JournalError
    assert agentauthz.ERROR_CODES["session_invalid"] is agentauthz.SessionError

"""The journal and the decision log from Python: keyed with the bundle's
[integrity] key, one writer at a time, torn last lines recovered on request."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import agentauthz
from agentauthz import Engine

from conftest import BUNDLE

KEY = "0123456789abcdef0123456789abcdef-python-key"


def keyed_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    dest = tmp_path / "bundle"
    shutil.copytree(BUNDLE, dest)
    (dest / "agentauthz.toml").write_text(
        '[journal]\npath = "journal.jsonl"\n\n'
        '[integrity]\nkey_env = "AGENTAUTHZ_PY_LOG_KEY"\nkey_id = "py1"\n'
    )
    monkeypatch.setenv("AGENTAUTHZ_PY_LOG_KEY", KEY)
    return dest


def test_a_keyed_journal_refuses_a_forged_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = keyed_bundle(tmp_path, monkeypatch)
    engine = Engine.load(bundle)
    engine.suspend("coder", by="alice")
    del engine
    journal = bundle / "journal.jsonl"
    line = json.loads(journal.read_text().splitlines()[0])
    assert line["kid"] == "py1" and len(line["mac"]) == 64
    Engine.load(bundle)  # genuine: loads
    forged = {"seq": 2, "at": line["at"], "by": "alice", "op": "reactivate", "agent": "coder"}
    with journal.open("a") as f:
        f.write(json.dumps(forged) + "\n")
    with pytest.raises(agentauthz.JournalError) as err:
        Engine.load(bundle)
    assert err.value.code == "journal_corrupt"
    assert "unauthenticated" in str(err.value)


def test_a_missing_key_refuses_to_load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle = keyed_bundle(tmp_path, monkeypatch)
    monkeypatch.delenv("AGENTAUTHZ_PY_LOG_KEY")
    with pytest.raises(agentauthz.SessionError) as err:
        Engine.load(bundle)
    assert err.value.code == "key_invalid"
    assert KEY not in str(err.value)


def test_a_second_writer_of_a_journal_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "journal.jsonl"
    first = Engine.load(BUNDLE, journal=journal)
    with pytest.raises(agentauthz.JournalError) as err:
        Engine.load(BUNDLE, journal=journal)
    assert err.value.code == "journal_locked"
    del first
    Engine.load(BUNDLE, journal=journal)


def test_a_file_log_is_keyed_and_a_torn_line_needs_recover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = keyed_bundle(tmp_path, monkeypatch)
    log = tmp_path / "decisions.jsonl"
    engine = Engine.load(bundle, decision_log=log)
    engine.check(agent="coder", action="github:push", resource=("Repo", "acme/api"))
    engine.flush_decision_log()
    del engine
    records = [json.loads(x) for x in log.read_text().splitlines()]
    assert records and all(r["schema_version"] == 2 and r["kid"] == "py1" for r in records)
    with log.open("a") as f:
        f.write('{"schema_version":2,"seq":')
    with pytest.raises(agentauthz.LogError) as err:
        Engine.load(bundle, decision_log=log)
    assert err.value.code == "log_corrupt"
    engine = Engine.load(bundle, decision_log=log, recover=True)
    engine.check(agent="coder", action="github:push", resource=("Repo", "acme/api"))
    engine.flush_decision_log()
    text = log.read_text()
    assert text.endswith("\n") and '"seq":' in text.splitlines()[-1]
    assert "agentauthz:recover" in text, "the cut is recorded"
    seqs = [json.loads(x)["seq"] for x in text.splitlines()]
    assert seqs == list(range(1, len(seqs) + 1)), "the chain continues"

"""A fleet from Python: two engines sharing run-time changes through a real
PostgreSQL (Debian's ``postgresql``, started here on 127.0.0.1 in a temp
dir, as the ``postgres`` user when run as root), ``store_status()``,
``state_hash()`` and the errors of a store out of reach.

Mirrors core/tests/fleet.rs (which holds the hostile and 8-process tests).
Without the server binaries the PostgreSQL tests skip loudly, unless
``AGENTAUTHZ_REQUIRE_SERVERS`` is set, where that is a failure.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import agentauthz
from agentauthz import AuthzError, Engine

SCHEMA = """
entity Repo;
action "read" appliesTo { principal: [Agent], resource: [Repo] };
action "write" appliesTo { principal: [Agent], resource: [Repo] };
"""

POLICIES = """
@id("read")
permit (principal, action == Action::"read", resource);
"""

INVENTORY = """
users:
  - {id: alice}
agents:
  - {id: bot-1, owner: alice}
  - {id: bot-2, owner: alice}
resources:
  - {type: Repo, id: r1}
"""


def bundle(tmp_path: Path) -> Path:
    (tmp_path / "policies").mkdir()
    (tmp_path / "schema.cedarschema").write_text(SCHEMA)
    (tmp_path / "policies" / "main.cedar").write_text(POLICIES)
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    return tmp_path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    stop: Callable[[], None]


@pytest.fixture
def server() -> Iterator[Server]:
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not bins:
        message = "PostgreSQL is not installed (Debian package postgresql; `make test-deps`)"
        if os.environ.get("AGENTAUTHZ_REQUIRE_SERVERS"):
            pytest.fail(message + " and AGENTAUTHZ_REQUIRE_SERVERS is set")
        print(f"\n!!!!!!!! SKIPPED: {message} !!!!!!!!")
        pytest.skip(message)
    bindir = Path(bins[-1]).parent
    root = os.geteuid() == 0
    tmp = Path(tempfile.mkdtemp(prefix="agentauthz-pg-"))
    os.chmod(tmp, 0o755)
    if root:
        shutil.chown(tmp, "postgres", "postgres")
    prefix = ["runuser", "-u", "postgres", "--"] if root else []
    data = tmp / "data"
    port = free_port()

    def run(*args: str) -> None:
        subprocess.run([*prefix, *args], check=True, capture_output=True, cwd=tmp)

    run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync")
    options = f"-p {port} -c listen_addresses=127.0.0.1 -k {tmp} -c fsync=off"
    run(
        str(bindir / "pg_ctl"),
        "-D",
        str(data),
        "-l",
        str(tmp / "log"),
        "-o",
        options,
        "-w",
        "start",
    )

    def stop() -> None:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            check=False,
        )

    try:
        yield Server(f"postgres://postgres@127.0.0.1:{port}/postgres", stop)
    finally:
        stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def postgres(server: Server) -> str:
    return server.url


def read(engine: Engine, agent: str, action: str = "read") -> agentauthz.Decision:
    return engine.check(agent=agent, action=action, resource=("Repo", "r1"))


def applied(engine: Engine, seq: int) -> bool:
    return bool(engine.store_status()["last_applied_seq"] == seq)


def wait_until(done: Callable[[], bool], engine: Engine, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, engine.store_status()
        time.sleep(0.005)


# The other process of the fleet: grants, then offboards, then prints its
# state hash. It shares nothing with this one but the PostgreSQL URL.
CHILD = """
import sys
from agentauthz import Engine
a = Engine.load(sys.argv[1], store=sys.argv[2])
a.grant(agent="bot-2", actions=["write"], resource=("Repo", "r1"), ttl=3600,
        reason="hotfix", granted_by="alice")
a.offboard("bot-1", by="alice")
print(a.state_hash())
"""


def test_a_grant_and_an_offboarding_in_another_process_reach_this_one(
    tmp_path: Path, postgres: str
) -> None:
    agentauthz.store_init(postgres)
    directory = bundle(tmp_path)
    b = Engine.load(directory, store=postgres)
    assert read(b, "bot-1").allowed
    assert not read(b, "bot-2", "write").allowed
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(directory), postgres],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    wait_until(lambda: b.store_status()["last_applied_seq"] == 2, b)
    granted = read(b, "bot-2", "write")
    assert granted.allowed
    assert granted.reasons[0].startswith("grant/")
    assert read(b, "bot-1").reasons == ["baseline/agent-active"]
    assert b.state_hash() == child.stdout.strip()


def test_a_store_that_goes_down_keeps_the_last_state_then_fails_closed(
    tmp_path: Path, server: Server
) -> None:
    agentauthz.store_init(server.url)
    directory = bundle(tmp_path)
    a = Engine.load(directory, store=server.url)
    keeps = Engine.load(directory, store=server.url)
    bounded = Engine.load(directory, store=server.url, max_staleness_seconds=1)
    a.offboard("bot-1", by="alice")
    for engine in (keeps, bounded):
        caught_up = functools.partial(applied, engine, 1)
        wait_until(caught_up, engine)
    before = keeps.state_hash()
    server.stop()
    # A change the store cannot take is refused, and not applied here either.
    with pytest.raises(AuthzError) as err:
        a.suspend("bot-2", by="alice")
    assert err.value.code == "io"
    assert read(a, "bot-2").allowed
    # Without a bound the last state keeps deciding; the status says how stale.
    wait_until(lambda: not keeps.store_status()["connected"], keeps)
    wait_until(lambda: keeps.store_status().get("staleness_ms", 0) > 1500, keeps)
    status = keeps.store_status()
    assert status["stale"] is False
    assert status["last_error"]
    assert status["last_applied_seq"] == 1
    assert keeps.state_hash() == before
    assert read(keeps, "bot-2").allowed
    assert read(keeps, "bot-1").reasons == ["baseline/agent-active"]
    # With max_staleness_seconds every check fails closed, with its reason.
    wait_until(lambda: not read(bounded, "bot-2").allowed, bounded)
    denied = read(bounded, "bot-2")
    assert denied.reasons == ["store/stale"]
    assert bounded.store_status()["stale"] is True
    assert bounded.store_status()["max_staleness_ms"] == 1000


def test_the_bundle_config_names_the_store(
    tmp_path: Path, postgres: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    agentauthz.store_init(postgres)
    directory = bundle(tmp_path)
    (directory / "agentauthz.toml").write_text(
        '[store]\npostgres = "env:AGENTAUTHZ_TEST_PG"\nmax_staleness_seconds = 30\n'
    )
    monkeypatch.setenv("AGENTAUTHZ_TEST_PG", postgres)
    a = Engine.load(directory)
    b = Engine.load(directory)
    status = a.store_status()
    assert status["backend"] == "postgres"
    assert status["max_staleness_ms"] == 30_000
    a.offboard("bot-1", by="alice")
    wait_until(lambda: not read(b, "bot-1").allowed, b)
    monkeypatch.delenv("AGENTAUTHZ_TEST_PG")
    with pytest.raises(AuthzError) as err:
        Engine.load(directory)
    assert err.value.code == "config_invalid"


def test_store_init_takes_the_tls_settings_of_store(postgres: str) -> None:
    # This server has no TLS: `require` is refused; `verify-full` needs a CA.
    with pytest.raises(AuthzError) as err:
        agentauthz.store_init(postgres, sslmode="require")
    assert err.value.code == "io"
    assert "TLS" in str(err.value)
    with pytest.raises(AuthzError) as err:
        agentauthz.store_init(postgres, sslmode="verify-full")
    assert err.value.code == "config_invalid"
    with pytest.raises(AuthzError) as err:
        agentauthz.store_init(postgres, sslmode=1)  # type: ignore[arg-type]
    assert err.value.code == "config_invalid"
    assert agentauthz.store_init(postgres, sslmode="disable").startswith("postgres ")


def test_an_offboarding_reaches_the_other_engine(tmp_path: Path, postgres: str) -> None:
    where = agentauthz.store_init(postgres)
    assert where.startswith("postgres 127.0.0.1:")
    directory = bundle(tmp_path)
    a = Engine.load(directory, store=postgres, max_staleness_seconds=30)
    b = Engine.load(directory, store=postgres)
    assert read(b, "bot-1").allowed
    a.offboard("bot-1", by="alice")
    deadline = time.monotonic() + 5
    while read(b, "bot-1").allowed:
        assert time.monotonic() < deadline, b.store_status()
        time.sleep(0.005)
    assert read(b, "bot-1").reasons == ["baseline/agent-active"]
    # The status is the follower's: it counts the change once it read it back.
    wait_until(functools.partial(applied, a, 1), a)
    status = a.store_status()
    assert status["backend"] == "postgres"
    assert status["last_applied_seq"] == 1
    assert status["max_staleness_ms"] == 30_000
    assert status["stale"] is False
    assert a.state_hash() == b.state_hash()
    # A change for an unknown agent: refused here, nothing stored.
    with pytest.raises(AuthzError) as err:
        a.suspend("ghost", by="alice")
    assert err.value.code == "lifecycle_invalid"
    assert a.store_status()["last_applied_seq"] == 1


def test_a_store_out_of_reach_is_an_error_never_an_engine(tmp_path: Path) -> None:
    directory = bundle(tmp_path)
    url = f"postgres://postgres@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(AuthzError) as err:
        Engine.load(directory, store=url)
    assert err.value.code == "io"
    with pytest.raises(AuthzError) as err:
        Engine.load(directory, store="env:AGENTAUTHZ_TEST_UNSET_VARIABLE")
    assert err.value.code == "config_invalid"
    with pytest.raises(AuthzError) as err:
        Engine.load(directory, store=url, max_staleness_seconds=-1)
    assert err.value.code == "config_invalid"
    status = Engine.load(directory).store_status()
    assert status["backend"] == "memory"
    assert status["stale"] is False

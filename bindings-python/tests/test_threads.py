"""An Engine shared by many threads: checks run while another thread reloads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from agentauthz import Decision, Engine

from conftest import BUNDLE, NOW, REPO_RESOURCE, bundle_strings

OPEN = bundle_strings(BUNDLE)
FROZEN = {
    **OPEN,
    "policies": {
        **OPEN["policies"],
        "freeze.cedar": '@id("freeze")\nforbid (principal, action, resource);\n',
    },
}
CHECKERS = 8
MIN_CHECKS_PER_THREAD = 200
RELOADS = 60


def check(engine: Engine, path: str) -> Decision:
    return engine.check(
        agent="coder",
        action="read_file",
        resource=REPO_RESOURCE,
        context={"input": {"path": path}},
        now=NOW,
    )


def test_checks_during_reloads_see_one_bundle_or_the_other() -> None:
    open_engine = Engine(OPEN, trust_caller_time=True)
    frozen_engine = Engine(FROZEN, trust_caller_time=True)
    # What each bundle decides, keyed by its revision: (decision, reasons).
    valid = {
        open_engine.policy_revision: {
            "src/a.py": ("allow", ["coders-read"]),
            "x.env": ("deny", ["no-secrets"]),
        },
        frozen_engine.policy_revision: {
            "src/a.py": ("deny", ["freeze"]),
            "x.env": ("deny", ["freeze", "no-secrets"]),
        },
    }
    assert len(valid) == 2

    engine = Engine(OPEN, trust_caller_time=True)
    start = threading.Barrier(CHECKERS + 1)
    done = threading.Event()
    reloads = 0

    def reloader() -> None:
        nonlocal reloads
        start.wait()
        for i in range(RELOADS):
            engine.reload(FROZEN if i % 2 == 0 else OPEN)
            reloads += 1
        done.set()

    def checker(n: int) -> list[tuple[str, str, str, list[str], str]]:
        start.wait()
        seen = []
        i = 0
        # Check for as long as the reloads go on (and at least MIN_CHECKS_PER_THREAD times).
        while not done.is_set() or i < MIN_CHECKS_PER_THREAD:
            path = "src/a.py" if (i + n) % 2 == 0 else "x.env"
            d = check(engine, path)
            seen.append((path, d.policy_revision, d.decision, d.reasons, d.decision_id))
            i += 1
        return seen

    with ThreadPoolExecutor(max_workers=CHECKERS + 1) as pool:
        reload_future = pool.submit(reloader)
        futures = [pool.submit(checker, n) for n in range(CHECKERS)]
        results = [r for f in futures for r in f.result()]
        reload_future.result()

    assert done.is_set() and reloads == RELOADS
    assert len(results) >= CHECKERS * MIN_CHECKS_PER_THREAD
    revisions_seen = set()
    for path, revision, decision, reasons, _ in results:
        assert revision in valid, revision
        assert valid[revision][path] == (decision, reasons), (path, revision, decision, reasons)
        revisions_seen.add(revision)
    # Checks ran during the reloads and saw both bundles.
    assert revisions_seen == set(valid)
    # Decision ids are unique across threads.
    assert len({r[4] for r in results}) == len(results)
    # After the last reload (OPEN, as RELOADS is even) the engine is on the open bundle.
    assert engine.policy_revision == open_engine.policy_revision
    assert check(engine, "src/a.py").reasons == ["coders-read"]


def test_many_threads_share_one_engine_without_reloads() -> None:
    engine = Engine.load(BUNDLE, trust_caller_time=True)
    paths = ["src/a.py", "x.env", "README.md", "secrets/k"] * 200

    def run(path: str) -> tuple[str, list[str]]:
        d = check(engine, path)
        return d.decision, d.reasons

    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(run, paths))
    assert parallel == [run(p) for p in paths]

"""Pathological bundles: loading one fails with a code, reloading one leaves the
active snapshot answering. Each case runs in a child process, so a parser that
overflows the native stack fails the test instead of killing the runner."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from conftest import TESTS

LIMIT_CODES = {"input_too_deep", "input_too_large"}

# name -> Python expression for the strings that replace the good bundle's ones.
BUNDLES = {
    "policy with 600 nested parentheses": (
        '{"policies": \'@id("deep") permit (principal, action, resource) when { \''
        ' + "(" * 600 + "true" + ")" * 600 + " };"}'
    ),
    "policy with 50,000 nested parentheses": (
        '{"policies": \'@id("deep") permit (principal, action, resource) when { \''
        ' + "(" * 50_000 + "true" + ")" * 50_000 + " };"}'
    ),
    "schema with a 20,000-deep Set": (
        '{"schema": good["schema"] + "\\nentity Deep { a: " + "Set<" * 20_000 + "String"'
        ' + ">" * 20_000 + " };"}'
    ),
    "YAML inventory 100,000 deep": ('{"inventory": "agents: " + "[" * 100_000 + "]" * 100_000}'),
}


@pytest.mark.parametrize("name", list(BUNDLES))
def test_a_pathological_bundle_fails_with_a_code_and_reload_keeps_the_old_one(
    name: str,
) -> None:
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(TESTS)!r})
        from agentauthz import AuthzError, Engine
        from conftest import BUNDLE, NOW, REPO_RESOURCE, bundle_strings

        good = bundle_strings(BUNDLE)
        bad = {{**good, **({BUNDLES[name]})}}

        def attempt(f):
            try:
                f()
            except AuthzError as e:
                return e.code
            return None

        engine = Engine.load(BUNDLE, trust_caller_time=True)
        revision = engine.policy_revision
        out = {{"load": attempt(lambda: Engine.from_strings(**bad, trust_caller_time=True))}}
        print(json.dumps(out), flush=True)
        out["reload"] = attempt(lambda: engine.reload(bad))
        d = engine.check(agent="coder", action="read_file", resource=REPO_RESOURCE,
                         context={{"input": {{"path": "src/app.py"}}}}, now=NOW)
        out["after"] = [d.decision, d.reasons, engine.policy_revision == revision]
        print(json.dumps(out), flush=True)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    lines = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    assert proc.returncode == 0, (
        f"child died ({proc.returncode}) after {lines}: {proc.stderr[-1500:]}"
    )
    out = lines[-1]
    assert out["load"] in LIMIT_CODES, out
    assert out["reload"] in LIMIT_CODES, out
    assert out["after"] == ["allow", ["coders-read"], True], out

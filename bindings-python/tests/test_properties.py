"""Runs the Hypothesis property tests (hostile_properties.py) in a child
process: a crash there fails this test instead of killing the runner."""

from __future__ import annotations

import subprocess
import sys

from conftest import TESTS


def test_hostile_properties_in_a_child_process() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(TESTS / "hostile_properties.py"),
        ],
        cwd=TESTS.parent,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, (
        f"property run ended with {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"
    )
    assert " passed" in proc.stdout, proc.stdout[-2000:]

"""The README's Python snippets run, in order, from the repository root.

A block whose first line starts with ``# (illustrative`` needs a real chat model
and is only compiled.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from conftest import REPO

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_snippets() -> None:
    assert len(BLOCKS) >= 6


def test_readme_snippets_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(REPO)
    namespace: dict[str, object] = {"__name__": "readme"}
    ran = 0
    for i, block in enumerate(BLOCKS):
        code = compile(block, f"README.md[python block {i}]", "exec")
        if block.startswith("# (illustrative"):
            continue
        exec(code, namespace)
        ran += 1
    assert ran >= 6
    out = capsys.readouterr().out
    assert "<Decision allow" in out
    assert os.getcwd() == str(REPO)

"""The native module's source stays a thin adapter: short functions, no JSON round trip.

These read ``bindings-python/src/*.rs`` (the tests run from the source tree).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"
MAX_BODY_LINES = 30

_FN = re.compile(r"^\s*(?:pub(?:\([a-z]+\))?\s+)?(?:const\s+|async\s+|unsafe\s+)*fn\s+(\w+)")
_STRING = re.compile(r'b?"(?:\\.|[^"\\])*"')
_CHAR = re.compile(r"'(?:\\.|[^\\'])'")


def _code(line: str) -> str:
    """The line without comments, string and char literals (their braces do not count)."""
    line = _STRING.sub('""', line)
    line = _CHAR.sub("' '", line)
    return line.split("//", 1)[0]


def function_bodies(text: str) -> list[tuple[str, int, int]]:
    """``(name, first line, body lines)`` of every ``fn`` with a body, nested ones too."""
    lines = [_code(line) for line in text.splitlines()]
    out = []
    for start, line in enumerate(lines):
        m = _FN.match(line)
        if not m:
            continue
        # The body opens at the first `{` after the signature (a `;` first: no body).
        open_line, depth, end = None, 0, None
        for i in range(start, len(lines)):
            for ch in lines[i]:
                if open_line is None and ch == ";" and depth == 0:
                    break
                if ch == "{":
                    if open_line is None:
                        open_line = i
                    depth += 1
                elif ch == "}" and open_line is not None:
                    depth -= 1
                    if depth == 0:
                        end = i
                        break
            if end is not None or (open_line is None and ";" in lines[i]):
                break
        if open_line is not None and end is not None:
            out.append((m.group(1), start + 1, max(end - open_line - 1, 0)))
    return out


def _sources() -> list[Path]:
    return sorted(SRC.glob("*.rs"))


def test_the_checker_measures_bodies() -> None:
    text = "fn a() {\n    x;\n    y;\n}\nfn b() -> u8 { 1 }\nfn c(\n    v: u8,\n) -> u8 {\n"
    text += '    let s = "}{";\n    v\n}\n'
    assert function_bodies(text) == [("a", 1, 2), ("b", 5, 0), ("c", 6, 2)]
    long = "fn long() {\n" + "    x;\n" * (MAX_BODY_LINES + 1) + "}\n"
    assert function_bodies(long) == [("long", 1, MAX_BODY_LINES + 1)]


def test_native_sources_are_split() -> None:
    names = {p.name for p in _sources()}
    assert {"lib.rs", "engine.rs", "args.rs", "types.rs", "errors.rs"} <= names


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.name)
def test_no_native_function_is_long(path: Path) -> None:
    long = [
        f"{path.name}:{line} fn {name}: {body} lines"
        for name, line, body in function_bodies(path.read_text(encoding="utf-8"))
        if body > MAX_BODY_LINES
    ]
    assert long == []


# A typed value turned into JSON only to be read back into a typed value: the
# session and batch paths once did this. Python values go to typed core values
# (a free-form Python value is read into the core's type from the JSON value
# the walk in args.rs builds of it: one step, never back).
ROUND_TRIPS = (
    "serde_json::to_value",
    "serde_json::from_str",
    "serde_json::to_string",
    "check_value",
    "check_json",
    "check_batch_value",
    "check_session_value",
    "issue_session_value",
    "verify_session_value",
    "decision_to_value",
    "decision_from_value",
    "error_to_value",
)


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.name)
def test_no_json_round_trip_in_the_native_module(path: Path) -> None:
    text = "\n".join(_code(line) for line in path.read_text(encoding="utf-8").splitlines())
    assert [name for name in ROUND_TRIPS if name in text] == []

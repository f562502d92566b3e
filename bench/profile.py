"""Where Engine::check's instructions go, from callgrind profiles (`make -C bench profile`).

    python3 profile.py [--readme README.md] [--top N] NAME=FILE.callgrind ...

Each FILE is a callgrind output recorded with `--collect-atstart=no
--toggle-collect=*::Engine::check`, so only the checks count (not loading the
bundle). Instruction counts are stable where timings are not (shared, noisy
machines), so they show what an optimisation changed. Per profile: the
instructions per check (total / calls of Engine::check, read from the file),
then the functions with the most instructions of their own (self) and the most
below them (inclusive). Prints Markdown; with --readme, replaces the part of
that file between `<!-- profile -->` and `<!-- /profile -->`. Needs
`callgrind_annotate` (valgrind). Standard library only.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
from pathlib import Path

# The functions profiled (one per run): a check, or a check with a session token.
ANCHORS = ("::Engine::check", "::Engine::check_session")
LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?)\s*$")


def calls_of_anchor(path: Path) -> int:
    """Calls of the anchor, from the `cfn=` / `calls=` lines of the profile."""
    names: dict[str, str] = {}
    callee = None
    total = 0
    with path.open(errors="replace") as f:
        for line in f:
            m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?", line)
            if m:
                if m.group(3):
                    names[m.group(2)] = m.group(3).strip()
                if m.group(1) == "cfn":
                    callee = names.get(m.group(2))
                continue
            if line.startswith("calls=") and callee and callee.endswith(ANCHORS):
                total += int(line[6:].split()[0])
    return total


def clean(name: str) -> str:
    name = re.sub(r"\s+\[[^\]]*\]$", "", name)
    m = re.match(r"^([^:]*):(?!:)(.*)$", name)
    if m:
        name = m.group(2)
    name = re.sub(r"<([^<>]*)>", lambda x: "<" + x.group(1).split("::")[-1] + ">", name)
    return name if len(name) <= 100 else name[:99] + "…"


def annotate(path: Path, inclusive: bool) -> list[tuple[int, str]]:
    cmd = ["callgrind_annotate", "--threshold=100", f"--inclusive={'yes' if inclusive else 'no'}", str(path)]
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        if m and "PROGRAM TOTALS" not in m.group(2):
            out.append((int(m.group(1).replace(",", "")), m.group(2)))
    return out


def section(name: str, path: Path, top: int) -> tuple[list[str], int, int]:
    calls = calls_of_anchor(path)
    incl = annotate(path, True)
    anchor = next((ir for ir, n in incl if clean(n).endswith(ANCHORS)), 0)
    per = max(calls, 1)
    own: collections.Counter[str] = collections.Counter()
    for ir, n in annotate(path, False):
        own[re.sub(r"'\d+$", "", clean(n))] += ir
    below = [
        (ir, clean(n))
        for ir, n in incl
        if not re.search(r"'\d+\s", n + " ") and (ir < anchor or clean(n).endswith(ANCHORS))
    ]
    lines = [
        f"#### {name}: {anchor / per:,.0f} instructions per check ({anchor:,} over {calls:,} checks)",
        "",
        "| self per check | self % | function |",
        "|---:|---:|---|",
    ]
    for n, ir in own.most_common(top):
        lines.append(f"| {ir / per:,.0f} | {100 * ir / max(anchor, 1):.1f}% | `{n}` |")
    lines += ["", "| inclusive per check | inclusive % | function |", "|---:|---:|---|"]
    for ir, n in sorted(below, reverse=True)[:top]:
        lines.append(f"| {ir / per:,.0f} | {100 * ir / max(anchor, 1):.1f}% | `{n}` |")
    lines.append("")
    return lines, anchor, calls


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("profiles", nargs="+", help="NAME=FILE.callgrind")
    p.add_argument("--readme", type=Path)
    p.add_argument("--top", type=int, default=15)
    args = p.parse_args()
    summary = ["| profile | instructions per check | checks |", "|---|---:|---:|"]
    body: list[str] = []
    for item in args.profiles:
        name, _, file = item.partition("=")
        path = Path(file)
        if not path.is_file():
            print(f"missing profile {path}", file=sys.stderr)
            return 1
        lines, anchor, calls = section(name, path, args.top)
        summary.append(f"| {name} | {anchor / max(calls, 1):,.0f} | {calls:,} |")
        body += lines
    text = "\n".join([*summary, "", *body])
    print(text)
    if args.readme:
        readme = args.readme.read_text()
        start, end = "<!-- profile -->", "<!-- /profile -->"
        if start not in readme or end not in readme:
            print(f"{args.readme}: no {start} … {end} section", file=sys.stderr)
            return 1
        head, rest = readme.split(start, 1)
        _, tail = rest.split(end, 1)
        args.readme.write_text(f"{head}{start}\n{text}\n{end}{tail}")
        print(f"\nwritten to {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

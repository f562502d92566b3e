"""Where the time of one function goes, from `perf script` output (dwarf call graphs).

    perf script -i perf.data | python3 profile.py [--anchor SYMBOL] [--top N]

Only samples whose stack contains the anchor (default agentauthz's
`Engine::check`) count, so loading the bundle is left out. Prints the anchor's
direct callees, then the functions below it by inclusive share (a function
counts once per sample). Standard library only.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys


def samples(lines):
    stack: list[str] = []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if stack:
                yield stack
            stack = []
            continue
        if line.startswith((" ", "\t")):
            parts = line.strip().split(None, 1)
            if len(parts) == 2:
                sym = re.sub(r"\+0x[0-9a-f]+$", "", parts[1].rsplit(" (", 1)[0])
                stack.append(sym)
    if stack:
        yield stack


def short(sym: str, width: int = 110) -> str:
    sym = re.sub(r"<([^<>]*)>", lambda m: "<" + m.group(1).split("::")[-1] + ">", sym)
    return sym if len(sym) <= width else sym[: width - 1] + "…"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--anchor", default="agentauthz::engine::Engine::check")
    p.add_argument("--top", type=int, default=30)
    args = p.parse_args()

    total = 0
    direct: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    for stack in samples(sys.stdin):  # leaf first
        at = [i for i, s in enumerate(stack) if s.startswith(args.anchor)]
        if not at:
            continue
        outer = at[-1]
        total += 1
        direct[stack[outer - 1] if outer > 0 else "(self)"] += 1
        for sym in set(stack[:outer]):
            inclusive[sym] += 1
    if not total:
        print(f"no samples under {args.anchor}", file=sys.stderr)
        return 1
    print(f"{total} samples under {args.anchor}\n\ndirect callees:")
    for sym, n in direct.most_common(12):
        print(f"  {100 * n / total:5.1f}%  {short(sym)}")
    print("\ninclusive, below the anchor:")
    for sym, n in inclusive.most_common(args.top):
        print(f"  {100 * n / total:5.1f}%  {short(sym)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

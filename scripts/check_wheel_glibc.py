"""Fails when a wheel's native library needs a newer glibc than its platform tag says.

    python3 scripts/check_wheel_glibc.py WHEEL...

Reads the GLIBC_x.y symbol versions each shared object in the wheel needs
(`readelf -V`, binutils) and compares the newest with the tag: manylinux2014 and
manylinux_2_17 mean glibc 2.17, manylinux_2_X means 2.X; a musllinux wheel must
need no glibc at all. Prints one line per wheel. Standard library only.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


def tag_glibc(platforms: list[str]) -> tuple[int, int] | None:
    """The oldest glibc the platform tags promise (None: a musllinux wheel)."""
    promised = []
    for p in platforms:
        if p.startswith("musllinux_"):
            return None
        m = re.match(r"manylinux_(\d+)_(\d+)_", p)
        if m:
            promised.append((int(m.group(1)), int(m.group(2))))
        elif p.split("_")[0] in LEGACY:
            promised.append(LEGACY[p.split("_")[0]])
        else:
            raise SystemExit(f"not a Linux wheel tag: {p}")
    return min(promised)


def needed_glibc(library: Path) -> tuple[int, int] | None:
    out = subprocess.run(
        ["readelf", "-V", "--wide", str(library)], check=True, capture_output=True, text=True
    ).stdout
    versions = {tuple(map(int, v)) for v in re.findall(r"GLIBC_(\d+)\.(\d+)", out)}
    return max(versions) if versions else None  # type: ignore[return-value]


def check(wheel: Path) -> str | None:
    platforms = wheel.stem.split("-")[-1].split(".")
    promised = tag_glibc(platforms)
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as z:
        libraries = [n for n in z.namelist() if re.search(r"\.so(\.|$)", n)]
        if not libraries:
            return f"{wheel.name}: no shared object inside"
        needed = None
        for name in libraries:
            need = needed_glibc(Path(z.extract(name, tmp)))
            if need and (needed is None or need > needed):
                needed = need
    shown = "none" if needed is None else f"{needed[0]}.{needed[1]}"
    if promised is None:
        if needed is not None:
            return f"{wheel.name}: tagged musllinux but needs glibc {shown}"
    elif needed is not None and needed > promised:
        return f"{wheel.name}: tagged glibc {promised[0]}.{promised[1]} but needs glibc {shown}"
    print(f"{wheel.name}: needs glibc {shown}; tag ok")
    return None


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    errors = [e for e in map(check, map(Path, sys.argv[1:])) if e]
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

"""Fails when a native artifact does not match its platform tag.

    python3 scripts/check_wheel_glibc.py ARTIFACT...

ARTIFACT is a wheel (.whl) or a napi-rs Node addon (agentauthz.<platform>.node).
For each shared object inside, from its ELF headers (`readelf`, binutils, reads
any architecture):

- the ELF machine is the tag's architecture (x86_64 or aarch64);
- every NEEDED library belongs to the tag's C library: glibc's own libraries
  (libc.so.6, libm, libpthread, libdl, librt, libutil, the loader) and
  libgcc_s, or musl's libc (libc.so, libc.musl-<arch>.so.1); anything else may be
  missing on the user's system;
- the newest GLIBC_x.y symbol version needed is no newer than the tag promises:
  manylinux2014 and manylinux_2_17 mean glibc 2.17, manylinux_2_X means 2.X;
  a musl artifact needs no glibc version at all.

Node addons are tagged by their napi-rs file name: linux-x64-gnu and
linux-arm64-gnu are built for glibc 2.17 (zig), linux-x64-musl for musl.
Prints one line per artifact. Standard library only.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

LEGACY = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
# The glibc the gnu Node addons are linked against (zig's x86_64-unknown-linux-gnu.2.17).
NODE_GLIBC = (2, 17)
NODE_ARCH = {"x64": "x86_64", "arm64": "aarch64"}
ELF_MACHINE = {62: "x86_64", 183: "aarch64"}
GLIBC_LIBS = {
    "libc.so.6",
    "libm.so.6",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "libutil.so.1",
    "libgcc_s.so.1",
}
GLIBC_LOADER = {"x86_64": "ld-linux-x86-64.so.2", "aarch64": "ld-linux-aarch64.so.1"}


@dataclass(frozen=True)
class Tag:
    arch: str
    glibc: tuple[int, int] | None  # None: musl

    def allowed(self) -> set[str]:
        if self.glibc is None:
            # zig links musl's libc as libc.so; Alpine's name is libc.musl-<arch>.so.1.
            return {"libc.so", f"libc.musl-{self.arch}.so.1"}
        return GLIBC_LIBS | {GLIBC_LOADER[self.arch]}

    def __str__(self) -> str:
        libc = "musl" if self.glibc is None else f"glibc {self.glibc[0]}.{self.glibc[1]}"
        return f"{self.arch} {libc}"


def wheel_tag(platforms: list[str]) -> Tag:
    """The oldest glibc and the architecture the wheel's platform tags promise."""
    tags = []
    for p in platforms:
        m = re.fullmatch(
            r"(musllinux_\d+_\d+|manylinux_(\d+)_(\d+)|manylinux\d+)_(x86_64|aarch64)", p
        )
        if not m:
            raise SystemExit(f"not a Linux wheel tag: {p}")
        if p.startswith("musllinux_"):
            glibc = None
        elif m.group(2):
            glibc = (int(m.group(2)), int(m.group(3)))
        elif m.group(1) in LEGACY:
            glibc = LEGACY[m.group(1)]
        else:
            raise SystemExit(f"unknown manylinux tag: {p}")
        tags.append(Tag(m.group(4), glibc))
    if len({t.arch for t in tags}) != 1 or len({t.glibc is None for t in tags}) != 1:
        raise SystemExit(f"mixed platform tags: {'.'.join(platforms)}")
    glibcs = [t.glibc for t in tags if t.glibc is not None]
    return Tag(tags[0].arch, min(glibcs) if glibcs else None)


def node_tag(name: str) -> Tag:
    m = re.fullmatch(r"[\w-]+\.linux-(x64|arm64)-(gnu|musl)\.node", name)
    if not m:
        raise SystemExit(f"not a Linux napi-rs addon name: {name}")
    return Tag(NODE_ARCH[m.group(1)], NODE_GLIBC if m.group(2) == "gnu" else None)


def readelf(*args: str) -> str:
    return subprocess.run(
        ["readelf", "--wide", *args], check=True, capture_output=True, text=True
    ).stdout


def elf_machine(library: Path) -> str:
    head = library.read_bytes()[:20]
    if head[:4] != b"\x7fELF" or head[4] != 2:
        return "not a 64-bit ELF file"
    machine = int.from_bytes(head[18:20], "little" if head[5] == 1 else "big")
    return ELF_MACHINE.get(machine, f"ELF machine {machine}")


def problems(library: Path, tag: Tag) -> tuple[list[str], tuple[int, int] | None]:
    """What is wrong with one shared object for its tag, and the newest glibc it needs."""
    found = []
    machine = elf_machine(library)
    if machine != tag.arch:
        found.append(f"is {machine}")
    needed = set(
        re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", readelf("-d", str(library)))
    )
    if foreign := sorted(needed - tag.allowed()):
        found.append(f"needs {', '.join(foreign)}")
    versions = {
        tuple(map(int, v)) for v in re.findall(r"GLIBC_(\d+)\.(\d+)", readelf("-V", str(library)))
    }
    newest = max(versions) if versions else None
    if newest is not None and (tag.glibc is None or newest > tag.glibc):
        found.append(f"needs glibc {newest[0]}.{newest[1]}")
    return found, newest  # type: ignore[return-value]


def check(artifact: Path) -> str | None:
    with tempfile.TemporaryDirectory() as tmp:
        if artifact.suffix == ".whl":
            tag = wheel_tag(artifact.stem.split("-")[-1].split("."))
            with zipfile.ZipFile(artifact) as z:
                names = [n for n in z.namelist() if re.search(r"\.so(\.|$)", n)]
                libraries = [Path(z.extract(n, tmp)) for n in names]
        else:
            tag = node_tag(artifact.name)
            libraries = [artifact]
        if not libraries:
            return f"{artifact.name}: no shared object inside"
        found: list[str] = []
        newest = None
        for library in libraries:
            issues, need = problems(library, tag)
            found += [f"{library.name} {issue}" for issue in issues]
            if need and (newest is None or need > newest):
                newest = need
    if found:
        return f"{artifact.name}: tagged {tag}, but " + "; ".join(found)
    shown = "no glibc" if newest is None else f"glibc {newest[0]}.{newest[1]}"
    print(f"{artifact.name}: {tag.arch}, needs {shown}; tag {tag} ok")
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

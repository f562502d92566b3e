"""Writes the files every package carries from their one source.

The version is the workspace's (Cargo.toml `[workspace.package] version`):
pyproject.toml reads it through maturin, the WASM package's build writes it,
and this script puts it into the Node package's package.json and lock file.
LICENSE and NOTICE are copied next to each package's manifest, because wheels,
sdists and npm tarballs only ship files from their own directory.

    python3 scripts/release_files.py           # write
    python3 scripts/release_files.py --check   # exit 1 when a file differs
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIRS = ("bindings-python", "bindings-node")
LEGAL = ("LICENSE", "NOTICE")


def workspace_version() -> str:
    with (ROOT / "Cargo.toml").open("rb") as f:
        return str(tomllib.load(f)["workspace"]["package"]["version"])


def json_text(value: object) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def wanted() -> dict[Path, str]:
    version = workspace_version()
    files: dict[Path, str] = {}
    for name in LEGAL:
        text = (ROOT / name).read_text()
        for d in PACKAGE_DIRS:
            files[ROOT / d / name] = text
    manifest = ROOT / "bindings-node/package.json"
    package = json.loads(manifest.read_text())
    package["version"] = version
    files[manifest] = json_text(package)
    # napi's per-platform packages (bindings-node/npm/*, from `napi create-npm-dirs`).
    for platform in sorted((ROOT / "bindings-node/npm").glob("*/package.json")):
        sub = json.loads(platform.read_text())
        sub["version"] = version
        sub["files"] = [f for f in sub["files"] if f not in LEGAL] + list(LEGAL)
        files[platform] = json_text(sub)
        for name in LEGAL:
            files[platform.parent / name] = (ROOT / name).read_text()
    lock_path = ROOT / "bindings-node/package-lock.json"
    lock = json.loads(lock_path.read_text())
    lock["version"] = version
    lock["packages"][""]["version"] = version
    files[lock_path] = json_text(lock)
    return files


def main() -> int:
    check = sys.argv[1:] == ["--check"]
    stale = []
    for path, text in wanted().items():
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path.relative_to(ROOT))
        if not check:
            path.write_text(text)
    if check and stale:
        print("stale release files (run: python3 scripts/release_files.py):", file=sys.stderr)
        for p in stale:
            print(f"  {p}", file=sys.stderr)
        return 1
    for p in [] if check else stale:
        print(f"wrote {p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Cross-builds the Linux release artifacts of the other targets with zig, as the
# release workflow does (aarch64 glibc: manylinux2014; x86_64 musl: musllinux_1_2):
# the abi3 wheel and the napi-rs addon's per-platform npm package of each, into
# OUT. Then checks each one:
# - its tag against what its library needs (scripts/check_wheel_glibc.py);
# - aarch64: the shared vectors and scenarios run through the installed wheel and
#   npm packages under qemu-user, on a Debian arm64 sysroot's Python and Node.js;
# - x86_64 musl: musl's loader, which has no Python or Node.js here, loads each
#   library and must resolve every symbol but those its host process provides
#   (Python's C API, Node-API); the glibc build must fail the same check.
# Needs `make package-tools`. Usage:
#   scripts/package-cross.sh OUT_DIR WORK_DIR CARGO_TARGET_DIR ARM64_SYSROOT
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(realpath -m "$1") WORK=$(realpath -m "$2") TARGET_DIR=$(realpath -m "$3")
SYSROOT=$(realpath "$4")/root
VENV=$ROOT/bindings-python/.venv
NAPI=$ROOT/bindings-node/node_modules/.bin/napi
MUSL_LD=/lib/ld-musl-x86_64.so.1
# cargo-zigbuild (napi-rs cross-compiles through it) and the venv's python3,
# which has ziglang (cargo-zigbuild finds zig as `python3 -m ziglang`).
export PATH=$TARGET_DIR/tools/bin:$VENV/bin:$PATH
unset CARGO_BUILD_TARGET
rm -rf "$WORK" && mkdir -p "$WORK" "$OUT"

# target, wheel compatibility, napi platform name, the target as cargo-zigbuild
# takes it for the addon (a glibc target pinned to 2.17, as maturin's manylinux2014)
TARGETS=(
  "aarch64-unknown-linux-gnu manylinux2014 linux-arm64-gnu aarch64-unknown-linux-gnu.2.17"
  "x86_64-unknown-linux-musl musllinux_1_2 linux-x64-musl x86_64-unknown-linux-musl"
)

for spec in "${TARGETS[@]}"; do
  read -r target compat platform zig_target <<<"$spec"
  echo "== $target: wheel ($compat)"
  (cd "$ROOT/bindings-python" && CARGO_TARGET_DIR=$TARGET_DIR/package \
    "$VENV/bin/maturin" build --release --zig --target "$target" --compatibility "$compat" --out "$WORK/wheels-$target")
  wheel=$(echo "$WORK/wheels-$target"/*.whl)
  python3 "$ROOT/scripts/check_wheel_glibc.py" "$wheel"
  cp "$wheel" "$OUT/"

  echo "== $target: npm package agentauthz-$platform"
  (cd "$ROOT/bindings-node" && CARGO_TARGET_DIR=$TARGET_DIR/package \
    "$NAPI" build --platform --release --strip --target "$zig_target" --cross-compile --no-js \
    --output-dir "$WORK/addon-$target")
  addon=$WORK/addon-$target/agentauthz.$platform.node
  python3 "$ROOT/scripts/check_wheel_glibc.py" "$addon"
  pkg=$WORK/npm-$platform
  cp -r "$ROOT/bindings-node/npm/$platform" "$pkg"
  cp "$addon" "$pkg/"
  (cd "$pkg" && npm pack --silent --pack-destination "$OUT" >/dev/null)
done

arm64() { QEMU_LD_PREFIX=$SYSROOT qemu-aarch64-static "$@"; }
echo "== aarch64: the installed wheel under qemu-user ($(arm64 "$SYSROOT/usr/bin/python3.11" -V))"
site=$WORK/arm64/site-packages
pins=$(grep -E '^(pytest|pytest-asyncio)==' "$ROOT/bindings-python/requirements-test.txt")
python3 -m pip install --quiet --disable-pip-version-check --target "$site" --no-deps \
  --platform manylinux2014_aarch64 --only-binary=:all: "$(echo "$OUT"/agentauthz-*-manylinux*_aarch64.whl)"
# pytest and its dependencies are pure Python: the same files serve both machines.
python3 -m pip install --quiet --disable-pip-version-check --target "$site" $pins
PYTHONPATH=$site arm64 "$SYSROOT/usr/bin/python3.11" -c "
import platform, agentauthz
assert platform.machine() == 'aarch64', platform.machine()
assert agentauthz.__file__.startswith('$site/'), agentauthz.__file__
print('loaded', agentauthz.__file__, 'on', platform.machine())"
(cd "$ROOT/bindings-python" && PYTHONPATH=$site arm64 "$SYSROOT/usr/bin/python3.11" -m pytest \
  -p no:cacheprovider -q tests/test_vectors.py tests/test_scenarios.py)

echo "== aarch64: the npm packages under qemu-user (Node.js $(arm64 "$SYSROOT/usr/bin/node" --version))"
project=$WORK/arm64/node
mkdir -p "$project/node_modules/agentauthz" "$project/node_modules/agentauthz-linux-arm64-gnu"
echo '{"name": "install-check", "private": true}' >"$project/package.json"
main_tgz=$(cd "$ROOT/bindings-node" && npm pack --silent --pack-destination "$WORK")
tar xzf "$WORK/$main_tgz" -C "$project/node_modules/agentauthz" --strip-components 1
tar xzf "$OUT"/agentauthz-linux-arm64-gnu-*.tgz -C "$project/node_modules/agentauthz-linux-arm64-gnu" --strip-components 1
(cd "$project" && arm64 "$SYSROOT/usr/bin/node" -e "
const native = require.resolve('agentauthz-linux-arm64-gnu')
const { Engine } = require('agentauthz')
if (process.arch !== 'arm64' || typeof Engine !== 'function') process.exit(1)
console.log('loaded', native, 'on', process.arch)")
# Each file runs in this process: `node --test` would start its workers with
# the arm64 binary directly, which this host cannot execute without qemu.
for t in __test__/vectors.test.js __test__/scenarios.test.js; do
  (cd "$ROOT/bindings-node" && AGENTAUTHZ_NODE_PROJECT=$project arm64 "$SYSROOT/usr/bin/node" "$t")
done

echo "== x86_64 musl: musl's loader resolves the libraries"
# Prints the symbols left unresolved under musl, or fails when a library
# cannot be loaded at all (a glibc-only dependency).
unresolved() {
  local text
  text=$("$MUSL_LD" --list "$1" 2>&1 || true)
  if grep -q 'Error loading shared library' <<<"$text"; then
    grep 'Error loading' <<<"$text" >&2
    return 1
  fi
  sed -n 's/^Error relocating [^:]*: \([^:]*\): symbol not found$/\1/p' <<<"$text"
}
musl_loads() {
  local missing
  missing=$(unresolved "$1") || return 1
  missing=$(grep -Ev '^(_?Py|napi_|node_api_)' <<<"$missing" || true)
  if [ -n "$missing" ]; then
    echo "$1 needs symbols musl does not have:" >&2
    echo "$missing" >&2
    return 1
  fi
}
mkdir -p "$WORK/musl"
python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
z.extractall(sys.argv[2], [n for n in z.namelist() if n.endswith(".so")])' \
  "$(echo "$OUT"/agentauthz-*-musllinux_1_2_x86_64.whl)" "$WORK/musl"
for lib in "$WORK"/musl/agentauthz/*.so "$WORK/addon-x86_64-unknown-linux-musl/agentauthz.linux-x64-musl.node"; do
  musl_loads "$lib"
  echo "ok: $(basename "$lib") loads under musl (only Python/Node-API symbols left to its host)"
done
# The check can fail: the glibc addon of this machine does not load under musl.
glibc_addon=$(echo "$ROOT"/bindings-node/agentauthz.linux-x64-gnu.node)
if musl_loads "$glibc_addon" 2>/dev/null; then
  echo "the musl check accepted the glibc addon $glibc_addon" >&2
  exit 1
fi

echo "== built"
ls -l "$OUT"/*aarch64*.whl "$OUT"/*musllinux*.whl "$OUT"/agentauthz-linux-*.tgz

#!/usr/bin/env bash
# Installs the built packages into fresh environments outside the source tree and
# runs the shared vectors and scenarios through them: the Python wheel into a new
# venv, the Node and WASM tarballs (`npm pack`) into a new npm project each.
# Also checks each wheel's glibc needs against its tag, and that the checker
# refuses a wheel whose tag promises an older glibc than it needs.
# With an sdist, checks it carries the licence files and a workspace cargo can resolve.
# Usage: scripts/install-check.sh WORKDIR PYTHON_WHEEL NODE_PACKAGE_DIR WASM_PACKAGE_DIR [SDIST]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$1 WHEEL=$(realpath "$2") NODE_DIR=$(realpath "$3") WASM_DIR=$(realpath "$4") SDIST=${5:-}
PYTHON=${PYTHON:-python3}
rm -rf "$WORK" && mkdir -p "$WORK" && WORK=$(realpath "$WORK")

echo "== wheel tag against its glibc needs"
"$PYTHON" "$ROOT/scripts/check_wheel_glibc.py" "$WHEEL"
case "$(basename "$WHEEL")" in
  *manylinux*)
    older="$WORK/$(basename "$WHEEL" | sed -E 's/-[^-]+\.whl$/-manylinux1_x86_64.whl/')"
    cp "$WHEEL" "$older"
    if "$PYTHON" "$ROOT/scripts/check_wheel_glibc.py" "$older" 2>/dev/null; then
      echo "the glibc check accepted a wheel tagged manylinux1 (glibc 2.5)" >&2; exit 1
    fi
    rm "$older" ;;
esac

if [ -n "$SDIST" ]; then
  echo "== sdist: $(basename "$SDIST")"
  mkdir "$WORK/sdist" && tar xzf "$SDIST" -C "$WORK/sdist"
  top=$(echo "$WORK"/sdist/*/)
  for f in LICENSE NOTICE pyproject.toml Cargo.toml Cargo.lock PKG-INFO core/src/lib.rs bindings-python/src/lib.rs; do
    test -s "$top/$f" || { echo "sdist: $f missing" >&2; exit 1; }
  done
  grep -qx 'License-Expression: Apache-2.0' "$top/PKG-INFO" || { echo "sdist: no License-Expression" >&2; exit 1; }
  cargo metadata --offline --format-version 1 --manifest-path "$top/Cargo.toml" >/dev/null
fi

echo "== Python: $(basename "$WHEEL") in a fresh venv"
"$PYTHON" -m venv "$WORK/venv"
pins=$(grep -E '^(pytest|pytest-asyncio)==' "$ROOT/bindings-python/requirements-test.txt")
"$WORK/venv/bin/python" -m pip install --quiet --disable-pip-version-check "$WHEEL" $pins
# The tests come from the source tree; the package from the venv (test_installed checks).
(cd "$ROOT/bindings-python" && AGENTAUTHZ_INSTALLED_PREFIX="$WORK/venv" \
  "$WORK/venv/bin/python" -m pytest -p no:cacheprovider -q \
  tests/test_installed.py tests/test_vectors.py tests/test_scenarios.py)

for kind in node wasm; do
  dir=$NODE_DIR name=agentauthz var=AGENTAUTHZ_NODE_PROJECT
  [ "$kind" = wasm ] && dir=$WASM_DIR name=agentauthz-wasm var=AGENTAUTHZ_WASM_PROJECT
  echo "== npm: $name from its tarball in a fresh project"
  tarball=$(cd "$dir" && npm pack --silent --pack-destination "$WORK")
  mkdir "$WORK/$kind" && echo '{"name": "install-check", "private": true}' > "$WORK/$kind/package.json"
  (cd "$WORK/$kind" && npm install --silent --no-audit --no-fund "$WORK/$tarball")
  for f in LICENSE NOTICE README.md; do
    test -s "$WORK/$kind/node_modules/$name/$f" || { echo "$name: $f missing from the tarball" >&2; exit 1; }
  done
  if [ "$kind" = node ]; then
    (cd "$ROOT/bindings-node" && env "$var=$WORK/$kind" node --test __test__/vectors.test.js __test__/scenarios.test.js)
  else
    (cd "$ROOT" && env "$var=$WORK/$kind" node --test bindings-wasm/tests/node/vectors.test.mjs bindings-wasm/tests/node/scenarios.test.mjs)
  fi
  # Prove the tests loaded the installed copy, not the source tree.
  (cd "$WORK/$kind" && node -e "const p = require.resolve('$name'); if (!p.startsWith('$WORK/$kind/node_modules/')) { console.error('resolved ' + p); process.exit(1) }")
done
ls -l "$WORK"/*.tgz "$WHEEL" $SDIST

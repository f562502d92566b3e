#!/usr/bin/env bash
# Assembles pkg/ from the cargo-built .wasm: wasm-bindgen for the `web` and
# `nodejs` targets, wasm-opt -Oz (cached by input hash: it takes ~1 min),
# the shared JS layer and the TypeScript loader compiled for each, and the package.json.
# Usage: scripts/build-pkg.sh WASM_BINDGEN INPUT_WASM CACHE_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
WASM_BINDGEN=$1 INPUT=$2 CACHE=$3
mkdir -p "$CACHE"
rm -rf pkg
for target in web nodejs; do
  out=pkg/$([ "$target" = nodejs ] && echo node || echo web)
  "$WASM_BINDGEN" "$INPUT" --target "$target" --out-dir "$out" --experimental-reset-state-function
done
# Both targets produce the same module bytes; optimize once.
cmp -s pkg/web/agentauthz_wasm_bg.wasm pkg/node/agentauthz_wasm_bg.wasm
hash=$(sha256sum pkg/node/agentauthz_wasm_bg.wasm | cut -c1-16)
optimized=$CACHE/agentauthz_wasm_bg.$hash.opt.wasm
if [ ! -f "$optimized" ]; then
  echo "wasm-opt -Oz ($(stat -c %s pkg/node/agentauthz_wasm_bg.wasm) bytes in)"
  node_modules/.bin/wasm-opt -Oz pkg/node/agentauthz_wasm_bg.wasm -o "$optimized.tmp"
  mv "$optimized.tmp" "$optimized"
fi
cp "$optimized" pkg/node/agentauthz_wasm_bg.wasm
cp "$optimized" pkg/web/agentauthz_wasm_bg.wasm
# The shared JS layer (../bindings-js) is compiled into each build's shared/
# (CommonJS for node/, ES modules for web/); js/*.ts import it from there.
node_modules/.bin/tsc -p ../bindings-js/tsconfig.cjs.json --outDir pkg/node/shared
node_modules/.bin/tsc -p ../bindings-js/tsconfig.esm.json --outDir pkg/web/shared
node_modules/.bin/tsc -p tsconfig.node.json
node_modules/.bin/tsc -p tsconfig.web.json
echo '{"type": "commonjs"}' > pkg/node/package.json
echo '{"type": "module"}' > pkg/web/package.json
version=$(sed -n 's/^version = "\(.*\)"/\1/p' ../Cargo.toml | head -1)
cat > pkg/package.json <<JSON
{
  "name": "agentauthz-wasm",
  "version": "$version",
  "description": "agentauthz for browsers and edge runtimes: identity-based authorization for AI agents, on Cedar (WASM)",
  "license": "Apache-2.0",
  "author": "The agentauthz authors",
  "homepage": "https://github.com/agentauthz/agentauthz#readme",
  "repository": { "type": "git", "url": "git+https://github.com/agentauthz/agentauthz.git", "directory": "bindings-wasm" },
  "bugs": { "url": "https://github.com/agentauthz/agentauthz/issues" },
  "keywords": ["authorization", "cedar", "ai-agents", "policy", "security", "wasm", "zero-trust"],
  "publishConfig": { "access": "public", "provenance": true },
  "main": "./node/node.js",
  "module": "./web/web.js",
  "browser": "./web/web.js",
  "types": "./node/node.d.ts",
  "exports": {
    ".": {
      "node": { "types": "./node/node.d.ts", "default": "./node/node.js" },
      "default": { "types": "./web/web.d.ts", "default": "./web/web.js" }
    },
    "./web": { "types": "./web/web.d.ts", "default": "./web/web.js" },
    "./node": { "types": "./node/node.d.ts", "default": "./node/node.js" },
    "./ai-sdk": {
      "node": { "types": "./node/ai-sdk.d.ts", "default": "./node/ai-sdk.js" },
      "default": { "types": "./web/ai-sdk.d.ts", "default": "./web/ai-sdk.js" }
    },
    "./openai-agents": {
      "node": { "types": "./node/openai-agents.d.ts", "default": "./node/openai-agents.js" },
      "default": { "types": "./web/openai-agents.d.ts", "default": "./web/openai-agents.js" }
    },
    "./langchain": {
      "node": { "types": "./node/langchain.d.ts", "default": "./node/langchain.js" },
      "default": { "types": "./web/langchain.d.ts", "default": "./web/langchain.js" }
    }
  },
  "peerDependencies": { "langchain": "^1.0.0", "@langchain/langgraph": "^1.0.0" },
  "peerDependenciesMeta": { "langchain": { "optional": true }, "@langchain/langgraph": { "optional": true } },
  "files": ["node/", "web/", "README.md", "LICENSE", "NOTICE"],
  "sideEffects": ["./node/node.js", "./web/web.js"]
}
JSON
cp README.md pkg/README.md
cp ../LICENSE ../NOTICE pkg/
raw=$(stat -c %s pkg/web/agentauthz_wasm_bg.wasm)
gz=$(gzip -9 -c pkg/web/agentauthz_wasm_bg.wasm | wc -c)
echo "pkg/: agentauthz_wasm_bg.wasm $raw bytes raw, $gz bytes gzip -9"

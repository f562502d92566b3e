// The size budget: the optimized .wasm must stay within 2 MB gzipped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGET_GZIP = 2_000_000;

test("the .wasm fits the 2 MB gzipped budget", (t) => {
  const wasm = readFileSync(new URL("../../pkg/web/agentauthz_wasm_bg.wasm", import.meta.url));
  const gz = gzipSync(wasm, { level: 9 }).length;
  t.diagnostic(`agentauthz_wasm_bg.wasm: ${wasm.length} bytes raw, ${gz} bytes gzipped`);
  assert.ok(gz <= BUDGET_GZIP, `${gz} bytes gzipped exceeds ${BUDGET_GZIP}`);
  // Both builds ship the same optimized module.
  const node = readFileSync(new URL("../../pkg/node/agentauthz_wasm_bg.wasm", import.meta.url));
  assert.ok(node.equals(wasm));
});

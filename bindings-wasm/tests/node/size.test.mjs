// The size budget: the optimized .wasm must stay within 2.25 MiB gzipped. With
// IdP token verification (RSA, ECDSA, EdDSA) it was 2.02 MB; signed-bundle
// verification (gzip, tar), approvals and metrics bring it to 2.13 MB.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const BUDGET_GZIP = 2.25 * 1024 * 1024;

test("the .wasm fits the 2.25 MiB gzipped budget", (t) => {
  const wasm = readFileSync(new URL("../../pkg/web/agentauthz_wasm_bg.wasm", import.meta.url));
  const gz = gzipSync(wasm, { level: 9 }).length;
  t.diagnostic(`agentauthz_wasm_bg.wasm: ${wasm.length} bytes raw, ${gz} bytes gzipped`);
  assert.ok(gz <= BUDGET_GZIP, `${gz} bytes gzipped exceeds ${BUDGET_GZIP}`);
  // Both builds ship the same optimized module.
  const node = readFileSync(new URL("../../pkg/node/agentauthz_wasm_bg.wasm", import.meta.url));
  assert.ok(node.equals(wasm));
});

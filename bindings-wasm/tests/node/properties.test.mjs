// Runs the fast-check property tests (tests/lib/hostile-properties.cjs) in a
// child process: a crash there fails this test instead of killing the runner.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

test("any value into any export: an AuthzError with a known code, and the engine still decides (child process)", () => {
  const script = fileURLToPath(new URL("../lib/hostile-properties.cjs", import.meta.url));
  const r = spawnSync(process.execPath, [script], { encoding: "utf8", timeout: 300_000, maxBuffer: 1 << 24 });
  assert.equal(r.status, 0, `property run ended with ${r.status} ${r.signal}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  assert.match(r.stdout, /^\d+ passed, 0 failed$/m);
});

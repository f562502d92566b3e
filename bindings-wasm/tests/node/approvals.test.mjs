// Human approval from the WASM package (nodejs build): the suite shared with
// the Node addon (tests/approvals/suite.mjs), and what only WASM has: an
// instance reset.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { makeFor, refund, suite } from "../../../tests/approvals/suite.mjs";

const api = createRequire(import.meta.url)("../../pkg/node/node.js");
const { Engine, LifecycleError, ManualClock } = api;
const make = makeFor(Engine, ManualClock);

suite({ test, assert, Engine, LifecycleError, ManualClock });

test("approvals survive an instance reset; a consumed use stays consumed", () => {
  const engine = make();
  const records = [];
  engine.setDecisionLog((r) => records.push(r));
  engine.approve({ request: refund(500) }, { by: "alice", uses: 2 });
  assert.equal(engine.check(refund(500)).allowed, true);
  assert.deepEqual(
    records.map((r) => r.action),
    ["agentauthz:approve", "agentauthz:consume_approval", "billing:refund"],
  );
  assert.throws(() => api.__debugPanic("reset"), (err) => err.code === "internal");
  assert.equal(engine.check(refund(500)).allowed, true, "the second use survived the reset");
  assert.throws(() => api.__debugPanic("reset"), (err) => err.code === "internal");
  assert.equal(engine.check(refund(500)).allowed, false, "both uses stay consumed after another reset");
  // The callback is set again on the restored engine.
  const seen = [];
  engine.onApprovalRequest((r) => seen.push(r.request_digest));
  assert.throws(() => api.__debugPanic("reset"), (err) => err.code === "internal");
  const d = engine.check(refund(600));
  assert.deepEqual(seen, [d.requestDigest]);
});

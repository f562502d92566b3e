// engine.metrics() through the WASM package: decision counters match the
// checks made; undeclared action names fold into `other`. WebAssembly has no
// monotonic clock here, so the latency histogram stays empty.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { readBundleDir } from "../lib/bundle.mjs";

const api = createRequire(import.meta.url)("../../pkg/node/node.js");

const push = (engine, branch, action = "github:push") =>
  engine.check({
    agent: "ci-bot",
    action,
    resource: { type: "Repo", id: "acme/api" },
    task: "T-42",
    credential: "ci-bot-key",
    context: { branch, source_ip: "10.20.3.14" },
    now: "2026-11-29T10:20:00Z",
  }).allowed;

test("counters match the decisions made", () => {
  const engine = api.Engine.fromStrings(readBundleDir("policies-examples/coding-agent"), { trustCallerTime: true });
  const results = ["feature/a", "main"].map((b) => push(engine, b));
  for (let i = 0; i < 100; i++) assert.equal(push(engine, "x", `evil:${i}`), false);
  const m = engine.metrics();
  const sum = (decision, action) =>
    m.decisions.filter((c) => c.decision === decision && c.action === action).reduce((n, c) => n + c.count, 0);
  const allowed = results.filter(Boolean).length;
  assert.equal(sum("allow", "github:push"), allowed);
  assert.equal(sum("deny", "github:push"), results.length - allowed);
  assert.equal(sum("deny", "other"), 100);
  assert.equal(m.check_latency.count, 0);
  assert.equal(m.log_queue_depth, undefined);
});

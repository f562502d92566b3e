// The raw module's engine state: `engine.engineState()` (opaque JSON text) and
// `WasmEngine.restore(state)` rebuild an engine, on the same instance or on a
// fresh one after a panic reset, through the core's journal replay: changes
// keep their original times and sequence numbers, those that no longer apply
// are reported by `skippedChangesJson()`, and a tampered state is a coded error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const raw = require("../../pkg/node/agentauthz_wasm.js");

const SCHEMA = `
entity Bucket;
entity Object in [Bucket];
action "s3:PutObject" appliesTo { principal: [Agent], resource: [Object, Bucket] };
`;
const POLICIES = `@id("nothing") forbid (principal, action, resource) when { false };`;
const INVENTORY = `
users:
  - {id: alice}
agents:
  - {id: etl, owner: alice}
  - {id: other, owner: alice}
resources:
  - {type: Bucket, id: reports}
  - {type: Object, id: reports/q3.csv, parents: [{type: Bucket, id: reports}]}
`;
const BUNDLE = JSON.stringify({ schema: SCHEMA, policies: POLICIES, inventory: INVENTORY });

function thrown(f) {
  try {
    f();
  } catch (e) {
    return e;
  }
  assert.fail("expected a throw");
}

function put(engine, agent, now) {
  const request = { agent, action: "s3:PutObject", resource: { type: "Object", id: "reports/q3.csv" }, now };
  const d = JSON.parse(engine.checkJson(JSON.stringify(request)));
  return [d.decision, d.reasons];
}

/** An engine with a one-hour grant for etl and `other` suspended. */
function busy() {
  const engine = raw.WasmEngine.fromStringsJson(BUNDLE, true);
  const grant = JSON.parse(
    engine.grantJson(
      JSON.stringify({
        agent: "etl",
        actions: ["s3:PutObject"],
        resource: { type: "Bucket", id: "reports" },
        ttl_seconds: 3600,
        reason: "export",
        granted_by: "alice",
      }),
    ),
  );
  engine.applyJson(JSON.stringify({ op: "suspend", agent: "other" }), "alice");
  return [engine, grant];
}

test("a restored engine decides as the original and keeps the changes' times", () => {
  const [engine, grant] = busy();
  const state = engine.engineState();
  assert.equal(typeof state, "string");
  const restored = raw.WasmEngine.restore(state);
  assert.equal(restored.policyRevision, engine.policyRevision);
  assert.equal(restored.grantsJson(), engine.grantsJson());
  assert.equal(restored.engineState(), state);
  assert.equal(restored.skippedChangesJson(), "[]");
  const inside = new Date(Date.parse(grant.expires) - 1000).toISOString();
  const after = new Date(Date.parse(grant.expires) + 1000).toISOString();
  for (const e of [engine, restored]) {
    assert.deepEqual(put(e, "etl", inside), ["allow", [`grant/${grant.id}`]]);
    assert.deepEqual(put(e, "etl", after), ["deny", []]);
    assert.deepEqual(put(e, "other", inside), ["deny", ["baseline/agent-active"]]);
  }
  const changes = JSON.parse(state).changes;
  assert.deepEqual(
    changes.map((c) => [c.seq, c.op]),
    [
      [1, "grant"],
      [2, "suspend"],
    ],
  );
  // The next change continues the sequence.
  const entry = JSON.parse(restored.applyJson(JSON.stringify({ op: "reactivate", agent: "other" }), "alice"));
  assert.equal(entry.seq, 3);
  engine.free();
  restored.free();
});

test("a state taken before a panic restores on the fresh instance", () => {
  const [engine, grant] = busy();
  const state = engine.engineState();
  const e = thrown(() => raw.__debugPanic("reset"));
  assert.equal(e.code, "internal");
  raw.__wbg_reset_state?.();
  const restored = raw.WasmEngine.restore(state);
  const inside = new Date(Date.parse(grant.expires) - 1000).toISOString();
  assert.deepEqual(put(restored, "etl", inside), ["allow", [`grant/${grant.id}`]]);
  assert.equal(JSON.parse(restored.engineState()).changes[0].at, JSON.parse(state).changes[0].at);
  restored.free();
});

test("a change that no longer applies is reported; a tampered state is a coded error", () => {
  const [engine] = busy();
  const state = JSON.parse(engine.engineState());
  const ghost = { ...state.changes[1], seq: 3, agent: "ghost" };
  const restored = raw.WasmEngine.restore(JSON.stringify({ ...state, changes: [...state.changes, ghost] }));
  const skipped = JSON.parse(restored.skippedChangesJson());
  assert.equal(skipped.length, 1);
  assert.match(skipped[0], /journal seq 3/);
  for (const bad of [
    "{",
    JSON.stringify({ ...state, version: 2 }),
    JSON.stringify({ ...state, revision: "sha256:00" }),
    JSON.stringify({ ...state, extra: true }),
    JSON.stringify({ ...state, changes: [state.changes[1]] }),
  ]) {
    const e = thrown(() => raw.WasmEngine.restore(bad));
    assert.equal(e.code, "config_invalid", bad.slice(0, 60));
  }
  const deep = `{"version":1,"x":${"[".repeat(5000)}${"]".repeat(5000)}}`;
  assert.equal(thrown(() => raw.WasmEngine.restore(deep)).code, "input_too_deep");
  engine.free();
  restored.free();
});

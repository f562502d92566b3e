// toOcsf through the WASM package: the core's OCSF 1.5.0 mapping. Every event
// equals the one in tests/ocsf-events.json, which the Rust suite validates
// against the OCSF 1.5.0 schema (pydantic-ocsf); a live callback record maps
// too; anything that is not a decision record is a LogError (log_corrupt).
// decisionLogStats is null (no exporting sink in WebAssembly).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { REPO_ROOT, readBundleDir } from "../lib/bundle.mjs";

const api = createRequire(import.meta.url)("../../pkg/node/node.js");
const VECTORS = JSON.parse(readFileSync(join(REPO_ROOT, "tests", "ocsf-events.json"), "utf8"));

test("every shared-vector record maps to its validated OCSF 1.5.0 event", () => {
  assert.ok(VECTORS.events.length > 20);
  for (const { vector, record, ocsf } of VECTORS.events) {
    assert.deepEqual(api.toOcsf(record), ocsf, vector);
  }
});

test("a record from a callback sink maps to an API Activity event", () => {
  const engine = api.Engine.fromStrings(readBundleDir("policies-examples/coding-agent"), { trustCallerTime: true });
  const records = [];
  engine.setDecisionLog((r) => records.push(r));
  engine.check({
    agent: "ci-bot",
    action: "github:push",
    resource: { type: "Repo", id: "acme/api" },
    task: "T-42",
    credential: "ci-bot-key",
    context: { branch: "main", source_ip: "10.20.3.14" },
    now: "2026-11-29T10:20:00Z",
  });
  assert.equal(records.length, 1);
  const event = api.toOcsf(records[0]);
  assert.equal(event.class_uid, 6003);
  assert.equal(event.metadata.version, "1.5.0");
  assert.equal(event.metadata.uid, records[0].decision_id);
  assert.equal(event.api.operation, "github:push");
  assert.equal(event.actor.user.uid, "ci-bot");
});

test("what is not a decision record is log_corrupt", () => {
  const good = VECTORS.events[0].record;
  const hostile = [
    null,
    undefined,
    42,
    "text",
    [],
    [good],
    {},
    { ...good, is_admin: true },
    { ...good, seq: "1" },
    { ...good, decision: "maybe" },
    { ...good, schema_version: 99 },
    { ...good, seq: 10n },
  ];
  for (const input of hostile) {
    assert.throws(
      () => api.toOcsf(input),
      (e) => e instanceof api.LogError && e.code === "log_corrupt",
      String(input),
    );
  }
  // The instance still works after the refusals.
  assert.deepEqual(api.toOcsf(good), VECTORS.events[0].ocsf);
});

test("decisionLogStats is null: a WebAssembly engine has no exporting sink", () => {
  const engine = api.Engine.fromStrings(readBundleDir("policies-examples/coding-agent"), { trustCallerTime: true });
  assert.equal(engine.decisionLogStats, null);
  const records = [];
  engine.setDecisionLog((r) => records.push(r));
  engine.check({
    agent: "ci-bot",
    action: "github:push",
    resource: { type: "Repo", id: "acme/api" },
    task: "T-42",
    credential: "ci-bot-key",
    context: { branch: "main", source_ip: "10.20.3.14" },
    now: "2026-11-29T10:20:00Z",
  });
  assert.equal(records.length, 1);
  assert.equal(engine.decisionLogStats, null);
});

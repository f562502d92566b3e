// The decision log through the WASM package: a JS callback sink; the records
// of the shared vectors equal the Rust ones (tests/decision-records.json);
// log-only mode; a sink that throws.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { REPO_ROOT, readBundleDir } from "../lib/bundle.mjs";

const api = createRequire(import.meta.url)("../../pkg/node/node.js");
const GOLDEN = JSON.parse(readFileSync(join(REPO_ROOT, "tests", "decision-records.json"), "utf8"));
const VOLATILE = new Set(GOLDEN.volatile);
const CODING = readBundleDir("policies-examples/coding-agent");
const NOW = "2026-11-29T10:20:00Z";

const stripped = (record) => Object.fromEntries(Object.entries(record).filter(([k]) => !VOLATILE.has(k)));

const push = (engine, branch = "feature/x") =>
  engine.check({
    agent: "ci-bot",
    action: "github:push",
    resource: { type: "Repo", id: "acme/api" },
    task: "T-42",
    credential: "ci-bot-key",
    context: { branch, source_ip: "10.20.3.14" },
    now: NOW,
  });

for (const [name, expected] of Object.entries(GOLDEN.files)) {
  test(`records of ${name} equal the Rust ones`, () => {
    const doc = JSON.parse(readFileSync(join(REPO_ROOT, "tests", "vectors", name), "utf8"));
    const records = [];
    const engines = new Map();
    const got = doc.vectors.map((vector) => {
      const spec = vector.bundle ?? doc.bundle;
      const key = JSON.stringify(spec);
      if (!engines.has(key)) {
        const input = typeof spec === "string" ? readBundleDir(spec) : spec;
        try {
          engines.set(key, api.Engine.fromStrings(input, { trustCallerTime: true, decisionLog: (r) => records.push(r) }));
        } catch (e) {
          if (!(e instanceof api.AuthzError)) throw e;
          engines.set(key, null);
        }
      }
      const engine = engines.get(key);
      let record = null;
      if (engine && "request" in vector) {
        try {
          engine.checkJson(JSON.stringify(vector.request));
        } catch (e) {
          if (!(e instanceof api.AuthzError)) throw e;
        }
        assert.ok(records.length <= 1);
        if (records.length) record = stripped(records.pop());
      }
      return { name: vector.name, record };
    });
    assert.equal(got.length, expected.length);
    for (let i = 0; i < got.length; i++) assert.deepEqual(got[i], expected[i], got[i].name);
  });
}

test("a callback gets every record, in order, right after its check", () => {
  const records = [];
  const engine = api.Engine.fromStrings(CODING, { trustCallerTime: true });
  assert.equal(engine.decisionLogHead, null);
  engine.setDecisionLog((r) => records.push(r));
  const d = push(engine);
  assert.equal(records.length, 1);
  assert.equal(records[0].decision_id, d.decisionId);
  push(engine, "main");
  assert.throws(() => push(engine, 1), api.RequestError);
  assert.deepEqual(
    records.map((r) => [r.seq, r.decision]),
    [
      [1, "allow"],
      [2, "deny"],
      [3, "error"],
    ],
  );
  assert.equal(records[1].prev_hash, records[0].hash);
  assert.equal(records[0].owner, "alice");
  assert.deepEqual(engine.decisionLogHead, { seq: 3, hash: records[2].hash });
  engine.setDecisionLog(null);
  push(engine);
  assert.equal(records.length, 3);
  assert.throws(() => engine.setDecisionLog("decisions.jsonl"), (e) => e instanceof api.AuthzError && e.code === "config_invalid");
});

test("a sink that throws does not change the decision; flushDecisionLog throws its error", () => {
  const engine = api.Engine.fromStrings(CODING, { trustCallerTime: true, decisionLog: (r) => {
      throw new Error(`SIEM unreachable for ${r.seq}`);
    },
  });
  assert.ok(push(engine).allowed);
  assert.throws(() => engine.flushDecisionLog(), /SIEM unreachable for 1/);
  engine.flushDecisionLog();
});

test("log-only engine: allows, and the record carries the real decision", () => {
  const records = [];
  const engine = api.Engine.fromStrings(
    { ...CODING, config: '[engine]\nmode = "log-only"\n[log]\nredact = ["branch"]\n' }, { trustCallerTime: true, decisionLog: (r) => records.push(r) });
  assert.equal(engine.mode, "log-only");
  const d = push(engine, "main");
  assert.ok(d.allowed);
  assert.deepEqual(d.reasons, []);
  assert.equal(records[0].would_decision, "deny");
  assert.deepEqual(records[0].context, { branch: "[redacted]", source_ip: "10.20.3.14" });
});

test("a file sink in the configuration is refused: there is no filesystem", () => {
  assert.throws(
    () => api.Engine.fromStrings({ ...CODING, config: '[log]\nsink = "file"\npath = "d.jsonl"\n' }, { trustCallerTime: true }),
    (e) => e instanceof api.AuthzError && e.code === "io",
  );
});

// Grants and lifecycle operations of the WASM package under Node: every
// in-memory operation (there is no journal in the WASM package), grant windows
// (checked against the request's `now`), forbid over grant, revoke,
// offboarding, the error classes, and changes kept across an instance reset.
// The same scenario, with the same decisions, is in
// bindings-python/tests/test_lifecycle.py and bindings-node/__test__/lifecycle.test.js.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const api = require("../../pkg/node/node.js");
const { Engine, LifecycleError, JournalError, SessionError, ERROR_CODES, errorClassFor } = api;

const SCHEMA = `
entity Bucket;
entity Object in [Bucket];
action "s3:GetObject" appliesTo { principal: [Agent], resource: [Object, Bucket] };
action "s3:PutObject" appliesTo {
  principal: [Agent], resource: [Object, Bucket],
  context: { bytes?: Long }
};
`

const POLICIES = `
@id("read-public")
permit (principal, action == Action::"s3:GetObject", resource in Bucket::"public");

@id("no-big-uploads")
forbid (principal, action == Action::"s3:PutObject", resource)
when { context has bytes && context.bytes > 1000 };
`

// Task windows are wide so that checks at the wall-clock time fall inside them.
const INVENTORY = `
users:
  - {id: alice}
  - {id: carol}
agents:
  - {id: etl, owner: alice}
  - {id: orphan}
  - {id: other, owner: alice}
credentials:
  - id: etl-key
    agent: etl
    kind: service_account_key
    issued: "2026-01-01T00:00:00Z"
    expires: "2026-06-01T00:00:00Z"
tasks:
  - {id: T1, agent: etl, not_before: "2020-01-01T00:00:00Z", not_after: "2100-01-01T00:00:00Z"}
  - {id: T-other, agent: other, not_before: "2020-01-01T00:00:00Z",
     not_after: "2100-01-01T00:00:00Z"}
resources:
  - {type: Bucket, id: public}
  - {type: Bucket, id: reports}
  - {type: Object, id: reports/q3.csv, parents: [{type: Bucket, id: reports}]}
  - {type: Object, id: public/readme, parents: [{type: Bucket, id: public}]}
`

const Q3 = { type: "Object", id: "reports/q3.csv" }
const README = { type: "Object", id: "public/readme" }
const SECOND = 1000
const by = { by: "alice" }

const engine = (options) => Engine.fromStrings({ schema: SCHEMA, policies: POLICIES, inventory: INVENTORY }, { ...options, trustCallerTime: true })

function put(e, over = {}) {
  const d = e.check({ agent: "etl", action: "s3:PutObject", resource: Q3, ...over })
  return [d.allowed, d.reasons]
}

function read(e, over = {}) {
  const d = e.check({ agent: "etl", action: "s3:GetObject", resource: README, ...over })
  return [d.allowed, d.reasons]
}

/** A one-hour grant window starting a day from now (whole seconds). */
function window() {
  const starts = new Date(Math.floor(Date.now() / SECOND) * SECOND + 24 * 3600 * SECOND)
  return [starts, new Date(starts.getTime() + 3600 * SECOND)]
}

function grant(e, over = {}) {
  const request = {
    agent: "etl",
    actions: ["s3:PutObject"],
    resource: { type: "Bucket", id: "reports" },
    reason: "quarterly export",
    grantedBy: "alice",
    ...over,
  }
  if (!("until" in request) && !("ttlSeconds" in request)) request.ttlSeconds = 600
  return e.grant(request)
}

function throwsCode(f, cls, code) {
  assert.throws(f, (e) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${e && e.stack}`)
    assert.equal(e.code, code, e.message)
    return true
  })
}

describe("grants", () => {
  test("a grant applies inside its window only", () => {
    const e = engine()
    const [starts, until] = window()
    assert.deepEqual(put(e, { now: starts }), [false, []])
    const g = grant(e, { starts, until })
    assert.equal(g.starts, starts.toISOString())
    assert.equal(g.expires, until.toISOString())
    assert.deepEqual(
      { agent: g.agent, actions: g.actions, resource: g.resource, reason: g.reason, grantedBy: g.grantedBy, task: g.task },
      { agent: "etl", actions: ["s3:PutObject"], resource: { type: "Bucket", id: "reports" }, reason: "quarterly export", grantedBy: "alice", task: undefined },
    )
    const reason = `grant/${g.id}`
    for (const [now, allowed] of [
      [starts.getTime() - SECOND, false],
      [starts.getTime(), true],
      [until.getTime() - SECOND, true],
      [until.getTime(), false],
      [until.getTime() + SECOND, false],
    ]) {
      // The request's `now` as text, as the other bindings' tests give it.
      const text = new Date(now).toISOString().replace(".000Z", "Z")
      assert.deepEqual(put(e, { now: text }), [allowed, allowed ? [reason] : []], text)
    }
    // Not other resources, actions or agents.
    assert.equal(put(e, { now: starts, resource: README })[0], false)
    assert.equal(put(e, { now: starts, action: "s3:GetObject" })[0], false)
    assert.equal(put(e, { now: starts, agent: "other" })[0], false)
    assert.deepEqual(e.grants("etl"), [g])
    assert.deepEqual(e.grants(), [g])
    assert.deepEqual(e.grants("other"), [])
    const text = e.grantPolicyText(g.id)
    assert.ok(text.includes(`@id("${reason}")`) && text.includes("permit"), text)
    assert.equal(e.grantPolicyText("nope"), null)
  })

  test("ttlSeconds, or until and starts as text", () => {
    const e = engine()
    const a = grant(e, { ttlSeconds: 600 })
    assert.equal(Date.parse(a.expires) - Date.parse(a.starts), 600 * SECOND)
    const [starts, until] = window()
    const c = grant(e, { starts: starts.toISOString(), until: until.toISOString() })
    assert.equal(c.expires, until.toISOString())
    assert.deepEqual(put(e), [true, [`grant/${a.id}`]])
    assert.notEqual(a.id, c.id)
  })

  test("a forbid wins over a grant", () => {
    const e = engine()
    grant(e)
    assert.deepEqual(put(e, { context: { bytes: 5000 } }), [false, ["no-big-uploads"]])
  })

  test("a task-scoped grant needs its task", () => {
    const e = engine()
    const g = grant(e, { task: "T1" })
    assert.equal(g.task, "T1")
    assert.deepEqual(put(e), [false, []])
    assert.deepEqual(put(e, { task: "T1" }), [true, [`grant/${g.id}`]])
    throwsCode(() => grant(e, { task: "T-other" }), LifecycleError, "grant_invalid")
  })

  test("revoke ends a grant", () => {
    const e = engine()
    const g = grant(e)
    assert.equal(put(e)[0], true)
    e.revoke(g.id, by)
    assert.deepEqual(put(e), [false, []])
    assert.deepEqual(e.grants(), [])
    throwsCode(() => e.revoke(g.id, by), LifecycleError, "lifecycle_invalid")
  })

  const BAD = {
    "unknown agent": { agent: "ghost" },
    "unknown action": { actions: ["s3:DeleteBucket"] },
    "no action": { actions: [] },
    "unknown resource": { resource: { type: "Bucket", id: "nope" } },
    "expired already": { until: "2020-01-01T00:00:00Z" },
    "ttl and until": { until: "2100-01-01T00:00:00Z", ttlSeconds: 600 },
    "no reason": { reason: " " },
    "bad start": { starts: "yesterday" },
    "invalid Date": { until: new Date("nope") },
    "negative ttl": { ttlSeconds: -1 },
    "fractional ttl": { ttlSeconds: 1.5 },
    "unknown field": { bogus: 1 },
  }
  for (const [what, over] of Object.entries(BAD)) {
    test(`a bad grant is a grant_invalid LifecycleError: ${what}`, () => {
      const e = engine()
      throwsCode(() => grant(e, over), LifecycleError, "grant_invalid")
      assert.deepEqual(e.grants(), [])
    })
  }
})

describe("lifecycle operations", () => {
  test("suspend, reactivate, offboard", () => {
    const e = engine()
    const g = grant(e)
    assert.deepEqual(put(e, { task: "T1" }), [true, [`grant/${g.id}`]])
    e.suspend("etl", by)
    assert.deepEqual(put(e, { task: "T1" }), [false, ["baseline/agent-active"]])
    assert.throws(() => grant(e), /suspended/)
    e.reactivate("etl", by)
    assert.deepEqual(put(e, { task: "T1" }), [true, [`grant/${g.id}`]])
    e.rotateCredential("etl-key", { expires: new Date(Date.now() + 30 * 86400 * SECOND), by: "alice" })
    assert.deepEqual(read(e, { credential: "etl-key" }), [true, ["read-public"]])

    e.offboard("etl", by)
    assert.deepEqual(e.grants("etl"), [])
    const [allowed, reasons] = put(e, { task: "T1" })
    assert.equal(allowed, false)
    assert.ok(reasons.includes("baseline/task-revoked"), reasons)
    assert.deepEqual(put(e), [false, ["baseline/agent-active"]])
    // Its credential is marked revoked (the guard for expired or revoked credentials).
    assert.deepEqual(read(e, { credential: "etl-key" }), [false, ["baseline/agent-active", "baseline/credential-expired"]])
    for (const op of [
      () => e.reactivate("etl", by),
      () => e.suspend("etl", by),
      () => e.suspend("ghost", by),
      () => e.offboard("ghost", by),
      () => e.suspend("other", { by: " " }),
    ]) {
      throwsCode(op, LifecycleError, "lifecycle_invalid")
    }
    throwsCode(() => e.suspend("other"), LifecycleError, "lifecycle_invalid")
  })

  test("rotateCredential and transferOwner", () => {
    const e = engine()
    assert.deepEqual(read(e, { credential: "etl-key" }), [false, ["baseline/credential-expired"]])
    e.rotateCredential("etl-key", { expires: new Date(Date.now() + 365 * 86400 * SECOND), by: "alice" })
    assert.deepEqual(read(e, { credential: "etl-key" }), [true, ["read-public"]])
    throwsCode(() => e.rotateCredential("etl-key", { expires: "2026-01-01T00:00:00Z", by: "alice" }), LifecycleError, "lifecycle_invalid")

    assert.deepEqual(read(e, { agent: "orphan" }), [false, ["baseline/owner-required"]])
    e.transferOwner("orphan", { owner: "carol", by: "alice" })
    assert.deepEqual(read(e, { agent: "orphan" }), [true, ["read-public"]])
    throwsCode(() => e.transferOwner("orphan", { owner: "nobody", by: "alice" }), LifecycleError, "lifecycle_invalid")
  })

  test("addTask makes a new task usable", () => {
    const e = engine()
    const at = (now) => read(e, { task: "T9", now })
    assert.deepEqual(at("2026-11-29T10:00:00Z"), [false, ["baseline/unknown-task"]])
    const task = {
      id: "T9",
      agent: "etl",
      notBefore: "2026-11-29T09:00:00Z",
      notAfter: new Date("2026-11-29T12:00:00Z"),
      purpose: "backfill",
      onBehalfOf: "carol",
    }
    e.addTask(task, by)
    assert.deepEqual(at("2026-11-29T10:00:00Z"), [true, ["read-public"]])
    assert.deepEqual(at("2026-11-29T12:00:00Z"), [false, ["baseline/task-window"]])
    throwsCode(() => e.addTask(task, by), LifecycleError, "lifecycle_invalid")
  })

  // Drift fixed by the shared JS layer (issue 16): a wire spelling next to its
  // JS one was taken, the last one silently winning.
  test("a task or grant field given in both spellings is refused", () => {
    const e = engine()
    const task = { id: "T9", agent: "etl", notBefore: "2026-11-29T09:00:00Z", notAfter: "2026-11-29T12:00:00Z" }
    throwsCode(() => e.addTask({ ...task, onBehalfOf: "carol", on_behalf_of: "alice" }, by), LifecycleError, "lifecycle_invalid")
    throwsCode(() => e.addTask({ ...task, not_after: "2026-11-29T12:00:00Z" }, by), LifecycleError, "lifecycle_invalid")
    throwsCode(() => grant(e, { granted_by: "mallory" }), LifecycleError, "grant_invalid")
    throwsCode(() => grant(e, { ttl_seconds: 600 }), LifecycleError, "grant_invalid")
    assert.deepEqual(e.grants(), [])
    e.addTask(task, by)
    assert.equal(grant(e).grantedBy, "alice")
  })

  test("apply takes changes in journal form", () => {
    const e = engine()
    const entry = e.apply({ op: "suspend", agent: "etl" }, by)
    assert.deepEqual([entry.seq, entry.by, entry.op, entry.agent], [1, "alice", "suspend", "etl"])
    assert.deepEqual(read(e), [false, ["baseline/agent-active"]])
    for (const bad of [{ op: "explode" }, { op: "suspend" }, { op: "suspend", agent: "ghost" }]) {
      throwsCode(() => e.apply(bad, by), LifecycleError, "lifecycle_invalid")
    }
    assert.equal("journalPath" in e, false) // no journal in the WASM package
  })

  test("changes are recorded in the decision log with who made them", () => {
    const records = []
    const e = engine({ decisionLog: (r) => records.push(r) })
    const g = grant(e)
    e.offboard("etl", { by: "carol" })
    e.flushDecisionLog()
    assert.deepEqual(
      records.map((r) => r.action),
      ["agentauthz:grant", "agentauthz:offboard"],
    )
    assert.deepEqual(records[0].resource, { type: "Grant", id: g.id })
    assert.deepEqual(records[1].principal, { type: "User", id: "carol" })
  })
})

test("changes survive an instance reset after a panic", () => {
  const e = engine();
  const g = grant(e, { task: "T1" });
  e.suspend("other", by);
  assert.throws(() => api.__debugPanic("reset"), (err) => err.code === "internal");
  assert.deepEqual(e.grants(), [g]);
  assert.deepEqual(put(e, { task: "T1" }), [true, [`grant/${g.id}`]]);
  assert.deepEqual(read(e, { agent: "other" }), [false, ["baseline/agent-active"]]);
});

test("an engine restored after a reset keeps its journal: nothing skipped, the sequence goes on", () => {
  const e = engine();
  grant(e, { task: "T1" });
  e.suspend("other", by);
  assert.throws(() => api.__debugPanic("reset"), (err) => err.code === "internal");
  assert.deepEqual(e.skippedChanges(), []);
  const entry = e.apply({ op: "reactivate", agent: "other" }, by);
  assert.deepEqual([entry.seq, entry.op], [3, "reactivate"]);
  assert.deepEqual(read(e, { agent: "other" }), [true, ["read-public"]]);
});

test("the lifecycle, journal and session error classes", () => {
  assert.equal(errorClassFor("grant_invalid"), LifecycleError);
  assert.equal(errorClassFor("lifecycle_invalid"), LifecycleError);
  assert.equal(errorClassFor("journal_corrupt"), JournalError);
  for (const code of ["session_invalid", "session_expired", "session_revoked", "key_invalid"]) {
    assert.equal(errorClassFor(code), SessionError);
  }
  assert.ok(ERROR_CODES.some((c) => c.code === "journal_corrupt" && c.family === "journal"));
});

test("the README's grants and lifecycle snippet runs", async () => {
  const { readFileSync } = await import("node:fs");
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  const section = readme.slice(readme.indexOf("## Grants and lifecycle"));
  const [, code] = /```js\n([\s\S]*?)```/.exec(section.slice(0, section.indexOf("\n## ", 3)));
  const e = engine();
  const { grant, put } = new Function("engine", `${code}\nreturn { grant, put }`)(e);
  assert.match(grant.id, /^[0-9A-Z]{26}$/);
  assert.deepEqual(e.grants(), []);
  const offboarded = e.check({ ...put, task: "T1" });
  assert.equal(offboarded.allowed, false);
  assert.ok(offboarded.reasons.includes("baseline/task-revoked"), offboarded.reasons);
});

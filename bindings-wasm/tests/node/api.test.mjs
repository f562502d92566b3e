// The WASM package's JS API under Node: shapes, errors, the JS clock,
// recovery after bad input and after a panic.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { readBundleDir } from "../lib/bundle.mjs";

const require = createRequire(import.meta.url);
const api = require("../../pkg/node/node.js");
const raw = require("../../pkg/node/agentauthz_wasm.js");
const { Engine, Decision, AuthzError } = api;

const bundle = readBundleDir("bindings-wasm/tests/vectors/repo-bundle");
const NOW = "2026-11-29T10:00:00Z";
const push = {
  agent: "ci-bot",
  action: "github:push",
  resource: { type: "Repo", id: "acme/api" },
  context: { source_ip: "10.1.2.3" },
  now: NOW,
};
const read = { agent: "ci-bot", action: "github:read", resource: { type: "Repo", id: "acme/api" }, now: NOW };

function thrown(f) {
  try {
    f();
  } catch (e) {
    return e;
  }
  assert.fail("expected an exception");
}

test("fromStrings and check return a Decision", () => {
  const engine = Engine.fromStrings(bundle, { trustCallerTime: true });
  const d = engine.check(push);
  assert.ok(d instanceof Decision);
  assert.equal(d.allowed, true);
  assert.equal(d.decision, "allow");
  assert.deepEqual(d.reasons, ["ci-can-push"]);
  assert.deepEqual(d.errors, []);
  assert.match(d.decisionId, /^[0-9A-HJKMNP-TV-Z]{26}$/);
  assert.match(d.policyRevision, /^sha256:[0-9a-f]{64}$/);
  assert.equal(d.policyRevision, engine.policyRevision);
  assert.ok(Object.isFrozen(d));
  assert.deepEqual(Object.keys(d.toJSON()), ["decision", "reasons", "errors", "decision_id", "policy_revision"]);
  assert.equal(JSON.parse(JSON.stringify(d)).decision_id, d.decisionId);
});

test("decision ids are unique", () => {
  const engine = Engine.fromStrings(bundle, { trustCallerTime: true });
  const ids = new Set();
  for (let i = 0; i < 200; i++) ids.add(engine.check(read).decisionId);
  assert.equal(ids.size, 200);
});

test("camelCase onBehalfOf and now as a Date", () => {
  const engine = Engine.fromStrings(bundle, { trustCallerTime: true });
  const at = new Date(NOW);
  // Either spelling of on_behalf_of works; both at once is refused.
  assert.deepEqual(engine.check({ ...read, on_behalf_of: "mallory" }).reasons, ["baseline/unknown-on-behalf-of"]);
  assert.equal(thrown(() => engine.check({ ...read, onBehalfOf: "alice", on_behalf_of: "alice" })).code, "request_parse");
  // Drift fixed by the shared JS layer (issue 16): an undefined spelling is
  // left out, as in Node (this was refused here).
  assert.equal(engine.check({ ...read, onBehalfOf: "alice", on_behalf_of: undefined }).decision, "allow");
  // Any RFC 3339 form is accepted (the core normalizes the offset).
  assert.equal(engine.check({ ...read, now: "2026-11-29T11:00:00+01:00" }).decision, "allow");
  assert.equal(engine.check({ ...read, now: at, onBehalfOf: "alice" }).decision, "allow");
  assert.deepEqual(engine.check({ ...read, now: at, onBehalfOf: "mallory" }).reasons, ["baseline/unknown-on-behalf-of"]);
  // A Date outside the task window is a deny, so the Date really reaches the engine.
  const late = new Date("2026-11-29T12:00:00Z");
  assert.deepEqual(engine.check({ ...read, task: "T-42", now: late }).reasons, ["baseline/task-window"]);
  assert.equal(engine.check({ ...read, task: "T-42", now: at }).decision, "allow");
  const e = thrown(() => engine.check({ ...read, now: new Date(Number.NaN) }));
  assert.ok(e instanceof api.RequestError);
  assert.equal(e.code, "request_invalid");
});

test("without now the engine reads the JS clock", () => {
  const hour = 3600_000;
  const iso = (ms) => new Date(ms).toISOString();
  const t = Date.now();
  const inventory = JSON.stringify({
    users: [{ id: "alice" }],
    agents: [{ id: "bot", owner: "alice" }],
    tasks: [
      { id: "current", agent: "bot", not_before: iso(t - hour), not_after: iso(t + hour) },
      { id: "past", agent: "bot", not_before: iso(t - 3 * hour), not_after: iso(t - 2 * hour) },
      { id: "future", agent: "bot", not_before: iso(t + 2 * hour), not_after: iso(t + 3 * hour) },
    ],
  });
  const engine = Engine.fromStrings({ ...bundle, inventory }, { trustCallerTime: true });
  const req = (task) => ({ agent: "bot", action: "github:read", resource: { type: "Repo", id: "x" }, task });
  assert.deepEqual(engine.check(req("current")).reasons, ["anyone-can-read"]);
  assert.deepEqual(engine.check(req("past")).reasons, ["baseline/task-window"]);
  assert.deepEqual(engine.check(req("future")).reasons, ["baseline/task-window"]);
  // Decision ids start with the clock's milliseconds (ULID), so they sort by time.
  const a = engine.check(req("current")).decisionId;
  assert.ok(a.length === 26);
});

test("policies as a string, an array, or an object of files", () => {
  const texts = Object.values(bundle.policies);
  const revisions = new Set();
  for (const policies of [texts.join("\n"), texts, bundle.policies]) {
    const engine = Engine.fromStrings({ ...bundle, policies }, { trustCallerTime: true });
    assert.deepEqual(engine.check(push).reasons, ["ci-can-push"]);
    revisions.add(engine.policyRevision);
  }
  assert.ok(revisions.size >= 1);
});

test("errors carry the core's code, family and located details", () => {
  const e = thrown(() => Engine.fromStrings({ ...bundle, policies: { "bad.cedar": '@id("x")\npermit (principal, action, resource' } }, { trustCallerTime: true }));
  assert.ok(e instanceof AuthzError);
  assert.ok(e instanceof api.PolicyError);
  assert.ok(e instanceof Error);
  assert.equal(e.name, "PolicyError");
  assert.equal(e.code, "policy_parse");
  assert.equal(e.family, "policy");
  assert.match(e.message, /^\[policy_parse\]/);
  assert.ok(e.details.length >= 1);
  const loc = e.details[0].location;
  assert.equal(loc.file, "bad.cedar");
  assert.equal(loc.line, 2);
  assert.ok(loc.column >= 1);

  const cases = [
    [() => Engine.fromStrings({ ...bundle, schema: "entity {" }, { trustCallerTime: true }), api.SchemaError, "schema_parse"],
    [() => Engine.fromStrings({ ...bundle, inventory: "agents: [" }, { trustCallerTime: true }), api.InventoryError, "inventory_parse"],
    [() => Engine.fromStrings({ ...bundle, config: "nope = 1" }, { trustCallerTime: true }), api.BundleError, "config_invalid"],
    // Strict mode refuses a forbid reading an attribute of an entity the inventory lacks.
    [() => Engine.fromStrings({ ...bundle, config: "[engine]\nstrict = true\n",
      policies: { ...bundle.policies, "strict.cedar": '@id("s") forbid (principal, action, resource) when { User::"ghost".active };' } }),
      api.PolicyError, "policy_may_error"],
    [() => Engine.fromStrings({ ...bundle, extra: "x" }, { trustCallerTime: true }), api.BundleError, "bundle_invalid"],
    [() => Engine.fromStrings({ policies: "" }, { trustCallerTime: true }), api.BundleError, "bundle_invalid"],
    [() => Engine.fromStrings(null, { trustCallerTime: true }), api.BundleError, "bundle_invalid"],
    [() => Engine.fromStrings(bundle, { trustCallerTime: true }).check({ agent: "ci-bot" }), api.RequestError, "request_parse"],
    [() => Engine.fromStrings(bundle, { trustCallerTime: true }).check(null), api.RequestError, "request_parse"],
    [() => Engine.fromStrings(bundle, { trustCallerTime: true }).check(undefined), api.RequestError, "request_parse"],
    [() => Engine.fromStrings(bundle, { trustCallerTime: true }).check("ci-bot"), api.RequestError, "request_parse"],
    [() => Engine.fromStrings(bundle, { trustCallerTime: true }).check({ ...push, context: { source_ip: 7 } }), api.RequestError, "request_invalid"],
    [() => Engine.fromStrings(bundle, { trustCallerTime: true }).check({ ...push, resource: { type: "No Such::", id: "x" } }), api.RequestError, "request_invalid"],
    [() => Engine.fromStrings(bundle, { trustCallerTime: true }).grant({ agent: "ghost", actions: ["github:read"], resource: { type: "Repo", id: "acme/api" },
      ttlSeconds: 60, reason: "r", grantedBy: "alice" }), api.LifecycleError, "grant_invalid"],
    [() => Engine.fromStrings(bundle, { trustCallerTime: true }).suspend("ghost", { by: "alice" }), api.LifecycleError, "lifecycle_invalid"],
  ];
  for (const [f, cls, code] of cases) {
    const err = thrown(f);
    assert.ok(err instanceof cls, `${code}: ${err}`);
    assert.equal(err.code, code, err.message);
  }
});

test("errorCodes lists every code, each with a class for its family", () => {
  const codes = api.errorCodes();
  assert.equal(codes.length, 40);
  const families = new Set(codes.map((c) => c.family));
  assert.deepEqual([...families].sort(), [
    "bundle", "internal", "inventory", "journal", "lifecycle", "limit", "log", "policy", "request", "schema", "session", "test", "token",
  ]);
  for (const { code, family } of codes) {
    assert.match(code, /^[a-z_]+$/);
    assert.ok(family in { bundle: 1, schema: 1, policy: 1, inventory: 1, request: 1, test: 1, lifecycle: 1, journal: 1, log: 1, limit: 1, session: 1, token: 1, internal: 1 });
  }
  // The package carries the workspace version (scripts/build-pkg.sh), and so does the core.
  assert.equal(api.coreVersion(), require("../../pkg/package.json").version);
  // The JS table equals the core's, and each code maps to its family's class.
  assert.deepEqual(api.ERROR_CODES.map((c) => ({ ...c })), codes);
  const classes = { bundle: api.BundleError, schema: api.SchemaError, policy: api.PolicyError, inventory: api.InventoryError,
    request: api.RequestError, test: api.TestError, lifecycle: api.LifecycleError, journal: api.JournalError, log: api.LogError,
    session: api.SessionError, limit: api.LimitError, token: api.TokenError, internal: api.InternalError };
  for (const { code, family } of codes) assert.equal(api.errorClassFor(code), classes[family]);
  assert.equal(api.errorClassFor("no_such_code"), AuthzError);
  const made = new api.PolicyError("[policy_parse] made by hand", { code: "policy_parse" });
  assert.equal(made.family, "policy");
  assert.deepEqual(made.details, [{ message: "[policy_parse] made by hand" }]);
});

test("the engine stays usable after bad input", () => {
  const engine = Engine.fromStrings(bundle, { trustCallerTime: true });
  const revision = engine.policyRevision;
  for (const bad of [{ ...push, context: { source_ip: "nope" } }, { agent: 1 }, [], { ...push, context: { now: NOW } }]) {
    assert.ok(thrown(() => engine.check(bad)) instanceof api.RequestError);
    assert.deepEqual(engine.check(push).reasons, ["ci-can-push"]);
  }
  // A failed reload keeps the current bundle.
  const e = thrown(() => engine.reload({ ...bundle, policies: "permit (principal, action, resource);" }));
  assert.equal(e.code, "policy_id_missing");
  assert.equal(engine.policyRevision, revision);
  assert.deepEqual(engine.check(push).reasons, ["ci-can-push"]);
  // A good reload swaps it.
  engine.reload({ ...bundle, policies: { "all.cedar": '@id("all")\npermit (principal, action, resource);' } });
  assert.notEqual(engine.policyRevision, revision);
  const d = engine.check({ ...push, resource: { type: "Repo", id: "acme/prod" } });
  assert.deepEqual(d.reasons, ["all"]);
  assert.equal(d.policyRevision, engine.policyRevision);
});

test("[metrics.otlp] is refused in WASM at load and at reload alike", () => {
  const metrics = '[metrics.otlp]\nendpoint = "http://127.0.0.1:4318/v1/metrics"\n';
  const load = thrown(() => Engine.fromStrings({ ...bundle, config: metrics }, { trustCallerTime: true }));
  assert.equal(load.code, "config_invalid");
  const engine = Engine.fromStrings(bundle, { trustCallerTime: true });
  const revision = engine.policyRevision;
  const reload = thrown(() => engine.reload({ ...bundle, config: metrics }));
  assert.equal(reload.code, "config_invalid");
  assert.match(reload.message, /WebAssembly/);
  assert.equal(engine.policyRevision, revision);
});

test("hostile input is a coded error, not a crash", () => {
  const engine = Engine.fromStrings(bundle, { trustCallerTime: true });
  const nested = (n) => {
    let deep = "leaf";
    for (let i = 0; i < n; i++) deep = { x: deep };
    return { ...push, context: { source_ip: "10.0.0.1", input: deep } };
  };
  // Deeper than the core's depth limit: refused before it is parsed.
  let e = thrown(() => engine.check(nested(1000)));
  assert.ok(e instanceof api.LimitError);
  assert.equal(e.code, "input_too_deep");
  // Too deep for JSON.stringify, or cyclic: refused before the core, same code.
  e = thrown(() => engine.check(nested(1_000_000)));
  assert.equal(e.code, "input_too_deep");
  const cyclic = { ...push, context: {} };
  cyclic.context.self = cyclic.context;
  assert.equal(thrown(() => engine.check(cyclic)).code, "input_too_deep");
  assert.equal(thrown(() => engine.checkBatch([cyclic])).code, "input_too_deep");
  // A BigInt has no JSON form.
  assert.equal(thrown(() => engine.check({ ...push, context: { n: 1n } })).code, "request_parse");
  assert.equal(thrown(() => Engine.fromStrings({ ...bundle, config: 1n }, { trustCallerTime: true })).code, "bundle_invalid");
  // A flat request over the size limit.
  const wide = { ...push, context: { source_ip: "10.0.0.1" } };
  assert.equal(thrown(() => engine.check({ ...wide, context: { ...wide.context, blob: "x".repeat(5_000_000) } })).code, "input_too_large");
  assert.equal(engine.check(push).decision, "allow");
});

test("checkBatch decides many requests; all or nothing on bad input", () => {
  const engine = Engine.fromStrings(bundle, { trustCallerTime: true });
  const ds = engine.checkBatch([push, read, { ...push, agent: "orphan-bot" }]);
  assert.deepEqual(
    ds.map((d) => [d.decision, d.reasons]),
    [
      ["allow", ["ci-can-push"]],
      ["allow", ["anyone-can-read"]],
      ["deny", ["baseline/owner-required"]],
    ],
  );
  assert.ok(ds.every((d) => d instanceof Decision));
  assert.deepEqual(engine.checkBatch([]), []);
  const e = thrown(() => engine.checkBatch([push, { ...push, context: { source_ip: "nope" } }]));
  assert.equal(e.code, "request_invalid");
  assert.match(e.message, /request \[1\]/);
  assert.equal(thrown(() => engine.checkBatch(push)).code, "request_parse");
});

test("a panic is thrown as an internal error and the instance recovers", () => {
  const engine = Engine.fromStrings(bundle, { trustCallerTime: true });
  const revision = engine.policyRevision;
  const e = thrown(() => api.__debugPanic("boom for the test"));
  assert.ok(e instanceof api.InternalError);
  assert.equal(e.code, "internal");
  assert.equal(e.family, "internal");
  assert.match(e.message, /boom for the test/);
  // The engine made before the panic is rebuilt on the fresh instance.
  assert.deepEqual(engine.check(push).reasons, ["ci-can-push"]);
  assert.equal(engine.policyRevision, revision);
  // So is a reloaded one, with its reloaded bundle.
  const other = Engine.fromStrings(bundle, { trustCallerTime: true });
  other.reload({ ...bundle, policies: '@id("all")\npermit (principal, action, resource);' });
  thrown(() => api.__debugPanic("again"));
  assert.deepEqual(other.check(push).reasons, ["all"]);
  assert.deepEqual(Engine.fromStrings(bundle, { trustCallerTime: true }).check(read).reasons, ["anyone-can-read"]);
});

test("free releases the engine; using it afterwards throws", () => {
  const engine = Engine.fromStrings(bundle, { trustCallerTime: true });
  engine.free();
  engine.free();
  assert.equal(thrown(() => engine.check(push)).code, "internal");
});

test("checkJson speaks the wire format", () => {
  const engine = Engine.fromStrings(bundle, { trustCallerTime: true });
  const out = JSON.parse(engine.checkJson(JSON.stringify({ ...read, on_behalf_of: "alice" })));
  assert.deepEqual(Object.keys(out), ["decision", "reasons", "errors", "decision_id", "policy_revision"]);
  assert.deepEqual(out.reasons, ["anyone-can-read"]);
  assert.equal(thrown(() => engine.checkJson("{")).code, "request_parse");
});

test("the raw module throws Errors with codes too, and both value paths agree", () => {
  const e = thrown(() => raw.WasmEngine.fromStringsJson("{"));
  assert.ok(e instanceof Error);
  assert.equal(e.code, "bundle_invalid");
  assert.equal(e.family, "bundle");
  const engine = raw.WasmEngine.fromStringsJson(JSON.stringify(bundle), true);
  const viaJson = JSON.parse(engine.checkJson(JSON.stringify(push)));
  const viaValue = engine.checkValue(push);
  assert.equal(viaValue.decision, viaJson.decision);
  assert.deepEqual(viaValue.reasons, viaJson.reasons);
  assert.equal(thrown(() => engine.checkValue({ agent: 3 })).code, "request_parse");
  engine.free();
});

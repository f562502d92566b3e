// Hostile input across the WASM package's boundary: every failure an
// AuthzError with a code (never a plain RangeError/TypeError, never an
// instance reset for input the limits refuse), and the engine answers as
// before. Cases that could kill the process run in a child.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const PKG = fileURLToPath(new URL("../../pkg/node/node.js", import.meta.url));
const api = require(PKG);
const { Engine, AuthzError } = api;

const SCHEMA = `entity Doc;
action "docs:read" appliesTo { principal: [Agent], resource: [Doc], context: { input?: { size: Long } } };`;
const STRINGS = {
  schema: SCHEMA,
  policies: '@id("p") permit (principal, action, resource);',
  inventory: "users: [{id: u}]\nagents: [{id: a, owner: u}]\nresources: [{type: Doc, id: d}]\n",
};
const NOW = "2026-11-29T10:00:00Z";
const request = (over = {}) => ({ agent: "a", action: "docs:read", resource: { type: "Doc", id: "d" }, now: NOW, ...over });
const KNOWN = new Map(api.errorCodes().map((c) => [c.code, c.family]));

function caught(f) {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}

function coded(f, code, label = "") {
  const e = caught(f);
  assert.ok(e instanceof AuthzError, `${label}: expected an AuthzError, got ${e && e.stack ? e.stack : e}`);
  assert.ok(KNOWN.has(e.code), `${label}: unknown code ${e.code}`);
  assert.equal(e.family, KNOWN.get(e.code), label);
  if (code !== undefined) assert.equal(e.code, code, `${label}: ${e.message}`);
  return e;
}

function nest(n, make = (v) => ({ x: v })) {
  let v = "leaf";
  for (let i = 0; i < n; i++) v = make(v);
  return v;
}

function answers(engine) {
  assert.deepEqual(engine.check(request()).reasons, ["p"]);
}

/** Runs `body` in a child node; it prints JSON lines via `report(name, f)`. */
function inChild(body) {
  const script = `
    const api = require(${JSON.stringify(PKG)});
    const { Engine, AuthzError } = api;
    const engine = Engine.fromStrings(${JSON.stringify(STRINGS)}, { trustCallerTime: true });
    const request = (over = {}) => ({ ...${JSON.stringify(request())}, ...over });
    function nest(n, make = (v) => ({ x: v })) { let v = "leaf"; for (let i = 0; i < n; i++) v = make(v); return v; }
    function report(name, f) {
      let out;
      try { f(); out = { ok: true }; } catch (e) {
        out = e instanceof AuthzError ? { code: e.code, message: e.message.slice(0, 200) } : { raised: String(e && e.name), message: String(e && e.message).slice(0, 200) };
      }
      console.log(JSON.stringify({ case: name, ...out }));
    }
    ${body}
    console.log(JSON.stringify({ case: "after", reasons: engine.check(request()).reasons }));
  `;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 60_000, maxBuffer: 1 << 24 });
  const lines = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
  assert.equal(r.status, 0, `child died (${r.status} ${r.signal}) after ${JSON.stringify(lines)}: ${r.stderr.slice(-1500)}`);
  assert.deepEqual(lines.at(-1), { case: "after", reasons: ["p"] });
  return lines.slice(0, -1);
}

describe("the limit codes", () => {
  test("input_too_deep and input_too_large are LimitErrors, raised for real", () => {
    const engine = Engine.fromStrings(STRINGS, { trustCallerTime: true });
    let e = coded(() => engine.check(request({ context: { input: nest(100) } })), "input_too_deep");
    assert.ok(e instanceof api.LimitError);
    assert.equal(e.family, "limit");
    e = coded(() => engine.check(request({ context: { input: { blob: "x".repeat(2 << 20) } } })), "input_too_large");
    assert.ok(e instanceof api.LimitError);
    answers(engine);
  });
});

describe("deep, cyclic and huge values", () => {
  test("100k-deep and cyclic values are input_too_deep in every function that takes one (child process)", () => {
    const cases = inChild(`
      const deep = nest(100_000);
      const deepArray = nest(100_000, (v) => [v]);
      const cyclic = { path: "x" }; cyclic.self = cyclic;
      const loop = []; loop.push(loop);
      for (const [name, v] of Object.entries({ deep, deepArray, cyclic, loop })) {
        report("check context " + name, () => engine.check(request({ context: { input: v } })));
        report("check request " + name, () => engine.check(v));
        report("checkBatch " + name, () => engine.checkBatch([request({ context: v })]));
        report("check session " + name, () => engine.check({ session: "t", action: "docs:read", resource: { type: "Doc", id: "d" }, context: v }));
        report("fromStrings " + name, () => Engine.fromStrings({ schema: v, policies: "" }));
        report("reload " + name, () => engine.reload({ schema: v, policies: "" }));
        report("grant " + name, () => engine.grant({ agent: v, actions: [], resource: v, reason: "r", grantedBy: "u" }));
        report("apply " + name, () => engine.apply({ op: "suspend", agent: v }, { by: "u" }));
        report("addTask " + name, () => engine.addTask({ id: v }, { by: "u" }));
        report("issueSession " + name, () => engine.issueSession({ agent: v }));
        report("setSessionKeys " + name, () => engine.setSessionKeys({ verifying: v }));
      }
    `);
    assert.equal(cases.length, 4 * 11);
    for (const c of cases) assert.equal(c.code, "input_too_deep", JSON.stringify(c));
  });
});

describe("values without a JSON form", () => {
  const throwing = () => {
    throw new Error("from user code");
  };
  const cases = {
    BigInt: { input: { size: 1n } },
    "throwing getter": {
      get input() {
        return throwing();
      },
    },
    "throwing toJSON": { input: { toJSON: throwing } },
    "Proxy with a throwing ownKeys trap": new Proxy({}, { ownKeys: throwing }),
    "revoked Proxy": (() => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    })(),
  };
  for (const [name, context] of Object.entries(cases)) {
    test(`${name} in the context is request_parse`, () => {
      const engine = Engine.fromStrings(STRINGS, { trustCallerTime: true });
      const e = coded(() => engine.check(request({ context })), "request_parse", name);
      assert.ok(e instanceof api.RequestError);
      answers(engine);
    });
  }

  test("a Proxy or throwing getter as the whole request", () => {
    const engine = Engine.fromStrings(STRINGS, { trustCallerTime: true });
    coded(() => engine.check(new Proxy(request(), { get: throwing })), "request_parse");
    coded(() => engine.check(new Proxy(request(), { ownKeys: throwing })), "request_parse");
    coded(() => engine.checkBatch(new Proxy([request()], { get: throwing })), "request_parse");
    assert.equal(engine.check(new Proxy(request(), {})).decision, "allow");
    answers(engine);
  });
});

describe("wrong argument types", () => {
  test("checkJson takes text only", () => {
    const engine = Engine.fromStrings(STRINGS, { trustCallerTime: true });
    for (const v of [42, null, undefined, {}, [], 1n, Symbol("s"), () => 1]) coded(() => engine.checkJson(v), "request_parse");
    answers(engine);
  });

  const BAD = [undefined, null, 42, -1, 1.5, NaN, 1n, true, "x", "", "\ud800", Symbol("s"), [], {}, () => 1, new Date(NaN), new Proxy({}, {})];
  test("every exported function refuses any value with a coded error, or accepts it", () => {
    const engine = Engine.fromStrings(STRINGS, { trustCallerTime: true });
    const calls = (v) => ({
      "Engine.fromStrings": () => Engine.fromStrings(v),
      "Engine.fromStrings options": () => Engine.fromStrings(STRINGS, { decisionLog: v }),
      check: () => engine.check(v),
      "check fields": () => engine.check({ agent: v, action: v, resource: v, now: v, context: v, onBehalfOf: v }),
      "check session": () => engine.check({ session: v, action: "docs:read", resource: { type: "Doc", id: "d" } }),
      checkJson: () => engine.checkJson(v),
      checkBatch: () => engine.checkBatch(v),
      "checkBatch item": () => engine.checkBatch([v]),
      reload: () => engine.reload(v),
      setDecisionLog: () => engine.setDecisionLog(v ?? 42),
      grant: () => engine.grant(v),
      "grant fields": () => engine.grant({ agent: v, actions: v, resource: v, ttlSeconds: v, reason: v, grantedBy: v }),
      revoke: () => engine.revoke(v, { by: v }),
      grants: () => engine.grants(v),
      grantPolicyText: () => engine.grantPolicyText(v),
      suspend: () => engine.suspend(v, v),
      reactivate: () => engine.reactivate(v, { by: v }),
      offboard: () => engine.offboard(v, { by: "u" }),
      rotateCredential: () => engine.rotateCredential(v, { expires: v, by: v }),
      transferOwner: () => engine.transferOwner(v, { owner: v, by: v }),
      addTask: () => engine.addTask(v, { by: v }),
      apply: () => engine.apply(v, { by: "u" }),
      issueSession: () => engine.issueSession(v),
      verifySession: () => engine.verifySession(v, { audience: v }),
      revokeSession: () => engine.revokeSession(v, { by: v }),
      setSessionKeys: () => engine.setSessionKeys(v),
      generateSessionKey: () => api.generateSessionKey(v),
    });
    let refused = 0;
    for (const v of BAD) {
      for (const [name, f] of Object.entries(calls(v))) {
        const e = caught(f);
        if (e === undefined) continue;
        refused += 1;
        coded(() => {
          throw e;
        }, undefined, `${name}(${typeof v === "symbol" ? "Symbol" : String(v)})`);
        // Bad arguments are refused in JS or by the core, never by a trap that resets the instance.
        assert.notEqual(e.code, "internal", `${name}: ${e.message}`);
      }
    }
    assert.ok(refused > BAD.length * 18, `only ${refused} calls refused`);
    answers(engine);
  });
});

describe("pathological bundles (child processes)", () => {
  const BUNDLES = {
    "policy with 600 nested parentheses": `({ policies: '@id("deep") permit (principal, action, resource) when { ' + "(".repeat(600) + "true" + ")".repeat(600) + " };" })`,
    "policy with 50,000 nested parentheses": `({ policies: '@id("deep") permit (principal, action, resource) when { ' + "(".repeat(50_000) + "true" + ")".repeat(50_000) + " };" })`,
    "schema with a 20,000-deep Set": `({ schema: ${JSON.stringify(SCHEMA)} + "\\nentity Deep { a: " + "Set<".repeat(20_000) + "String" + ">".repeat(20_000) + " };" })`,
    "YAML inventory 100,000 deep": `({ inventory: "agents: " + "[".repeat(100_000) + "]".repeat(100_000) })`,
  };
  for (const [name, expr] of Object.entries(BUNDLES)) {
    test(`${name}: fromStrings fails with a limit code, reload keeps the old bundle`, () => {
      const cases = inChild(`
        const bad = { ...${JSON.stringify(STRINGS)}, ...${expr} };
        const revision = engine.policyRevision;
        report("load", () => Engine.fromStrings(bad));
        report("reload", () => engine.reload(bad));
        console.log(JSON.stringify({ case: "same revision", ok: engine.policyRevision === revision }));
      `);
      const by = Object.fromEntries(cases.map((c) => [c.case, c]));
      for (const step of ["load", "reload"]) {
        assert.ok(["input_too_deep", "input_too_large"].includes(by[step].code), JSON.stringify(by[step]));
      }
      assert.equal(by["same revision"].ok, true);
    });
  }
});

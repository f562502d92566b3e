// The shared scenarios (tests/vectors/scenarios/*.json at the repo root): run-time
// changes, sessions and checks on an engine with a ManualClock, through the WASM
// package's nodejs build. The format is in tests/vectors/README.md; the runner
// knows no scenario. A bundle directory goes in as strings (no filesystem).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createRequire } from "node:module";
import { REPO_ROOT, readBundleDir } from "../lib/bundle.mjs";

const api = createRequire(import.meta.url)("../../pkg/node/node.js");
const { AuthzError, Engine, ManualClock, generateSessionKey } = api;

const DIR = join(REPO_ROOT, "tests", "vectors", "scenarios");
const files = existsSync(DIR) ? readdirSync(DIR).filter((f) => f.endsWith(".json")).sort() : [];

test("scenario files are found", () => {
  assert.ok(files.length >= 8, `${files.length} scenarios`);
});

/** Replaces every `${name}` inside a string by what a step saved as `name`. */
function substitute(value, saved) {
  if (typeof value === "string") {
    return value.replace(/\$\{([^}]*)\}/g, (_, name) => {
      if (!(name in saved)) throw new Error(`nothing saved as ${name}`);
      return saved[name];
    });
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, saved));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, saved)]));
  }
  return value;
}

/** A bundle directory goes in as strings. */
function bundleOf(spec) {
  return typeof spec === "string" ? readBundleDir(spec) : spec;
}

/** The wire's snake_case keys in their JS spelling (`ttl_seconds` → `ttlSeconds`). */
function camel(object) {
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c) => c.toUpperCase()), v]));
}

/** Runs one step through the WASM API; returns a Decision, an object, or undefined. */
function run(engine, clock, step, saved) {
  const by = step.by ?? "scenario";
  if ("advance" in step) return clock.advance(step.advance);
  if ("set_time" in step) return clock.set(step.set_time);
  if ("apply" in step) return engine.apply(step.apply, { by });
  if ("grant" in step) {
    const grant = engine.grant(camel(step.grant));
    if (step.as !== undefined) saved[step.as] = grant.id;
    return grant;
  }
  if ("generate_session_key" in step) {
    const kid = step.generate_session_key;
    return engine.setSessionKeys({ signing: { kid, key: generateSessionKey(kid).secret } });
  }
  if ("issue_session" in step) {
    const { token, claims } = engine.issueSession(camel(step.issue_session));
    if (step.as !== undefined) {
      saved[step.as] = token;
      saved[`${step.as}.id`] = claims.sessionId;
    }
    return claims;
  }
  if ("check_session" in step) return engine.check(step.check_session);
  if ("reload" in step) return engine.reload(bundleOf(step.reload));
  if ("check" in step) return engine.check(step.check);
  throw new Error(`unknown step ${JSON.stringify(step)}`);
}

function compare(expect, f) {
  let got;
  try {
    got = f();
  } catch (e) {
    if (!(e instanceof AuthzError)) throw e;
    assert.equal(expect?.error, e.code, `unexpected error: ${e.message}`);
    return;
  }
  if (expect === undefined) return;
  assert.equal(expect.error, undefined, `expected error ${expect.error}, got ${JSON.stringify(got)}`);
  if (expect.decision !== undefined) {
    assert.equal(got.decision, expect.decision, JSON.stringify(got));
    assert.deepEqual([...got.reasons].sort(), [...expect.reasons].sort(), JSON.stringify(got));
    if (expect.errors !== undefined) {
      assert.deepEqual(got.errors.map((e) => e.policy).sort(), [...expect.errors].sort(), JSON.stringify(got));
    }
  }
}

for (const file of files) {
  const name = file.replace(/\.json$/, "");
  const scenario = JSON.parse(readFileSync(join(DIR, file), "utf8"));
  test(`scenario ${name}`, () => {
    const clock = new ManualClock(scenario.start);
    const engine = Engine.fromStrings(bundleOf(scenario.bundle), { clock });
    const saved = {};
    scenario.steps.forEach((raw, i) => {
      try {
        const step = substitute(raw, saved);
        compare(step.expect, () => run(engine, clock, step, saved));
      } catch (e) {
        e.message = `${name}: step ${i} (${raw.note ?? ""}): ${e.message}`;
        throw e;
      }
    });
  });
}

test("ManualClock: set, advance, refusals", () => {
  const clock = new ManualClock(new Date("2026-11-29T10:00:00Z"));
  assert.equal(clock.now, "2026-11-29T10:00:00.000Z");
  clock.advance(60.5);
  clock.advance(-0.5);
  assert.equal(clock.now, "2026-11-29T10:01:00.000Z");
  clock.set("2026-11-29T11:00:00+01:00");
  assert.equal(clock.now, "2026-11-29T10:00:00.000Z");
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 1e300, "1", null, undefined, {}]) {
    assert.throws(() => clock.advance(bad), (e) => e instanceof AuthzError && e.code === "request_invalid", String(bad));
  }
  for (const bad of ["tomorrow", new Date(Number.NaN), 3, null]) {
    assert.throws(() => clock.set(bad), (e) => e instanceof AuthzError && e.code === "request_invalid", String(bad));
    assert.throws(() => new ManualClock(bad), (e) => e instanceof AuthzError && e.code === "request_invalid", String(bad));
  }
  assert.equal(clock.now, "2026-11-29T10:00:00.000Z", "a refused change moves nothing");
  for (const bad of ["2026-11-29T10:00:00Z", {}, { now: 1 }]) {
    assert.throws(
      () => Engine.fromStrings({ schema: "", policies: "" }, { clock: bad }),
      (e) => e instanceof AuthzError && e.code === "bundle_invalid",
    );
  }
});

test("ManualClock: an engine rebuilt after an instance reset keeps the manual clock", () => {
  const clock = new ManualClock("2026-11-29T14:30:00Z");
  const engine = Engine.fromStrings(readBundleDir("policies-examples/coding-agent"), { clock });
  const push = {
    agent: "ci-bot",
    action: "github:push",
    resource: { type: "Repo", id: "acme/api" },
    task: "REL-7",
    context: { branch: "release/2.4", source_ip: "10.20.0.7" },
  };
  assert.equal(engine.check(push).decision, "allow", "inside the REL-7 window (14:00-16:00)");
  assert.throws(() => api.__debugPanic("reset"), (err) => err.code === "internal");
  assert.equal(clock.now, "2026-11-29T14:30:00.000Z");
  assert.equal(engine.check(push).decision, "allow", "still judged at the manual clock, not Date.now()");
  clock.advance(2 * 3600);
  assert.deepEqual(engine.check(push).reasons, ["baseline/task-window", "coding/release-only-in-release-task"]);
});

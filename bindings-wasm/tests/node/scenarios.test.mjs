// The shared scenarios (tests/vectors/scenarios/*.json at the repo root): run-time
// changes, sessions and checks on an engine with a ManualClock, through the WASM
// package's nodejs build (tests/lib/scenarios.mjs runs them; Chromium runs the
// same in tests/browser/). A bundle directory goes in as strings (no filesystem).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { api } from "../lib/package.mjs";
import { REPO_ROOT, readBundleDir } from "../lib/bundle.mjs";
import { runScenario, scenarioBundles } from "../lib/scenarios.mjs";

const { AuthzError, Engine, ManualClock } = api;

const DIR = join(REPO_ROOT, "tests", "vectors", "scenarios");
const files = existsSync(DIR) ? readdirSync(DIR).filter((f) => f.endsWith(".json")).sort() : [];

test("scenario files are found", () => {
  assert.ok(files.length >= 8, `${files.length} scenarios`);
});

for (const file of files) {
  const name = file.replace(/\.json$/, "");
  const scenario = JSON.parse(readFileSync(join(DIR, file), "utf8"));
  test(`scenario ${name}`, () => {
    const bundles = Object.fromEntries(scenarioBundles(scenario).map((dir) => [dir, readBundleDir(dir)]));
    assert.deepEqual(runScenario(api, name, scenario, bundles), []);
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

// Runs one shared scenario (tests/vectors/scenarios/*.json; format in
// tests/vectors/README.md) through the WASM API: in Node and in Chromium.
// It knows no scenario and no filesystem: `bundles` maps each bundle
// directory a scenario names (its `bundle`, its `reload` steps) to strings.

/** The bundle directories a scenario names, to load before it runs. */
export function scenarioBundles(scenario) {
  const dirs = [scenario.bundle, ...scenario.steps.map((s) => s.reload)];
  return [...new Set(dirs.filter((d) => typeof d === "string"))];
}

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

/** The wire's snake_case keys in their JS spelling (`ttl_seconds` → `ttlSeconds`). */
function camel(object) {
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c) => c.toUpperCase()), v]));
}

/** Runs one step; returns a Decision, an object, or undefined. */
function run(api, engine, clock, step, saved, bundleOf) {
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
    return engine.setSessionKeys({ signing: { kid, key: api.generateSessionKey(kid).secret } });
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
  if ("record_usage" in step) {
    const { agent, units, kind } = step.record_usage;
    return engine.recordUsage(agent, units, kind);
  }
  if ("usage" in step) return engine.usage(step.usage.agent, step.usage.action);
  if ("lockdown_status" in step) return engine.lockdownStatus();
  if ("approve" in step) {
    const { decision_id: id, request, ...rest } = step.approve;
    const { ttl_seconds: ttl, ...others } = rest
    const approval = engine.approve(id ?? { request }, { by, ttl, ...camel(others) });
    if (step.as !== undefined) saved[step.as] = approval.id;
    return approval;
  }
  if ("reject" in step) {
    const { decision_id: id, request } = step.reject;
    return engine.reject(id ?? { request }, { by });
  }
  if ("check" in step) {
    const decision = engine.check(step.check);
    if (step.as !== undefined) saved[step.as] = decision.decisionId;
    return decision;
  }
  throw new Error(`unknown step ${JSON.stringify(step)}`);
}

const sorted = (list) => [...list].sort();
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/** Whether `got` holds every member `want` names, with the same values. */
function contains(got, want) {
  if (want !== null && typeof want === "object" && got !== null && typeof got === "object") {
    return Object.entries(want).every(([k, v]) => k in got && contains(got[k], v));
  }
  return same(got, want);
}

/** What differs from `expect`, or null. */
function mismatch(api, expect, f) {
  let got;
  try {
    got = f();
  } catch (e) {
    if (!(e instanceof api.AuthzError)) throw e;
    return expect?.error === e.code ? null : `unexpected error ${e.code}: ${e.message}`;
  }
  if (expect === undefined) return null;
  if (expect.error !== undefined) return `expected error ${expect.error}, got ${JSON.stringify(got)}`;
  if ("value" in expect && !contains(got, expect.value)) return `expected ${JSON.stringify(expect.value)}, got ${JSON.stringify(got)}`;
  if (expect.decision === undefined) return null;
  if (got.decision !== expect.decision || !same(sorted(got.reasons), sorted(expect.reasons))) {
    return `expected ${expect.decision} ${JSON.stringify(expect.reasons)}, got ${JSON.stringify(got)}`;
  }
  if (expect.errors !== undefined && !same(sorted(got.errors.map((e) => e.policy)), sorted(expect.errors))) {
    return `expected erroring policies ${JSON.stringify(expect.errors)}, got ${JSON.stringify(got)}`;
  }
  return null;
}

/** Runs a scenario on a fresh engine with a ManualClock; the failures, `[]` when it passes. */
export function runScenario(api, name, scenario, bundles) {
  const bundleOf = (spec) => (typeof spec === "string" ? bundles[spec] : spec);
  const clock = new api.ManualClock(scenario.start);
  const engine = api.Engine.fromStrings(bundleOf(scenario.bundle), { clock });
  const saved = {};
  const failures = [];
  scenario.steps.forEach((raw, i) => {
    let problem;
    try {
      const step = substitute(raw, saved);
      problem = null;
      for (let n = 0; n < (step.repeat ?? 1) && problem === null; n++) {
        problem = mismatch(api, step.expect, () => run(api, engine, clock, step, saved, bundleOf));
      }
    } catch (e) {
      problem = `${e}`;
    }
    if (problem !== null) failures.push(`${name}: step ${i} (${raw.note ?? ""}): ${problem}`);
  });
  engine.free();
  return failures;
}

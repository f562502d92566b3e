'use strict'
// The shared scenarios (tests/vectors/scenarios/*.json at the repo root): run-time
// changes, sessions and checks on an engine with a ManualClock, through the Node
// API. The format is in tests/vectors/README.md; the runner knows no scenario.

const { describe, test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { agentauthz, REPO_ROOT, jsonFiles } = require('./helpers.js')
const { AuthzError, Engine, ManualClock, generateSessionKey } = agentauthz

const files = jsonFiles(path.join(REPO_ROOT, 'tests', 'vectors', 'scenarios'))

test('scenario files are found', () => {
  assert.ok(files.length >= 8, `${files.length} scenarios`)
})

/** Replaces every `${name}` inside a string by what a step saved as `name`. */
function substitute(value, saved) {
  if (typeof value === 'string') {
    return value.replace(/\$\{([^}]*)\}/g, (_, name) => {
      if (!(name in saved)) throw new Error(`nothing saved as ${name}`)
      return saved[name]
    })
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, saved))
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, saved)]))
  }
  return value
}

/** The wire's snake_case keys in their JS spelling (`ttl_seconds` → `ttlSeconds`). */
function camel(object) {
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c) => c.toUpperCase()), v]))
}

/** Runs one step through the Node API; returns a Decision, an object, or undefined. */
function run(engine, clock, step, saved, bundleOf) {
  const by = step.by ?? 'scenario'
  if ('advance' in step) return clock.advance(step.advance)
  if ('set_time' in step) return clock.set(step.set_time)
  if ('apply' in step) return engine.apply(step.apply, { by })
  if ('grant' in step) {
    const grant = engine.grant(camel(step.grant))
    if (step.as !== undefined) saved[step.as] = grant.id
    return grant
  }
  if ('generate_session_key' in step) {
    const kid = step.generate_session_key
    return engine.setSessionKeys({ signing: { kid, key: generateSessionKey(kid).secret } })
  }
  if ('issue_session' in step) {
    const { token, claims } = engine.issueSession(camel(step.issue_session))
    if (step.as !== undefined) {
      saved[step.as] = token
      saved[`${step.as}.id`] = claims.sessionId
    }
    return claims
  }
  if ('check_session' in step) return engine.check(step.check_session)
  if ('reload' in step) return engine.reload(bundleOf(step.reload))
  if ('record_usage' in step) {
    const { agent, units, kind } = step.record_usage
    return engine.recordUsage(agent, units, kind)
  }
  if ('usage' in step) return engine.usage(step.usage.agent, step.usage.action)
  if ('lockdown_status' in step) return engine.lockdownStatus()
  if ('approve' in step) {
    const { decision_id: id, request, ...rest } = step.approve
    const { ttl_seconds: ttl, ...others } = rest
    const approval = engine.approve(id ?? { request }, { by, ttl, ...camel(others) })
    if (step.as !== undefined) saved[step.as] = approval.id
    return approval
  }
  if ('reject' in step) {
    const { decision_id: id, request } = step.reject
    return engine.reject(id ?? { request }, { by })
  }
  if ('check' in step) {
    const decision = engine.check(step.check)
    if (step.as !== undefined) saved[step.as] = decision.decisionId
    return decision
  }
  throw new Error(`unknown step ${JSON.stringify(step)}`)
}

/** Whether `got` holds every member `want` names, with the same values. */
function contains(got, want) {
  if (want !== null && typeof want === 'object' && got !== null && typeof got === 'object') {
    return Object.entries(want).every(([k, v]) => k in got && contains(got[k], v))
  }
  return JSON.stringify(got) === JSON.stringify(want)
}

function compare(expect, f) {
  let got
  try {
    got = f()
  } catch (e) {
    if (!(e instanceof AuthzError)) throw e
    assert.equal(expect?.error, e.code, `unexpected error: ${e.message}`)
    return
  }
  if (expect === undefined) return
  assert.equal(expect.error, undefined, `expected error ${expect.error}, got ${JSON.stringify(got)}`)
  if ('value' in expect) assert.ok(contains(got, expect.value), `expected ${JSON.stringify(expect.value)}, got ${JSON.stringify(got)}`)
  if (expect.decision !== undefined) {
    assert.equal(got.decision, expect.decision, JSON.stringify(got))
    assert.deepEqual([...got.reasons].sort(), [...expect.reasons].sort(), JSON.stringify(got))
    if (expect.errors !== undefined) {
      assert.deepEqual(got.errors.map((e) => e.policy).sort(), [...expect.errors].sort(), JSON.stringify(got))
    }
  }
}

function readBundleDir(dir) {
  const abs = path.join(REPO_ROOT, dir)
  const read = (name) => fs.readFileSync(path.join(abs, name), 'utf8')
  const policies = {}
  for (const name of fs.readdirSync(path.join(abs, 'policies')).sort()) {
    if (name.endsWith('.cedar')) policies[name] = read(path.join('policies', name))
  }
  const input = { schema: read('schema.cedarschema'), policies, inventory: read('inventory.yaml') }
  if (fs.existsSync(path.join(abs, 'agentauthz.toml'))) input.config = read('agentauthz.toml')
  return input
}

for (const file of files) {
  const name = path.basename(file, '.json')
  const scenario = JSON.parse(fs.readFileSync(file, 'utf8'))
  describe(`scenario ${name}`, () => {
    for (const via of ['load', 'strings']) {
      if (via === 'load' && typeof scenario.bundle !== 'string') continue
      test(`${name} (${via})`, () => {
        const clock = new ManualClock(scenario.start)
        // A directory: loaded as one (`load`) or read into strings.
        const bundleOf = (spec) => (typeof spec !== 'string' ? spec : via === 'load' ? path.join(REPO_ROOT, spec) : readBundleDir(spec))
        const engine = via === 'load' ? Engine.load(bundleOf(scenario.bundle), { clock }) : Engine.fromStrings(bundleOf(scenario.bundle), { clock })
        const saved = {}
        scenario.steps.forEach((raw, i) => {
          try {
            const step = substitute(raw, saved)
            for (let n = 0; n < (step.repeat ?? 1); n++) compare(step.expect, () => run(engine, clock, step, saved, bundleOf))
          } catch (e) {
            e.message = `${name}: step ${i} (${raw.note ?? ''}): ${e.message}`
            throw e
          }
        })
      })
    }
  })
}

test('ManualClock: set, advance, refusals', () => {
  const clock = new ManualClock(new Date('2026-11-29T10:00:00Z'))
  assert.equal(clock.now, '2026-11-29T10:00:00.000Z')
  clock.advance(60.5)
  clock.advance(-0.5)
  assert.equal(clock.now, '2026-11-29T10:01:00.000Z')
  clock.set('2026-11-29T11:00:00+01:00')
  assert.equal(clock.now, '2026-11-29T10:00:00.000Z')
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 1e300, '1', null, undefined, {}]) {
    assert.throws(() => clock.advance(bad), (e) => e instanceof AuthzError && e.code === 'request_invalid', String(bad))
  }
  for (const bad of ['tomorrow', new Date(Number.NaN), 3, null]) {
    assert.throws(() => clock.set(bad), (e) => e instanceof AuthzError && e.code === 'request_invalid', String(bad))
    assert.throws(() => new ManualClock(bad), (e) => e instanceof AuthzError && e.code === 'request_invalid', String(bad))
  }
  assert.equal(clock.now, '2026-11-29T10:00:00.000Z', 'a refused change moves nothing')
  for (const bad of ['2026-11-29T10:00:00Z', {}, { now: 1 }]) {
    assert.throws(
      () => Engine.fromStrings({ schema: '', policies: '' }, { clock: bad }),
      (e) => e instanceof AuthzError && e.code === 'bundle_invalid',
    )
  }
})

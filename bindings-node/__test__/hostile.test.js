'use strict'
// Hostile input across the Node boundary: every failure an AuthzError with a
// code (never a plain RangeError/TypeError, never a crash), and the engine
// answers as before. Cases that could kill the process run in a child.

const { describe, test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const agentauthz = require('..')
const { Engine, AuthzError, RequestError, errorCodes } = agentauthz
const { PACKAGE_DIR } = require('./helpers.js')

const SCHEMA = `entity Doc;
action "docs:read" appliesTo { principal: [Agent], resource: [Doc], context: { input?: { size: Long } } };`
const POLICY = '@id("p") permit (principal, action, resource);'
const INVENTORY = 'users: [{id: u}]\nagents: [{id: a, owner: u}]\nresources: [{type: Doc, id: d}]\n'
const STRINGS = { schema: SCHEMA, policies: POLICY, inventory: INVENTORY }
const NOW = '2026-11-29T10:00:00Z'
const request = (over = {}) => ({ agent: 'a', action: 'docs:read', resource: { type: 'Doc', id: 'd' }, now: NOW, ...over })
const KNOWN = new Set(errorCodes().map((c) => c.code))

function caught(f) {
  try {
    f()
  } catch (e) {
    return e
  }
  return undefined
}

/** `f` throws an AuthzError with `code` (or any known code when `code` is undefined). */
function coded(f, code, label = '') {
  const e = caught(f)
  assert.ok(e instanceof AuthzError, `${label}: expected an AuthzError, got ${e && e.stack ? e.stack : e}`)
  assert.ok(KNOWN.has(e.code), `${label}: unknown code ${e.code}`)
  assert.equal(e.family, errorCodes().find((c) => c.code === e.code).family, label)
  if (code !== undefined) assert.equal(e.code, code, `${label}: ${e.message}`)
  assert.ok(e.message.startsWith(`[${e.code}] `), e.message)
  return e
}

function nest(n, make = (v) => ({ x: v })) {
  let v = 'leaf'
  for (let i = 0; i < n; i++) v = make(v)
  return v
}

function answers(engine) {
  const d = engine.check(request())
  assert.equal(d.decision, 'allow')
  assert.deepEqual(d.reasons, ['p'])
}

/** Runs `body` in a child node with `engine`, `agentauthz`, `report(name, f)`; returns its JSON lines. */
function inChild(body) {
  const script = `
    const agentauthz = require(${JSON.stringify(PACKAGE_DIR)})
    const { Engine, AuthzError } = agentauthz
    const engine = Engine.fromStrings(${JSON.stringify(STRINGS)}, { trustCallerTime: true })
    const request = (over = {}) => ({ ...${JSON.stringify(request())}, ...over })
    function nest(n, make = (v) => ({ x: v })) { let v = 'leaf'; for (let i = 0; i < n; i++) v = make(v); return v }
    function report(name, f) {
      let out
      try { f(); out = { ok: true } } catch (e) {
        out = e instanceof AuthzError ? { code: e.code, message: e.message.slice(0, 200) } : { raised: String(e && e.name), message: String(e && e.message).slice(0, 200) }
      }
      console.log(JSON.stringify({ case: name, ...out }))
    }
    ${body}
    console.log(JSON.stringify({ case: 'after', decision: engine.check(request()).decision }))
  `
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 24 })
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
  assert.equal(r.status, 0, `child died (${r.status} ${r.signal}) after ${JSON.stringify(lines)}: ${r.stderr.slice(-1500)}`)
  assert.deepEqual(lines.at(-1), { case: 'after', decision: 'allow' })
  return lines.slice(0, -1)
}

describe('deep, cyclic and huge values', () => {
  test('100k-deep and cyclic values are input_too_deep in every function that takes one (child process)', () => {
    const cases = inChild(`
      const deep = nest(100_000)
      const deepArray = nest(100_000, (v) => [v])
      const cyclic = { path: 'x' }; cyclic.self = cyclic
      const loop = []; loop.push(loop)
      for (const [name, v] of Object.entries({ deep, deepArray, cyclic, loop })) {
        report('check context ' + name, () => engine.check(request({ context: { input: v } })))
        report('check request ' + name, () => engine.check(v))
        report('checkBatch ' + name, () => engine.checkBatch([request({ context: v })]))
        report('check session ' + name, () => engine.check({ session: 't', action: 'docs:read', resource: { type: 'Doc', id: 'd' }, context: v }))
        report('fromStrings ' + name, () => Engine.fromStrings({ schema: v, policies: '' }))
        report('reload ' + name, () => engine.reload({ schema: v, policies: '' }))
        report('grant ' + name, () => engine.grant({ agent: v, actions: [], resource: v, reason: 'r', grantedBy: 'u' }))
        report('apply ' + name, () => engine.apply({ op: 'suspend', agent: v }, { by: 'u' }))
        report('addTask ' + name, () => engine.addTask({ id: v }, { by: 'u' }))
        report('issueSession ' + name, () => engine.issueSession({ agent: v }))
        report('setSessionKeys ' + name, () => engine.setSessionKeys({ verifying: v }))
      }
    `)
    assert.equal(cases.length, 4 * 11)
    for (const c of cases) assert.equal(c.code, 'input_too_deep', JSON.stringify(c))
    assert.ok(cases.filter((c) => c.case.includes('cyclic') || c.case.includes('loop')).every((c) => /cycle/.test(c.message)))
  })

  test('nesting that JSON.stringify manages is refused by the core with the same code', () => {
    const engine = Engine.fromStrings(STRINGS, { trustCallerTime: true })
    coded(() => engine.check(request({ context: { input: nest(1000) } })), 'input_too_deep')
    coded(() => engine.checkJson(JSON.stringify(request({ context: { input: nest(1000) } }))), 'input_too_deep')
    answers(engine)
  })

  test('shared (not cyclic) values are fine', () => {
    const engine = Engine.fromStrings(STRINGS, { trustCallerTime: true })
    const size = { size: 1 }
    const e = coded(() => engine.check(request({ context: { input: size, other: [size, size] } })))
    assert.equal(e.code, 'request_invalid') // `other` is not declared; not a cycle
    answers(engine)
  })
})

describe('values without a JSON form', () => {
  const engine = Engine.fromStrings(STRINGS, { trustCallerTime: true })
  const throwing = () => {
    throw new Error('from a getter')
  }
  const cases = {
    BigInt: { input: { size: 1n } },
    'throwing getter': {
      get input() {
        return throwing()
      },
    },
    'throwing toJSON': { input: { toJSON: throwing } },
    'Proxy with a throwing ownKeys trap': new Proxy({}, { ownKeys: throwing }),
    'Proxy with a throwing get trap': new Proxy({ input: 1 }, { get: throwing }),
    'revoked Proxy': (() => {
      const { proxy, revoke } = Proxy.revocable({}, {})
      revoke()
      return proxy
    })(),
  }
  for (const [name, context] of Object.entries(cases)) {
    test(`${name} in the context is request_parse`, () => {
      const e = coded(() => engine.check(request({ context })), 'request_parse', name)
      assert.ok(e instanceof RequestError)
      if (name !== 'BigInt') assert.ok(e.cause !== undefined, 'the thrown error is kept as the cause')
      answers(engine)
    })
  }

  test('a Proxy or throwing getter as the whole request', () => {
    coded(() => engine.check(new Proxy(request(), { get: throwing })), 'request_parse')
    coded(() => engine.check(new Proxy(request(), { has: throwing, ownKeys: throwing })), 'request_parse')
    const getters = Object.defineProperty(request(), 'onBehalfOf', { get: throwing, enumerable: true })
    coded(() => engine.check(getters), 'request_parse')
    coded(() => engine.checkBatch(new Proxy([request()], { get: throwing })), 'request_parse')
    // A well-behaved Proxy is just an object.
    assert.equal(engine.check(new Proxy(request(), {})).decision, 'allow')
    answers(engine)
  })

  test('text: lone surrogates and NUL are data, not crashes', () => {
    for (const agent of ['\ud800', 'a\u0000b', '\u0000', '\udfff\ud800', 'x'.repeat(100_000)]) {
      let d
      try {
        d = engine.check(request({ agent }))
      } catch (e) {
        assert.ok(e instanceof AuthzError, String(e))
        continue
      }
      assert.notEqual(d.decision, 'allow')
    }
    answers(engine)
  })
})

describe('wrong argument types', () => {
  test('checkJson takes text only', () => {
    const engine = Engine.fromStrings(STRINGS, { trustCallerTime: true })
    for (const v of [42, null, undefined, {}, [], 1n, Symbol('s'), () => 1]) {
      coded(() => engine.checkJson(v), 'request_parse', String(typeof v))
    }
    coded(() => engine.checkJson('{'), 'request_parse')
    answers(engine)
  })

  const BAD = [undefined, null, 42, -1, 1.5, NaN, 1n, true, 'x', '', '\ud800', Symbol('s'), [], {}, () => 1, new Date(NaN), new Proxy({}, {})]
  test('every exported function refuses any value with a coded error, or accepts it', () => {
    const engine = Engine.fromStrings(STRINGS, { trustCallerTime: true })
    // Strings are left out where a string is a file path the call would create.
    const noPath = (v) => (typeof v === 'string' ? 42 : v)
    const calls = (v) => ({
      'Engine.load': () => Engine.load(v),
      'Engine.load options': () => Engine.load('/no/such/dir', { journal: v, recover: v, decisionLog: v }),
      'Engine.fromStrings': () => Engine.fromStrings(v),
      'Engine.fromStrings options': () => Engine.fromStrings(STRINGS, { decisionLog: noPath(v), maxBytes: v }),
      check: () => engine.check(v),
      'check fields': () => engine.check({ agent: v, action: v, resource: v, now: v, context: v, onBehalfOf: v }),
      'check session': () => engine.check({ session: v, action: 'docs:read', resource: { type: 'Doc', id: 'd' } }),
      checkJson: () => engine.checkJson(v),
      checkBatch: () => engine.checkBatch(v),
      'checkBatch item': () => engine.checkBatch([v]),
      reload: () => engine.reload(v),
      setDecisionLog: () => engine.setDecisionLog(noPath(v) ?? 42, { maxBytes: v }),
      grant: () => engine.grant(v),
      'grant fields': () => engine.grant({ agent: v, actions: v, resource: v, ttlSeconds: v, reason: v, grantedBy: v }),
      revoke: () => engine.revoke(v, { by: v }),
      grants: () => engine.grants(v),
      grantPolicyText: () => engine.grantPolicyText(v),
      suspend: () => engine.suspend(v, v),
      reactivate: () => engine.reactivate(v, { by: v }),
      offboard: () => engine.offboard(v, { by: 'u' }),
      rotateCredential: () => engine.rotateCredential(v, { expires: v, by: v }),
      transferOwner: () => engine.transferOwner(v, { owner: v, by: v }),
      addTask: () => engine.addTask(v, { by: v }),
      apply: () => engine.apply(v, { by: 'u' }),
      issueSession: () => engine.issueSession(v),
      verifySession: () => engine.verifySession(v, { audience: v }),
      revokeSession: () => engine.revokeSession(v, { by: v }),
      setSessionKeys: () => engine.setSessionKeys(v),
      generateSessionKey: () => agentauthz.generateSessionKey(v),
      'wrong this': () => Engine.prototype.check.call(v, request()),
    })
    let refused = 0
    for (const v of BAD) {
      for (const [name, f] of Object.entries(calls(v))) {
        const e = caught(f)
        if (e === undefined) continue
        refused += 1
        coded(() => {
          throw e
        }, undefined, `${name}(${typeof v === 'symbol' ? 'Symbol' : String(v)})`)
      }
    }
    assert.ok(refused > BAD.length * 20, `only ${refused} calls refused`)
    // Nothing above changed what the engine answers.
    answers(engine)
  })
})

describe('pathological bundles (child processes)', () => {
  // name -> JS expression for the strings that replace the good bundle's.
  const BUNDLES = {
    'policy with 600 nested parentheses': `({ policies: '@id("deep") permit (principal, action, resource) when { ' + '('.repeat(600) + 'true' + ')'.repeat(600) + ' };' })`,
    'policy with 50,000 nested parentheses': `({ policies: '@id("deep") permit (principal, action, resource) when { ' + '('.repeat(50_000) + 'true' + ')'.repeat(50_000) + ' };' })`,
    'schema with a 20,000-deep Set': `({ schema: ${JSON.stringify(SCHEMA)} + '\\nentity Deep { a: ' + 'Set<'.repeat(20_000) + 'String' + '>'.repeat(20_000) + ' };' })`,
    'YAML inventory 100,000 deep': `({ inventory: 'agents: ' + '['.repeat(100_000) + ']'.repeat(100_000) })`,
  }
  for (const [name, expr] of Object.entries(BUNDLES)) {
    test(`${name}: load fails with a code, reload keeps the old bundle`, () => {
      const cases = inChild(`
        const bad = { ...${JSON.stringify(STRINGS)}, ...${expr} }
        const revision = engine.policyRevision
        report('load', () => Engine.fromStrings(bad))
        report('reload', () => engine.reload(bad))
        console.log(JSON.stringify({ case: 'same revision', ok: engine.policyRevision === revision }))
      `)
      const by = Object.fromEntries(cases.map((c) => [c.case, c]))
      for (const step of ['load', 'reload']) {
        assert.ok(['input_too_deep', 'input_too_large'].includes(by[step].code), JSON.stringify(by[step]))
      }
      assert.equal(by['same revision'].ok, true)
    })
  }
})

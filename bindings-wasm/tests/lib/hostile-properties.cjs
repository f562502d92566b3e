'use strict'
// fast-check property run across the WASM package's boundary (the same run as
// the Node package's __test__/lib/hostile-properties.js), started in a child
// process by tests/node/properties.test.mjs (a crash fails that test instead of
// killing the runner). Random and adversarial values (anything fast-check
// makes, BigInt, lone surrogates, NUL, 100k-deep and cyclic values, throwing
// getters, toJSON and Proxy traps) go into every argument of every export:
// each call returns or throws an AuthzError with a known code, and the engine
// still decides a known allow and deny. Prints `N passed, 0 failed`.

const fc = require('fast-check')
const agentauthz = require(require('node:path').join(__dirname, '..', '..', 'pkg', 'node', 'node.js'))
const { Engine, AuthzError, errorCodes } = agentauthz

const SCHEMA = `entity Doc;
action "docs:read" appliesTo { principal: [Agent], resource: [Doc], context: { input?: { size: Long } } };`
const STRINGS = {
  schema: SCHEMA,
  policies: '@id("p") permit (principal, action, resource) unless { context has input && context.input.size > 10 };',
  inventory: 'users: [{id: u}]\nagents: [{id: a, owner: u}]\nresources: [{type: Doc, id: d}]\n',
}
const NOW = '2026-11-29T10:00:00Z'
const request = (over = {}) => ({ agent: 'a', action: 'docs:read', resource: { type: 'Doc', id: 'd' }, now: NOW, ...over })
const KNOWN = new Set(errorCodes().map((c) => c.code))
const RUNS = Number(process.env.AGENTAUTHZ_PROPERTY_RUNS ?? 300)

const engine = Engine.fromStrings(STRINGS, { trustCallerTime: true })
const revision = engine.policyRevision

function decidesCorrectly() {
  const allow = engine.check(request({ context: { input: { size: 1 } } }))
  const deny = engine.check(request({ context: { input: { size: 11 } } }))
  if (allow.decision !== 'allow' || deny.decision !== 'deny' || engine.policyRevision !== revision) {
    throw new Error(`the engine changed its answers: ${JSON.stringify([allow, deny])}`)
  }
}

const throwing = () => {
  throw new Error('from user code')
}
function nest(n, array) {
  let v = 'leaf'
  for (let i = 0; i < n; i++) v = array ? [v] : { x: v }
  return v
}

const text = fc.oneof(fc.string({ unit: 'binary', maxLength: 20 }), fc.constantFrom('\ud800', '\udfff\ud800', 'a\u0000b', '\u0000', '', 'x'.repeat(5000)))
const deep = fc.tuple(fc.integer({ min: 60, max: 100_000 }), fc.boolean()).map(([n, array]) => `@deep:${n}:${array}`)
const special = fc.constantFrom(
  'cyclic',
  'cyclic array',
  'getter',
  'toJSON',
  'proxy ownKeys',
  'proxy get',
  'revoked proxy',
  'BigInt',
  'Symbol',
  'function',
  'invalid Date',
  'null prototype',
).map((kind) => `@special:${kind}`)
// fast-check inspects and prints the values it makes: hostile ones (a revoked
// Proxy) are made here, in the property, from their tag.
function make(kind) {
  switch (kind) {
    case 'cyclic': {
      const o = { a: 1 }
      o.self = { back: o }
      return o
    }
    case 'cyclic array': {
      const a = []
      a.push(a)
      return a
    }
    case 'getter':
      return { get input() { return throwing() } }
    case 'toJSON':
      return { input: { toJSON: throwing } }
    case 'proxy ownKeys':
      return new Proxy({}, { ownKeys: throwing })
    case 'proxy get':
      return new Proxy({ input: 1 }, { get: throwing })
    case 'revoked proxy': {
      const { proxy, revoke } = Proxy.revocable({}, {})
      revoke()
      return proxy
    }
    case 'BigInt':
      return 10n ** 30n
    case 'Symbol':
      return Symbol('s')
    case 'function':
      return () => 1
    case 'invalid Date':
      return new Date(NaN)
    default:
      return Object.create(null)
  }
}
function materialize(v) {
  if (typeof v === 'string' && v.startsWith('@special:')) return make(v.slice(9))
  if (typeof v === 'string' && v.startsWith('@deep:')) {
    const [, n, array] = v.split(':')
    return nest(Number(n), array === 'true')
  }
  if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, materialize(x)]))
  }
  return v
}
const anything = fc.anything({
  maxDepth: 4,
  withBigInt: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withSparseArray: true,
  withTypedArray: true,
  withBoxedValues: true,
  withObjectString: true,
})
const hostile = fc.oneof(anything, text, deep, special, fc.dictionary(fc.constantFrom('input', 'agent', 'context', 'size'), fc.oneof(anything, special, text)))

const CALLS = {
  'Engine.fromStrings': (v) => Engine.fromStrings(v),
  'Engine.fromStrings field': (v) => Engine.fromStrings({ ...STRINGS, policies: v }),
  'Engine.fromStrings options': (v) => Engine.fromStrings(STRINGS, { decisionLog: v }),
  check: (v) => engine.check(v),
  'check context': (v) => engine.check(request({ context: v })),
  'check input': (v) => engine.check(request({ context: { input: v } })),
  'check fields': (v) => engine.check({ agent: v, action: v, resource: v, now: v, onBehalfOf: v, task: v, credential: v }),
  'check session': (v) => engine.check({ session: v, action: 'docs:read', resource: { type: 'Doc', id: 'd' }, context: v }),
  checkJson: (v) => engine.checkJson(v),
  'checkJson text': (v) => engine.checkJson(typeof v === 'string' ? v : String(typeof v)),
  checkBatch: (v) => engine.checkBatch(v),
  'checkBatch item': (v) => engine.checkBatch([request(), v]),
  reload: (v) => engine.reload(v),
  // A valid inventory text would really reload: do it on an engine of its own.
  'reload field': (v) => Engine.fromStrings(STRINGS, { trustCallerTime: true }).reload({ ...STRINGS, inventory: v }),
  setDecisionLog: (v) => Engine.fromStrings(STRINGS, { trustCallerTime: true }).setDecisionLog(v ?? 42),
  grant: (v) => engine.grant(v),
  'grant fields': (v) => engine.grant({ agent: v, actions: v, resource: v, ttlSeconds: v, until: v, starts: v, reason: v, grantedBy: v }),
  revoke: (v) => engine.revoke(v, { by: v }),
  grants: (v) => engine.grants(v),
  grantPolicyText: (v) => engine.grantPolicyText(v),
  suspend: (v) => engine.suspend(v, v),
  reactivate: (v) => engine.reactivate(v, { by: v }),
  offboard: (v) => engine.offboard(v, { by: v }),
  rotateCredential: (v) => engine.rotateCredential(v, { expires: v, by: v }),
  transferOwner: (v) => engine.transferOwner(v, { owner: v, by: v }),
  addTask: (v) => engine.addTask(v, { by: v }),
  apply: (v) => engine.apply(v, { by: 'u' }),
  'apply by': (v) => engine.apply({ op: 'suspend', agent: 'zz' }, v),
  issueSession: (v) => engine.issueSession(v),
  verifySession: (v) => engine.verifySession(v, { audience: v }),
  revokeSession: (v) => engine.revokeSession(v, { by: v }),
  setSessionKeys: (v) => engine.setSessionKeys(v),
  generateSessionKey: (v) => agentauthz.generateSessionKey(v),
}
// Calls that must not change the engine when given the known agent: none
// of the values above is 'a' except by chance of fc.string, so changes are
// made on a throwaway agent id instead.
const SAFE = (v) => (v === 'a' ? 'not-a' : v)

let runs = 0
fc.assert(
  fc.property(fc.constantFrom(...Object.keys(CALLS)), hostile, (name, value) => {
    runs += 1
    try {
      CALLS[name](SAFE(materialize(value)))
    } catch (e) {
      if (!(e instanceof AuthzError) || !KNOWN.has(e.code)) {
        throw new Error(`${name} threw a non-AuthzError: ${e && e.stack ? e.stack : String(e)}`)
      }
    }
    decidesCorrectly()
  }),
  { numRuns: RUNS },
)
decidesCorrectly()
console.log(`${runs} passed, 0 failed`)

'use strict'
// The Engine API from CommonJS: loading, check in both spellings, batches,
// reload, and the JS-side conversions (Date, camelCase, large integers).

const { describe, test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { pathToFileURL } = require('node:url')
const agentauthz = require('..')
const { Engine, Decision, AuthzError, BundleError, PolicyError, RequestError } = agentauthz
const { FIXTURES } = require('./helpers.js')

const HELPDESK = path.join(FIXTURES, 'helpdesk')
const NOW = '2026-11-29T10:00:00Z'

const read = (extra = {}) => ({
  agent: 'desk-bot',
  action: 'tickets:read',
  resource: { type: 'Ticket', id: 'T-1' },
  onBehalfOf: 'alice',
  now: NOW,
  ...extra,
})

/** The helpdesk bundle as texts, the way a WASM caller would pass it. */
function helpdeskStrings() {
  const policies = {}
  for (const f of fs.readdirSync(path.join(HELPDESK, 'policies')).sort()) {
    policies[f] = fs.readFileSync(path.join(HELPDESK, 'policies', f), 'utf8')
  }
  return {
    schema: fs.readFileSync(path.join(HELPDESK, 'schema.cedarschema'), 'utf8'),
    policies,
    inventory: fs.readFileSync(path.join(HELPDESK, 'inventory.yaml'), 'utf8'),
  }
}

const TINY_SCHEMA = `entity Doc;
action "docs:read" appliesTo { principal: [Agent], resource: [Doc], context: { input?: { size: Long } } };`
const TINY_INVENTORY = 'users: [{id: u}]\nagents: [{id: a, owner: u}]\nresources: [{type: Doc, id: d}]\n'
const tinyRequest = (extra = {}) => ({ agent: 'a', action: 'docs:read', resource: { type: 'Doc', id: 'd' }, now: NOW, ...extra })

describe('loading', () => {
  test('Engine.load reads a bundle directory, from a path or a file: URL', () => {
    const a = Engine.load(HELPDESK, { trustCallerTime: true })
    const b = Engine.load(pathToFileURL(HELPDESK), { trustCallerTime: true })
    assert.ok(a instanceof Engine)
    assert.match(a.policyRevision, /^sha256:[0-9a-f]{64}$/)
    assert.equal(a.policyRevision, b.policyRevision)
  })

  test('Engine.load refuses a directory that is not there', () => {
    assert.throws(() => Engine.load(path.join(FIXTURES, 'no-such-bundle'), { trustCallerTime: true }), (e) => {
      assert.ok(e instanceof BundleError && e instanceof AuthzError && e instanceof Error)
      assert.equal(e.code, 'bundle_invalid')
      return true
    })
  })

  test('Engine.load wants a path', () => {
    assert.throws(() => Engine.load(42), (e) => e instanceof BundleError && e.code === 'bundle_invalid')
  })

  test('Engine.fromStrings decides like Engine.load on the same texts', () => {
    const fromDir = Engine.load(HELPDESK, { trustCallerTime: true })
    const fromStrings = Engine.fromStrings(helpdeskStrings(), { trustCallerTime: true })
    for (const request of [read(), read({ resource: { type: 'Ticket', id: 'T-2' } }), read({ agent: 'stray-bot' })]) {
      const a = fromDir.check(request)
      const b = fromStrings.check(request)
      assert.equal(a.decision, b.decision)
      assert.deepEqual(a.reasons, b.reasons)
    }
  })

  test('policies may be one text, a list of texts, or an object of name to text', () => {
    const texts = Object.values(helpdeskStrings().policies)
    const { schema, inventory } = helpdeskStrings()
    for (const policies of [texts.join('\n'), texts, helpdeskStrings().policies]) {
      const d = Engine.fromStrings({ schema, policies, inventory }, { trustCallerTime: true }).check(read())
      assert.equal(d.decision, 'allow')
      assert.deepEqual(d.reasons, ['desk/read-own-tickets'])
    }
  })

  test('inventory and config are optional; undefined counts as absent', () => {
    const e = Engine.fromStrings({ schema: TINY_SCHEMA, policies: '@id("p") permit (principal, action, resource);', inventory: undefined }, { trustCallerTime: true })
    // No inventory: the agent is unknown, which the baseline denies.
    assert.deepEqual(e.check(tinyRequest()).reasons, ['baseline/unknown-agent'])
  })

  test('a config switches baseline guardrails', () => {
    const base = { schema: TINY_SCHEMA, policies: '@id("p") permit (principal, action, resource);' }
    const inventory = 'agents: [{id: a}]\nresources: [{type: Doc, id: d}]\n' // no owner
    assert.deepEqual(Engine.fromStrings({ ...base, inventory }, { trustCallerTime: true }).check(tinyRequest()).reasons, ['baseline/owner-required'])
    const off = Engine.fromStrings({ ...base, inventory, config: '[baseline]\nowner-required = false\n' }, { trustCallerTime: true })
    assert.equal(off.check(tinyRequest()).decision, 'allow')
  })

  test('fromStrings without an input object is a BundleError', () => {
    for (const bad of [undefined, null, 'schema', 42]) {
      assert.throws(() => Engine.fromStrings(bad, { trustCallerTime: true }), (e) => e instanceof BundleError && e.code === 'bundle_invalid')
    }
  })

  test('an Engine cannot be constructed with new', () => {
    assert.throws(() => new Engine())
  })
})

describe('check', () => {
  const engine = Engine.load(HELPDESK, { trustCallerTime: true })

  test('returns a Decision with the core fields in JS spelling', () => {
    const d = engine.check(read())
    assert.ok(d instanceof Decision)
    assert.equal(d.allowed, true)
    assert.equal(d.decision, 'allow')
    assert.deepEqual(d.reasons, ['desk/read-own-tickets'])
    assert.deepEqual(d.errors, [])
    assert.match(d.decisionId, /^[0-9A-HJKMNP-TV-Z]{26}$/)
    assert.equal(d.policyRevision, engine.policyRevision)
  })

  test('a deny is a Decision, not an error', () => {
    const d = engine.check(read({ resource: { type: 'Ticket', id: 'T-2' } }))
    assert.equal(d.allowed, false)
    assert.equal(d.decision, 'deny')
    assert.deepEqual(d.reasons, [])
  })

  test('decision ids are unique', () => {
    const ids = new Set(Array.from({ length: 200 }, () => engine.check(read()).decisionId))
    assert.equal(ids.size, 200)
  })

  test('toJSON is the core wire format, as checkJson returns it', () => {
    const d = engine.check(read())
    const wire = JSON.parse(engine.checkJson(JSON.stringify({ ...read({ onBehalfOf: undefined }), on_behalf_of: 'alice' })))
    assert.deepEqual(Object.keys(d.toJSON()), Object.keys(wire))
    assert.deepEqual({ ...d.toJSON(), decision_id: null }, { ...wire, decision_id: null })
    assert.deepEqual(JSON.parse(JSON.stringify(d)), d.toJSON())
  })

  test('onBehalfOf and on_behalf_of are the same field', () => {
    const camel = engine.check(read())
    const snake = engine.check({ ...read({ onBehalfOf: undefined }), on_behalf_of: 'alice' })
    assert.equal(camel.decision, 'allow')
    assert.equal(snake.decision, 'allow')
    // Without it, nothing permits the read: the field really reached the core.
    assert.equal(engine.check(read({ onBehalfOf: undefined })).decision, 'deny')
  })

  // Drift fixed by the shared JS layer (issue 16): one spelling per field,
  // refused when both are given, an undefined member left out in either
  // spelling (WASM refused {onBehalfOf, on_behalf_of: undefined}).
  test('an undefined spelling is left out; both spellings at once are refused in a batch too', () => {
    assert.equal(engine.check({ ...read(), on_behalf_of: undefined }).decision, 'allow')
    assert.equal(engine.check({ ...read({ onBehalfOf: undefined }), on_behalf_of: 'alice' }).decision, 'allow')
    const both = { ...read(), on_behalf_of: 'alice' }
    assert.throws(() => engine.checkBatch([read(), both]), (e) => e instanceof RequestError && e.code === 'request_parse')
    assert.throws(() => engine.check({ ...both, now: new Date(NOW) }), (e) => e instanceof RequestError && e.code === 'request_parse')
  })

  test('giving both spellings is a request error', () => {
    assert.throws(() => engine.check({ ...read(), on_behalf_of: 'bob' }), (e) => e instanceof RequestError && e.code === 'request_parse')
  })

  test('now may be a Date or an RFC 3339 string', () => {
    const inWindow = { task: 'SHIFT-1' }
    assert.equal(engine.check(read({ ...inWindow, now: new Date('2026-11-29T10:00:00Z') })).decision, 'allow')
    const late = engine.check(read({ ...inWindow, now: new Date('2026-11-29T20:00:00Z') }))
    assert.deepEqual(late.reasons, ['baseline/task-window'])
    assert.deepEqual(engine.check(read({ ...inWindow, now: '2026-11-29T20:00:00Z' })).reasons, ['baseline/task-window'])
  })

  test('an invalid Date is a request error, not the engine clock', () => {
    assert.throws(() => engine.check(read({ now: new Date('not a date') })), (e) => e instanceof RequestError && e.code === 'request_invalid')
  })

  test('without now the engine clock decides', () => {
    // SHIFT-1 is a window in 2026-11-29; the clock of this machine is elsewhere or not,
    // either way the answer is a decision, never an error.
    const d = engine.check(read({ now: undefined }))
    assert.equal(d.decision, 'allow')
  })

  test('undefined optional fields count as absent', () => {
    const d = engine.check(read({ task: undefined, credential: undefined, context: undefined }))
    assert.equal(d.decision, 'allow')
  })

  test('integers beyond 32 bits reach Cedar as Longs', () => {
    const e = Engine.fromStrings({
      schema: TINY_SCHEMA,
      policies: '@id("big") permit (principal, action, resource) when { context has input && context.input.size > 4294967296 };',
      inventory: TINY_INVENTORY,
    }, { trustCallerTime: true })
    assert.equal(e.check(tinyRequest({ context: { input: { size: 5_000_000_000 } } })).decision, 'allow')
    assert.equal(e.check(tinyRequest({ context: { input: { size: -5_000_000_000 } } })).decision, 'deny')
    assert.equal(e.check(tinyRequest({ context: { input: { size: 2 ** 53 - 1 } } })).decision, 'allow')
  })

  test('a fractional number for a Long is a request error', () => {
    const e = Engine.fromStrings({ schema: TINY_SCHEMA, policies: '@id("p") permit (principal, action, resource);', inventory: TINY_INVENTORY }, { trustCallerTime: true })
    assert.throws(() => e.check(tinyRequest({ context: { input: { size: 1.5 } } })), (err) => err.code === 'request_invalid')
  })

  test('a request that is not an object is a request error', () => {
    for (const bad of [undefined, null, 'tickets:read', 42, []]) {
      assert.throws(() => engine.check(bad), (e) => e instanceof RequestError && e.code === 'request_parse', String(bad))
    }
  })

  test('the Cedar form evaluates as-is', () => {
    const d = engine.check({
      principal: { type: 'Agent', id: 'desk-bot' },
      action: { type: 'Action', id: 'mail:send' },
      resource: { type: 'Mailbox', id: 'support' },
      context: { now: NOW, input: { to: 'bob@acme.example', subject: 'hi' } },
    })
    assert.deepEqual(d.reasons, ['desk/mail-internal-only'])
  })

  test('checkJson speaks the wire format and throws AuthzError', () => {
    const out = JSON.parse(
      engine.checkJson('{"agent":"desk-bot","action":"tickets:read","resource":{"type":"Ticket","id":"T-1"},"on_behalf_of":"alice","now":"2026-11-29T10:00:00Z"}'),
    )
    assert.equal(out.decision, 'allow')
    assert.ok('decision_id' in out && 'policy_revision' in out)
    assert.throws(() => engine.checkJson('{not json'), (e) => e instanceof RequestError && e.code === 'request_parse')
  })
})

describe('checkBatch', () => {
  const engine = Engine.load(HELPDESK, { trustCallerTime: true })

  test('decides each request, in order', () => {
    const ds = engine.checkBatch([read(), read({ resource: { type: 'Ticket', id: 'T-2' } }), read({ agent: 'stray-bot' })])
    assert.equal(ds.length, 3)
    assert.ok(ds.every((d) => d instanceof Decision))
    assert.deepEqual(
      ds.map((d) => [d.decision, d.reasons]),
      [
        ['allow', ['desk/read-own-tickets']],
        ['deny', []],
        ['deny', ['baseline/owner-required']],
      ],
    )
    assert.equal(new Set(ds.map((d) => d.decisionId)).size, 3)
  })

  test('an empty batch is an empty list', () => {
    assert.deepEqual(engine.checkBatch([]), [])
  })

  test('one bad request fails the batch and names its index', () => {
    assert.throws(
      () => engine.checkBatch([read(), read({ context: { input: 1 } }), read()]),
      (e) => e instanceof RequestError && /request \[1\]/.test(e.message),
    )
  })

  test('a batch must be an array', () => {
    assert.throws(() => engine.checkBatch(read()), (e) => e instanceof RequestError && e.code === 'request_parse')
  })
})

describe('reload', () => {
  const allowAll = { schema: TINY_SCHEMA, policies: '@id("all") permit (principal, action, resource);', inventory: TINY_INVENTORY }
  const denyAll = { ...allowAll, policies: '@id("none") forbid (principal, action, resource);' }

  test('swaps in new policies and a new revision', () => {
    const e = Engine.fromStrings(allowAll, { trustCallerTime: true })
    const before = e.policyRevision
    assert.equal(e.check(tinyRequest()).decision, 'allow')
    e.reload(denyAll)
    assert.notEqual(e.policyRevision, before)
    const d = e.check(tinyRequest())
    assert.deepEqual([d.decision, d.reasons], ['deny', ['none']])
    assert.equal(d.policyRevision, e.policyRevision)
  })

  test('a bad bundle leaves the current one active', () => {
    const e = Engine.fromStrings(allowAll, { trustCallerTime: true })
    const before = e.policyRevision
    assert.throws(() => e.reload({ ...allowAll, policies: '@id("x") permit (principal, action' }), (err) => err instanceof PolicyError && err.code === 'policy_parse')
    assert.throws(() => e.reload(path.join(FIXTURES, 'no-such-bundle')), BundleError)
    assert.throws(() => e.reload(), BundleError)
    assert.equal(e.policyRevision, before)
    assert.equal(e.check(tinyRequest()).decision, 'allow')
  })

  test('reloads a directory, from a path or a file: URL', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentauthz-reload-'))
    try {
      fs.mkdirSync(path.join(dir, 'policies'))
      fs.writeFileSync(path.join(dir, 'schema.cedarschema'), TINY_SCHEMA)
      fs.writeFileSync(path.join(dir, 'inventory.yaml'), TINY_INVENTORY)
      fs.writeFileSync(path.join(dir, 'policies', 'p.cedar'), denyAll.policies)
      const e = Engine.fromStrings(allowAll, { trustCallerTime: true })
      e.reload(dir)
      assert.deepEqual(e.check(tinyRequest()).reasons, ['none'])
      fs.writeFileSync(path.join(dir, 'policies', 'p.cedar'), allowAll.policies)
      e.reload(pathToFileURL(dir))
      assert.deepEqual(e.check(tinyRequest()).reasons, ['all'])
      assert.equal(e.policyRevision, Engine.load(dir, { trustCallerTime: true }).policyRevision)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('module', () => {
  test('the ESM entry point exports the same objects', async () => {
    const esm = await import('agentauthz')
    const cjsKeys = Object.keys(agentauthz).sort()
    assert.deepEqual(
      Object.keys(esm)
        .filter((k) => k !== 'default')
        .sort(),
      cjsKeys,
    )
    for (const k of cjsKeys) assert.equal(esm[k], agentauthz[k], k)
    assert.equal(esm.default, agentauthz)
  })

  test('evaluating index.js again over the same addon keeps working', () => {
    const file = require.resolve('..')
    const saved = require.cache[file]
    delete require.cache[file]
    try {
      const again = require('..')
      assert.notEqual(again, agentauthz)
      assert.equal(again.Engine, Engine) // one addon, one class
      const d = again.Engine.load(HELPDESK, { trustCallerTime: true }).check(read())
      assert.ok(d instanceof again.Decision)
      assert.deepEqual(d.reasons, ['desk/read-own-tickets'])
      assert.throws(() => again.Engine.load(path.join(FIXTURES, 'nope'), { trustCallerTime: true }), again.BundleError)
    } finally {
      require.cache[file] = saved
    }
  })

  test('coreVersion is the core crate version', () => {
    const cargo = fs.readFileSync(path.join(__dirname, '..', '..', 'Cargo.toml'), 'utf8')
    const version = /\[workspace\.package\][^[]*?version\s*=\s*"([^"]+)"/.exec(cargo)[1]
    assert.equal(agentauthz.coreVersion(), version)
  })
})

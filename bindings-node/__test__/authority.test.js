'use strict'

// Who decides: the time rule, session audiences and task windows, the checks
// every request form gets, the guardrails, the inventory's vocabularies and
// lifecycle decisions with guardrails switched off. Every case ends in a deny
// or a coded error, never an allow. The engine clock is the real one: windows
// here are either long closed (2020) or wide open.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Engine, RequestError, SessionError, LifecycleError, InventoryError, generateSessionKey } = require('..')

const SCHEMA = `
entity Doc;
entity Ticket;
action "read" appliesTo {
  principal: [Agent], resource: [Doc],
  context: { ticket?: Ticket }
};
`
const POLICIES = '@id("read-all")\npermit (principal, action == Action::"read", resource);\n'
const INVENTORY = `
users:
  - {id: alice}
  - {id: bob, active: false}
agents:
  - {id: ci-bot, owner: alice}
  - {id: old-bot, owner: alice, status: offboarded}
credentials:
  - {id: old-key, agent: ci-bot, kind: api_token, issued: "2019-01-01T00:00:00Z", expires: "2020-01-01T00:00:00Z"}
  - {id: future-key, agent: ci-bot, kind: api_token, issued: "2099-01-01T00:00:00Z", expires: "2100-01-01T00:00:00Z"}
tasks:
  - {id: T-closed, agent: ci-bot, not_before: "2020-01-01T00:00:00Z", not_after: "2020-01-02T00:00:00Z"}
resources:
  - {type: Doc, id: readme}
  - {type: Ticket, id: TK-1}
`
const SESSIONS = '[sessions]\naudience = "tools"\n'
const ALL_OFF =
  '[baseline]\nowner-required = false\nagent-active = false\ntask-window = false\n' +
  'no-human-credentials = false\ncredential-expired = false\non-behalf-of-active = false\n'
const DOC = { type: 'Doc', id: 'readme' }

function engine({ config = SESSIONS, trust = false, inventory = INVENTORY } = {}) {
  const e = Engine.fromStrings({ schema: SCHEMA, policies: POLICIES, inventory, config }, { trustCallerTime: trust })
  e.setSessionKeys({ signing: { kid: 'k1', key: generateSessionKey('k1').secret } })
  return e
}

const read = (extra = {}) => ({ agent: 'ci-bot', action: 'read', resource: DOC, ...extra })
const cedar = (principal, context) => ({
  principal: { type: 'Agent', id: principal },
  action: { type: 'Action', id: 'read' },
  resource: DOC,
  context,
})
const entity = (type, id) => ({ __entity: { type, id } })

function denied(decision, reasons) {
  assert.equal(decision.allowed, false)
  assert.deepEqual(decision.reasons, reasons)
}

function throwsCode(fn, cls, code) {
  assert.throws(fn, (e) => e instanceof cls && e.code === code)
}

test('a caller cannot set the time unless the engine trusts it', () => {
  const e = engine()
  const past = read({ credential: 'old-key', task: 'T-closed', now: '2020-01-01T12:00:00Z' })
  throwsCode(() => e.check(past), RequestError, 'request_invalid')
  throwsCode(() => e.check(read({ now: new Date('2020-01-01T12:00:00Z') })), RequestError, 'request_invalid')
  throwsCode(() => e.check(cedar('ci-bot', { now: '2020-01-01T12:00:00Z' })), RequestError, 'request_invalid')
  denied(e.check(read({ credential: 'old-key', task: 'T-closed' })), [
    'baseline/credential-expired',
    'baseline/task-window',
  ])
  // A trusting engine takes the caller's time, for every guardrail alike.
  const trusting = engine({ trust: true })
  denied(trusting.check(read({ task: 'T-closed', now: '2020-01-03T00:00:00Z' })), ['baseline/task-window'])
})

test('a session check is at the engine clock, for the configured audience only', () => {
  const e = engine({ trust: true })
  const { token } = e.issueSession({ agent: 'ci-bot' })
  throwsCode(
    () => e.check({ session: token, action: 'read', resource: DOC, now: '2020-01-01T00:00:00Z' }),
    RequestError,
    'request_invalid',
  )
  throwsCode(() => e.check({ session: token, action: 'read', resource: DOC, audience: 'billing' }), SessionError, 'session_invalid')
  throwsCode(() => e.verifySession(token, { audience: 'billing' }), SessionError, 'session_invalid')
  throwsCode(() => e.issueSession({ agent: 'ci-bot', audience: 'billing' }), SessionError, 'session_invalid')
  throwsCode(() => e.issueSession({ agent: 'ci-bot', task: 'T-closed' }), LifecycleError, 'lifecycle_invalid')
})

for (const [label, config] of [
  ['default switches', SESSIONS],
  ['every switch off', ALL_OFF],
]) {
  test(`the Cedar form gets the unknown-entity denials (${label})`, () => {
    const e = engine({ config })
    denied(e.check(cedar('ci-bot', { on_behalf_of: entity('User', 'mallory') })), ['baseline/unknown-on-behalf-of'])
    denied(e.check(cedar('ghost-bot', {})), ['baseline/unknown-agent'])
    denied(e.check(cedar('ci-bot', { ticket: entity('Ticket', 'TK-404') })), ['baseline/unknown-entity'])
    denied(e.check(read({ context: { ticket: { type: 'Ticket', id: 'TK-404' } } })), ['baseline/unknown-entity'])
  })
}

test('inactive on-behalf-of users and credentials used before they were issued are denied', () => {
  const e = engine()
  denied(e.check(read({ onBehalfOf: 'bob' })), ['baseline/on-behalf-of-active'])
  denied(e.check(read({ credential: 'future-key' })), ['baseline/credential-expired'])
})

test('a credential kind outside the vocabulary is refused in a Cedar entities array', () => {
  const inventory = JSON.stringify([
    { uid: { type: 'User', id: 'alice' }, attrs: { active: true }, parents: [] },
    {
      uid: { type: 'Agent', id: 'ci-bot' },
      attrs: { owner: entity('User', 'alice'), kind: 'ci', status: 'active' },
      parents: [],
    },
    {
      uid: { type: 'Credential', id: 'k' },
      attrs: { agent: entity('Agent', 'ci-bot'), kind: 'Human_Token', revoked: false },
      parents: [],
    },
  ])
  throwsCode(() => engine({ inventory }), InventoryError, 'inventory_invalid')
})

test('offboarding is final and holds with agent-active switched off', () => {
  const e = engine({ config: ALL_OFF })
  const by = { by: 'alice' }
  denied(e.check(read({ agent: 'old-bot' })), ['baseline/agent-offboarded'])
  e.suspend('ci-bot', by)
  denied(e.check(read()), ['baseline/agent-suspended'])
  e.offboard('ci-bot', by)
  denied(e.check(cedar('ci-bot', {})), ['baseline/agent-offboarded'])
  const task = { id: 'T-new', agent: 'ci-bot', notBefore: '2020-01-01T00:00:00Z', notAfter: '2100-01-01T00:00:00Z' }
  throwsCode(() => e.addTask(task, by), LifecycleError, 'lifecycle_invalid')
  throwsCode(() => e.transferOwner('ci-bot', { owner: 'alice', ...by }), LifecycleError, 'lifecycle_invalid')
})

// engine.checkToolCall in the WASM package: the core's one tool-call mapper. The
// coercions are the core's (core/tests/tool_call.rs); here: the arguments
// reach the core, JS numbers and nulls are coerced, refusals are coded errors.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)
const { Engine, RequestError, LimitError, generateSessionKey } = require('../../pkg/node/node.js')

const SCHEMA = `
entity Account;
type Refund = { amount: decimal, currency: String, note?: String };
action "refund" appliesTo {
  principal: [Agent], resource: [Account],
  context: { input: { refund: Refund, count?: Long } }
};`
const POLICIES = `
@id("refund-small")
permit (principal, action == Action::"refund", resource)
when { context.input.refund.amount.lessThanOrEqual(decimal("100.0")) };
@id("refund-count")
forbid (principal, action == Action::"refund", resource)
when { context.input has count && context.input.count > 10 };`
const INVENTORY = `
users:
  - {id: alice}
agents:
  - {id: ci-bot, owner: alice}
resources:
  - {type: Account, id: acme}
`
const ACME = { type: 'Account', id: 'acme' }

function setup() {
  const engine = Engine.fromStrings({ schema: SCHEMA, policies: POLICIES, inventory: INVENTORY, config: '[sessions]\naudience = "tools"\n' })
  const records = []
  engine.setDecisionLog((r) => records.push(r))
  const key = generateSessionKey('k1')
  engine.setSessionKeys({ signing: { kid: 'k1', key: key.secret } })
  return { engine, records }
}

const refund = (amount, extra = {}) => ({ refund: { amount, currency: 'EUR', ...extra } })
const call = (engine, input, over = {}) =>
  engine.checkToolCall({ tool: 'issue_refund', action: 'refund', agent: 'ci-bot', resource: ACME, input, ...over })

test('numbers and nulls are coerced; one record per call', () => {
  const { engine, records } = setup()
  const d = call(engine, { ...refund(12.5, { note: null }), count: 3.0 })
  assert.equal(d.decision, 'allow')
  assert.deepEqual(d.reasons, ['refund-small'])
  assert.equal(records.at(-1).decision_id, d.decisionId)
  assert.deepEqual(records.at(-1).context.input.refund.amount, { __extn: { fn: 'decimal', arg: '12.5' } })
  assert.equal(call(engine, refund(100.5)).decision, 'deny')
  assert.equal(call(engine, { ...refund(1), count: 11 }).decision, 'deny')
  assert.equal(records.length, 3)
})

test('a tool without an action is a recorded deny', () => {
  const { engine, records } = setup()
  const d = call(engine, { anything: null }, { action: null })
  assert.equal(d.decision, 'deny')
  assert.deepEqual(d.reasons, ['baseline/unknown-action'])
  assert.equal(records.at(-1).action, 'issue_refund')
})

test('what cannot fit is a RequestError naming the path', () => {
  const { engine } = setup()
  const cases = [
    [refund(12.34567), 'input.refund.amount: 12.34567 has more than 4 fraction digits for decimal'],
    [{ ...refund(5), count: 3.5 }, 'input.count: 3.5 is not an integer for Long'],
    [{ refund: { amount: 5, currency: null } }, 'input.refund.currency: null'],
    [refund(5, { extra: 1 }), 'input.refund.extra: not an attribute'],
    [{ refund: { amount: 5 } }, 'input.refund.currency: required attribute is missing'],
  ]
  for (const [input, message] of cases) {
    assert.throws(() => call(engine, input), (e) => e instanceof RequestError && e.code === 'request_invalid' && e.message.includes(message), message)
  }
})

test('identity: exactly one of agent and session; camelCase names', () => {
  const { engine } = setup()
  const { token } = engine.issueSession({ agent: 'ci-bot' })
  assert.equal(call(engine, refund(1), { agent: undefined, session: token, audience: 'tools' }).decision, 'allow')
  assert.equal(call(engine, refund(1), { onBehalfOf: 'alice' }).decision, 'allow')
  for (const over of [{ session: token }, { agent: undefined }, { audience: 'tools' }, { agent: undefined, session: token, task: 'T' }]) {
    assert.throws(() => call(engine, refund(1), over), (e) => e instanceof RequestError && e.code === 'request_invalid')
  }
  assert.throws(() => call(engine, refund(1), { onBehalfOf: 'alice', on_behalf_of: 'alice' }), RequestError)
  assert.throws(() => call(engine, refund(1), { inputs: {} }), RequestError)
  assert.throws(() => engine.checkToolCall(null), RequestError)
  let deep = 1
  for (let i = 0; i < 200; i++) deep = [deep]
  assert.throws(() => call(engine, deep), LimitError)
})

// Rate and budget limits (`context.usage`) and the emergency stop from the WASM package under Node:
// forged counters, bad units from JS numbers, unknown agents, window edges on
// a ManualClock, lockdown. The cross-language scenario is
// tests/vectors/scenarios/rate-limits-lockdown.json (tests/lib/scenarios.mjs); the
// same cases are in bindings-python/tests/test_usage.py and
// bindings-node/__test__/usage.test.js.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);
const { Engine, ManualClock, RequestError, LifecycleError } = require("../../pkg/node/node.js");

const SCHEMA = `
entity Mailbox;
action "email:send", "ping" appliesTo { principal: [Agent], resource: [Mailbox] };
`
const POLICIES = `
@id("agents-may")
permit (principal is Agent, action, resource);

@id("email-hourly-cap")
forbid (principal, action == Action::"email:send", resource)
when { context.usage.action.calls_1h >= 50 };

@id("token-budget")
forbid (principal, action, resource)
when { context.usage.units_1h.tokens > 1000 };
`
const INVENTORY = `
users:
  - {id: alice}
agents:
  - {id: bot, owner: alice}
  - {id: bot2, owner: alice}
resources:
  - {type: Mailbox, id: inbox}
`

function setup() {
  const clock = new ManualClock('2027-01-15T08:00:00Z')
  const engine = Engine.fromStrings({ schema: SCHEMA, policies: POLICIES, inventory: INVENTORY }, { clock })
  const send = (agent = 'bot', context) => engine.check({ agent, action: 'email:send', resource: { type: 'Mailbox', id: 'inbox' }, context })
  return { clock, engine, send }
}

const usageInvalid = (e) => e instanceof RequestError && e.code === 'usage_invalid'

test('a caller cannot supply its counters', () => {
  const { send } = setup()
  assert.throws(() => send('bot', { usage: { calls_1h: 0 } }), (e) => e instanceof RequestError && e.code === 'request_invalid')
})

test('bad units, kinds and agents are usage_invalid; nothing is recorded', () => {
  const { engine } = setup()
  for (const units of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e20, 2 ** 53 + 2]) {
    assert.throws(() => engine.recordUsage('bot', units, 'tokens'), usageInvalid, String(units))
  }
  for (const units of ['5', null, undefined, 5n, {}]) {
    assert.throws(() => engine.recordUsage('bot', units, 'tokens'), usageInvalid, String(units))
  }
  assert.throws(() => engine.recordUsage('bot', 5, 'gold'), usageInvalid)
  assert.throws(() => engine.recordUsage('ghost', 5, 'tokens'), usageInvalid)
  assert.throws(() => engine.usage('ghost'), usageInvalid)
  assert.equal(engine.usage('bot').units_1h.tokens, 0)
})

test('a token budget caps calls and the hour slides', () => {
  const { clock, engine } = setup()
  const ping = () => engine.check({ agent: 'bot', action: 'ping', resource: { type: 'Mailbox', id: 'inbox' } })
  engine.recordUsage('bot', 1000, 'tokens')
  assert.ok(ping().allowed)
  engine.recordUsage('bot', 1, 'tokens')
  assert.deepEqual(ping().reasons, ['token-budget'])
  assert.deepEqual(engine.usage('bot', 'ping').units_1h, { tokens: 1001, usd_cents: 0 })
  clock.advance(3660)
  assert.ok(ping().allowed)
})

test('the 51st e-mail in an hour is denied; an hour and a bucket later it goes', () => {
  const { clock, engine, send } = setup()
  for (let i = 0; i < 50; i++) assert.ok(send().allowed)
  assert.deepEqual(send().reasons, ['email-hourly-cap'])
  assert.equal(engine.usage('bot', 'email:send').action.calls_1h, 50)
  clock.advance(3600)
  assert.equal(send().allowed, false)
  clock.advance(60)
  assert.ok(send().allowed)
})

test('lockdown denies every agent until lifted', () => {
  const { engine, send } = setup()
  assert.equal(engine.lockdownStatus(), null)
  assert.throws(() => engine.liftLockdown({ by: 'alice' }), (e) => e instanceof LifecycleError)
  engine.lockdown('incident 7', { by: 'alice' })
  assert.deepEqual(engine.lockdownStatus(), { reason: 'incident 7', since: '2027-01-15T08:00:00.000Z', by: 'alice' })
  assert.deepEqual(send().reasons, ['baseline/lockdown'])
  assert.deepEqual(send('bot2').reasons, ['baseline/lockdown'])
  engine.liftLockdown({ by: 'alice' })
  assert.ok(send().allowed)
})

'use strict'
// The native engine state: `engine.engineState()` (opaque JSON text) and
// `Engine.restore(state)` rebuild an engine through the core's journal replay
// (original times and sequence numbers, skipped changes reported); a tampered
// state is a coded error. The same checks run on the WASM raw module
// (bindings-wasm/tests/node/state.test.mjs).

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Engine } = require('..')

const SCHEMA = `
entity Bucket;
entity Object in [Bucket];
action "s3:PutObject" appliesTo { principal: [Agent], resource: [Object, Bucket] };
`
const POLICIES = '@id("nothing") forbid (principal, action, resource) when { false };'
const INVENTORY = `
users:
  - {id: alice}
agents:
  - {id: etl, owner: alice}
  - {id: other, owner: alice}
resources:
  - {type: Bucket, id: reports}
  - {type: Object, id: reports/q3.csv, parents: [{type: Bucket, id: reports}]}
`

function put(engine, agent, now) {
  const d = engine.check({ agent, action: 's3:PutObject', resource: { type: 'Object', id: 'reports/q3.csv' }, now })
  return [d.decision, d.reasons]
}

function busy() {
  const engine = Engine.fromStrings({ schema: SCHEMA, policies: POLICIES, inventory: INVENTORY }, { trustCallerTime: true })
  const grant = engine.grant({
    agent: 'etl',
    actions: ['s3:PutObject'],
    resource: { type: 'Bucket', id: 'reports' },
    ttlSeconds: 3600,
    reason: 'export',
    grantedBy: 'alice',
  })
  engine.suspend('other', { by: 'alice' })
  return [engine, grant]
}

function thrown(f) {
  try {
    f()
  } catch (e) {
    return e
  }
  assert.fail('expected a throw')
}

test('a restored engine decides as the original and keeps the changes times', () => {
  const [engine, grant] = busy()
  const state = engine.engineState()
  const restored = Engine.restore(state)
  assert.ok(restored instanceof Engine)
  assert.equal(restored.policyRevision, engine.policyRevision)
  assert.deepEqual(restored.grants(), engine.grants())
  assert.equal(restored.engineState(), state)
  assert.deepEqual(restored.skippedChanges(), [])
  const expires = Date.parse(grant.expires)
  for (const e of [engine, restored]) {
    assert.deepEqual(put(e, 'etl', new Date(expires - 1000).toISOString()), ['allow', [`grant/${grant.id}`]])
    assert.deepEqual(put(e, 'etl', new Date(expires + 1000).toISOString()), ['deny', []])
    assert.deepEqual(put(e, 'other', new Date(expires - 1000).toISOString()), ['deny', ['baseline/agent-active']])
  }
  assert.deepEqual(JSON.parse(state).changes.map((c) => [c.seq, c.op]), [[1, 'grant'], [2, 'suspend']])
})

test('a change that no longer applies is reported; a tampered state is a coded error', () => {
  const [engine] = busy()
  const state = JSON.parse(engine.engineState())
  const ghost = { ...state.changes[1], seq: 3, agent: 'ghost' }
  const restored = Engine.restore(JSON.stringify({ ...state, changes: [...state.changes, ghost] }))
  const skipped = restored.skippedChanges()
  assert.equal(skipped.length, 1)
  assert.match(skipped[0], /journal seq 3/)
  for (const bad of [
    '{',
    JSON.stringify({ ...state, version: 2 }),
    JSON.stringify({ ...state, revision: 'sha256:00' }),
    JSON.stringify({ ...state, extra: true }),
  ]) {
    assert.equal(thrown(() => Engine.restore(bad)).code, 'config_invalid', bad.slice(0, 60))
  }
})

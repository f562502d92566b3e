'use strict'
// toOcsf: the core's OCSF 1.5.0 mapping from Node. Every event equals the one
// in tests/ocsf-events.json, which the Rust suite validates against the OCSF
// 1.5.0 schema (pydantic-ocsf); a live callback record maps too; anything that
// is not a decision record is a LogError (log_corrupt).

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const path = require('node:path')
const { Engine, LimitError, LogError, toOcsf } = require('..')
const { REPO_ROOT } = require('./helpers.js')

const VECTORS = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tests', 'ocsf-events.json'), 'utf8'))

test('every shared-vector record maps to its validated OCSF 1.5.0 event', () => {
  assert.ok(VECTORS.events.length > 20)
  for (const { vector, record, ocsf } of VECTORS.events) {
    assert.deepEqual(toOcsf(record), ocsf, vector)
  }
})

test('a record from a callback sink maps to an API Activity event', () => {
  const engine = Engine.load(path.join(REPO_ROOT, 'policies-examples', 'coding-agent'), { trustCallerTime: true })
  const records = []
  engine.setDecisionLog((r) => records.push(r))
  engine.check({
    agent: 'ci-bot',
    action: 'github:push',
    resource: { type: 'Repo', id: 'acme/api' },
    task: 'T-42',
    credential: 'ci-bot-key',
    context: { branch: 'main', source_ip: '10.20.3.14' },
    now: '2026-11-29T10:20:00Z',
  })
  assert.equal(records.length, 1)
  const event = toOcsf(records[0])
  assert.equal(event.class_uid, 6003)
  assert.equal(event.metadata.version, '1.5.0')
  assert.equal(event.metadata.uid, records[0].decision_id)
  assert.equal(event.api.operation, 'github:push')
  assert.equal(event.actor.user.uid, 'ci-bot')
  assert.equal(event.action_id, records[0].decision === 'allow' ? 1 : 2)
})

test('what is not a decision record is log_corrupt', () => {
  const good = VECTORS.events[0].record
  const cyclic = { ...good }
  cyclic.self = cyclic
  const hostile = [
    null,
    undefined,
    42,
    'text',
    [],
    [good],
    {},
    { ...good, is_admin: true },
    { ...good, seq: '1' },
    { ...good, decision: 'maybe' },
    { ...good, schema_version: 99 },
    { ...good, seq: 10n },
    Object.defineProperty({ ...good }, 'decision', {
      enumerable: true,
      get() {
        throw new Error('boom')
      },
    }),
  ]
  for (const input of hostile) {
    assert.throws(
      () => toOcsf(input),
      (e) => e instanceof LogError && e.code === 'log_corrupt',
      String(input),
    )
  }
  // A cycle has no JSON form: the same limit error as every other input.
  assert.throws(() => toOcsf(cyclic), (e) => e instanceof LimitError && e.code === 'input_too_deep')
})

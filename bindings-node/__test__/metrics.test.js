'use strict'
// engine.metrics(): decision counters that match the checks made, undeclared
// action names folded into `other`, the latency histogram.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { Engine } = require('..')
const { REPO_ROOT } = require('./helpers.js')

const BUNDLE = path.join(REPO_ROOT, 'policies-examples', 'coding-agent')

function push(engine, branch, action = 'github:push') {
  return engine.check({
    agent: 'ci-bot',
    action,
    resource: { type: 'Repo', id: 'acme/api' },
    task: 'T-42',
    credential: 'ci-bot-key',
    context: { branch, source_ip: '10.20.3.14' },
    now: '2026-11-29T10:20:00Z',
  }).allowed
}

const counted = (m, decision, action) =>
  m.decisions.filter((c) => c.decision === decision && c.action === action).reduce((n, c) => n + c.count, 0)

test('counters match the decisions made; undeclared actions fold into other', () => {
  const engine = Engine.load(BUNDLE, { trustCallerTime: true })
  const results = ['feature/a', 'feature/b', 'main'].map((b) => push(engine, b))
  for (let i = 0; i < 300; i++) assert.equal(push(engine, 'x', `evil:${i}`), false)
  let code
  assert.throws(
    () =>
      engine.check({
        agent: 'ci-bot',
        action: 'github:push',
        resource: { type: 'Repo', id: 'acme/api' },
        context: { branch: 7, source_ip: '10.20.3.14' },
        now: '2026-11-29T10:20:00Z',
      }),
    (e) => {
      code = e.code
      return typeof e.code === 'string'
    },
  )
  const m = engine.metrics()
  const allowed = results.filter(Boolean).length
  assert.equal(counted(m, 'allow', 'github:push'), allowed)
  assert.equal(counted(m, 'deny', 'github:push'), results.length - allowed)
  assert.equal(counted(m, 'deny', 'other'), 300)
  assert.ok(!m.decisions.some((c) => c.action.startsWith('evil:')))
  assert.deepEqual(
    m.decisions.filter((c) => c.decision === 'error'),
    [{ decision: 'error', action: 'other', reason: code, count: 1 }],
  )
  assert.equal(m.check_latency.count, results.length + 301)
  assert.equal(m.check_latency.counts.reduce((a, b) => a + b, 0), m.check_latency.count)
  assert.equal(m.check_latency.counts.length, m.check_latency.bounds_us.length + 1)
  assert.ok(m.check_latency.sum_us > 0)
  assert.equal(m.log_queue_depth, undefined)
})

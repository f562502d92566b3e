'use strict'
// agentauthz/tracing: one span per check in the host's current trace, with
// decision, action, agent, reasons and ids as attributes and never the
// context, tool input or a token; errors by code only; without
// @opentelemetry/api a clear error and checks unaffected. Checked with the
// SDK's in-memory exporter.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const api = require('@opentelemetry/api')
const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks')
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } = require('@opentelemetry/sdk-trace-base')
const { Engine } = require('..')
const { traceChecks } = require('../tracing.js')
const { REPO_ROOT } = require('./helpers.js')

const BUNDLE = path.join(REPO_ROOT, 'policies-examples', 'coding-agent')
const exporter = new InMemorySpanExporter()
api.context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
api.trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }))

const ALLOWED = new Set([
  'agentauthz.action',
  'agentauthz.decision',
  'agentauthz.reasons',
  'agentauthz.decision_id',
  'agentauthz.policy_revision',
  'gen_ai.agent.id',
  'error.type',
])
const SECRET_BRANCH = 'feature/s3cret-branch-name'

const push = (engine, branch) =>
  engine.check({
    agent: 'ci-bot',
    action: 'github:push',
    resource: { type: 'Repo', id: 'acme/api' },
    task: 'T-42',
    credential: 'ci-bot-key',
    context: { branch, source_ip: '10.20.3.14' },
    now: '2026-11-29T10:20:00Z',
  })

test('a span per check, a child of the active span', () => {
  exporter.reset()
  const engine = traceChecks(Engine.load(BUNDLE, { trustCallerTime: true }))
  assert.ok(engine instanceof Engine)
  const tracer = api.trace.getTracer('host-app')
  let decisions
  let parentContext
  tracer.startActiveSpan('agent-run', (parent) => {
    parentContext = parent.spanContext()
    decisions = [push(engine, SECRET_BRANCH), push(engine, 'main')]
    parent.end()
  })
  const checks = exporter.getFinishedSpans().filter((s) => s.name === 'agentauthz.check')
  assert.equal(checks.length, 2)
  checks.forEach((span, i) => {
    const d = decisions[i]
    assert.equal(span.spanContext().traceId, parentContext.traceId)
    assert.equal(span.parentSpanContext?.spanId ?? span.parentSpanId, parentContext.spanId)
    assert.equal(span.attributes['agentauthz.decision'], d.decision)
    assert.equal(span.attributes['agentauthz.action'], 'github:push')
    assert.equal(span.attributes['gen_ai.agent.id'], 'ci-bot')
    assert.deepEqual(span.attributes['agentauthz.reasons'], [...d.reasons])
    assert.equal(span.attributes['agentauthz.decision_id'], d.decisionId)
    assert.equal(span.attributes['agentauthz.policy_revision'], d.policyRevision)
    for (const key of Object.keys(span.attributes)) assert.ok(ALLOWED.has(key), key)
    const text = JSON.stringify(span.attributes)
    assert.ok(!text.includes(SECRET_BRANCH) && !text.includes('10.20.3.14'), text)
  })
  assert.equal(checks[0].attributes['agentauthz.decision'], 'allow')
  assert.equal(checks[1].attributes['agentauthz.decision'], 'deny')
})

test('an error is recorded by its code, not its message', () => {
  exporter.reset()
  const engine = traceChecks(Engine.load(BUNDLE, { trustCallerTime: true }))
  let code
  assert.throws(
    () => push(engine, 7),
    (e) => {
      code = e.code
      return typeof e.code === 'string'
    },
  )
  const [span] = exporter.getFinishedSpans()
  assert.equal(span.status.code, api.SpanStatusCode.ERROR)
  assert.equal(span.status.message, code)
  assert.equal(span.attributes['error.type'], code)
  assert.equal(span.events.length, 0)
})

test('an engine not traced records no span', () => {
  exporter.reset()
  push(Engine.load(BUNDLE, { trustCallerTime: true }), 'feature/x')
  assert.equal(exporter.getFinishedSpans().length, 0)
  assert.throws(() => traceChecks({ check() {} }), TypeError)
})

test('without @opentelemetry/api: a clear error, and checks still work', () => {
  // A child process in which the package cannot be loaded.
  const hook = "const M = require('node:module'); const load = M._load; M._load = function (r, ...a) { if (r === '@opentelemetry/api') throw Object.assign(new Error('Cannot find module'), { code: 'MODULE_NOT_FOUND' }); return load.call(this, r, ...a) }"
  const code = `${hook}
const { Engine } = require(${JSON.stringify(path.join(__dirname, '..'))})
const { traceChecks } = require(${JSON.stringify(path.join(__dirname, '..', 'tracing.js'))})
const engine = Engine.load(${JSON.stringify(BUNDLE)}, { trustCallerTime: true })
try { traceChecks(engine); console.log('no error') } catch (e) { console.log(e.message) }
const d = engine.check({ agent: 'ci-bot', action: 'github:push', resource: { type: 'Repo', id: 'acme/api' }, task: 'T-42', credential: 'ci-bot-key', context: { branch: 'feature/x', source_ip: '10.20.3.14' }, now: '2026-11-29T10:20:00Z' })
console.log(d.decision)`
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  const [message, decision] = r.stdout.trim().split('\n')
  assert.match(message, /npm install @opentelemetry\/api/)
  assert.equal(decision, 'allow')
})

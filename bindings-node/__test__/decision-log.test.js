'use strict'
// The decision log from Node: function, file and stdout sinks; the records of
// the shared vectors equal the Rust ones (tests/decision-records.json); the
// chain checked by an independent verifier; log-only mode.

const { describe, test } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { spawnSync } = require('node:child_process')
const { Engine, AuthzError, InternalError, flushDecisionLogs } = require('..')
const { REPO_ROOT, PACKAGE_DIR } = require('./helpers.js')

const GOLDEN = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tests', 'decision-records.json'), 'utf8'))
const VOLATILE = new Set(GOLDEN.volatile)
const BUNDLE = path.join(REPO_ROOT, 'policies-examples', 'coding-agent')
const NOW = '2026-11-29T10:20:00Z'

function stripped(record) {
  return Object.fromEntries(Object.entries(record).filter(([k]) => !VOLATILE.has(k)))
}

/** Canonical JSON (docs/decision-log.md): sorted keys, no whitespace. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** An independent verifier: hash, prev_hash and seq of every line. Returns the record count. */
function verifyChain(lines) {
  let prev = '0'.repeat(64)
  let seq = 0
  for (const line of lines) {
    const { hash, ...body } = JSON.parse(line)
    assert.equal(crypto.createHash('sha256').update(canonical(body)).digest('hex'), hash)
    assert.equal(body.prev_hash, prev)
    assert.equal(body.seq, seq + 1)
    prev = hash
    seq = body.seq
  }
  return seq
}

function push(engine, branch = 'feature/x') {
  return engine.check({
    agent: 'ci-bot',
    action: 'github:push',
    resource: { type: 'Repo', id: 'acme/api' },
    task: 'T-42',
    credential: 'ci-bot-key',
    context: { branch, source_ip: '10.20.3.14' },
    now: NOW,
  })
}

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'agentauthz-node-log-'))
}

describe('records of the shared vectors equal the Rust ones', () => {
  for (const [name, expected] of Object.entries(GOLDEN.files)) {
    test(name, () => {
      const doc = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'tests', 'vectors', name), 'utf8'))
      const records = []
      const engines = new Map()
      const got = doc.vectors.map((vector) => {
        const spec = vector.bundle ?? doc.bundle
        const key = JSON.stringify(spec)
        if (!engines.has(key)) {
          const options = { decisionLog: (r) => records.push(r) }
          try {
            engines.set(
              key,
              typeof spec === 'string' ? Engine.load(path.join(REPO_ROOT, spec), { ...options, trustCallerTime: true }) : Engine.fromStrings(spec, { ...options, trustCallerTime: true }),
            )
          } catch (e) {
            if (!(e instanceof AuthzError)) throw e
            engines.set(key, null)
          }
        }
        const engine = engines.get(key)
        let record = null
        if (engine && 'request' in vector) {
          try {
            engine.checkJson(JSON.stringify(vector.request))
          } catch (e) {
            if (!(e instanceof AuthzError)) throw e
          }
          assert.ok(records.length <= 1)
          if (records.length) record = stripped(records.pop())
        }
        return { name: vector.name, record }
      })
      assert.equal(got.length, expected.length)
      for (let i = 0; i < got.length; i++) assert.deepEqual(got[i], expected[i], got[i].name)
    })
  }
})

describe('sinks', () => {
  test('a function sink gets every record, in order, right after its check', () => {
    const records = []
    const engine = Engine.load(BUNDLE, { trustCallerTime: true })
    assert.equal(engine.decisionLogHead, null)
    engine.setDecisionLog((r) => records.push(r))
    const d = push(engine)
    assert.equal(records.length, 1, 'delivered before check returns')
    assert.equal(records[0].decision_id, d.decisionId)
    push(engine, 'main')
    assert.throws(() => push(engine, 1), AuthzError)
    assert.deepEqual(
      records.map((r) => [r.seq, r.decision]),
      [
        [1, 'allow'],
        [2, 'deny'],
        [3, 'error'],
      ],
    )
    assert.equal(records[0].prev_hash, '0'.repeat(64))
    assert.equal(records[1].prev_hash, records[0].hash)
    assert.equal(records[2].error.code, 'request_invalid')
    assert.deepEqual(engine.decisionLogHead, { seq: 3, hash: records[2].hash })
    engine.checkBatch([
      {
        agent: 'ci-bot',
        action: 'github:read',
        resource: { type: 'Repo', id: 'acme/api' },
        context: { source_ip: '10.20.3.14' },
        now: NOW,
      },
    ])
    assert.equal(records.length, 4)
    engine.setDecisionLog(null)
    push(engine)
    assert.equal(records.length, 4)
  })

  test('a sink that throws does not change the decision; flushDecisionLog throws its error', () => {
    const engine = Engine.load(BUNDLE, { trustCallerTime: true, decisionLog: (r) => {
        throw new Error(`SIEM unreachable for ${r.seq}`)
      },
    })
    assert.ok(push(engine).allowed)
    assert.throws(() => engine.flushDecisionLog(), /SIEM unreachable for 1/)
    engine.flushDecisionLog()
  })

  test('a file sink writes a verifiable chain, rotated at maxBytes', () => {
    const dir = tempDir()
    try {
      const file = path.join(dir, 'decisions.jsonl')
      const engine = Engine.load(BUNDLE, { trustCallerTime: true, decisionLog: file, maxBytes: 3000 })
      for (let i = 0; i < 12; i++) push(engine, i % 2 ? 'main' : 'feature/x')
      engine.flushDecisionLog()
      const rotated = fs
        .readdirSync(dir)
        .filter((f) => /^decisions\.\d+\.jsonl$/.test(f))
        .sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]))
      assert.ok(rotated.length > 0)
      const lines = [...rotated, 'decisions.jsonl'].flatMap((f) =>
        fs.readFileSync(path.join(dir, f), 'utf8').split('\n').filter(Boolean),
      )
      assert.equal(verifyChain(lines), 12)
      assert.equal(engine.decisionLogHead.seq, 12)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  test('records reach the file when the process exits without flushing', () => {
    const dir = tempDir()
    try {
      const file = path.join(dir, 'exit.jsonl')
      const script = `
        const { Engine } = require(${JSON.stringify(PACKAGE_DIR)})
        const engine = Engine.load(${JSON.stringify(BUNDLE)}, { trustCallerTime: true, decisionLog: ${JSON.stringify(file)} })
        globalThis.keep = engine
        for (let i = 0; i < 3; i++) engine.check({ agent: 'ci-bot', action: 'github:push',
          resource: { type: 'Repo', id: 'acme/api' }, task: 'T-42', credential: 'ci-bot-key',
          context: { branch: 'feature/x', source_ip: '10.20.3.14' }, now: ${JSON.stringify(NOW)} })`
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
      assert.equal(r.status, 0, r.stderr)
      assert.equal(verifyChain(fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)), 3)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  test('stdout sink', () => {
    const script = `
      const { Engine } = require(${JSON.stringify(PACKAGE_DIR)})
      const engine = Engine.load(${JSON.stringify(BUNDLE)}, { trustCallerTime: true, decisionLog: '-' })
      engine.check({ agent: 'ci-bot', action: 'github:read', resource: { type: 'Repo', id: 'acme/api' },
        context: { source_ip: '10.20.3.14' }, now: ${JSON.stringify(NOW)} })
      engine.flushDecisionLog()`
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
    assert.equal(r.status, 0, r.stderr)
    const lines = r.stdout.split('\n').filter(Boolean)
    assert.equal(lines.length, 1)
    assert.equal(JSON.parse(lines[0]).agent, 'ci-bot')
  })

  test('bad sinks and options are refused', () => {
    const engine = Engine.load(BUNDLE, { trustCallerTime: true })
    assert.throws(() => engine.setDecisionLog(42), (e) => e instanceof AuthzError && e.code === 'config_invalid')
    assert.throws(() => engine.setDecisionLog('x.jsonl', { maxBytes: -1 }), (e) => e instanceof AuthzError && e.code === 'config_invalid')
    const dir = tempDir()
    try {
      assert.throws(
        () => engine.setDecisionLog(path.join(dir, 'missing', 'd.jsonl')),
        (e) => e instanceof AuthzError && e.code === 'io',
      )
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
    flushDecisionLogs()
  })
})

describe('modes', () => {
  test('log-only engine: allows, and the record carries the real decision', () => {
    const texts = {
      schema: fs.readFileSync(path.join(BUNDLE, 'schema.cedarschema'), 'utf8'),
      policies: Object.fromEntries(
        fs
          .readdirSync(path.join(BUNDLE, 'policies'))
          .filter((f) => f.endsWith('.cedar'))
          .map((f) => [f, fs.readFileSync(path.join(BUNDLE, 'policies', f), 'utf8')]),
      ),
      inventory: fs.readFileSync(path.join(BUNDLE, 'inventory.yaml'), 'utf8'),
      config: '[engine]\nmode = "log-only"\n[log]\nredact = ["branch"]\n',
    }
    const records = []
    const engine = Engine.fromStrings(texts, { trustCallerTime: true, decisionLog: (r) => records.push(r) })
    assert.equal(engine.mode, 'log-only')
    const d = push(engine, 'main')
    assert.ok(d.allowed)
    assert.deepEqual(d.reasons, [])
    const [r] = records
    assert.equal(r.mode, 'log-only')
    assert.equal(r.would_decision, 'deny')
    assert.deepEqual(r.context, { branch: '[redacted]', source_ip: '10.20.3.14' })
    assert.ok(InternalError)
  })
})

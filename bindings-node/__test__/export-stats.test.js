'use strict'
// decisionLogStats: the exporting sink's counters, from Node. A receiver that
// is down leaves records spooled, unacknowledged and counted as failed
// deliveries; once a receiver answers, every record is acknowledged. Any other
// sink has no counters (null).

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const http = require('node:http')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { Engine } = require('..')
const { REPO_ROOT } = require('./helpers.js')

const BUNDLE = path.join(REPO_ROOT, 'policies-examples', 'coding-agent')

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

function bundleWithOtlp(port, spool) {
  const policies = {}
  for (const name of fs.readdirSync(path.join(BUNDLE, 'policies')).sort()) {
    if (name.endsWith('.cedar')) policies[name] = fs.readFileSync(path.join(BUNDLE, 'policies', name), 'utf8')
  }
  return {
    schema: fs.readFileSync(path.join(BUNDLE, 'schema.cedarschema'), 'utf8'),
    policies,
    inventory: fs.readFileSync(path.join(BUNDLE, 'inventory.yaml'), 'utf8'),
    config: `[log.otlp]\nendpoint = "http://127.0.0.1:${port}/v1/logs"\nspool = ${JSON.stringify(spool)}\ntimeout_ms = 500\n`,
  }
}

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

async function waitFor(engine, ok, ms = 20000) {
  const deadline = Date.now() + ms
  for (;;) {
    const stats = engine.decisionLogStats
    assert.notEqual(stats, null)
    if (ok(stats) || Date.now() > deadline) return stats
    await new Promise((r) => setTimeout(r, 50))
  }
}

test('counters through an outage and a recovery', async () => {
  const port = await freePort()
  const spool = fs.mkdtempSync(path.join(os.tmpdir(), 'agentauthz-stats-'))
  const engine = Engine.fromStrings(bundleWithOtlp(port, path.join(spool, 'spool')), { trustCallerTime: true })
  for (const branch of ['main', 'feature/x', 'feature/y']) push(engine, branch)
  const down = await waitFor(engine, (s) => s.failures >= 1)
  assert.equal(down.spooled_seq, 3)
  assert.equal(down.acked_seq, 0)
  assert.equal(down.sent, 0)
  assert.equal(down.dropped, 0)
  assert.ok(down.spool_bytes > 0)
  assert.equal(typeof down.last_error, 'string')

  // An OTLP/HTTP receiver acknowledging every request (an empty
  // ExportLogsServiceResponse is zero bytes of protobuf).
  const server = http.createServer((req, res) => {
    req.resume()
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' })
      res.end()
    })
  })
  await new Promise((r) => server.listen(port, '127.0.0.1', r))
  try {
    const up = await waitFor(engine, (s) => s.acked_seq === 3)
    assert.equal(up.acked_seq, 3)
    assert.equal(up.sent, 3)
    assert.equal(up.dropped, 0)
  } finally {
    engine.close()
    server.closeAllConnections()
    await new Promise((r) => server.close(r))
    fs.rmSync(spool, { recursive: true, force: true })
  }
})

test('other sinks have no counters', () => {
  const engine = Engine.load(BUNDLE, { trustCallerTime: true })
  assert.equal(engine.decisionLogStats, null)
  const records = []
  engine.setDecisionLog((r) => records.push(r))
  push(engine, 'main')
  assert.equal(records.length, 1)
  assert.equal(engine.decisionLogStats, null)
})

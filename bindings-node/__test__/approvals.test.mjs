// Human approval through the Node addon (the suite shared with the WASM
// package: tests/approvals/suite.mjs), and what only the addon has: a
// journal on disk, engineState / restore.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createRequire } from 'node:module'
import { INVENTORY, POLICIES, SCHEMA, refund, suite } from '../../tests/approvals/suite.mjs'

const require = createRequire(import.meta.url)
const { Engine, LifecycleError, ManualClock } = require('..')

suite({ test, assert, Engine, LifecycleError, ManualClock })

test('approvals are journaled and logged; a consumed use stays consumed after a restart or restore', () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'agentauthz-approvals-'))
  try {
    fs.mkdirSync(path.join(root, 'policies'))
    fs.writeFileSync(path.join(root, 'schema.cedarschema'), SCHEMA)
    fs.writeFileSync(path.join(root, 'policies', 'refund.cedar'), POLICIES)
    fs.writeFileSync(path.join(root, 'inventory.yaml'), INVENTORY)
    const journal = path.join(root, 'changes.jsonl')
    const clock = new ManualClock('2026-11-29T10:00:00Z')
    const records = []
    const engine = Engine.load(root, { clock, journal, decisionLog: (r) => records.push(r) })
    engine.approve({ request: refund(500) }, { by: 'alice', uses: 2 })
    assert.equal(engine.check(refund(500)).allowed, true)
    assert.deepEqual(records.map((r) => r.action), ['agentauthz:approve', 'agentauthz:consume_approval', 'billing:refund'])
    assert.deepEqual(records[0].principal, { type: 'User', id: 'alice' })
    engine.close()
    const again = Engine.load(root, { clock, journal })
    assert.equal(again.check(refund(500)).allowed, true)
    assert.equal(again.check(refund(500)).decision, 'needs_approval')
    again.close()
  } finally {
    fs.rmSync(root, { recursive: true, force: true })
  }
  // engineState / restore (the engine clock: Date.now()).
  const live = Engine.fromStrings({ schema: SCHEMA, policies: POLICIES, inventory: INVENTORY })
  live.approve({ request: refund(500) }, { by: 'alice', uses: 2 })
  assert.equal(live.check(refund(500)).allowed, true)
  const restored = Engine.restore(live.engineState())
  assert.equal(restored.check(refund(500)).allowed, true)
  assert.equal(restored.check(refund(500)).allowed, false)
})

'use strict'
// Runs the fast-check property tests (lib/hostile-properties.js) in a child
// process: a crash there fails this test instead of killing the runner.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const path = require('node:path')

test('any value into any export: an AuthzError with a known code, and the engine still decides (child process)', () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'lib', 'hostile-properties.js')], {
    encoding: 'utf8',
    timeout: 300_000,
    maxBuffer: 1 << 24,
  })
  assert.equal(r.status, 0, `property run ended with ${r.status} ${r.signal}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`)
  assert.match(r.stdout, /^\d+ passed, 0 failed$/m)
})

// bench/frameworks.mjs runs to the end: enough calls to pass the support
// bundle's hourly e-mail cap (60) at a fixed `now`, every subject still allowed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const PACKAGE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')

test('the framework benchmark runs past the rate limits of its bundle', { timeout: 120_000 }, () => {
  const env = { ...process.env }
  delete env.LANGSMITH_TRACING
  delete env.LANGCHAIN_TRACING_V2
  const r = spawnSync(process.execPath, ['bench/frameworks.mjs', '--samples', '2', '--batch', '50', '--json'], { cwd: PACKAGE, encoding: 'utf8', env, timeout: 110_000 })
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`)
  const out = JSON.parse(r.stdout)
  assert.deepEqual(
    out.rows.map((row) => row.name),
    ['check', 'checkToolCall', 'ai-sdk', 'openai-agents', 'langchain'],
  )
  assert.ok(out.rows.every((row) => row.medianUs > 0))
})

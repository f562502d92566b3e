'use strict'
// The shared request/decision vectors (tests/vectors/*.json at the repo root),
// run through the Node API, plus this package's own (__test__/vectors).

const { describe, test } = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const fs = require('node:fs')
const { agentauthz, REPO_ROOT, loadBundle, jsonFiles } = require('./helpers.js')
const { AuthzError, Decision } = agentauthz

const SHARED = path.join(REPO_ROOT, 'tests', 'vectors')
const files = [...jsonFiles(SHARED), ...jsonFiles(path.join(__dirname, 'vectors'))]

test('vector files are found', () => {
  assert.ok(files.length > 0, 'no vector files')
  for (const f of files) assert.ok(fs.statSync(f).size > 0, f)
})

/** Runs `f`; returns [value, null] or [null, error]. */
function attempt(f) {
  try {
    return [f(), null]
  } catch (e) {
    return [null, e]
  }
}

function expectError(error, code, what) {
  assert.ok(error, `${what}: expected error ${code}, got none`)
  assert.ok(error instanceof AuthzError, `${what}: expected an AuthzError, got ${error && error.stack}`)
  assert.equal(error.code, code, `${what}: ${error.message}`)
}

function expectDecision(decision, expect) {
  assert.ok(decision instanceof Decision)
  assert.equal(decision.decision, expect.decision)
  assert.equal(decision.allowed, expect.decision === 'allow')
  assert.deepEqual([...decision.reasons].sort(), [...expect.reasons].sort())
}

/** The same agent-form request in the JS spelling (`onBehalfOf`, `now` as a Date). */
function camelCase(request) {
  if (request === null || typeof request !== 'object' || Array.isArray(request) || !('agent' in request)) return null
  const out = { ...request }
  if ('on_behalf_of' in out) {
    out.onBehalfOf = out.on_behalf_of
    delete out.on_behalf_of
  }
  if (typeof out.now === 'string' && /Z$/.test(out.now) && !Number.isNaN(Date.parse(out.now))) {
    const date = new Date(out.now)
    // Only when the Date prints back the same instant (it keeps milliseconds only).
    if (date.toISOString().replace('.000Z', 'Z') === out.now.replace('.000Z', 'Z')) out.now = date
  }
  return out
}

for (const file of files) {
  const spec = JSON.parse(fs.readFileSync(file, 'utf8'))
  describe(`${path.relative(REPO_ROOT, file)}: ${spec.description ?? ''}`, () => {
    let shared
    const engine = () => {
      shared ??= attempt(() => loadBundle(spec.bundle))
      if (shared[1]) throw shared[1]
      return shared[0]
    }

    for (const v of spec.vectors) {
      test(v.name, () => {
        const expect = v.expect
        let eng
        if (v.bundle !== undefined) {
          const [loaded, error] = attempt(() => loadBundle(v.bundle))
          if (error) {
            if (expect.error === undefined) throw error
            expectError(error, expect.error, 'loading the bundle')
            return
          }
          eng = loaded
        } else {
          eng = engine()
        }
        if (v.request === undefined) {
          assert.fail(`the bundle loaded, but ${expect.error} was expected`)
        }
        const [decision, error] = attempt(() => eng.check(v.request))
        if (expect.error !== undefined) {
          expectError(error, expect.error, 'check')
        } else {
          if (error) throw error
          expectDecision(decision, expect)
          assert.equal(decision.policyRevision, eng.policyRevision)
        }
        // The JS spelling of the same request decides the same.
        const js = camelCase(v.request)
        if (js) {
          const [d2, e2] = attempt(() => eng.check(js))
          if (expect.error !== undefined) expectError(e2, expect.error, 'check (camelCase)')
          else {
            if (e2) throw e2
            expectDecision(d2, expect)
          }
        }
      })
    }
  })
}

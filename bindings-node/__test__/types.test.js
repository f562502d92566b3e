'use strict'
// The type declarations: index.d.ts (and native.js) are what `napi build`
// generates from src/lib.rs today; their exports are what index.js exports;
// and a typed usage file compiles against them with `tsc --noEmit`.

const { describe, test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const ts = require('typescript')
const { PACKAGE_DIR } = require('./helpers.js')

const GENERATED = ['index.d.ts', 'native.js']
const BUILD_TIMEOUT_MS = 20 * 60 * 1000

describe('generated files', () => {
  test('index.d.ts and native.js are up to date with src/lib.rs', { timeout: BUILD_TIMEOUT_MS }, () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'agentauthz-napi-'))
    try {
      const napi = require.resolve('@napi-rs/cli/package.json').replace(/package\.json$/, 'dist/cli.js')
      const r = spawnSync(
        process.execPath,
        [napi, 'build', '--platform', '--release', '--js', 'native.js', '--dts', 'index.d.ts', '--output-dir', out],
        { cwd: PACKAGE_DIR, encoding: 'utf8', timeout: BUILD_TIMEOUT_MS },
      )
      assert.equal(r.status, 0, `napi build failed:\n${r.stderr}`)
      for (const name of GENERATED) {
        const fresh = fs.readFileSync(path.join(out, name), 'utf8')
        const committed = fs.readFileSync(path.join(PACKAGE_DIR, name), 'utf8')
        assert.equal(committed, fresh, `${name} is stale: run \`make -C bindings-node generate\` and commit it`)
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true })
    }
  })
})

/** Names of the runtime exports a declaration file declares (types and interfaces left out). */
function declaredExports(file) {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true)
  const exported = (node) => node.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)
  const names = new Map()
  for (const node of source.statements) {
    if (!exported(node)) continue
    if (ts.isClassDeclaration(node)) {
      const members = { static: [], instance: [] }
      for (const m of node.members) {
        if (!m.name || ts.isConstructorDeclaration(m)) continue
        const isStatic = m.modifiers?.some((x) => x.kind === ts.SyntaxKind.StaticKeyword)
        members[isStatic ? 'static' : 'instance'].push(m.name.getText(source))
      }
      names.set(node.name.text, members)
    } else if (ts.isFunctionDeclaration(node)) {
      names.set(node.name.text, null)
    } else if (ts.isVariableStatement(node)) {
      for (const d of node.declarationList.declarations) names.set(d.name.getText(source), null)
    }
  }
  return names
}

describe('declarations match the runtime', () => {
  test('index.d.ts declares exactly what index.js exports', () => {
    const runtime = require('..')
    const declared = declaredExports(path.join(PACKAGE_DIR, 'index.d.ts'))
    assert.deepEqual([...declared.keys()].sort(), Object.keys(runtime).sort())
  })

  test('every declared class member exists at runtime', () => {
    const runtime = require('..')
    const sample = (name, cls) => {
      if (name === 'Engine') return cls.prototype // native methods, wrapped by index.js
      if (name === 'Decision') return new cls({ decision: 'deny', reasons: [], errors: [], decision_id: 'i', policy_revision: 'r' })
      if (name === 'ManualClock') return new cls('2026-11-29T10:00:00Z')
      return new cls('message', { code: 'io', family: 'bundle', details: [] })
    }
    const declared = declaredExports(path.join(PACKAGE_DIR, 'index.d.ts'))
    for (const [name, members] of declared) {
      if (!members) continue
      const cls = runtime[name]
      for (const m of members.static) assert.equal(typeof cls[m], 'function', `${name}.${m}`)
      const instance = sample(name, cls)
      for (const m of members.instance) assert.ok(m in instance, `${name}#${m}`)
    }
    assert.deepEqual(declared.get('Engine').static.sort(), ['fromStrings', 'load', 'restore'])
    assert.deepEqual(declared.get('Engine').instance.sort(), [
      'addTask',
      'apply',
      'approvals',
      'approve',
      'bundleStatus',
      'check',
      'checkBatch',
      'checkJson',
      'checkToolCall',
      'close',
      'decisionLogHead',
      'decisionLogStats',
      'engineState',
      'flushDecisionLog',
      'grant',
      'grantPolicyText',
      'grants',
      'issueSession',
      'journalPath',
      'liftLockdown',
      'lockdown',
      'lockdownStatus',
      'mcpCheckCall',
      'mcpListableTools',
      'metrics',
      'mode',
      'offboard',
      'onApprovalRequest',
      'onError',
      'policyRevision',
      'pollBundle',
      'reactivate',
      'recordUsage',
      'reject',
      'reload',
      'revoke',
      'revokeSession',
      'rotateCredential',
      'sessionPublicKeys',
      'setDecisionLog',
      'setIssuerJwks',
      'setSessionKeys',
      'skippedChanges',
      'stateHash',
      'storeStatus',
      'suspend',
      'transferOwner',
      'usage',
      'verifySession',
      'verifyToken',
      'warnings',
    ])
  })

  test('langchain.d.ts declares exactly what both langchain entry points export', async () => {
    const declared = [...declaredExports(path.join(PACKAGE_DIR, 'langchain.d.ts')).keys()].sort()
    assert.deepEqual(declared, Object.keys(require('../langchain.js')).sort())
    assert.deepEqual(declared, Object.keys(await import('agentauthz/langchain')).sort())
  })

  test('mcp.d.ts declares exactly what both mcp entry points export', async () => {
    const declared = [...declaredExports(path.join(PACKAGE_DIR, 'mcp.d.ts')).keys()].sort()
    assert.deepEqual(declared, Object.keys(require('../mcp.js')).sort())
    assert.deepEqual(declared, Object.keys(await import('agentauthz/mcp')).sort())
  })
})

describe('tsc', () => {
  test('a typed usage file compiles against the declarations (tsc --noEmit)', { timeout: 5 * 60 * 1000 }, () => {
    const tsc = require.resolve('typescript/bin/tsc')
    const r = spawnSync(process.execPath, [tsc, '-p', path.join(__dirname, 'types', 'tsconfig.json')], {
      cwd: PACKAGE_DIR,
      encoding: 'utf8',
    })
    assert.equal(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`)
  })
})

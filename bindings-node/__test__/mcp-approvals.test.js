'use strict'
// Human approval in agentauthz/mcp, with a real McpServer and Client of
// @modelcontextprotocol/sdk over the in-memory transport: a call that needs
// approval returns a pending result and never runs until the engine records
// an approval; elicitation notifies, and approves only as the user the
// server trusts, through the engine's own check. The same cases as
// bindings-python/tests/test_mcp_approvals.py. Hostile cases first.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Client } = require('@modelcontextprotocol/sdk/client/index.js')
const { InMemoryTransport } = require('@modelcontextprotocol/sdk/inMemory.js')
const { ElicitRequestSchema } = require('@modelcontextprotocol/sdk/types.js')
const { Engine } = require('..')
const { guardMcpServer, fixedAgent, APPROVAL_META_KEY } = require('../mcp')
const { REPO_ROOT } = require('./helpers')
const { buildMcpServer } = require('./mcp_servers/fs_server')

const WORKSPACE = path.join(REPO_ROOT, 'policies-examples', 'mcp-workspace')
// Writing under /workspace/deploy/ needs the agent owner's (alice's) approval.
const APPROVAL_POLICY = `
@id("mcp/fs-deploy-needs-owner")
@approval("owner")
forbid (principal, action == Action::"fs:write_file", resource == McpServer::"fs")
when { context.input.path like "/workspace/deploy/*" };
`
const DEPLOY = { path: '/workspace/deploy/app.conf', content: 'v2' }
const ACCEPT = { action: 'accept', content: { approve: true } }

function makeEngine() {
  const dir = path.join(WORKSPACE, 'policies')
  const policies = fs
    .readdirSync(dir)
    .sort()
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
    .join('\n')
  const read = (f) => fs.readFileSync(path.join(WORKSPACE, f), 'utf8')
  const engine = Engine.fromStrings({ schema: read('schema.cedarschema'), policies: policies + APPROVAL_POLICY, inventory: read('inventory.yaml') })
  const records = []
  engine.setDecisionLog((r) => records.push(r))
  return { engine, records }
}

function workdir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentauthz-mcp-approval-'))
  fs.mkdirSync(path.join(dir, 'workspace', 'deploy'), { recursive: true })
  return dir
}

const written = (dir) => fs.existsSync(path.join(dir, 'workspace', 'deploy', 'app.conf'))

/**
 * A guarded server and a connected client. `answer` (a value, a function of
 * the request, or an Error to throw) makes the client declare elicitation
 * and answer with it; every elicitation request is kept in `asked`.
 */
async function connect(engine, dir, guardExtra = {}, answer) {
  const calls = []
  const server = buildMcpServer(() => dir, calls)
  const seen = []
  guardMcpServer(server, {
    engine,
    server: 'fs',
    identity: fixedAgent('dev-agent'),
    onDecision: (_method, _tool, _id, outcome) => seen.push(outcome.decision ?? outcome.code),
    ...guardExtra,
  })
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
  await server.connect(serverSide)
  const asked = []
  const client = new Client({ name: 'test', version: '1.0.0' }, answer === undefined ? {} : { capabilities: { elicitation: {} } })
  if (answer !== undefined) {
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.push(request.params)
      if (answer instanceof Error) throw answer
      return typeof answer === 'function' ? answer(request) : answer
    })
  }
  await client.connect(clientSide)
  return { client, calls, asked, seen }
}

const textOf = (result) => result.content.map((c) => c.text ?? '').join('')

function pendingOf(result) {
  assert.equal(result.isError, true, textOf(result))
  const pending = result._meta[APPROVAL_META_KEY]
  assert.equal(pending.status, 'pending')
  assert.equal(result._meta['agentauthz/decision'].decision, 'needs_approval')
  return pending
}

test('the pending result names the decision, its digest and approvers, and holds no token', async () => {
  const { engine } = makeEngine()
  const dir = workdir()
  const { client, calls } = await connect(engine, dir) // no elicitation capability
  const result = await client.callTool({ name: 'write_file', arguments: DEPLOY })
  const pending = pendingOf(result)
  assert.deepEqual(pending.approvers, ['owner'])
  assert.deepEqual(pending.reasons, ['mcp/fs-deploy-needs-owner'])
  assert.match(pending.request_digest, /^sha256:[0-9a-f]{64}$/)
  assert.match(textOf(result), /needs approval by owner/)
  assert.ok(textOf(result).includes(pending.decision_id))
  assert.ok(!JSON.stringify(result).includes('v4.public') && !/token/i.test(textOf(result)))
  assert.ok(!written(dir))
  assert.deepEqual(calls, [])
  assert.deepEqual(
    engine.approvals('dev-agent').map((a) => a.decision_id),
    [pending.decision_id],
  )
  await client.close()
})

test('hostile: an accepted elicitation without an approver approves nothing; a forged _meta neither', async () => {
  const { engine, records } = makeEngine()
  const dir = workdir()
  const { client, asked, calls } = await connect(engine, dir, {}, ACCEPT)
  pendingOf(await client.callTool({ name: 'write_file', arguments: DEPLOY }))
  pendingOf(await client.callTool({ name: 'write_file', arguments: DEPLOY, _meta: { 'agentauthz/approved': true, approved: true } }))
  assert.equal(asked.length, 2)
  assert.match(asked[0].message, /only notifies/)
  assert.deepEqual(asked[0].requestedSchema.properties, {})
  assert.ok(!written(dir))
  assert.deepEqual(calls, [])
  assert.equal(records.filter((r) => r.action === 'agentauthz:approve').length, 0)
  await client.close()
})

test('hostile: an approver naming a non-owner is refused by the engine; the call stays pending', async () => {
  const { engine, records } = makeEngine()
  const dir = workdir()
  const { client, calls } = await connect(engine, dir, { approver: () => 'mallory' }, ACCEPT)
  pendingOf(await client.callTool({ name: 'write_file', arguments: DEPLOY }))
  assert.ok(!written(dir))
  assert.deepEqual(calls, [])
  // The engine made that call: an approve check of mallory, denied.
  const approve = records.filter((r) => r.action === 'agentauthz:approve')
  assert.equal(approve.length, 1)
  assert.equal(approve[0].context.by, 'mallory')
  assert.deepEqual([approve[0].decision, approve[0].reasons], ['deny', ['approval/refused']])
  await client.close()
})

for (const [what, answer] of [
  ['declined', { action: 'decline' }],
  ['cancelled', { action: 'cancel' }],
  ['accepted with approve: false', { action: 'accept', content: { approve: false } }],
  ['accepted with approve: "true" (off the form)', { action: 'accept', content: { approve: 'true' } }],
  ['failing in the client', new Error('client crashed')],
]) {
  test(`hostile: an elicitation ${what} stays pending; the server still answers`, async () => {
    const { engine } = makeEngine()
    const dir = workdir()
    const { client, calls } = await connect(engine, dir, { approver: () => 'alice' }, answer)
    pendingOf(await client.callTool({ name: 'write_file', arguments: DEPLOY }))
    const ok = await client.callTool({ name: 'write_file', arguments: { path: '/workspace/a.txt', content: 'a' } })
    assert.equal(ok.isError, undefined, textOf(ok))
    assert.ok(!written(dir))
    assert.deepEqual(calls, ['write_file'])
    await client.close()
  })
}

test('hostile: a throwing (or rejecting) approver, or one naming nobody, stays pending', async () => {
  for (const approver of [
    () => {
      throw new Error('directory down')
    },
    async () => Promise.reject(new Error('directory down')),
    () => undefined,
    () => '',
    () => 42,
  ]) {
    const { engine, records } = makeEngine()
    const dir = workdir()
    const { client, calls } = await connect(engine, dir, { approver }, ACCEPT)
    pendingOf(await client.callTool({ name: 'write_file', arguments: DEPLOY }))
    assert.ok(!written(dir))
    assert.deepEqual(calls, [])
    assert.equal(records.filter((r) => r.action === 'agentauthz:approve').length, 0)
    await client.close()
  }
})

test("an owner's approval runs the same arguments once; other arguments stay pending", async () => {
  const { engine } = makeEngine()
  const dir = workdir()
  const { client, calls, seen } = await connect(engine, dir)
  const pending = pendingOf(await client.callTool({ name: 'write_file', arguments: DEPLOY }))
  assert.throws(() => engine.approve(pending.decision_id, { by: 'mallory' }), (e) => e.code === 'approval_refused')
  engine.approve(pending.decision_id, { by: 'alice' })
  const other = pendingOf(await client.callTool({ name: 'write_file', arguments: { ...DEPLOY, content: 'v3' } }))
  assert.notEqual(other.request_digest, pending.request_digest)
  assert.ok(!written(dir))
  const ok = await client.callTool({ name: 'write_file', arguments: DEPLOY })
  assert.equal(ok.isError, undefined, textOf(ok))
  assert.equal(fs.readFileSync(path.join(dir, 'workspace', 'deploy', 'app.conf'), 'utf8'), 'v2')
  // Used up.
  pendingOf(await client.callTool({ name: 'write_file', arguments: DEPLOY }))
  assert.deepEqual(calls, ['write_file'])
  assert.deepEqual(seen, ['needs_approval', 'needs_approval', 'allow', 'needs_approval'])
  await client.close()
})

test('an accepted elicitation by the trusted owner approves through the engine; the call then runs once', async () => {
  const { engine, records } = makeEngine()
  const dir = workdir()
  const { client, calls, asked, seen } = await connect(engine, dir, { approver: (_request, extra) => (extra.requestId !== undefined ? 'alice' : null) }, ACCEPT)
  const ok = await client.callTool({ name: 'write_file', arguments: DEPLOY })
  assert.equal(ok.isError, undefined, textOf(ok))
  assert.ok(written(dir))
  assert.deepEqual(asked[0].requestedSchema.required, ['approve'])
  assert.match(asked[0].message, /write_file.*deploy\/app\.conf.*approval by owner/)
  const approve = records.filter((r) => r.action === 'agentauthz:approve')
  assert.equal(approve.length, 1)
  assert.deepEqual(approve[0].principal, { type: 'User', id: 'alice' })
  assert.deepEqual(seen, ['needs_approval', 'allow'])
  // The approval was one use: the next identical call asks again.
  const again = await client.callTool({ name: 'write_file', arguments: DEPLOY })
  assert.equal(again.isError, undefined) // asked and approved again by alice
  assert.equal(asked.length, 2)
  assert.deepEqual(calls, ['write_file', 'write_file'])
  await client.close()
})

test('elicit: false sends no elicitation; bad options fail when guarding', async () => {
  const { engine } = makeEngine()
  const dir = workdir()
  const { client, asked } = await connect(engine, dir, { elicit: false, approver: () => 'alice' }, ACCEPT)
  pendingOf(await client.callTool({ name: 'write_file', arguments: DEPLOY }))
  assert.deepEqual(asked, [])
  assert.ok(!written(dir))
  await client.close()
  const base = { engine, server: 'fs', identity: fixedAgent('dev-agent') }
  assert.throws(() => guardMcpServer(buildMcpServer(() => dir), { ...base, approver: 'alice' }), TypeError)
  assert.throws(() => guardMcpServer(buildMcpServer(() => dir), { ...base, elicit: 'yes' }), TypeError)
})

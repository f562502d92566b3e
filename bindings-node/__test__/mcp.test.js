'use strict'
// agentauthz/mcp in real servers of @modelcontextprotocol/sdk (McpServer and
// the low-level Server), with a real Client over the in-memory transport and
// over stdio.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Client } = require('@modelcontextprotocol/sdk/client/index.js')
const { StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js')
const { InMemoryTransport } = require('@modelcontextprotocol/sdk/inMemory.js')
const { Server } = require('@modelcontextprotocol/sdk/server/index.js')
const { McpServer } = require('@modelcontextprotocol/sdk/server/mcp.js')
const { CallToolResultSchema } = require('@modelcontextprotocol/sdk/types.js')
const { z } = require('zod')
const { Engine, ManualClock, generateSessionKey, schemaFromMcp, SchemaError, RequestError } = require('..')
const { guardMcpServer, fixedAgent, sessionFromMeta, accessTokenAgent, SESSION_META_KEY } = require('../mcp')
const { REPO_ROOT } = require('./helpers')
const { buildMcpServer, buildLowLevelServer } = require('./mcp_servers/fs_server')

const WORKSPACE = path.join(REPO_ROOT, 'policies-examples', 'mcp-workspace')
const SERVER_SCRIPT = path.join(__dirname, 'mcp_servers', 'fs_server.js')
const engine = Engine.load(WORKSPACE)

function workdir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentauthz-mcp-'))
  fs.mkdirSync(path.join(dir, 'workspace'))
  fs.writeFileSync(path.join(dir, 'workspace', 'a.txt'), 'hello')
  return dir
}

/** A connected client of `server` over the in-memory transport; `authInfo` rides on every message. */
async function connect(server, authInfo) {
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair()
  if (authInfo !== undefined) {
    const send = clientSide.send.bind(clientSide)
    clientSide.send = (message, options) => send(message, { ...options, authInfo })
  }
  await server.connect(serverSide)
  const client = new Client({ name: 'test', version: '1.0.0' })
  await client.connect(clientSide)
  return client
}

const textOf = (result) => result.content.map((c) => c.text ?? '').join('')
const names = async (client) => (await client.listTools()).tools.map((t) => t.name).sort()

function guarded(build, dir, identity, seen) {
  const calls = []
  const server = build(() => dir, calls)
  guardMcpServer(server, {
    engine: identity.engine ?? engine,
    server: 'fs',
    identity: identity.resolver ?? identity,
    onDecision: (method, tool, id, outcome) => seen?.push({ method, tool, id, outcome }),
  })
  return { server, calls }
}

const EXPECTED = {
  'dev-agent': ['get_file_info', 'list_directory', 'read_file', 'write_file'],
  'review-agent': ['get_file_info', 'list_directory', 'read_file'],
  'paused-agent': [],
  nobody: [],
}

for (const [kind, build] of [
  ['McpServer', buildMcpServer],
  ['low-level Server', buildLowLevelServer],
]) {
  test(`${kind}: the listed tools are exactly the permitted ones`, async () => {
    const dir = workdir()
    for (const [agent, expected] of Object.entries(EXPECTED)) {
      const client = await connect(guarded(build, dir, fixedAgent(agent)).server)
      assert.deepEqual(await names(client), expected, agent)
      await client.close()
    }
    // Unguarded, the server lists all five: the filter is the guard's doing.
    const bare = await connect(build(() => dir))
    assert.equal((await names(bare)).length, 5)
    await bare.close()
  })

  test(`${kind}: a denied tool never runs and its answer names the reasons and decision_id`, async () => {
    const dir = workdir()
    const seen = []
    const { server, calls } = guarded(build, dir, fixedAgent('review-agent'), seen)
    const client = await connect(server)
    const denied = await client.callTool({ name: 'write_file', arguments: { path: '/workspace/evil.txt', content: 'x' } })
    assert.equal(denied.isError, true)
    assert.match(textOf(denied), /agentauthz denied tool "write_file": reasons \[.*\], decision_id /)
    const decision = denied._meta['agentauthz/decision']
    assert.equal(decision.decision, 'deny')
    assert.ok(decision.decision_id.length > 0)
    assert.ok(textOf(denied).includes(decision.decision_id))
    assert.ok(!fs.existsSync(path.join(dir, 'workspace', 'evil.txt')), 'the denied write happened')
    // An allowed call runs its (async) handler.
    const ok = await client.callTool({ name: 'read_file', arguments: { path: '/workspace/a.txt' } })
    assert.equal(ok.isError, undefined)
    assert.equal(textOf(ok), 'hello')
    // A tool outside the bundle's schema is refused, never run.
    const moved = await client.callTool({ name: 'move_file', arguments: { source: '/workspace/a.txt', destination: '/b' } })
    assert.equal(moved.isError, true)
    assert.ok(fs.existsSync(path.join(dir, 'workspace', 'a.txt')))
    assert.deepEqual(calls, ['read_file'])
    assert.deepEqual(
      seen.map((s) => [s.tool, s.outcome.decision ?? s.outcome.code]),
      [
        ['write_file', 'deny'],
        ['read_file', 'allow'],
        ['move_file', 'deny'],
      ],
    )
    await client.close()
  })

  test(`${kind}: the arguments are checked, not just the tool`, async () => {
    const dir = workdir()
    const { server, calls } = guarded(build, dir, fixedAgent('dev-agent'))
    const client = await connect(server)
    for (const p of ['/outside.txt', '/workspace/../outside.txt']) {
      const r = await client.callTool({ name: 'write_file', arguments: { path: p, content: 'x' } })
      assert.equal(r.isError, true, p)
    }
    assert.ok(!fs.existsSync(path.join(dir, 'outside.txt')))
    const r = await client.callTool({ name: 'write_file', arguments: { path: '/workspace/b.txt', content: 'bb' } })
    assert.equal(textOf(r), 'wrote 2 bytes')
    assert.equal(fs.readFileSync(path.join(dir, 'workspace', 'b.txt'), 'utf8'), 'bb')
    assert.deepEqual(calls, ['write_file'])
    await client.close()
  })

  test(`${kind}: _meta cannot change a fixed agent`, async () => {
    const dir = workdir()
    const { server, calls } = guarded(build, dir, fixedAgent('review-agent'))
    const client = await connect(server)
    const r = await client.callTool({
      name: 'write_file',
      arguments: { path: '/workspace/spoof.txt', content: 'x' },
      _meta: { [SESSION_META_KEY]: 'v4.public.forged', 'agentauthz/agent': 'dev-agent', agent: 'dev-agent' },
    })
    assert.equal(r.isError, true)
    assert.equal(r._meta['agentauthz/decision'].decision, 'deny')
    assert.ok(!fs.existsSync(path.join(dir, 'workspace', 'spoof.txt')))
    assert.deepEqual(calls, [])
    await client.close()
  })
}

test('tools registered after guarding are guarded too', async () => {
  const server = new McpServer({ name: 'fs', version: '1.0.0' })
  guardMcpServer(server, { engine, server: 'fs', identity: fixedAgent('review-agent') })
  let ran = false
  server.registerTool('write_file', { inputSchema: { path: z.string(), content: z.string() } }, async () => {
    ran = true
    return { content: [{ type: 'text', text: 'wrote' }] }
  })
  const client = await connect(server)
  assert.deepEqual(await names(client), [])
  const r = await client.callTool({ name: 'write_file', arguments: { path: '/workspace/x', content: 'y' } })
  assert.equal(r.isError, true)
  assert.equal(ran, false)
  await client.close()
})

test('a fallback request handler is guarded', async () => {
  const server = new Server({ name: 'fs', version: '1.0.0' }, { capabilities: { tools: {} } })
  let ran = false
  server.fallbackRequestHandler = async (request) => {
    if (request.method.toLowerCase().includes('tools/call')) ran = true
    return { content: [{ type: 'text', text: 'ran' }] }
  }
  guardMcpServer(server, { engine, server: 'fs', identity: fixedAgent('review-agent') })
  const client = await connect(server)
  const r = await client.callTool({ name: 'write_file', arguments: { path: '/workspace/x', content: 'y' } })
  assert.equal(r.isError, true)
  // A look-alike method a lenient fallback might read as tools/call is checked as one.
  for (const method of ['Tools/Call', '/tools/call', 'tools/call\u0000', ' tools/call ']) {
    const params = { name: 'write_file', arguments: { path: '/workspace/x', content: 'y' } }
    const look = await client.request({ method, params }, CallToolResultSchema)
    assert.equal(look.isError, true, method)
  }
  assert.equal(ran, false)
  await client.close()
})

test('guardMcpServer refuses what it cannot guard', () => {
  const opts = { engine, server: 'fs', identity: fixedAgent('dev-agent') }
  assert.throws(() => guardMcpServer({}, opts), TypeError)
  assert.throws(() => guardMcpServer({ server: {} }, opts), TypeError)
  const server = new McpServer({ name: 'fs', version: '1.0.0' })
  assert.throws(() => guardMcpServer(server, { ...opts, engine: {} }), TypeError)
  assert.throws(() => guardMcpServer(server, { ...opts, identity: undefined }), TypeError)
  assert.throws(() => guardMcpServer(server, { ...opts, server: '' }), TypeError)
  assert.throws(() => fixedAgent(''), TypeError)
})

function sessionEngine(clock) {
  const read = (f) => fs.readFileSync(path.join(WORKSPACE, f), 'utf8')
  const dir = path.join(WORKSPACE, 'policies')
  const policies = Object.fromEntries(fs.readdirSync(dir).map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]))
  const eng = Engine.fromStrings(
    { schema: read('schema.cedarschema'), policies, inventory: read('inventory.yaml'), config: '[sessions]\naudience = "mcp"\n' },
    { clock },
  )
  eng.setSessionKeys({ signing: { kid: 'k1', key: generateSessionKey('k1').secret } })
  return eng
}

test('a session token in _meta: verified on every call; forged and expired tokens are refused', async () => {
  const dir = workdir()
  const clock = new ManualClock('2026-12-01T10:00:00Z')
  const eng = sessionEngine(clock)
  const { token } = eng.issueSession({ agent: 'dev-agent', ttlSeconds: 600 })
  const { server, calls } = guarded(buildMcpServer, dir, { engine: eng, resolver: sessionFromMeta({ audience: 'mcp' }) })
  const client = await connect(server)
  const write = (file, meta) => client.callTool({ name: 'write_file', arguments: { path: `/workspace/${file}`, content: 's' }, _meta: meta })
  // No token: nothing listed, calls denied.
  assert.deepEqual(await names(client), [])
  assert.equal((await write('none.txt')).isError, true)
  // A valid token: listed and allowed.
  const listed = (await client.listTools({ _meta: { [SESSION_META_KEY]: token } })).tools.map((t) => t.name).sort()
  assert.deepEqual(listed, EXPECTED['dev-agent'])
  const ok = await write('s.txt', { [SESSION_META_KEY]: token })
  assert.equal(ok.isError, undefined, textOf(ok))
  // Forged (last characters of the signature changed), or another agent's claim beside it.
  const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA')
  const f = await write('f.txt', { [SESSION_META_KEY]: forged })
  assert.equal(f.isError, true)
  assert.match(f._meta['agentauthz/error'].code, /^session/)
  // Expired: the engine clock moves past the token's window.
  clock.advance(601)
  const e = await write('e.txt', { [SESSION_META_KEY]: token })
  assert.equal(e.isError, true)
  assert.match(e._meta['agentauthz/error'].code, /^session/)
  assert.deepEqual((await client.listTools({ _meta: { [SESSION_META_KEY]: token } })).tools, [])
  // Not a string.
  assert.equal((await write('n.txt', { [SESSION_META_KEY]: { agent: 'dev-agent' } })).isError, true)
  assert.deepEqual(calls, ['write_file'])
  for (const file of ['none.txt', 'f.txt', 'e.txt', 'n.txt']) assert.ok(!fs.existsSync(path.join(dir, 'workspace', file)), file)
  await client.close()
})

test('the OAuth access token the SDK verified names the agent; another resource or an expired token is refused', async () => {
  const dir = workdir()
  const resolver = accessTokenAgent({ resource: 'https://mcp.example/fs' })
  const run = async (authInfo) => {
    const { server, calls } = guarded(buildMcpServer, dir, resolver)
    const client = await connect(server, authInfo)
    const r = await client.callTool({ name: 'write_file', arguments: { path: '/workspace/t.txt', content: 't' } })
    await client.close()
    return { isError: r.isError === true, calls }
  }
  const good = { token: 't', clientId: 'dev-agent', scopes: [], resource: new URL('https://mcp.example/fs') }
  assert.deepEqual(await run({ ...good, resource: new URL('https://other.example/') }), { isError: true, calls: [] })
  assert.deepEqual(await run({ ...good, expiresAt: Math.floor(Date.now() / 1000) - 10 }), { isError: true, calls: [] })
  assert.deepEqual(await run({ ...good, clientId: 'review-agent' }), { isError: true, calls: [] })
  assert.deepEqual(await run(undefined), { isError: true, calls: [] })
  assert.ok(!fs.existsSync(path.join(dir, 'workspace', 't.txt')))
  assert.deepEqual(await run(good), { isError: false, calls: ['write_file'] })
  // The same resource, spelt as a string or a URL.
  const bare = accessTokenAgent({ resource: 'https://mcp.example' })
  const { server, calls } = guarded(buildMcpServer, dir, bare)
  const client = await connect(server, { ...good, resource: new URL('https://mcp.example') })
  assert.equal((await client.callTool({ name: 'read_file', arguments: { path: '/workspace/a.txt' } })).isError, undefined)
  assert.deepEqual(calls, ['read_file'])
  await client.close()
})

test('an async identity resolver, and one that throws (refused, the handler never runs)', async () => {
  const dir = workdir()
  const slow = guarded(buildMcpServer, dir, async () => ({ agent: 'dev-agent' }))
  let client = await connect(slow.server)
  assert.deepEqual(await names(client), EXPECTED['dev-agent'])
  await client.close()
  const broken = guarded(buildMcpServer, dir, () => {
    throw new Error('directory down')
  })
  client = await connect(broken.server)
  const r = await client.callTool({ name: 'read_file', arguments: { path: '/workspace/a.txt' } })
  assert.equal(r.isError, true)
  assert.deepEqual(await names(client), [])
  assert.deepEqual(broken.calls, [])
  await client.close()
})

test('over stdio: a guarded Node server started as a process', async () => {
  for (const lowLevel of ['0', '1']) {
    const dir = workdir()
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [SERVER_SCRIPT],
      env: { ...process.env, WORKDIR: dir, GUARD: '1', BUNDLE: WORKSPACE, AGENT: 'review-agent', LOW_LEVEL: lowLevel },
      stderr: 'ignore',
    })
    const client = new Client({ name: 'test', version: '1.0.0' })
    await client.connect(transport)
    assert.deepEqual(await names(client), EXPECTED['review-agent'])
    const denied = await client.callTool({ name: 'write_file', arguments: { path: '/workspace/evil.txt', content: 'x' } })
    assert.equal(denied.isError, true)
    assert.equal(denied._meta['agentauthz/decision'].decision, 'deny')
    const ok = await client.callTool({ name: 'read_file', arguments: { path: '/workspace/a.txt' } })
    assert.equal(textOf(ok), 'hello')
    await client.close()
    assert.ok(!fs.existsSync(path.join(dir, 'workspace', 'evil.txt')))
  }
})

test('engine.mcpCheckCall / mcpListableTools / schemaFromMcp: the core functions', () => {
  const d = engine.mcpCheckCall({ identity: { agent: 'dev-agent' }, server: 'fs', tool: 'write_file', arguments: { path: '/workspace/a', content: '' } })
  assert.equal(d.decision, 'allow')
  const no = engine.mcpCheckCall({ identity: { agent: 'dev-agent' }, server: 'fs', tool: 'write_file', arguments: { path: '/etc/passwd', content: '' } })
  assert.equal(no.decision, 'deny')
  assert.throws(() => engine.mcpCheckCall({ identity: { agent: 'dev-agent' }, server: 'fs', tool: 'bad name"', arguments: {} }), RequestError)
  assert.throws(() => engine.mcpCheckCall({ identity: { agent: 'dev-agent' }, server: 'fs', tool: 'read_file', arguments: [] }), RequestError)
  assert.throws(() => engine.mcpCheckCall({ identity: { agent: 'dev-agent', session: { token: 'x' } }, server: 'fs', tool: 'read_file' }))
  const listed = engine.mcpListableTools({ identity: { agent: 'review-agent' }, server: 'fs', tools: ['write_file', 'read_file', 'move_file'] })
  assert.deepEqual(listed, ['read_file'])
  const tools = JSON.parse(fs.readFileSync(path.join(WORKSPACE, 'mcp', 'fs.tools.json'), 'utf8'))
  const schema = schemaFromMcp({ tools, server: 'fs' })
  assert.ok(schema.actions.includes('fs:read_file'))
  assert.match(schema.text, /action "fs:read_file"/)
  assert.throws(() => schemaFromMcp({ tools: 'nope' }), SchemaError)
  assert.throws(() => schemaFromMcp(null), SchemaError)
})

test('the handler gets exactly the arguments that were checked (a getter cannot switch them)', async () => {
  // An in-process transport hands the server the client's objects as they are.
  const dir = workdir()
  const { server, calls } = guarded(buildMcpServer, dir, fixedAgent('dev-agent'))
  const handler = server.server._requestHandlers.get('tools/call')
  let reads = 0
  const args = { content: 'x' }
  Object.defineProperty(args, 'path', { enumerable: true, get: () => (reads++ === 0 ? '/workspace/ok.txt' : '/evil.txt') })
  const extra = { requestId: 1, signal: new AbortController().signal, sendNotification: async () => {}, sendRequest: async () => {} }
  const r = await handler({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'write_file', arguments: args } }, extra)
  assert.equal(r.isError, undefined, JSON.stringify(r))
  assert.ok(!fs.existsSync(path.join(dir, 'evil.txt')), 'the handler saw other arguments than the check')
  assert.ok(fs.existsSync(path.join(dir, 'workspace', 'ok.txt')))
  assert.deepEqual(calls, ['write_file'])
  // A getter that throws: refused, never run.
  const bad = { content: 'x' }
  Object.defineProperty(bad, 'path', { enumerable: true, get: () => { throw new Error('boom') } })
  const refused = await handler({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'write_file', arguments: bad } }, extra)
  assert.equal(refused.isError, true)
  assert.equal(refused._meta['agentauthz/error'].code, 'request_parse')
  assert.deepEqual(calls, ['write_file'])
})

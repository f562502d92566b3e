'use strict'
// `agentauthz mcp proxy` in front of a Node server (@modelcontextprotocol/sdk)
// and in front of the Python one (the official `mcp` SDK, the Python suite's
// fixture bindings-python/tests/mcp_servers/fs_server.py): the same JSON-RPC
// lines get the same answers from both.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawn, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { REPO_ROOT } = require('./helpers')

const WORKSPACE = path.join(REPO_ROOT, 'policies-examples', 'mcp-workspace')
const NODE_SERVER = [process.execPath, path.join(__dirname, 'mcp_servers', 'fs_server.js')]
const PYTHON = path.join(REPO_ROOT, 'bindings-python', '.venv', 'bin', 'python')
const PYTHON_SERVER = [PYTHON, path.join(REPO_ROOT, 'bindings-python', 'tests', 'mcp_servers', 'fs_server.py')]

/** The agentauthz binary of this checkout, built (or found up to date) by cargo. */
function cli() {
  if (process.env.AGENTAUTHZ_CLI && fs.existsSync(process.env.AGENTAUTHZ_CLI)) return process.env.AGENTAUTHZ_CLI
  const out = execFileSync('cargo', ['build', '--release', '-p', 'agentauthz-cli', '--message-format=json'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 << 20,
  })
  for (const line of out.split('\n')) {
    if (!line.startsWith('{')) continue
    const msg = JSON.parse(line)
    if (msg.reason === 'compiler-artifact' && msg.executable) return msg.executable
  }
  throw new Error('cargo built no agentauthz executable')
}

function pythonWithMcp() {
  try {
    execFileSync(PYTHON, ['-c', 'import mcp'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** The proxy driven line by line. */
class Raw {
  constructor(argv, env) {
    this.p = spawn(argv[0], argv.slice(1), { env, stdio: ['pipe', 'pipe', 'ignore'] })
    this.lines = []
    this.waiting = null
    readline.createInterface({ input: this.p.stdout }).on('line', (line) => {
      this.lines.push(line)
      this.waiting?.()
    })
    this.exited = new Promise((resolve) => this.p.on('exit', (code) => resolve(code)))
  }
  send(line) {
    this.p.stdin.write(`${line}\n`)
  }
  async recv(timeoutMs = 20000) {
    const deadline = Date.now() + timeoutMs
    while (this.lines.length === 0) {
      const left = deadline - Date.now()
      assert.ok(left > 0, 'no answer (hang)')
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left)
        this.waiting = () => {
          clearTimeout(t)
          resolve()
        }
      })
    }
    return JSON.parse(this.lines.shift())
  }
  async request(id, method, params) {
    this.send(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }))
    return this.recv()
  }
  async close() {
    this.p.stdin.end()
    const timer = setTimeout(() => this.p.kill('SIGKILL'), 20000)
    const code = await this.exited
    clearTimeout(timer)
    return code
  }
}

function workdir() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentauthz-mcp-proxy-'))
  fs.mkdirSync(path.join(dir, 'workspace'))
  fs.writeFileSync(path.join(dir, 'workspace', 'a.txt'), 'hello')
  return dir
}

/** What a client learns from an answer, with the per-decision id taken out. */
function answer(r) {
  if (r.error !== undefined) return { id: r.id, error: r.error.data?.code ?? r.error.code }
  const res = r.result
  if (Array.isArray(res.tools)) return { id: r.id, tools: res.tools.map((t) => t.name).sort() }
  if (Array.isArray(res.content)) {
    const decision = res._meta?.['agentauthz/decision']
    const id = decision?.decision_id
    const text = res.content.map((c) => c.text ?? '').join('')
    return {
      id: r.id,
      isError: res.isError === true,
      text: id ? text.replaceAll(id, '<decision_id>') : text,
      decision: decision && { decision: decision.decision, reasons: decision.reasons, errors: decision.errors },
    }
  }
  return { id: r.id, result: 'ok' }
}

/** One session through the proxy in front of `server`: every answer, what was written, the exit. */
async function session(server, agent) {
  const dir = workdir()
  const log = path.join(dir, 'proxy.log')
  const argv = [cli(), 'mcp', 'proxy', '--bundle', WORKSPACE, '--agent', agent, '--server', 'fs', '--log', log, '--', ...server]
  const raw = new Raw(argv, { ...process.env, WORKDIR: dir, GUARD: '0' })
  const answers = []
  try {
    const init = await raw.request(0, 'initialize', {
      protocolVersion: '2025-06-18',
      capabilities: {},
      clientInfo: { name: 't', version: '1' },
    })
    assert.ok(init.result, JSON.stringify(init))
    raw.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }))
    const call = (id, name, args) => raw.request(id, 'tools/call', { name, arguments: args })
    answers.push(answer(await raw.request(1, 'tools/list')))
    answers.push(answer(await call(2, 'write_file', { path: '/workspace/w.txt', content: 'ok' })))
    answers.push(answer(await call(3, 'read_file', { path: '/workspace/a.txt' })))
    answers.push(answer(await call(4, 'write_file', { path: '/workspace/../evil.txt', content: 'x' })))
    answers.push(answer(await call(5, 'write_file', { path: '/evil.txt', content: 'x' })))
    answers.push(answer(await call(6, 'move_file', { source: '/workspace/a.txt', destination: '/b' })))
    answers.push(answer(await raw.request(7, 'tools/call', { name: 42 })))
    raw.send(
      '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"read_file","name":"write_file","arguments":{"path":"/workspace/d.txt","content":"d"}}}',
    )
    answers.push(answer(await raw.recv()))
    answers.push(answer(await raw.request(9, 'ping')))
    answers.push(answer(await call(10, 'write_file', { path: '/workspace/CRASH', content: 'x' })))
  } finally {
    answers.push({ exit: await raw.close() })
  }
  const written = fs.readdirSync(path.join(dir, 'workspace')).sort()
  const outside = fs.existsSync(path.join(dir, 'evil.txt')) || fs.existsSync(path.join(dir, 'b'))
  return { answers, written, outside }
}

for (const agent of ['dev-agent', 'review-agent']) {
  test(`the proxy in front of a Node server and of a Python server gives the same answers (${agent})`, async (t) => {
    const node = await session(NODE_SERVER, agent)
    // What the answers must be, whichever server is behind the proxy.
    const [list, write, read, parent, outsideWrite, move, badName, dup, ping, crash, exit] = node.answers
    const dev = agent === 'dev-agent'
    assert.deepEqual(list.tools, dev ? ['get_file_info', 'list_directory', 'read_file', 'write_file'] : ['get_file_info', 'list_directory', 'read_file'])
    assert.equal(write.isError, !dev)
    assert.equal(write.text, dev ? 'wrote 2 bytes' : write.text)
    if (!dev) assert.equal(write.decision.decision, 'deny')
    assert.deepEqual([read.isError, read.text], [false, 'hello'])
    for (const denied of [parent, outsideWrite, move]) assert.equal(denied.isError || denied.error !== undefined, true, JSON.stringify(denied))
    assert.equal(badName.error, 'request_invalid')
    assert.equal(dup.error, 'request_parse')
    assert.deepEqual(ping, { id: 9, result: 'ok' })
    assert.equal(crash.error, dev ? 'io' : undefined)
    if (!dev) assert.equal(crash.isError, true)
    assert.deepEqual(node.written, dev ? ['a.txt', 'w.txt'] : ['a.txt'])
    assert.equal(node.outside, false)
    assert.ok(exit.exit !== null)

    if (!pythonWithMcp()) {
      // CI runs the Python suite (which makes the venv) first: there, a missing venv is a failure.
      if (process.env.CI) assert.fail(`no Python with the mcp SDK at ${PYTHON}: run make -C bindings-python test first`)
      t.skip(`no Python with the mcp SDK at ${PYTHON} (make -C bindings-python test makes it)`)
      return
    }
    const python = await session(PYTHON_SERVER, agent)
    assert.deepEqual(python.answers, node.answers)
    assert.deepEqual(python.written, node.written)
    assert.equal(python.outside, false)
  })
}

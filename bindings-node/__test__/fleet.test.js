'use strict'
// A fleet from Node: engines in two processes sharing run-time changes
// through a real PostgreSQL (Debian's `postgresql`, started here on 127.0.0.1
// in a temp dir, as the `postgres` user when run as root), storeStatus(),
// stateHash(), a store that goes down (last state kept, staleness reported,
// fail closed with `store/stale` past maxStalenessSeconds), and bad options.
// Mirrors bindings-python/tests/test_fleet.py; core/tests/fleet.rs holds the
// hostile and 8-process tests. Without the server binaries the PostgreSQL
// tests skip loudly, unless AGENTAUTHZ_REQUIRE_SERVERS is set (a failure).

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const agentauthz = require('..')
const { freePort, startPostgres } = require('./lib/servers.js')

const { Engine } = agentauthz

const SCHEMA = `
entity Repo;
action "read" appliesTo { principal: [Agent], resource: [Repo] };
action "write" appliesTo { principal: [Agent], resource: [Repo] };
`
const POLICIES = `
@id("read")
permit (principal, action == Action::"read", resource);
`
const INVENTORY = `
users:
  - {id: alice}
agents:
  - {id: bot-1, owner: alice}
  - {id: bot-2, owner: alice}
resources:
  - {type: Repo, id: r1}
`

function bundle(t, config) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentauthz-fleet-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  fs.mkdirSync(path.join(dir, 'policies'))
  fs.writeFileSync(path.join(dir, 'schema.cedarschema'), SCHEMA)
  fs.writeFileSync(path.join(dir, 'policies', 'main.cedar'), POLICIES)
  fs.writeFileSync(path.join(dir, 'inventory.yaml'), INVENTORY)
  if (config) fs.writeFileSync(path.join(dir, 'agentauthz.toml'), config)
  return dir
}

const read = (engine, agent, action = 'read') => engine.check({ agent, action, resource: { type: 'Repo', id: 'r1' } })

async function waitUntil(done, engine, seconds = 10) {
  const deadline = Date.now() + seconds * 1000
  while (!done()) {
    assert.ok(Date.now() < deadline, JSON.stringify(engine.storeStatus()))
    await new Promise((r) => setTimeout(r, 5))
  }
}

// The other process of the fleet: grants, offboards, prints its state hash.
const CHILD = `
const { Engine } = require(process.argv[1])
const a = Engine.load(process.argv[2], { store: process.argv[3] })
a.grant({ agent: 'bot-2', actions: ['write'], resource: { type: 'Repo', id: 'r1' }, ttlSeconds: 3600, reason: 'hotfix', grantedBy: 'alice' })
a.offboard('bot-1', { by: 'alice' })
process.stdout.write(a.stateHash())
a.close()
`

function storeInit(url) {
  assert.match(agentauthz.storeInit(url), /^postgres 127\.0\.0\.1:\d+\/postgres$/)
}

test('storeInit takes the TLS settings of [store]', async (t) => {
  const pg = await startPostgres(t)
  if (pg === null) return
  // This server has no TLS: `require` is refused.
  assert.throws(
    () => agentauthz.storeInit(pg.url, { sslmode: 'require' }),
    (e) => e.code === 'io' && /TLS/.test(e.message),
  )
  assert.match(agentauthz.storeInit(pg.url, { sslmode: 'disable' }), /^postgres /)
})

test('a grant and an offboarding in another process reach this one', async (t) => {
  const pg = await startPostgres(t)
  if (pg === null) return
  storeInit(pg.url)
  const dir = bundle(t)
  const b = Engine.load(dir, { store: pg.url, maxStalenessSeconds: 30 })
  t.after(() => b.close())
  assert.equal(read(b, 'bot-1').allowed, true)
  assert.equal(read(b, 'bot-2', 'write').allowed, false)
  const child = spawnSync(process.execPath, ['-e', CHILD, path.join(__dirname, '..'), dir, pg.url], {
    encoding: 'utf8',
    timeout: 60_000,
  })
  assert.equal(child.status, 0, child.stderr)
  await waitUntil(() => b.storeStatus().last_applied_seq === 2, b)
  const granted = read(b, 'bot-2', 'write')
  assert.equal(granted.allowed, true)
  assert.match(granted.reasons[0], /^grant\//)
  assert.deepEqual(read(b, 'bot-1').reasons, ['baseline/agent-active'])
  assert.equal(b.stateHash(), child.stdout)
  const status = b.storeStatus()
  assert.equal(status.backend, 'postgres')
  assert.equal(status.max_staleness_ms, 30_000)
  assert.equal(status.stale, false)
  assert.equal(status.connected, true)
})

test('a store that goes down keeps the last state, then fails closed', async (t) => {
  const pg = await startPostgres(t)
  if (pg === null) return
  storeInit(pg.url)
  const dir = bundle(t)
  const a = Engine.load(dir, { store: pg.url })
  const keeps = Engine.load(dir, { store: pg.url })
  const bounded = Engine.load(dir, { store: pg.url, maxStalenessSeconds: 1 })
  t.after(() => {
    for (const e of [a, keeps, bounded]) e.close()
  })
  a.offboard('bot-1', { by: 'alice' })
  for (const e of [keeps, bounded]) await waitUntil(() => e.storeStatus().last_applied_seq === 1, e)
  const before = keeps.stateHash()
  pg.stop()
  // A change the store cannot take is refused, and not applied here either.
  assert.throws(
    () => a.suspend('bot-2', { by: 'alice' }),
    (e) => e.code === 'io',
  )
  assert.equal(read(a, 'bot-2').allowed, true)
  // Without a bound the last state keeps deciding; the status says how stale.
  await waitUntil(() => !keeps.storeStatus().connected, keeps)
  await waitUntil(() => (keeps.storeStatus().staleness_ms ?? 0) > 1500, keeps)
  const status = keeps.storeStatus()
  assert.equal(status.stale, false)
  assert.ok(status.last_error)
  assert.equal(keeps.stateHash(), before)
  assert.equal(read(keeps, 'bot-2').allowed, true)
  assert.deepEqual(read(keeps, 'bot-1').reasons, ['baseline/agent-active'])
  // With maxStalenessSeconds every check fails closed, with its reason.
  await waitUntil(() => !read(bounded, 'bot-2').allowed, bounded)
  assert.deepEqual(read(bounded, 'bot-2').reasons, ['store/stale'])
  assert.equal(bounded.storeStatus().stale, true)
})

test('the bundle config names the store; bad options are coded errors', async (t) => {
  const pg = await startPostgres(t)
  if (pg === null) return
  storeInit(pg.url)
  const dir = bundle(t, '[store]\npostgres = "env:AGENTAUTHZ_TEST_PG"\nmax_staleness_seconds = 30\n')
  process.env.AGENTAUTHZ_TEST_PG = pg.url
  t.after(() => {
    delete process.env.AGENTAUTHZ_TEST_PG
  })
  const a = Engine.load(dir)
  assert.equal(a.storeStatus().backend, 'postgres')
  assert.equal(a.storeStatus().max_staleness_ms, 30_000)
  a.close()
  const plain = bundle(t)
  for (const options of [{ store: 42 }, { store: pg.url, maxStalenessSeconds: -1 }, { store: pg.url, maxStalenessSeconds: 1.5 }, { store: pg.url, maxStalenessSeconds: '5' }]) {
    assert.throws(
      () => Engine.load(plain, options),
      (e) => e.code === 'config_invalid',
      JSON.stringify(options),
    )
  }
  // URLs that name no PostgreSQL store: coded errors, no engine.
  for (const store of ['env:AGENTAUTHZ_TEST_UNSET_VARIABLE', '', 'not a url', 'mysql://root@127.0.0.1/db', 'postgres://[::1']) {
    assert.throws(
      () => Engine.load(plain, { store }),
      (e) => e.code === 'config_invalid',
      store,
    )
  }
  const port = await freePort()
  assert.throws(
    () => Engine.load(plain, { store: `postgres://postgres@127.0.0.1:${port}/postgres` }),
    (e) => e.code === 'io',
  )
  for (const url of [7, null, undefined, 'mysql://root@127.0.0.1/db', 'env:AGENTAUTHZ_TEST_UNSET_VARIABLE']) {
    assert.throws(
      () => agentauthz.storeInit(url),
      (e) => e.code === 'config_invalid',
      String(url),
    )
  }
  assert.throws(
    () => agentauthz.storeInit(`postgres://postgres@127.0.0.1:${port}/postgres`),
    (e) => e.code === 'io',
  )
  for (const options of [{ sslmode: 7 }, { caFile: {} }, { sslmode: 'verify-full' }, { sslmode: 'prefer' }]) {
    assert.throws(
      () => agentauthz.storeInit(`postgres://postgres@127.0.0.1:${port}/postgres`, options),
      (e) => e.code === 'config_invalid',
      JSON.stringify(options),
    )
  }
  const memory = Engine.load(plain).storeStatus()
  assert.equal(memory.backend, 'memory')
  assert.equal(memory.stale, false)
})

test("the README's fleet snippet runs", async (t) => {
  const pg = await startPostgres(t)
  if (pg === null) return
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Fleet'))
  const code = [...section.slice(0, section.indexOf('\n## ', 3)).matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])
  assert.equal(code.length, 1)
  process.env.AGENTAUTHZ_PG = pg.url
  const cwd = process.cwd()
  t.after(() => {
    delete process.env.AGENTAUTHZ_PG
    process.chdir(cwd)
  })
  process.chdir(path.join(__dirname, '..', '..'))
  const { engine } = new Function('Engine', 'storeInit', `${code[0]}\nreturn { engine }`)(Engine, agentauthz.storeInit)
  t.after(() => engine.close())
  assert.equal(engine.storeStatus().backend, 'postgres')
  assert.equal(engine.storeStatus().max_staleness_ms, 30_000)
  assert.match(engine.stateHash(), /^sha256:[0-9a-f]{64}$/)
})

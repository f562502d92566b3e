'use strict'
// Fleet costs from Node, printed (not asserted): an engine restarting with N
// changes pending in the PostgreSQL store (from Engine.load to a state hash
// equal to the writer's), and one bundle poll against nginx, when the ETag
// is unchanged (304) and when a new signed bundle activates. The servers are
// the ones the tests start (__test__/lib/servers.js).
//
//   node bench/fleet.js [N]        (make bench-fleet; N defaults to 10000)

const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Engine, storeInit } = require('..')
const { startPostgres, startNginx } = require('../__test__/lib/servers.js')

const REPO_ROOT = path.resolve(__dirname, '..', '..')
const N = Number(process.argv[2] || 10_000)
if (!Number.isSafeInteger(N) || N < 1) throw new Error(`N must be a positive integer, not ${process.argv[2]}`)

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6
const now = () => process.hrtime.bigint()
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const tmp = (prefix) => fs.mkdtempSync(path.join(os.tmpdir(), prefix))

function fleetBundle() {
  const dir = tmp('agentauthz-bench-fleet-')
  fs.mkdirSync(path.join(dir, 'policies'))
  fs.writeFileSync(
    path.join(dir, 'schema.cedarschema'),
    'entity Repo;\naction "read" appliesTo { principal: [Agent], resource: [Repo] };\naction "write" appliesTo { principal: [Agent], resource: [Repo] };\n',
  )
  fs.writeFileSync(path.join(dir, 'policies', 'main.cedar'), '@id("read")\npermit (principal, action == Action::"read", resource);\n')
  fs.writeFileSync(
    path.join(dir, 'inventory.yaml'),
    'users:\n  - {id: alice}\nagents:\n  - {id: bot-1, owner: alice}\n  - {id: bot-2, owner: alice}\nresources:\n  - {type: Repo, id: r1}\n',
  )
  return dir
}

async function catchUp() {
  const pg = await startPostgres()
  if (pg === null) return
  const dir = fleetBundle()
  try {
    storeInit(pg.url)
    const writer = Engine.load(dir, { store: pg.url })
    const by = { by: 'alice' }
    // Mixed changes, each acknowledged by the store: grant, revoke, suspend, reactivate.
    const t0 = now()
    for (let i = 0; i < N; i += 4) {
      const g = writer.grant({ agent: 'bot-2', actions: ['write'], resource: { type: 'Repo', id: 'r1' }, ttlSeconds: 3600, reason: `change ${i}`, grantedBy: 'alice' })
      if (i + 1 < N) writer.revoke(g.id, by)
      if (i + 2 < N) writer.suspend('bot-1', by)
      if (i + 3 < N) writer.reactivate('bot-1', by)
    }
    const written = ms(t0)
    const want = writer.stateHash()
    const seq = writer.storeStatus().last_applied_seq
    // A restarting engine: load replays the store before its first check.
    const times = []
    for (let run = 0; run < 3; run++) {
      const t1 = now()
      const e = Engine.load(dir, { store: pg.url })
      while (e.stateHash() !== want) await new Promise((r) => setImmediate(r))
      times.push(ms(t1))
      if (e.storeStatus().last_applied_seq !== seq) throw new Error('caught up to another sequence')
      e.close()
    }
    writer.close()
    console.log(`store: ${N} changes written by one engine in ${written.toFixed(0)} ms (${((written * 1000) / N).toFixed(0)} µs per acknowledged change)`)
    console.log(`catch-up: restart with ${N} pending changes -> equal state hash: ${times.map((t) => t.toFixed(0)).join(', ')} ms (median ${median(times).toFixed(0)} ms)`)
  } finally {
    pg.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

async function pollCost() {
  const nginx = await startNginx()
  if (nginx === null) return
  const fixtures = path.join(REPO_ROOT, 'tests', 'vectors', 'bundles')
  const read = (name) => fs.readFileSync(path.join(fixtures, name))
  const bundles = ['coding-agent', 'support-agent'].map((b) => ({ archive: read(`${b}.tar.gz`), sig: read(`${b}.tar.gz.sig`) }))
  const publish = (b) => {
    nginx.publish('bundle.tar.gz.sig', b.sig)
    nginx.publish('bundle.tar.gz', b.archive)
  }
  const dir = tmp('agentauthz-bench-bundle-')
  try {
    const key = read('fixture.public.paserk').toString('utf8').trim()
    fs.writeFileSync(
      path.join(dir, 'agentauthz.toml'),
      `[bundle]\nurl = "${nginx.url('bundle.tar.gz')}"\npublic_keys = { fixture = "${key}" }\npoll_seconds = 0\ncache_dir = "cache"\n`,
    )
    publish(bundles[0])
    const e = Engine.load(dir)
    const unchanged = []
    for (let i = 0; i < 50; i++) {
      const t0 = now()
      const st = e.pollBundle()
      unchanged.push(ms(t0))
      if (st.last_result !== 'not_modified') throw new Error(JSON.stringify(st))
    }
    const updated = []
    for (let i = 1; i <= 20; i++) {
      publish(bundles[i % 2])
      const t0 = now()
      const st = e.pollBundle()
      updated.push(ms(t0))
      if (st.last_result !== 'updated') throw new Error(JSON.stringify(st))
    }
    e.close()
    const fmt = (xs) => `median ${median(xs).toFixed(2)} ms (min ${Math.min(...xs).toFixed(2)}, max ${Math.max(...xs).toFixed(2)}, ${xs.length} polls)`
    console.log(`bundle poll, ETag unchanged (304): ${fmt(unchanged)}`)
    console.log(`bundle poll, new signed bundle fetched, verified, compiled, activated: ${fmt(updated)}`)
  } finally {
    nginx.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

;(async () => {
  await catchUp()
  await pollCost()
})().catch((e) => {
  console.error(e)
  process.exitCode = 1
})

'use strict'
// Signed bundles pulled from a real nginx (`[bundle] url` in agentauthz.toml):
// the first fetch activates, a poll with nothing new is a 304, a new signed
// revision activates, and a tampered archive, a forged signature, a 500 or a
// truncated archive each leave the active bundle deciding. bundleStatus() and
// pollBundle() are the core's Engine::bundle_status / poll_bundle; the
// hostile cases in full are core/tests/bundle_url.rs. Without nginx the test
// skips loudly, unless AGENTAUTHZ_REQUIRE_SERVERS is set (a failure).

const { test } = require('node:test')
const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Engine, BundleError } = require('..')
const { startNginx } = require('./lib/servers.js')
const { REPO_ROOT } = require('./helpers.js')

const FIXTURES = path.join(REPO_ROOT, 'tests', 'vectors', 'bundles')
const fixture = (name) => fs.readFileSync(path.join(FIXTURES, name))
const PUBLIC_KEY = fixture('fixture.public.paserk').toString('utf8').trim()
const CODING = { archive: fixture('coding-agent.tar.gz'), sig: fixture('coding-agent.tar.gz.sig') }
const SUPPORT = { archive: fixture('support-agent.tar.gz'), sig: fixture('support-agent.tar.gz.sig') }
const revisionOf = (sig) => JSON.parse(sig.toString('utf8')).revision

// A coding-agent read: allowed by the coding-agent bundle, not by support-agent's.
const READ = { agent: 'ci-bot', action: 'github:read', resource: { type: 'Repo', id: 'acme/api' }, context: { source_ip: '10.20.0.7' } }

/** A directory whose agentauthz.toml pulls the bundle from `url`. */
function pulling(t, url, pollSeconds = 0) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentauthz-bundle-url-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const config = `[bundle]\nurl = "${url}"\npublic_keys = { fixture = "${PUBLIC_KEY}" }\npoll_seconds = ${pollSeconds}\ncache_dir = "cache"\n`
  fs.writeFileSync(path.join(dir, 'agentauthz.toml'), config)
  return dir
}

/** A signature line for `revision` under kid `fixture`, made with a key that is not the fixture's. */
function forged(revision) {
  const { privateKey } = crypto.generateKeyPairSync('ed25519')
  const signature = crypto.sign(null, Buffer.from(`agentauthz-bundle-signature-v1\n${revision}`), privateKey)
  return JSON.stringify({ alg: 'ed25519', kid: 'fixture', revision, signature: signature.toString('base64url') })
}

test('a signed bundle from nginx activates; a tampered one keeps the old policy', async (t) => {
  const nginx = await startNginx(t)
  if (nginx === null) return
  const publish = ({ archive, sig }) => {
    nginx.publish('bundle.tar.gz.sig', sig)
    nginx.publish('bundle.tar.gz', archive)
  }
  publish(CODING)
  const engine = Engine.load(pulling(t, nginx.url('bundle.tar.gz')))
  t.after(() => engine.close())
  let status = engine.bundleStatus()
  assert.equal(status.url, nginx.url('bundle.tar.gz'))
  assert.equal(status.revision, revisionOf(CODING.sig))
  assert.equal(status.kid, 'fixture')
  assert.equal(status.source, 'network')
  assert.equal(status.last_result, 'updated')
  assert.equal(engine.check(READ).allowed, true)
  const v1 = engine.policyRevision

  // Nothing new: one conditional request, answered 304.
  const before = nginx.served(304)
  status = engine.pollBundle()
  assert.equal(status.last_result, 'not_modified', JSON.stringify(status))
  assert.equal(nginx.served(304), before + 1)

  // Each of these leaves the coding-agent bundle deciding, and says why.
  const keeps = (what, code) => {
    const st = engine.pollBundle()
    assert.equal(st.last_result, 'error', `${what}: ${JSON.stringify(st)}`)
    assert.match(st.last_error, new RegExp(code), what)
    assert.equal(st.revision, revisionOf(CODING.sig), what)
    assert.equal(engine.policyRevision, v1, what)
    assert.equal(engine.check(READ).allowed, true, what)
    assert.deepEqual(engine.bundleStatus(), st, what)
  }
  // Another bundle's archive under the coding-agent signature.
  publish({ archive: SUPPORT.archive, sig: CODING.sig })
  keeps('a swapped archive', 'bundle_signature_invalid')
  // The support-agent archive, signed under kid `fixture` by another key.
  publish({ archive: SUPPORT.archive, sig: forged(revisionOf(SUPPORT.sig)) })
  keeps('a forged signature', 'bundle_signature_invalid')
  // One flipped byte inside the signed archive.
  const flipped = Buffer.from(CODING.archive)
  flipped[Math.floor(flipped.length / 2)] ^= 0x01
  publish({ archive: flipped, sig: CODING.sig })
  keeps('a flipped byte', 'bundle_archive_invalid')
  // Half an archive.
  publish({ archive: SUPPORT.archive.subarray(0, SUPPORT.archive.length / 2), sig: SUPPORT.sig })
  keeps('a truncated archive', 'bundle_archive_invalid')
  // The server failing.
  nginx.fail(true)
  keeps('a 500', 'bundle_unavailable')
  nginx.fail(false)

  // A new signed revision activates, and decides at once.
  publish(SUPPORT)
  status = engine.pollBundle()
  assert.equal(status.last_result, 'updated', JSON.stringify(status))
  assert.equal(status.revision, revisionOf(SUPPORT.sig))
  assert.equal(status.last_error ?? null, null)
  assert.equal(status.failures, 5)
  assert.notEqual(engine.policyRevision, v1)
  assert.equal(engine.check(READ).allowed, false)
})

test('the poller activates a new signed revision by itself', async (t) => {
  const nginx = await startNginx(t)
  if (nginx === null) return
  nginx.publish('bundle.tar.gz.sig', CODING.sig)
  nginx.publish('bundle.tar.gz', CODING.archive)
  const engine = Engine.load(pulling(t, nginx.url('bundle.tar.gz'), 1))
  t.after(() => engine.close())
  assert.equal(engine.check(READ).allowed, true)
  nginx.publish('bundle.tar.gz.sig', SUPPORT.sig)
  nginx.publish('bundle.tar.gz', SUPPORT.archive)
  const deadline = Date.now() + 10_000
  while (engine.bundleStatus().revision !== revisionOf(SUPPORT.sig)) {
    assert.ok(Date.now() < deadline, JSON.stringify(engine.bundleStatus()))
    await new Promise((r) => setTimeout(r, 50))
  }
  assert.equal(engine.check(READ).allowed, false)
})

test('an engine whose bundle is a directory has no bundle status and cannot poll', () => {
  const engine = Engine.load(path.join(REPO_ROOT, 'policies-examples', 'coding-agent'))
  assert.equal(engine.bundleStatus(), null)
  assert.throws(
    () => engine.pollBundle(),
    (e) => e instanceof BundleError && e.code === 'config_invalid',
  )
})

'use strict'
// Agent sessions: issue a signed token for an agent, then check with it.
// The addon has no engine-clock injection, so token expiry is covered by the
// core's tests (core/tests/lifecycle.rs); these run at the real time, well
// inside the tokens' lifetimes.

const { test } = require('node:test')
const assert = require('node:assert/strict')
const { Engine, AuthzError, RequestError, generateSessionKey } = require('..')

const SCHEMA = `
entity Bucket;
entity Object in [Bucket];
action "s3:GetObject" appliesTo { principal: [Agent], resource: [Object, Bucket] };
`
const POLICIES = `
@id("read-public")
permit (principal, action == Action::"s3:GetObject", resource in Bucket::"public");
`
const INVENTORY = `
users:
  - {id: alice}
agents:
  - {id: etl, owner: alice}
  - {id: other, owner: alice}
tasks:
  - {id: T1, agent: etl, not_before: "2020-01-01T00:00:00Z", not_after: "2100-01-01T00:00:00Z"}
resources:
  - {type: Bucket, id: public}
  - {type: Object, id: public/readme, parents: [{type: Bucket, id: public}]}
`
const CONFIG = '[sessions]\naudience = "tools"\nallowed_audiences = ["billing"]\nmax_ttl_seconds = 600\n'
const README = { type: 'Object', id: 'public/readme' }

const makeEngine = (inventory = INVENTORY) =>
  Engine.fromStrings({ schema: SCHEMA, policies: POLICIES, inventory, config: CONFIG }, { trustCallerTime: true })

function issuer() {
  const engine = makeEngine()
  engine.setSessionKeys({ signing: { kid: 'k1', key: generateSessionKey('k1').secret } })
  return engine
}

const read = (engine, session, extra = {}) =>
  engine.check({ session, action: 's3:GetObject', resource: README, ...extra })

/** Asserts `fn` throws an AuthzError with `code`. */
function throwsCode(fn, code) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof AuthzError, `${e}`)
    assert.equal(e.code, code, e.message)
    return true
  })
}

test('round trip: the token names the agent', () => {
  const engine = issuer()
  const { token, claims } = engine.issueSession({ agent: 'etl', task: 'T1', ttlSeconds: 300 })
  assert.match(token, /^v4\.public\./)
  assert.equal(claims.agent, 'etl')
  assert.equal(claims.task, 'T1')
  assert.equal(claims.audience, 'tools')
  assert.equal(typeof claims.sessionId, 'string')
  assert.equal(claims.expiresAt - claims.issuedAt, 300_000)
  assert.deepEqual(engine.verifySession(token), claims)
  const d = read(engine, token)
  assert.equal(d.allowed, true)
  assert.deepEqual(d.reasons, ['read-public'])
  assert.deepEqual(engine.check({ agent: 'etl', action: 's3:GetObject', resource: README }).reasons, ['read-public'])
})

test('the lifetime is capped by the configuration', () => {
  const { claims } = issuer().issueSession({ agent: 'etl', ttlSeconds: 3600 })
  assert.equal(claims.expiresAt - claims.issuedAt, 600_000)
  throwsCode(() => issuer().issueSession({ agent: 'etl', ttlSeconds: -1 }), 'session_invalid')
  throwsCode(() => issuer().issueSession({ agent: 'etl', bogus: 1 }), 'session_invalid')
})

test('a tampered token is session_invalid', () => {
  const engine = issuer()
  const { token } = engine.issueSession({ agent: 'etl' })
  const i = Math.floor(token.length / 2)
  const tampered = token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1)
  throwsCode(() => read(engine, tampered), 'session_invalid')
  throwsCode(() => engine.verifySession(tampered), 'session_invalid')
})

test('a wrong audience is session_invalid', () => {
  const engine = issuer()
  const { token } = engine.issueSession({ agent: 'etl' })
  throwsCode(() => read(engine, token, { audience: 'billing' }), 'session_invalid')
  const billing = engine.issueSession({ agent: 'etl', audience: 'billing' })
  assert.equal(billing.claims.audience, 'billing')
  assert.equal(engine.verifySession(billing.token, { audience: 'billing' }).agent, 'etl')
  throwsCode(() => engine.verifySession(billing.token), 'session_invalid')
})

test('a revoked session is session_revoked', () => {
  const engine = issuer()
  const { token, claims } = engine.issueSession({ agent: 'etl' })
  const other = engine.issueSession({ agent: 'other' }).token
  engine.revokeSession(claims.sessionId, { by: 'alice' })
  throwsCode(() => read(engine, token), 'session_revoked')
  assert.equal(read(engine, other).allowed, true)
  assert.throws(() => engine.revokeSession(claims.sessionId), (e) => e instanceof AuthzError && e.code === 'lifecycle_invalid')
})

// Drift fixed by the shared JS layer (issue 16): the change record of a
// revocation reached a function sink only with the next call.
test('the record of a session revocation reaches a function sink at once', () => {
  const engine = issuer()
  const records = []
  engine.setDecisionLog((r) => records.push(r))
  const { claims } = engine.issueSession({ agent: 'etl' })
  engine.revokeSession(claims.sessionId, { by: 'alice' })
  assert.deepEqual(
    records.map((r) => [r.action, r.principal.id, r.reasons]),
    [['agentauthz:revoke_session', 'alice', ['lifecycle/revoke_session']]],
  )
  assert.equal(records[0].context.session, claims.sessionId)
  // The next check brings its own record only.
  read(engine, engine.issueSession({ agent: 'other' }).token)
  assert.deepEqual(
    records.map((r) => r.action),
    ['agentauthz:revoke_session', 's3:GetObject'],
  )
})

test('a suspended agent cannot use or get a session', () => {
  const engine = issuer()
  const { token } = engine.issueSession({ agent: 'etl' })
  // A verifier whose inventory has `etl` suspended refuses its token.
  const verifier = makeEngine(INVENTORY.replace('{id: etl, owner: alice}', '{id: etl, owner: alice, status: suspended}'))
  verifier.setSessionKeys({ verifying: engine.sessionPublicKeys() })
  throwsCode(() => read(verifier, token), 'session_revoked')
  verifier.setSessionKeys({ signing: { kid: 'k2', key: generateSessionKey('k2').secret } })
  throwsCode(() => verifier.issueSession({ agent: 'etl' }), 'lifecycle_invalid')
  throwsCode(() => engine.issueSession({ agent: 'ghost' }), 'lifecycle_invalid')
  throwsCode(() => engine.issueSession({ agent: 'other', task: 'T1' }), 'lifecycle_invalid')
})

test('a verifier with only the public keys accepts the issuer’s tokens', () => {
  const engine = issuer()
  const publicKeys = engine.sessionPublicKeys()
  assert.deepEqual(Object.keys(publicKeys), ['k1'])
  assert.match(publicKeys.k1, /^k4\.public\./)
  const verifier = makeEngine()
  verifier.setSessionKeys({ verifying: publicKeys })
  const { token, claims } = engine.issueSession({ agent: 'etl' })
  assert.deepEqual(verifier.verifySession(token), claims)
  assert.deepEqual(read(verifier, token).reasons, ['read-public'])
  throwsCode(() => verifier.issueSession({ agent: 'etl' }), 'key_invalid')
  const stranger = makeEngine()
  stranger.setSessionKeys({ signing: { kid: 'k1', key: generateSessionKey('k1').secret } })
  throwsCode(() => read(verifier, stranger.issueSession({ agent: 'etl' }).token), 'session_invalid')
})

test('bad keys are key_invalid', () => {
  const engine = makeEngine()
  throwsCode(() => engine.setSessionKeys({ signing: { kid: 'k1', key: 'not a key' } }), 'key_invalid')
  throwsCode(() => engine.setSessionKeys({ verifying: { k1: 'k4.public.nope' } }), 'key_invalid')
  throwsCode(() => engine.setSessionKeys({ signing: { kid: 'k1' } }), 'key_invalid')
})

test('a session request takes a session or an agent, not both', () => {
  const engine = issuer()
  const { token } = engine.issueSession({ agent: 'etl' })
  assert.throws(() => read(engine, token, { agent: 'etl' }), RequestError)
  throwsCode(() => read(engine, token, { task: 'T1' }), 'request_parse')
  // A Date `now` crosses as for the agent form, and is refused: a session
  // check is judged at the engine clock, whatever the engine trusts.
  throwsCode(() => read(engine, token, { now: new Date('2026-11-29T10:00:00Z') }), 'request_invalid')
})

test('generateSessionKey', () => {
  const key = generateSessionKey('k9')
  assert.equal(key.kid, 'k9')
  assert.match(key.secret, /^k4\.secret\./)
  assert.match(key.public, /^k4\.public\./)
  assert.notEqual(generateSessionKey('k9').secret, key.secret)
})

test("the README's agent-sessions snippet runs", () => {
  const fs = require('node:fs')
  const path = require('node:path')
  const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('## Agent sessions'))
  const code = [...section.slice(0, section.indexOf('\n## ', 3)).matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1])
  assert.equal(code.length, 1)
  const run = new Function('require', 'schema', 'policies', 'inventory', 'config', `${code[0]}\nreturn { token, claims, d, verifier }`)
  const { token, claims, d, verifier } = run(() => require('..'), SCHEMA, POLICIES, INVENTORY, CONFIG)
  assert.equal(claims.agent, 'etl')
  assert.equal(claims.task, 'T1')
  assert.deepEqual(d.reasons, ['read-public'])
  throwsCode(() => read(verifier, token), 'session_revoked')
})

'use strict'
// Errors: the JS table against the core's, and every stable code raised for
// real through the addon, as the AuthzError subclass of its family.

const { describe, test } = require('node:test')
const assert = require('node:assert/strict')
const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const agentauthz = require('..')
const { Engine, AuthzError, ERROR_CODES, errorClassFor, errorCodes } = agentauthz
const { PACKAGE_DIR } = require('./helpers.js')

const FAMILY_CLASSES = {
  bundle: agentauthz.BundleError,
  schema: agentauthz.SchemaError,
  policy: agentauthz.PolicyError,
  inventory: agentauthz.InventoryError,
  request: agentauthz.RequestError,
  test: agentauthz.TestError,
  lifecycle: agentauthz.LifecycleError,
  journal: agentauthz.JournalError,
  log: agentauthz.LogError,
  session: agentauthz.SessionError,
  token: agentauthz.TokenError,
  limit: agentauthz.LimitError,
  internal: agentauthz.InternalError,
}

describe('the error table', () => {
  test('the JS table equals the core table, in order', () => {
    assert.deepEqual(
      ERROR_CODES.map(({ code, family }) => ({ code, family })),
      errorCodes(),
    )
  })

  test('the ErrorCode and ErrorFamily types in index.d.ts list the same codes', () => {
    const dts = fs.readFileSync(path.join(PACKAGE_DIR, 'index.d.ts'), 'utf8')
    const union = (name) => {
      const m = new RegExp(`export type ${name} =([^\\n]*(?:\\n\\s*\\|[^\\n]*)*)`).exec(dts)
      assert.ok(m, `type ${name} not found in index.d.ts`)
      return [...m[1].matchAll(/'([a-z_]+)'/g)].map((x) => x[1])
    }
    assert.deepEqual(union('ErrorCode'), errorCodes().map((c) => c.code))
    assert.deepEqual(union('ErrorFamily').sort(), [...new Set(errorCodes().map((c) => c.family))].sort())
  })

  test('every family has its class, every class extends AuthzError and Error', () => {
    for (const { code, family } of errorCodes()) {
      const cls = errorClassFor(code)
      assert.equal(cls, FAMILY_CLASSES[family], code)
      assert.ok(cls.prototype instanceof AuthzError)
      const e = new cls('m', { code, family, details: [{ message: 'm' }] })
      assert.ok(e instanceof Error)
      assert.equal(e.name, cls.name)
      assert.equal(e.code, code)
    }
    assert.equal(errorClassFor('no_such_code'), AuthzError)
  })
})

// One real trigger per code. A code that the Node API cannot reach is listed,
// with the reason, in UNREACHABLE; the test fails if a core code is in neither.
const SCHEMA = `entity Doc;
action "docs:read" appliesTo { principal: [Agent], resource: [Doc], context: { input?: { size: Long } } };`
const POLICY = '@id("p") permit (principal, action, resource);'
const INVENTORY = 'users: [{id: u}]\nagents: [{id: a, owner: u}]\nresources: [{type: Doc, id: d}]\n'
const bundle = (over) => Engine.fromStrings({ schema: SCHEMA, policies: POLICY, inventory: INVENTORY, ...over }, { trustCallerTime: true })
const request = (over) => ({ agent: 'a', action: 'docs:read', resource: { type: 'Doc', id: 'd' }, now: '2026-11-29T10:00:00Z', ...over })

function withBundleDir(files, f) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentauthz-err-'))
  try {
    for (const [name, content] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true })
      fs.writeFileSync(path.join(dir, name), content)
    }
    return f(dir)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const TRIGGERS = {
  io: () =>
    // A schema file that is not UTF-8 cannot be read as text.
    withBundleDir({ 'schema.cedarschema': Buffer.from([0x65, 0xff, 0xfe, 0x0a]), 'policies/p.cedar': POLICY }, (dir) => Engine.load(dir, { trustCallerTime: true })),
  bundle_invalid: () => withBundleDir({ 'schema.cedarschema': SCHEMA }, (dir) => Engine.load(dir, { trustCallerTime: true })), // no policies
  config_invalid: () => bundle({ config: '[baseline]\nowner-requried = false\n' }),
  schema_parse: () => bundle({ schema: 'entity Doc {' }),
  schema_invalid: () => bundle({ schema: `${SCHEMA}\nentity Agent;` }),
  policy_parse: () => bundle({ policies: { 'broken.cedar': '@id("p")\npermit (principal, action, resource' } }),
  policy_id_missing: () => bundle({ policies: 'permit (principal, action, resource);' }),
  policy_id_duplicate: () => bundle({ policies: [POLICY, POLICY] }),
  policy_invalid: () => bundle({ policies: '@id("p") permit (principal, action, resource) when { resource.owner == principal };' }),
  policy_may_error: () =>
    // Strict mode: a forbid doing arithmetic on tool input can overflow.
    bundle({
      policies: [POLICY, '@id("f") forbid (principal, action, resource) when { context has input && context.input.size * 4 > 100 };'],
      config: '[engine]\nstrict = true\n',
    }),
  inventory_parse: () => bundle({ inventory: 'agents: [\n' }),
  inventory_invalid: () => bundle({ inventory: 'agents: [{id: a, owner: nobody}]\n' }),
  request_parse: () => bundle().check(request({ tool: 'x' })),
  request_invalid: () => bundle().check(request({ context: { input: { size: 'big' } } })),
  grant_invalid: () =>
    bundle().grant({ agent: 'nobody', actions: ['docs:read'], resource: { type: 'Doc', id: 'd' }, ttlSeconds: 60, reason: 'r', grantedBy: 'u' }),
  lifecycle_invalid: () => bundle().suspend('nobody', { by: 'u' }),
  journal_corrupt: () =>
    withBundleDir({ 'schema.cedarschema': SCHEMA, 'policies/p.cedar': POLICY, 'inventory.yaml': INVENTORY, 'j.jsonl': '{"seq":1,' }, (dir) =>
      Engine.load(dir, { trustCallerTime: true, journal: path.join(dir, 'j.jsonl') }),
    ),
  journal_locked: () =>
    withBundleDir({ 'schema.cedarschema': SCHEMA, 'policies/p.cedar': POLICY, 'inventory.yaml': INVENTORY }, (dir) => {
      const first = Engine.load(dir, { journal: path.join(dir, 'j.jsonl') })
      try {
        Engine.load(dir, { journal: path.join(dir, 'j.jsonl') })
      } finally {
        first.setDecisionLog(null)
      }
    }),
  log_locked: () =>
    withBundleDir({ 'schema.cedarschema': SCHEMA, 'policies/p.cedar': POLICY, 'inventory.yaml': INVENTORY, 'sub/x': '' }, (dir) => {
      const first = bundle()
      first.setDecisionLog(path.join(dir, 'd.jsonl'))
      // The same file by another spelling: a second writer, refused.
      bundle().setDecisionLog(`${dir}/sub/../d.jsonl`)
    }),
  log_corrupt: () =>
    withBundleDir(
      {
        'schema.cedarschema': SCHEMA,
        'policies/p.cedar': POLICY,
        'inventory.yaml': INVENTORY,
        'agentauthz.toml': '[log]\nsink = "file"\npath = "d.jsonl"\n',
        'd.jsonl': '{"schema_version":1,"seq":1,',
      },
      (dir) => Engine.load(dir),
    ),
}

function sessionEngine() {
  const engine = bundle({ config: '[sessions]\naudience = "tools"\n' })
  const { secret } = agentauthz.generateSessionKey('k1')
  engine.setSessionKeys({ signing: { kid: 'k1', key: secret } })
  const { token } = engine.issueSession({ agent: 'a', audience: 'tools' })
  return { engine, token }
}
TRIGGERS.session_invalid = () => {
  const { engine, token } = sessionEngine()
  engine.verifySession(token, { audience: 'billing' })
}
TRIGGERS.session_revoked = () => {
  const { engine, token } = sessionEngine()
  engine.suspend('a', { by: 'u' })
  engine.verifySession(token, { audience: 'tools' })
}
TRIGGERS.key_invalid = () => bundle().setSessionKeys({ verifying: { k1: 'k4.public.not-a-key' } })
TRIGGERS.input_too_deep = () => {
  let deep = 1
  for (let i = 0; i < 100; i++) deep = { x: deep }
  bundle().check(request({ context: { input: deep } }))
}
TRIGGERS.input_too_large = () => bundle().check(request({ context: { input: { blob: 'x'.repeat(2 << 20) } } }))
TRIGGERS.usage_invalid = () => bundle().recordUsage('a', -1, 'tokens')
TRIGGERS.approval_annotation_invalid = () => bundle({ policies: '@id("f") @approval("boss") forbid (principal, action, resource);' })

// Identity-provider tokens (the keys of core/tests/identity/, signed here).
function tokenEngine(jwksUrl) {
  const dir = path.join(__dirname, '..', '..', 'core', 'tests', 'identity')
  const jwks = jwksUrl ? `jwks_url = "${jwksUrl}"` : `jwks = '${fs.readFileSync(path.join(dir, 'jwks.json'), 'utf8').replace(/\n/g, '')}'`
  const config = `[identity]\naudience = "https://tools.test/mcp"\n[identity.issuers.corp]\nissuer = "https://idp.test"\n${jwks}\n`
  const engine = Engine.fromStrings({
    schema: 'entity Tool; action "call" appliesTo { principal: [Agent], resource: [Tool] };',
    policies: '@id("p") permit (principal, action, resource);',
    inventory: 'users:\n  - {id: u}\nagents:\n  - {id: a, owner: u}\n',
    config,
  })
  const sign = (claims) => {
    const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url')
    const input = `${b64({ alg: 'RS256', kid: 'rsa-1' })}.${b64(claims)}`
    const key = require('node:crypto').createPrivateKey(fs.readFileSync(path.join(dir, 'rsa1.pem'), 'utf8'))
    return `${input}.${require('node:crypto').sign('sha256', Buffer.from(input), key).toString('base64url')}`
  }
  const now = Math.floor(Date.now() / 1000)
  const claims = (c) => ({ iss: 'https://idp.test', aud: 'https://tools.test/mcp', client_id: 'a', exp: now + 300, ...c })
  const check = (token) => engine.check({ token, action: 'call', resource: { type: 'Tool', id: 't' } })
  return { sign, claims, check }
}
TRIGGERS.token_invalid = () => tokenEngine().check('not.a.jwt')
TRIGGERS.token_expired = () => {
  const t = tokenEngine()
  t.check(t.sign(t.claims({ exp: 1000 })))
}
TRIGGERS.token_audience = () => {
  const t = tokenEngine()
  t.check(t.sign(t.claims({ aud: 'https://other.test' })))
}
TRIGGERS.issuer_unknown = () => {
  const t = tokenEngine()
  t.check(t.sign(t.claims({ iss: 'https://evil.test' })))
}
TRIGGERS.jwks_unavailable = () => {
  const t = tokenEngine('http://127.0.0.1:9/jwks')
  t.check(t.sign(t.claims({})))
}

const BUNDLES = path.join(__dirname, '..', '..', 'tests', 'vectors', 'bundles')
const bundleFile = (name) => fs.readFileSync(path.join(BUNDLES, name))
const BUNDLE_KEYS = { fixture: bundleFile('fixture.public.paserk').toString().trim() }
// A valid signature (of another bundle) over bytes that are no archive.
TRIGGERS.bundle_archive_invalid = () =>
  agentauthz.verifyBundle(Buffer.from('not gzip'), bundleFile('support-agent.tar.gz.sig'), BUNDLE_KEYS)
TRIGGERS.bundle_signature_invalid = () =>
  agentauthz.verifyBundle(bundleFile('coding-agent.tar.gz'), bundleFile('support-agent.tar.gz.sig'), BUNDLE_KEYS)
TRIGGERS.bundle_unavailable = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aaz-bundle-url-'))
  fs.writeFileSync(
    path.join(dir, 'agentauthz.toml'),
    `[bundle]\nurl = "http://127.0.0.1:9/bundle.tar.gz"\npublic_keys = { fixture = "${BUNDLE_KEYS.fixture}" }\npoll_seconds = 0\n`,
  )
  Engine.load(dir)
}

const UNREACHABLE = {
  approval_invalid: 'raised by approve/reject, which the Node API does not have yet (Rust, Python and the CLI do)',
  approval_refused: 'raised by approve/reject, which the Node API does not have yet (Rust, Python and the CLI do)',
  test_invalid: 'raised only by the policy test runner (CLI `agentauthz test`), which the Node API does not expose',
  internal: 'a bug; reached through the panic test below, in a child process',
  session_expired:
    "needs the engine clock past a token's expiry, which the Node API does not let a test move; covered by the core tests and the WASM suite (Date.now)",
}

describe('every error code', () => {
  test('each core code has a trigger here or a stated reason', () => {
    for (const { code } of errorCodes()) {
      assert.ok(code in TRIGGERS || code in UNREACHABLE, `no trigger for ${code}`)
    }
    for (const code of [...Object.keys(TRIGGERS), ...Object.keys(UNREACHABLE)]) {
      assert.ok(errorCodes().some((c) => c.code === code), `${code} is not a core code`)
    }
  })

  for (const [code, trigger] of Object.entries(TRIGGERS)) {
    test(code, () => {
      const family = errorCodes().find((c) => c.code === code).family
      assert.throws(trigger, (e) => {
        assert.ok(e instanceof FAMILY_CLASSES[family], `${code}: got ${e && e.stack}`)
        assert.ok(e instanceof AuthzError)
        assert.equal(e.code, code)
        assert.equal(e.family, family)
        assert.equal(e.name, FAMILY_CLASSES[family].name)
        assert.ok(e.message.startsWith(`[${code}] `), e.message)
        assert.ok(Array.isArray(e.details) && e.details.length > 0)
        for (const d of e.details) assert.equal(typeof d.message, 'string')
        return true
      })
    })
  }

  test('a policy error is located: file, line, column', () => {
    assert.throws(TRIGGERS.policy_parse, (e) => {
      const loc = e.details.find((d) => d.location)?.location
      assert.ok(loc, JSON.stringify(e.details))
      assert.equal(loc.file, 'broken.cedar')
      assert.equal(typeof loc.line, 'number')
      assert.ok(loc.line >= 1 && loc.column >= 1)
      return true
    })
  })
})

describe('panics', () => {
  test('a panic in the core is an InternalError and the process lives on', () => {
    const script = `
      const { Engine, InternalError, _panicForTesting } = require(${JSON.stringify(PACKAGE_DIR)})
      let caught
      try { _panicForTesting('boom from the test') } catch (e) { caught = e }
      const engine = Engine.fromStrings(${JSON.stringify({ schema: SCHEMA, policies: POLICY, inventory: INVENTORY })}, { trustCallerTime: true })
      const d = engine.check(${JSON.stringify(request())})
      console.log(JSON.stringify({ internal: caught instanceof InternalError, code: caught.code, message: caught.message, after: d.decision }))
    `
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, RUST_BACKTRACE: '0' } })
    assert.equal(r.status, 0, r.stderr)
    const out = JSON.parse(r.stdout.trim())
    assert.deepEqual(
      { internal: out.internal, code: out.code, after: out.after },
      { internal: true, code: 'internal', after: 'allow' },
    )
    assert.match(out.message, /boom from the test/)
    assert.match(r.stderr, /panicked/) // the panic really happened
  })
})

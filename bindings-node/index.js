'use strict'
// agentauthz for Node.js: the JS layer over the native addon (src/lib.rs).
//
// The native `Engine` class is the public class; this file wraps its methods
// so that requests go in with the JS spellings (`onBehalfOf`, `now` as a Date)
// and come out as `Decision` objects, and so that a native error becomes the
// `AuthzError` subclass of its family. No authorization logic lives here.

const { fileURLToPath } = require('node:url')
const native = require('./native.js')
const { wireText, describe } = require('./lib/wire.js')

// ---------------------------------------------------------------- errors --

/** The core's stable error codes and families. A test compares this table with
 * the addon's `errorCodes()` (= `agentauthz::ffi::error_codes_value()`). */
const ERROR_CODES = Object.freeze(
  [
    ['io', 'bundle'],
    ['bundle_invalid', 'bundle'],
    ['config_invalid', 'bundle'],
    ['schema_parse', 'schema'],
    ['schema_invalid', 'schema'],
    ['policy_parse', 'policy'],
    ['policy_id_missing', 'policy'],
    ['policy_id_duplicate', 'policy'],
    ['policy_invalid', 'policy'],
    ['policy_may_error', 'policy'],
    ['inventory_parse', 'inventory'],
    ['inventory_invalid', 'inventory'],
    ['request_parse', 'request'],
    ['request_invalid', 'request'],
    ['test_invalid', 'test'],
    ['grant_invalid', 'lifecycle'],
    ['lifecycle_invalid', 'lifecycle'],
    ['journal_corrupt', 'journal'],
    ['journal_locked', 'journal'],
    ['log_locked', 'log'],
    ['log_corrupt', 'log'],
    ['session_invalid', 'session'],
    ['session_expired', 'session'],
    ['session_revoked', 'session'],
    ['key_invalid', 'session'],
    ['input_too_deep', 'limit'],
    ['input_too_large', 'limit'],
    ['internal', 'internal'],
  ].map(([code, family]) => Object.freeze({ code, family })),
)

class AuthzError extends Error {
  constructor(message, info = {}) {
    super(message)
    this.name = new.target.name
    this.code = info.code
    this.family = info.family
    this.details = info.details ?? []
  }
}
class BundleError extends AuthzError {}
class SchemaError extends AuthzError {}
class PolicyError extends AuthzError {}
class InventoryError extends AuthzError {}
class RequestError extends AuthzError {}
class TestError extends AuthzError {}
class LifecycleError extends AuthzError {}
class JournalError extends AuthzError {}
class LogError extends AuthzError {}
class SessionError extends AuthzError {}
class LimitError extends AuthzError {}
class InternalError extends AuthzError {}

const FAMILY_CLASSES = {
  bundle: BundleError,
  schema: SchemaError,
  policy: PolicyError,
  inventory: InventoryError,
  request: RequestError,
  test: TestError,
  lifecycle: LifecycleError,
  journal: JournalError,
  log: LogError,
  session: SessionError,
  limit: LimitError,
  internal: InternalError,
}
const CODE_CLASSES = new Map(ERROR_CODES.map(({ code, family }) => [code, FAMILY_CLASSES[family]]))

/** The `AuthzError` subclass for a code (`AuthzError` itself for an unknown code). */
function errorClassFor(code) {
  return CODE_CLASSES.get(code) ?? AuthzError
}

/** An AuthzError made here, for bad arguments the core never sees. */
function codedError(code, message, cause) {
  const family = ERROR_CODES.find((c) => c.code === code)?.family
  const error = new (errorClassFor(code))(`[${code}] ${message}`, { code, family, details: [{ message }] })
  if (cause !== undefined) error.cause = cause
  return error
}

/** A native error carries `code` = the core's code and, as its message, the
 * core's error JSON `{code, family, message, details}`. Anything else (napi
 * refusing an argument of the wrong type, a wrong `this`) becomes a `code`
 * error: every failure reaches the caller as an AuthzError. */
function fromNative(e, code = 'internal') {
  if (e instanceof AuthzError) return e
  let info
  if (e instanceof Error && typeof e.code === 'string' && e.message.startsWith('{')) {
    try {
      info = JSON.parse(e.message)
    } catch {
      info = undefined
    }
  }
  if (info === undefined || info === null || info.code !== e.code) {
    return codedError(code, `invalid argument: ${describe(e)}`, e)
  }
  return new (errorClassFor(info.code))(info.message, info)
}

/** Runs `f` (which reads the caller's arguments: getters, Proxies); anything
 * it throws becomes a `code` error. */
function readArgs(code, f) {
  try {
    return f()
  } catch (e) {
    if (e instanceof AuthzError) throw e
    throw codedError(code, `reading the arguments threw ${describe(e)}`, e)
  }
}

/** The JSON text of the value `make()` builds; every failure a `code` error
 * (`input_too_deep` for cycles and extreme nesting, see lib/wire.js). */
function wire(make, code, what) {
  return wireText(make, code, what, (c, message, cause) => (cause instanceof AuthzError ? cause : codedError(c, message, cause)))
}

// -------------------------------------------------------------- decision --

class Decision {
  constructor(wire) {
    this.allowed = wire.decision === 'allow'
    this.decision = wire.decision
    this.reasons = wire.reasons
    this.errors = wire.errors
    this.decisionId = wire.decision_id
    this.policyRevision = wire.policy_revision
  }

  toJSON() {
    return {
      decision: this.decision,
      reasons: this.reasons,
      errors: this.errors,
      decision_id: this.decisionId,
      policy_revision: this.policyRevision,
    }
  }
}

// --------------------------------------------------------------- requests --

/** The JS spellings of an agent-form request in the core's wire names:
 * `onBehalfOf` → `on_behalf_of`. A Date in `now` is serialised by JSON.stringify
 * (toISOString); an invalid Date goes to the core as text, which rejects it. */
function toWire(request) {
  if (request === null || typeof request !== 'object') return request
  const { onBehalfOf, now } = request
  const badDate = now instanceof Date && Number.isNaN(now.getTime())
  if (onBehalfOf === undefined && !badDate) return request
  let wire
  if (onBehalfOf !== undefined && request.on_behalf_of === undefined) {
    // Rest, not `delete`: a deleted key leaves a slow object that stringifies at half speed.
    const { onBehalfOf: _, ...rest } = request
    rest.on_behalf_of = onBehalfOf
    wire = rest
  } else {
    wire = { ...request } // both spellings: the core rejects the unknown `onBehalfOf`
  }
  if (badDate) wire.now = String(now)
  return wire
}

/** Requests cross to the core as JSON text (see `check` in src/lib.rs). */
function requestText(make, code = 'request_parse', what = 'request') {
  return wire(make, code, what)
}

// ------------------------------------------------------ run-time changes --

/** A time argument (`until`, `starts`, `expires`, ...) as the core's RFC 3339
 * text: a Date as its ISO form; an invalid Date goes as text, which the core rejects. */
function timeText(value) {
  if (!(value instanceof Date)) return value
  return Number.isNaN(value.getTime()) ? String(value) : value.toISOString()
}

/** `object` with its JS key spellings renamed to the wire's (`RENAMES`), Dates
 * as RFC 3339 text and undefined members left out; other keys pass through
 * (the core rejects unknown ones). */
function renamed(object, renames) {
  if (object === null || typeof object !== 'object' || Array.isArray(object)) return object
  const out = {}
  for (const [key, value] of Object.entries(object)) {
    if (value === undefined) continue
    out[renames[key] ?? key] = timeText(value)
  }
  return out
}

const GRANT_KEYS = { ttlSeconds: 'ttl_seconds', grantedBy: 'granted_by' }
const TASK_KEYS = { notBefore: 'not_before', notAfter: 'not_after', onBehalfOf: 'on_behalf_of' }

/** A wire grant (`granted_by`) in its JS spelling (`grantedBy`). */
function grantFromWire(g) {
  const { granted_by: grantedBy, ...rest } = g
  return { ...rest, grantedBy }
}

/** `{by}` of a change's options; the core rejects an empty one. */
function byOf(options) {
  const by = readArgs('lifecycle_invalid', () => options?.by)
  if (typeof by !== 'string') throw codedError('lifecycle_invalid', 'a change needs {by: string}: who makes it')
  return by
}

function dirPath(dir) {
  return dir instanceof URL ? fileURLToPath(dir) : dir
}

// ---------------------------------------------------------------- engine --

const { Engine } = native
const proto = Engine.prototype
// The native functions, kept on the class the first time this file runs: when a
// module registry evaluates it again (test runners that reset modules) over the
// same addon, the wrappers must wrap the natives, not the previous wrappers.
const RAW = Symbol.for('agentauthz.native')
const raw = Engine[RAW] ?? {
  load: Engine.load,
  fromStrings: Engine.fromStrings,
  loadWithClock: Engine._loadWithClock,
  fromStringsWithClock: Engine._fromStringsWithClock,
  check: proto.check,
  checkJson: proto.checkJson,
  checkBatch: proto.checkBatch,
  reload: proto.reload,
  reloadJson: proto._reloadJson,
  policyRevision: Object.getOwnPropertyDescriptor(proto, 'policyRevision').get,
  setDecisionLog: proto.setDecisionLog,
  takeDecisionRecords: proto._takeDecisionRecords,
  flushDecisionLog: proto.flushDecisionLog,
  decisionLogHead: Object.getOwnPropertyDescriptor(proto, 'decisionLogHead').get,
  grant: proto.grant,
  revoke: proto.revoke,
  grants: proto.grants,
  grantPolicyText: proto.grantPolicyText,
  suspend: proto.suspend,
  reactivate: proto.reactivate,
  offboard: proto.offboard,
  rotateCredential: proto.rotateCredential,
  transferOwner: proto.transferOwner,
  addTask: proto.addTask,
  apply: proto.apply,
  journalPath: Object.getOwnPropertyDescriptor(proto, 'journalPath').get,
  skippedChanges: proto.skippedChanges,
  warnings: proto.warnings,
  close: proto.close,
  errorCodes: native.errorCodes,
  flushDecisionLogs: native.flushDecisionLogs,
  panicForTesting: native._panicForTesting,
}
if (!Engine[RAW]) Object.defineProperty(Engine, RAW, { value: raw })

// ---------------------------------------------------------- decision log --

/** Per engine with a function sink: `{fn, error}` (the first error it threw). */
const callbacks = new WeakMap()

/** Hands the records the last check queued to the engine's function sink, in
 * order. A sink that throws does not change the decision: its first error is
 * kept and thrown by `flushDecisionLog()`. */
function deliver(engine) {
  const sink = callbacks.get(engine)
  if (sink === undefined) return
  const text = raw.takeDecisionRecords.call(engine)
  if (text === '[]') return
  for (const record of JSON.parse(text)) {
    try {
      sink.fn(record)
    } catch (e) {
      sink.error ??= e
    }
  }
}

function setDecisionLog(engine, sink, options = {}) {
  const bad = (message) => codedError('config_invalid', `decision log: ${message}`)
  const args = readArgs('config_invalid', () => {
    const maxBytes = options?.maxBytes
    if (maxBytes !== undefined && !(Number.isSafeInteger(maxBytes) && maxBytes > 0)) {
      throw bad('maxBytes must be a positive integer')
    }
    if (sink === null || sink === undefined) return ['none', null, null]
    if (typeof sink === 'function') return ['callback', null, null]
    if (typeof sink === 'string' || sink instanceof URL) return ['path', dirPath(sink), maxBytes ?? null]
    throw bad('the sink must be a function, a file path, or null')
  })
  try {
    raw.setDecisionLog.call(engine, ...args)
  } catch (e) {
    throw fromNative(e, 'config_invalid')
  }
  if (typeof sink === 'function') callbacks.set(engine, { fn: sink, error: undefined })
  else callbacks.delete(engine)
}

// Buffered decision-log files are written out when the process exits, whether
// or not the engines holding them were collected.
process.once('exit', () => {
  try {
    raw.flushDecisionLogs()
  } catch {
    // Nothing to report to at exit.
  }
})

const methods = {
  check(request) {
    const json = requestText(() => toWire(request))
    let text
    try {
      text = raw.check.call(this, json)
    } catch (e) {
      throw fromNative(e, 'request_parse')
    } finally {
      deliver(this)
    }
    return new Decision(JSON.parse(text))
  },

  checkJson(request) {
    if (typeof request !== 'string') {
      throw codedError('request_parse', `checkJson takes the request as JSON text, not ${typeof request}`)
    }
    try {
      return raw.checkJson.call(this, request)
    } catch (e) {
      throw fromNative(e, 'request_parse')
    } finally {
      deliver(this)
    }
  },

  checkBatch(requests) {
    const json = requestText(() => (Array.isArray(requests) ? requests.map(toWire) : requests), 'request_parse', 'requests')
    let text
    try {
      text = raw.checkBatch.call(this, json)
    } catch (e) {
      throw fromNative(e, 'request_parse')
    } finally {
      deliver(this)
    }
    return JSON.parse(text).map((d) => new Decision(d))
  },

  setDecisionLog(sink, options) {
    setDecisionLog(this, sink, options)
  },

  flushDecisionLog() {
    const sink = callbacks.get(this)
    if (sink?.error !== undefined) {
      const error = sink.error
      sink.error = undefined
      throw error
    }
    try {
      raw.flushDecisionLog.call(this)
    } catch (e) {
      throw fromNative(e)
    }
  },

  // A directory (string or file: URL) is read by the core; texts cross as JSON text.
  reload(source) {
    const dir = readArgs('bundle_invalid', () => (typeof source === 'string' || source instanceof URL ? dirPath(source) : null))
    const json = dir === null ? wire(() => source ?? null, 'bundle_invalid', 'bundle') : null
    try {
      if (dir !== null) raw.reload.call(this, dir)
      else raw.reloadJson.call(this, json)
    } catch (e) {
      throw fromNative(e, 'bundle_invalid')
    }
  },

  grant(request) {
    const json = requestText(() => renamed(request, GRANT_KEYS), GI, 'grant request')
    return grantFromWire(JSON.parse(nativeCall(this, raw.grant, GI, () => [json])))
  },

  revoke(grantId, options) {
    nativeCall(this, raw.revoke, LI, () => [grantId, byOf(options)])
  },

  grants(agent) {
    return JSON.parse(nativeCall(this, raw.grants, LI, () => [agent ?? null])).map(grantFromWire)
  },

  grantPolicyText(grantId) {
    return nativeCall(this, raw.grantPolicyText, LI, () => [grantId])
  },

  suspend(agent, options) {
    nativeCall(this, raw.suspend, LI, () => [agent, byOf(options)])
  },

  reactivate(agent, options) {
    nativeCall(this, raw.reactivate, LI, () => [agent, byOf(options)])
  },

  offboard(agent, options) {
    nativeCall(this, raw.offboard, LI, () => [agent, byOf(options)])
  },

  rotateCredential(credential, options) {
    nativeCall(this, raw.rotateCredential, LI, () => [credential, timeText(options?.expires), byOf(options)])
  },

  transferOwner(agent, options) {
    nativeCall(this, raw.transferOwner, LI, () => [agent, options?.owner, byOf(options)])
  },

  addTask(task, options) {
    const json = requestText(() => renamed(task, TASK_KEYS), LI, 'task')
    nativeCall(this, raw.addTask, LI, () => [json, byOf(options)])
  },

  apply(change, options) {
    const json = requestText(() => renamed(change, {}), LI, 'change')
    return JSON.parse(nativeCall(this, raw.apply, LI, () => [json, byOf(options)]))
  },

  skippedChanges() {
    return nativeCall(this, raw.skippedChanges, LI, () => [])
  },

  warnings() {
    return nativeCall(this, raw.warnings, 'internal', () => [])
  },

  close() {
    return nativeCall(this, raw.close, 'internal', () => [])
  },
}

const GI = 'grant_invalid'
const LI = 'lifecycle_invalid'

/** Calls a native method on `engine` with the arguments `makeArgs()` reads; a
 * failure (reading them, napi refusing one, the core) becomes an AuthzError
 * (`code` unless the core gave its own). Changes are recorded in the decision
 * log: deliver them to a function sink. */
function nativeCall(engine, fn, code, makeArgs) {
  const args = readArgs(code, makeArgs)
  try {
    return fn.call(engine, ...args)
  } catch (e) {
    throw fromNative(e, code)
  } finally {
    deliver(engine)
  }
}

for (const [name, fn] of Object.entries(methods)) {
  Object.defineProperty(proto, name, { value: fn, writable: true, enumerable: true, configurable: true })
}
Object.defineProperty(proto, 'policyRevision', {
  get() {
    try {
      return raw.policyRevision.call(this)
    } catch (e) {
      throw fromNative(e)
    }
  },
  enumerable: true,
  configurable: true,
})
Object.defineProperty(proto, 'journalPath', {
  get() {
    return nativeCall(this, raw.journalPath, 'internal', () => [])
  },
  enumerable: true,
  configurable: true,
})
Object.defineProperty(proto, 'decisionLogHead', {
  get() {
    try {
      return raw.decisionLogHead.call(this)
    } catch (e) {
      throw fromNative(e)
    }
  },
  enumerable: true,
  configurable: true,
})

/** `Engine.load(dir, {decisionLog, maxBytes, journal, recover, trustCallerTime})`, `Engine.fromStrings(input, {...})`. */
function withOptions(engine, options) {
  const [sink, maxBytes] = readArgs('config_invalid', () => [options?.decisionLog, options?.maxBytes])
  if (sink !== undefined) setDecisionLog(engine, sink, { maxBytes })
  return engine
}

// ----------------------------------------------------------- manual clock --
// `new ManualClock(start)`, `clock.advance(seconds)`, `clock.set(time)`,
// `clock.now`: a clock for tests over the native one (times may be Dates). An
// engine built with `{clock}` judges every check, change and session at its time.

const NativeClock = native.ManualClock

class ManualClock {
  #native

  /** A clock at `start` (RFC 3339 text or a Date). */
  constructor(start) {
    const text = readArgs('request_invalid', () => timeText(start))
    this.#native = clockCall(() => new NativeClock(text))
  }

  /** Sets the clock to `at` (RFC 3339 text or a Date; earlier is allowed). */
  set(at) {
    const text = readArgs('request_invalid', () => timeText(at))
    clockCall(() => this.#native.set(text))
  }

  /** Moves the clock by `seconds` (fractions to the millisecond; negative moves it back). */
  advance(seconds) {
    clockCall(() => this.#native.advance(seconds))
  }

  /** The clock's time, RFC 3339 (`2026-11-29T10:00:00.000Z`). */
  get now() {
    return this.#native.now
  }

  static nativeOf(clock) {
    return #native in clock ? clock.#native : undefined
  }
}

function clockCall(f) {
  try {
    return f()
  } catch (e) {
    throw fromNative(e, 'request_invalid')
  }
}

/** The native clock of `options.clock`, or null without one. */
function nativeClockOf(options) {
  return readArgs('bundle_invalid', () => {
    const clock = options?.clock
    if (clock === undefined || clock === null) return null
    const found = typeof clock === 'object' ? ManualClock.nativeOf(clock) : undefined
    if (found === undefined) throw codedError('bundle_invalid', '`clock` must be a ManualClock')
    return found
  })
}

const statics = {
  load(dir, options) {
    const args = readArgs('bundle_invalid', () => {
      const path = dirPath(dir)
      if (typeof path !== 'string') throw codedError('bundle_invalid', 'Engine.load(dir): dir must be a string or a file: URL')
      const journal = options?.journal === undefined || options.journal === null ? null : dirPath(options.journal)
      return [path, journal, options?.recover ?? null, options?.trustCallerTime ?? null]
    })
    const clock = nativeClockOf(options)
    let engine
    try {
      engine = clock === null ? raw.load.call(Engine, ...args) : raw.loadWithClock.call(Engine, ...args, clock)
    } catch (e) {
      throw fromNative(e, 'bundle_invalid')
    }
    return withOptions(engine, options)
  },

  fromStrings(input, options) {
    const json = wire(() => (input === undefined ? null : input), 'bundle_invalid', 'bundle')
    const trust = readArgs('bundle_invalid', () => options?.trustCallerTime ?? null)
    const clock = nativeClockOf(options)
    let engine
    try {
      engine = clock === null ? raw.fromStrings.call(Engine, json, trust) : raw.fromStringsWithClock.call(Engine, json, trust, clock)
    } catch (e) {
      throw fromNative(e, 'bundle_invalid')
    }
    return withOptions(engine, options)
  },
}

for (const [name, fn] of Object.entries(statics)) {
  Object.defineProperty(Engine, name, { value: fn, writable: true, enumerable: false, configurable: true })
}

function errorCodes() {
  try {
    return raw.errorCodes()
  } catch (e) {
    throw fromNative(e)
  }
}

function flushDecisionLogs() {
  try {
    raw.flushDecisionLogs()
  } catch (e) {
    throw fromNative(e)
  }
}

module.exports = {
  Engine,
  ManualClock,
  Decision,
  AuthzError,
  BundleError,
  SchemaError,
  PolicyError,
  InventoryError,
  RequestError,
  TestError,
  LifecycleError,
  JournalError,
  LogError,
  SessionError,
  LimitError,
  InternalError,
  ERROR_CODES,
  errorClassFor,
  errorCodes,
  flushDecisionLogs,
  coreVersion: native.coreVersion,
  __napiBindingTarget: native.__napiBindingTarget,
}

// Test hook, not part of the API: a panic inside the core's `catch_panic`.
Object.defineProperty(module.exports, '_panicForTesting', {
  value(message) {
    try {
      return raw.panicForTesting(message)
    } catch (e) {
      throw fromNative(e)
    }
  },
  enumerable: false,
})

// --------------------------------------------------------------- sessions --
// --- sessions: `check({session, ...})`, issueSession, verifySession,
// revokeSession, setSessionKeys, sessionPublicKeys, generateSessionKey.

const SESSION_RAW = Symbol.for('agentauthz.native.sessions')
const sessionRaw = Engine[SESSION_RAW] ?? {
  checkSession: proto._checkSession,
  issueSession: proto.issueSession,
  verifySession: proto.verifySession,
  revokeSession: proto.revokeSession,
  setSessionKeys: proto.setSessionKeys,
  sessionPublicKeys: proto.sessionPublicKeys,
  generateSessionKey: native.generateSessionKey,
}
if (!Engine[SESSION_RAW]) Object.defineProperty(Engine, SESSION_RAW, { value: sessionRaw })

/** Wire claims (snake_case) in their JS spelling; times stay ms since the epoch. */
function claimsFromWire(c) {
  const claims = { sessionId: c.session_id, agent: c.agent }
  if (c.task !== undefined) claims.task = c.task
  claims.audience = c.audience
  if (c.issuer !== undefined) claims.issuer = c.issuer
  claims.issuedAt = c.issued_at
  claims.notBefore = c.not_before
  claims.expiresAt = c.expires_at
  return claims
}

function sessionCall(engine, fn, code, makeArgs) {
  const args = readArgs(code, makeArgs)
  try {
    return fn.call(engine, ...args)
  } catch (e) {
    throw fromNative(e, code)
  }
}

const sessionMethods = {
  check(request) {
    const [session, agent] = readArgs('request_parse', () =>
      request !== null && typeof request === 'object' ? [request.session, request.agent] : [undefined, undefined],
    )
    if (session === undefined) {
      return methods.check.call(this, request) // the agent form, above
    }
    if (agent !== undefined) {
      throw new RequestError('give exactly one of `agent` and `session`', {
        code: 'request_invalid',
        family: 'request',
        details: [],
      })
    }
    const json = requestText(() => toWire(request))
    let text
    try {
      text = sessionRaw.checkSession.call(this, json)
    } catch (e) {
      throw fromNative(e, 'request_parse')
    } finally {
      deliver(this)
    }
    return new Decision(JSON.parse(text))
  },

  issueSession(input) {
    const json = requestText(
      () => {
        if (input === null || typeof input !== 'object' || Array.isArray(input)) return input
        const { ttlSeconds, ...rest } = input
        return ttlSeconds === undefined ? rest : { ...rest, ttl_seconds: ttlSeconds }
      },
      'session_invalid',
      'session input',
    )
    const { token, claims } = JSON.parse(sessionCall(this, sessionRaw.issueSession, 'session_invalid', () => [json]))
    return { token, claims: claimsFromWire(claims) }
  },

  verifySession(token, options) {
    return claimsFromWire(
      JSON.parse(sessionCall(this, sessionRaw.verifySession, 'session_invalid', () => [token, options?.audience ?? null])),
    )
  },

  revokeSession(sessionId, options) {
    sessionCall(this, sessionRaw.revokeSession, 'lifecycle_invalid', () => [sessionId, byOf(options)])
  },

  setSessionKeys(keys) {
    const json = requestText(() => keys ?? {}, 'key_invalid', 'session keys')
    sessionCall(this, sessionRaw.setSessionKeys, 'key_invalid', () => [json])
  },

  sessionPublicKeys() {
    return sessionCall(this, sessionRaw.sessionPublicKeys, 'internal', () => [])
  },
}

for (const [name, fn] of Object.entries(sessionMethods)) {
  Object.defineProperty(proto, name, { value: fn, writable: true, enumerable: true, configurable: true })
}

/** A new session key pair `{kid, secret, public}` (PASERK). */
module.exports.generateSessionKey = function generateSessionKey(kid) {
  try {
    return sessionRaw.generateSessionKey(kid)
  } catch (e) {
    throw fromNative(e, 'key_invalid')
  }
}

'use strict'
// agentauthz for Node.js: the JS layer over the native addon (src/lib.rs).
//
// The native `Engine` class is the public class; this file wraps its methods
// so that requests go in with the JS spellings (`onBehalfOf`, `now` as a Date)
// and come out as `Decision` objects, and so that a native error becomes the
// `AuthzError` subclass of its family. No authorization logic lives here.

const { fileURLToPath } = require('node:url')
const native = require('./native.js')

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
  internal: InternalError,
}
const CODE_CLASSES = new Map(ERROR_CODES.map(({ code, family }) => [code, FAMILY_CLASSES[family]]))

/** The `AuthzError` subclass for a code (`AuthzError` itself for an unknown code). */
function errorClassFor(code) {
  return CODE_CLASSES.get(code) ?? AuthzError
}

/** A native error carries `code` = the core's code and, as its message, the
 * core's error JSON `{code, family, message, details}`. Anything else (a
 * napi argument conversion error, say) is returned unchanged. */
function fromNative(e) {
  if (!(e instanceof Error) || typeof e.code !== 'string' || !e.message.startsWith('{')) return e
  let info
  try {
    info = JSON.parse(e.message)
  } catch {
    return e
  }
  if (info === null || info.code !== e.code) return e
  return new (errorClassFor(info.code))(info.message, info)
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
function requestText(value) {
  return JSON.stringify(value) ?? 'null'
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
  const by = options?.by
  if (typeof by !== 'string') throw new TypeError('a change needs {by: string}: who makes it')
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
  check: proto.check,
  checkJson: proto.checkJson,
  checkBatch: proto.checkBatch,
  reload: proto.reload,
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
  const maxBytes = options?.maxBytes
  if (maxBytes !== undefined && !(Number.isSafeInteger(maxBytes) && maxBytes > 0)) {
    throw new TypeError('decision log: maxBytes must be a positive integer')
  }
  let args
  if (sink === null || sink === undefined) args = ['none', null, null]
  else if (typeof sink === 'function') args = ['callback', null, null]
  else if (typeof sink === 'string' || sink instanceof URL) args = ['path', dirPath(sink), maxBytes ?? null]
  else throw new TypeError('decision log: the sink must be a function, a file path, or null')
  try {
    raw.setDecisionLog.call(engine, ...args)
  } catch (e) {
    throw fromNative(e)
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
    let text
    try {
      text = raw.check.call(this, requestText(toWire(request)))
    } catch (e) {
      throw fromNative(e)
    } finally {
      deliver(this)
    }
    return new Decision(JSON.parse(text))
  },

  checkJson(request) {
    try {
      return raw.checkJson.call(this, request)
    } catch (e) {
      throw fromNative(e)
    } finally {
      deliver(this)
    }
  },

  checkBatch(requests) {
    let text
    try {
      const wire = Array.isArray(requests) ? requests.map(toWire) : requests
      text = raw.checkBatch.call(this, requestText(wire))
    } catch (e) {
      throw fromNative(e)
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

  reload(source) {
    try {
      raw.reload.call(this, source === undefined ? null : dirPath(source))
    } catch (e) {
      throw fromNative(e)
    }
  },

  grant(request) {
    return grantFromWire(JSON.parse(nativeCall(this, raw.grant, requestText(renamed(request, GRANT_KEYS)))))
  },

  revoke(grantId, options) {
    nativeCall(this, raw.revoke, grantId, byOf(options))
  },

  grants(agent) {
    return JSON.parse(nativeCall(this, raw.grants, agent ?? null)).map(grantFromWire)
  },

  grantPolicyText(grantId) {
    return nativeCall(this, raw.grantPolicyText, grantId)
  },

  suspend(agent, options) {
    nativeCall(this, raw.suspend, agent, byOf(options))
  },

  reactivate(agent, options) {
    nativeCall(this, raw.reactivate, agent, byOf(options))
  },

  offboard(agent, options) {
    nativeCall(this, raw.offboard, agent, byOf(options))
  },

  rotateCredential(credential, options) {
    nativeCall(this, raw.rotateCredential, credential, timeText(options?.expires), byOf(options))
  },

  transferOwner(agent, options) {
    nativeCall(this, raw.transferOwner, agent, options?.owner, byOf(options))
  },

  addTask(task, options) {
    nativeCall(this, raw.addTask, requestText(renamed(task, TASK_KEYS)), byOf(options))
  },

  apply(change, options) {
    return JSON.parse(nativeCall(this, raw.apply, requestText(renamed(change, {})), byOf(options)))
  },

  skippedChanges() {
    return nativeCall(this, raw.skippedChanges)
  },

  close() {
    return nativeCall(this, raw.close)
  },
}

/** Calls a native method on `engine`; a native error becomes its AuthzError
 * subclass. Changes are recorded in the decision log: deliver them to a
 * function sink. */
function nativeCall(engine, fn, ...args) {
  try {
    return fn.call(engine, ...args)
  } catch (e) {
    throw fromNative(e)
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
    return nativeCall(this, raw.journalPath)
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

/** `Engine.load(dir, {decisionLog, maxBytes, journal, recover})`, `Engine.fromStrings(input, {...})`. */
function withOptions(engine, options) {
  if (options?.decisionLog !== undefined) setDecisionLog(engine, options.decisionLog, { maxBytes: options.maxBytes })
  return engine
}

const statics = {
  load(dir, options) {
    const path = dirPath(dir)
    if (typeof path !== 'string') throw new TypeError('Engine.load(dir): dir must be a string or a file: URL')
    let engine
    try {
      const journal = options?.journal === undefined || options.journal === null ? null : dirPath(options.journal)
      engine = raw.load.call(Engine, path, journal, options?.recover ?? null)
    } catch (e) {
      throw fromNative(e)
    }
    return withOptions(engine, options)
  },

  fromStrings(input, options) {
    let engine
    try {
      engine = raw.fromStrings.call(Engine, input === undefined ? null : input)
    } catch (e) {
      throw fromNative(e)
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

function sessionCall(engine, fn, ...args) {
  try {
    return fn.call(engine, ...args)
  } catch (e) {
    throw fromNative(e)
  }
}

const sessionMethods = {
  check(request) {
    if (request === null || typeof request !== 'object' || request.session === undefined) {
      return methods.check.call(this, request) // the agent form, above
    }
    if (request.agent !== undefined) {
      throw new RequestError('give exactly one of `agent` and `session`', {
        code: 'request_invalid',
        family: 'request',
        details: [],
      })
    }
    let text
    try {
      text = sessionRaw.checkSession.call(this, requestText(toWire(request)))
    } catch (e) {
      throw fromNative(e)
    } finally {
      deliver(this)
    }
    return new Decision(JSON.parse(text))
  },

  issueSession(input) {
    let wire = input
    if (input !== null && typeof input === 'object' && !Array.isArray(input)) {
      const { ttlSeconds, ...rest } = input
      wire = ttlSeconds === undefined ? rest : { ...rest, ttl_seconds: ttlSeconds }
    }
    const { token, claims } = JSON.parse(sessionCall(this, sessionRaw.issueSession, requestText(wire)))
    return { token, claims: claimsFromWire(claims) }
  },

  verifySession(token, options) {
    return claimsFromWire(JSON.parse(sessionCall(this, sessionRaw.verifySession, token, options?.audience ?? null)))
  },

  revokeSession(sessionId, options) {
    const by = options?.by
    if (typeof by !== 'string') throw new TypeError('revokeSession needs {by: string}: who revokes it')
    sessionCall(this, sessionRaw.revokeSession, sessionId, by)
  },

  setSessionKeys(keys) {
    sessionCall(this, sessionRaw.setSessionKeys, requestText(keys ?? {}))
  },

  sessionPublicKeys() {
    return sessionCall(this, sessionRaw.sessionPublicKeys)
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
    throw fromNative(e)
  }
}

'use strict'
// agentauthz for Node.js: the loader. The native addon's `Engine` class is the
// public class; this file hands the addon to the shared JS layer (bindings-js,
// compiled into lib/), which owns errors, Decision, name mapping, dispatch and
// decision-log callbacks, and copies the shared Engine methods onto the
// addon's class. What is here is only what Node has and WASM has not: the
// filesystem (Engine.load, file sinks, the journal) and napi's calling shape.

const { fileURLToPath } = require('node:url')
const native = require('./native.js')
const shared = require('./lib/index.js')

const { Engine } = native
const proto = Engine.prototype

// The native functions, kept on the class the first time this file runs: when a
// module registry evaluates it again (test runners that reset modules) over the
// same addon, the wrappers must wrap the natives, not the previous wrappers.
const RAW = Symbol.for('agentauthz.native')
const getter = (name) => Object.getOwnPropertyDescriptor(proto, name).get
const raw = Engine[RAW] ?? {
  load: Engine.load,
  fromStrings: Engine.fromStrings,
  loadWithClock: Engine._loadWithClock,
  fromStringsWithClock: Engine._fromStringsWithClock,
  ManualClock: native.ManualClock,
  check: proto.check,
  checkBatch: proto.checkBatch,
  checkSession: proto._checkSession,
  checkToken: proto._checkToken,
  verifyToken: proto.verifyToken,
  setIssuerJwks: proto.setIssuerJwks,
  reload: proto.reload,
  reloadJson: proto._reloadJson,
  policyRevision: getter('policyRevision'),
  mode: getter('mode'),
  onError: getter('onError'),
  setDecisionLog: proto.setDecisionLog,
  takeDecisionRecords: proto._takeDecisionRecords,
  flushDecisionLog: proto.flushDecisionLog,
  decisionLogHead: getter('decisionLogHead'),
  decisionLogStats: getter('decisionLogStats'),
  grant: proto.grant,
  grants: proto.grants,
  grantPolicyText: proto.grantPolicyText,
  apply: proto.apply,
  recordUsage: proto.recordUsage,
  usage: proto.usage,
  lockdownStatus: proto.lockdownStatus,
  metrics: proto.metrics,
  approve: proto.approve,
  reject: proto.reject,
  approvals: proto.approvals,
  onApprovalRequest: proto.onApprovalRequest,
  takeApprovalRequests: proto._takeApprovalRequests,
  journalPath: getter('journalPath'),
  skippedChanges: proto.skippedChanges,
  engineState: proto.engineState,
  storeStatus: proto.storeStatus,
  stateHash: proto.stateHash,
  bundleStatus: proto.bundleStatus,
  pollBundle: proto.pollBundle,
  restore: Engine.restore,
  warnings: proto.warnings,
  close: proto.close,
  issueSession: proto.issueSession,
  verifySession: proto.verifySession,
  revokeSession: proto.revokeSession,
  setSessionKeys: proto.setSessionKeys,
  sessionPublicKeys: proto.sessionPublicKeys,
  checkToolCall: proto.checkToolCall,
  mcpCheckCall: proto.mcpCheckCall,
  mcpGuardCall: proto._mcpGuardCall,
  mcpListableTools: proto.mcpListableTools,
  schemaFromMcp: native.schemaFromMcp,
  errorCodes: native.errorCodes,
  flushDecisionLogs: native.flushDecisionLogs,
  generateSessionKey: native.generateSessionKey,
  storeInit: native.storeInit,
  recordToOcsfJson: native._recordToOcsfJson,
  panicForTesting: native._panicForTesting,
  verifyBundle: native._verifyBundle,
}
if (!Engine[RAW]) Object.defineProperty(Engine, RAW, { value: raw })

shared.bind({
  errorCodes: raw.errorCodes(),
  clock: { create: (start) => new raw.ManualClock(start) },
  recordToOcsf: (record) => raw.recordToOcsfJson(record),
})
const { call, codedError, readArgs, stringify } = shared

function dirPath(dir) {
  return dir instanceof URL ? fileURLToPath(dir) : dir
}

/** The addon's engine in the shape the shared layer calls (JSON text in and out). */
class NodeNative {
  constructor(engine) {
    this.e = engine
  }
  checkJson(request) {
    return raw.check.call(this.e, request)
  }
  checkSessionJson(request) {
    return raw.checkSession.call(this.e, request)
  }
  checkTokenJson(request) {
    return raw.checkToken.call(this.e, request)
  }
  verifyTokenJson(token) {
    return raw.verifyToken.call(this.e, token)
  }
  setIssuerJwks(issuer, jwks) {
    raw.setIssuerJwks.call(this.e, issuer, jwks)
  }
  checkBatchJson(requests) {
    return raw.checkBatch.call(this.e, requests)
  }
  reloadJson(bundle) {
    raw.reloadJson.call(this.e, bundle)
  }
  reloadDir(dir) {
    raw.reload.call(this.e, dirPath(dir))
  }
  setDecisionLogQueue(on) {
    raw.setDecisionLog.call(this.e, on ? 'callback' : 'none', null, null)
  }
  setDecisionLogPath(path, maxBytes) {
    raw.setDecisionLog.call(this.e, 'path', dirPath(path), maxBytes)
  }
  takeDecisionRecordsJson() {
    return raw.takeDecisionRecords.call(this.e)
  }
  flushDecisionLog() {
    raw.flushDecisionLog.call(this.e)
  }
  decisionLogHeadJson() {
    return JSON.stringify(raw.decisionLogHead.call(this.e))
  }
  decisionLogStatsJson() {
    return JSON.stringify(raw.decisionLogStats.call(this.e))
  }
  grantJson(request) {
    return raw.grant.call(this.e, request)
  }
  grantsJson(agent) {
    return raw.grants.call(this.e, agent)
  }
  grantPolicyText(grantId) {
    return raw.grantPolicyText.call(this.e, grantId)
  }
  applyJson(change, by) {
    return raw.apply.call(this.e, change, by)
  }
  recordUsage(agent, units, kind) {
    raw.recordUsage.call(this.e, agent, units, kind)
  }
  usageJson(agent, action) {
    return raw.usage.call(this.e, agent, action)
  }
  lockdownStatusJson() {
    return raw.lockdownStatus.call(this.e)
  }
  metricsJson() {
    return raw.metrics.call(this.e)
  }
  approveJson(args) {
    return raw.approve.call(this.e, args)
  }
  rejectJson(args) {
    return raw.reject.call(this.e, args)
  }
  approvalsJson(agent) {
    return raw.approvals.call(this.e, agent)
  }
  setApprovalQueue(on) {
    raw.onApprovalRequest.call(this.e, on)
  }
  takeApprovalRequestsJson() {
    return raw.takeApprovalRequests.call(this.e)
  }
  warningsJson() {
    return JSON.stringify(raw.warnings.call(this.e))
  }
  skippedChangesJson() {
    return JSON.stringify(raw.skippedChanges.call(this.e))
  }
  issueSessionJson(input) {
    return raw.issueSession.call(this.e, input)
  }
  verifySessionJson(token, audience) {
    return raw.verifySession.call(this.e, token, audience)
  }
  revokeSession(sessionId, by) {
    raw.revokeSession.call(this.e, sessionId, by)
  }
  setSessionKeysJson(keys) {
    raw.setSessionKeys.call(this.e, keys)
  }
  sessionPublicKeysJson() {
    return JSON.stringify(raw.sessionPublicKeys.call(this.e))
  }
  checkToolCallJson(input) {
    return raw.checkToolCall.call(this.e, input)
  }
  mcpCheckCallJson(input) {
    return raw.mcpCheckCall.call(this.e, input)
  }
  mcpGuardCallJson(input) {
    return raw.mcpGuardCall.call(this.e, input)
  }
  mcpListableToolsJson(input) {
    return raw.mcpListableTools.call(this.e, input)
  }
  get policyRevision() {
    return raw.policyRevision.call(this.e)
  }
  get mode() {
    return raw.mode.call(this.e)
  }
  get onError() {
    return raw.onError.call(this.e)
  }
}

const natives = new WeakMap()
function nativeOf(engine) {
  if (engine === null || (typeof engine !== 'object' && typeof engine !== 'function')) return new NodeNative(engine)
  let n = natives.get(engine)
  if (n === undefined) {
    n = new NodeNative(engine)
    natives.set(engine, n)
  }
  return n
}

// The shared Engine methods and accessors, on the addon's class.
for (const [name, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(shared.EngineBase.prototype))) {
  if (name === 'constructor') continue
  Object.defineProperty(proto, name, { ...descriptor, enumerable: true, configurable: true })
}
Object.defineProperty(proto, shared.NATIVE, {
  value() {
    return nativeOf(this)
  },
  configurable: true,
})

// ------------------------------------------------------ Node only: files --

const nodeMethods = {
  /** Releases the journal and the decision log (flushed, their files and locks closed). */
  close() {
    return call(() => raw.close.call(this))
  },

  /** Everything needed to rebuild this engine elsewhere, as opaque JSON text for `Engine.restore`. */
  engineState() {
    return call(() => raw.engineState.call(this))
  },

  /** How the engine stands with its change store (`{backend, location, last_applied_seq, stale, ...}`). */
  storeStatus() {
    return call(() => raw.storeStatus.call(this))
  },

  /** A hash of the run-time state (equal on engines of a fleet that applied the same changes). */
  stateHash() {
    return call(() => raw.stateHash.call(this))
  },

  /** Where a bundle pulled from a URL stands (`{url, revision, last_result, last_error, ...}`), or null. */
  bundleStatus() {
    return call(() => raw.bundleStatus.call(this))
  },

  /** Polls the bundle URL now; the status after the poll (a failed poll keeps the active bundle). */
  pollBundle() {
    return call(() => raw.pollBundle.call(this))
  },
}
for (const [name, fn] of Object.entries(nodeMethods)) {
  Object.defineProperty(proto, name, { value: fn, writable: true, enumerable: true, configurable: true })
}
Object.defineProperty(proto, 'journalPath', {
  get() {
    return call(() => raw.journalPath.call(this))
  },
  enumerable: true,
  configurable: true,
})

/** `{decisionLog, maxBytes}` of `Engine.load` / `Engine.fromStrings`. */
function withOptions(engine, options) {
  const [sink, maxBytes] = readArgs('config_invalid', () => [options?.decisionLog, options?.maxBytes])
  if (sink !== undefined) engine.setDecisionLog(sink, { maxBytes })
  return engine
}

/** The native clock of `options.clock` (a ManualClock), or null without one. */
function clockOf(options) {
  return readArgs('bundle_invalid', () => {
    const clock = shared.ManualClock.option(options?.clock)
    return clock === null ? null : shared.ManualClock.nativeOf(clock)
  })
}

/** `[store, maxStalenessSeconds]` of `Engine.load` (each overrides `[store]` of agentauthz.toml). */
function storeArgs(options) {
  return readArgs('config_invalid', () => {
    const store = options?.store ?? null
    if (store !== null && typeof store !== 'string') {
      throw codedError('config_invalid', 'Engine.load: store must be a PostgreSQL URL, env:VAR or file:PATH string')
    }
    const max = options?.maxStalenessSeconds ?? null
    if (max !== null && !(Number.isSafeInteger(max) && max >= 0)) {
      throw codedError('config_invalid', 'Engine.load: maxStalenessSeconds must be a non-negative integer')
    }
    return [store, max]
  })
}

const statics = {
  /** `Engine.load(dir, {decisionLog, maxBytes, journal, recover, trustCallerTime, clock, store, maxStalenessSeconds})`. */
  load(dir, options) {
    const args = readArgs('bundle_invalid', () => {
      const path = dirPath(dir)
      if (typeof path !== 'string') throw codedError('bundle_invalid', 'Engine.load(dir): dir must be a string or a file: URL')
      const journal = options?.journal === undefined || options.journal === null ? null : dirPath(options.journal)
      return [path, journal, options?.recover ?? null, options?.trustCallerTime ?? null]
    })
    args.push(...storeArgs(options))
    const clock = clockOf(options)
    const load = () => (clock === null ? raw.load.call(Engine, ...args) : raw.loadWithClock.call(Engine, ...args, clock))
    return withOptions(call(load, 'bundle_invalid'), options)
  },

  /** An engine rebuilt from `engineState()` text through the core's journal replay. */
  restore(state) {
    shared.text(state, 'config_invalid', 'the engine state (engineState() text)')
    return call(() => raw.restore.call(Engine, state), 'config_invalid')
  },

  /** `Engine.fromStrings({schema, policies, inventory?, config?}, {decisionLog, maxBytes, trustCallerTime, clock})`. */
  fromStrings(input, options) {
    const json = stringify(() => (input === undefined ? null : input), 'bundle_invalid', 'bundle')
    const trust = readArgs('bundle_invalid', () => options?.trustCallerTime ?? null)
    const clock = clockOf(options)
    const build = () =>
      clock === null ? raw.fromStrings.call(Engine, json, trust) : raw.fromStringsWithClock.call(Engine, json, trust, clock)
    return withOptions(call(build, 'bundle_invalid'), options)
  },
}
for (const [name, fn] of Object.entries(statics)) {
  Object.defineProperty(Engine, name, { value: fn, writable: true, enumerable: false, configurable: true })
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

module.exports = {
  Engine,
  ManualClock: shared.ManualClock,
  Decision: shared.Decision,
  AuthzError: shared.AuthzError,
  BundleError: shared.BundleError,
  SchemaError: shared.SchemaError,
  PolicyError: shared.PolicyError,
  InventoryError: shared.InventoryError,
  RequestError: shared.RequestError,
  TestError: shared.TestError,
  LifecycleError: shared.LifecycleError,
  JournalError: shared.JournalError,
  LogError: shared.LogError,
  SessionError: shared.SessionError,
  TokenError: shared.TokenError,
  LimitError: shared.LimitError,
  InternalError: shared.InternalError,
  ERROR_CODES: shared.ERROR_CODES,
  errorClassFor: shared.errorClassFor,
  /** Every stable error code with its family, from the core. */
  errorCodes: () => call(() => raw.errorCodes()),
  /** Writes every buffered decision-log file of the process out. */
  flushDecisionLogs: () => call(() => raw.flushDecisionLogs()),
  coreVersion: native.coreVersion,
  __napiBindingTarget: native.__napiBindingTarget,
  /** The Cedar schema fragment of a `tools/list` result: `{tools, server?, namespace?}` → `{text, actions, warnings, ...}`. */
  schemaFromMcp: (input) => shared.schemaFromMcpWith((json) => raw.schemaFromMcp(json), input),
  /** A new session key pair `{kid, secret, public}` (PASERK). */
  generateSessionKey: (kid) => call(() => raw.generateSessionKey(kid), 'key_invalid'),
  /** Creates (or brings up to date) a fleet's PostgreSQL change store (`agentauthz store init`); returns where.
   * `options`: `{sslmode, caFile}` as `[store]` gives them. */
  storeInit: (url, options) => {
    const [sslmode, caFile] = readArgs('config_invalid', () => {
      if (typeof url !== 'string') throw codedError('config_invalid', 'storeInit(url): url must be a string')
      const text = (name) => {
        const v = options?.[name] ?? null
        if (v !== null && typeof v !== 'string') throw codedError('config_invalid', `storeInit: ${name} must be a string`)
        return v
      }
      return [text('sslmode'), text('caFile')]
    })
    return call(() => raw.storeInit(url, sslmode, caFile), 'config_invalid')
  },
  /** A decision record as its OCSF 1.5.0 API Activity event (the core's mapping). */
  toOcsf: shared.toOcsf,
  /** Verifies a signed bundle archive against its detached signature: `{revision, kid, files}`. */
  verifyBundle: (archive, signature, publicKeys) => {
    const [a, s] = [archive, signature].map((b, i) => {
      if (!(b instanceof Uint8Array)) {
        throw codedError('bundle_archive_invalid', `${i ? 'signature' : 'archive'} must be a Buffer or Uint8Array`)
      }
      return Buffer.from(b.buffer, b.byteOffset, b.byteLength)
    })
    const keys = readArgs('key_invalid', () => JSON.stringify(publicKeys) ?? 'null')
    return JSON.parse(call(() => raw.verifyBundle(a, s, keys)))
  },
}

// Test hook, not part of the API: a panic inside the core's `catch_panic`.
Object.defineProperty(module.exports, '_panicForTesting', {
  value: (message) => call(() => raw.panicForTesting(message)),
  enumerable: false,
})

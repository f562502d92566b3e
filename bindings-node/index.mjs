// ESM entry point: the same objects as the CommonJS one (index.js), so an
// app that mixes `import` and `require` shares one addon and one set of classes.
import agentauthz from './index.js'

export const {
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
  TokenError,
  LimitError,
  InternalError,
  ERROR_CODES,
  errorClassFor,
  errorCodes,
  flushDecisionLogs,
  coreVersion,
  __napiBindingTarget,
} = agentauthz

// --- sessions
export const { generateSessionKey } = agentauthz

// --- MCP
export const { schemaFromMcp } = agentauthz
// --- OCSF
export const { toOcsf } = agentauthz
// --- fleet: PostgreSQL change store
export const { storeInit } = agentauthz
// --- signed bundles
export const { verifyBundle } = agentauthz

export default agentauthz

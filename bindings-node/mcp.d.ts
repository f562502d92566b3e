import type { AuthzError, Decision, Engine, McpIdentity } from './index'

/** The `_meta` member `sessionFromMeta` reads the session token from: `"agentauthz/session"`. */
export declare const SESSION_META_KEY: 'agentauthz/session'

/** The `_meta` member of a result whose call waits for approval: `"agentauthz/approval"`
 * (`{status: "pending", decision_id, request_digest, approvers, reasons}`). */
export declare const APPROVAL_META_KEY: 'agentauthz/approval'

/** A JSON-RPC request as the SDK hands it to a request handler. */
export interface McpRequest {
  method: string
  params?: Record<string, unknown>
}

/** The OAuth access token the SDK's bearer-auth middleware verified (its `AuthInfo`). */
export interface McpAuthInfo {
  token?: string
  clientId?: string
  scopes?: string[]
  /** Seconds since the epoch. */
  expiresAt?: number
  resource?: URL | string
  [key: string]: unknown
}

/** The SDK's `RequestHandlerExtra` (what the guard reads of it). */
export interface McpRequestExtra {
  requestId?: string | number
  authInfo?: McpAuthInfo
  [key: string]: unknown
}

/** Who makes a request; `null`: nobody (the call is denied, nothing is listed). */
export type IdentityResolver = (
  request: McpRequest,
  extra: McpRequestExtra,
) => McpIdentity | null | undefined | Promise<McpIdentity | null | undefined>

export interface GuardMcpServerOptions {
  /** The engine that decides. */
  engine: Engine
  /** The server's name: the tool `T` is the action `"<server>:T"` on `McpServer::"<server>"`. */
  server: string
  /** Who calls: `fixedAgent(id)`, `sessionFromMeta()`, `accessTokenAgent()`, or your own. */
  identity: IdentityResolver
  /** The Cedar namespace of the schema `schemaFromMcp` generated, if any. */
  namespace?: string | null
  /** Called for every `tools/call` decision (or the error that refused it) and every failed `tools/list` filter. */
  onDecision?: (method: 'tools/call' | 'tools/list', tool: unknown, requestId: unknown, outcome: Decision | AuthzError) => void
  /** Ask the client's user by MCP elicitation (form) when a call needs approval, if the client declared it (default true). */
  elicit?: boolean
  /** The user this server has authenticated behind the connection (e.g. the OAuth token's subject), or nothing.
   * Without it an elicitation only notifies; with it an accepted one is `engine.approve(decision, { by: user })`,
   * which the engine refuses for a user the policies do not let approve. */
  approver?: ApproverResolver
}

/** The authenticated user who answers this connection's elicitations, or nothing. */
export type ApproverResolver = (
  request: McpRequest,
  extra: McpRequestExtra,
) => string | null | undefined | Promise<string | null | undefined>

/**
 * Guards an `McpServer` or a low-level `Server` of `@modelcontextprotocol/sdk`
 * (1.x): every `tools/call` is decided before its handler runs (a denied call
 * gets a tool error result with the reasons and `decision_id` in
 * `_meta["agentauthz/decision"]`, and its handler never runs), and
 * `tools/list` lists only the tools the caller could be allowed to call.
 * A call that needs approval gets a tool error result saying so
 * (`_meta["agentauthz/approval"]`); once `engine.approve` recorded an
 * approval, the same call with the same arguments runs once.
 * Tools registered before or after are guarded. Returns `server`.
 */
export declare function guardMcpServer<T extends object>(server: T, options: GuardMcpServerOptions): T

/** Every request is made by one agent (a stdio server started for it); `_meta` is ignored. */
export declare function fixedAgent(agent: string): IdentityResolver

/** The agent and task of an agentauthz session token in the request's `_meta`, verified on every call. */
export declare function sessionFromMeta(options?: { key?: string; audience?: string | null }): IdentityResolver

/** The request's bearer token (an identity provider's JWT, from `extra.authInfo.token`
 * or the `Authorization: Bearer` header), verified by agentauthz against `[identity.issuers]`. */
export declare function bearerToken(): IdentityResolver

/** The agent of the OAuth access token the SDK verified (`extra.authInfo`): its `clientId`, or `agentOf(authInfo)`.
 * With `resource`, a token for another resource is refused; an expired token always is. */
export declare function accessTokenAgent(options?: {
  agentOf?: (authInfo: McpAuthInfo) => string | null | undefined
  resource?: string | URL
}): IdentityResolver

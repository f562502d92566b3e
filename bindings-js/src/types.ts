// The JS API's types (camelCase, Dates): what callers pass and get back.
// The wire types (snake_case, as the core speaks) are in wire-types.ts.

import type { ErrorLocation } from "./errors.js";

/** A typed entity reference. */
export interface EntityRef {
  type: string;
  id: string;
}

/** The agent form: an agent calls a tool (the action) on a resource. */
export interface AgentRequest {
  agent: string;
  action: string;
  resource: EntityRef;
  /** A Task id: the just-in-time scope the call runs under. */
  task?: string;
  /** A User id the agent acts for: `onBehalfOf` or its wire spelling `on_behalf_of`, not both. */
  onBehalfOf?: string;
  on_behalf_of?: string;
  /** A Credential id the agent authenticated with. */
  credential?: string;
  /** Application context fields (`source_ip`, `endpoint`, `input`, ...). */
  context?: Record<string, unknown>;
  /** The time of the request (RFC 3339 text or a Date); the engine clock when absent. */
  now?: Date | string;
}

/** The generic form: any Cedar request, evaluated as is. */
export interface CedarRequest {
  principal: EntityRef;
  action: EntityRef;
  resource: EntityRef;
  context?: Record<string, unknown>;
}

export type CheckRequest = AgentRequest | CedarRequest;

/** The session form: a session token (from `issueSession`) names the agent and task. */
export interface SessionRequest {
  /** A session token (`v4.public.…`), in place of `agent` and `task`. */
  session: string;
  action: string;
  resource: EntityRef;
  onBehalfOf?: string;
  on_behalf_of?: string;
  credential?: string;
  context?: Record<string, unknown>;
  /** The time the policies see; the token itself is checked against the engine clock. */
  now?: Date | string;
  /** The audience the token must carry; `[sessions] audience` when absent. */
  audience?: string;
}

/** The token form: an identity provider's token (a JWT: OAuth 2.1 / OIDC
 * access token, SPIFFE JWT-SVID) names the agent and, when delegated (RFC
 * 8693 `act`), the user it acts for. Verified against `[identity.issuers]`
 * at the engine clock. */
export interface TokenRequest {
  /** The bearer token. Never recorded or echoed in errors. */
  token: string;
  action: string;
  resource: EntityRef;
  task?: string;
  credential?: string;
  context?: Record<string, unknown>;
}

/** What a verified identity-provider token says (`verifyToken`). */
export interface TokenClaims {
  issuer_name: string;
  issuer: string;
  subject?: string;
  client_id?: string;
  agent: string;
  on_behalf_of?: string;
  actors?: string[];
  scopes: string[];
  jti?: string;
  expires_at: number;
  not_before?: number;
  issued_at?: number;
  claims?: Record<string, unknown>;
}

/** A bundle as texts; `policies` is one text, a list, or an object of file name to text. */
export interface StringsInput {
  /** `schema.cedarschema` text (the app's types and actions; base types are merged in). */
  schema: string;
  policies: string | string[] | Record<string, string>;
  /** agentauthz's YAML or JSON inventory, or a Cedar entities JSON array. */
  inventory?: string;
  /** `agentauthz.toml` text. */
  config?: string;
}

/** A load warning: a forbid that may error at run time (and so deny), or never match. */
export interface PolicyWarning {
  policy: string;
  kind: "absent_entity" | "overflow" | "extension" | "depth" | "impossible";
  message: string;
  location?: ErrorLocation;
}

/** The last record of a decision log: its `seq` and `hash`. */
export interface DecisionLogHead {
  seq: number;
  hash: string;
}

/** The counters of an exporting decision-log sink (`[log.otlp]`, `[log.syslog]`). */
export interface DecisionLogStats {
  /** `seq` of the last record written to the spool. */
  spooled_seq: number;
  /** `seq` of the last record the receiver acknowledged. */
  acked_seq: number;
  /** Records sent and acknowledged since the sink was opened. */
  sent: number;
  /** Records not spooled (spool full or not writable); each leaves a gap in `seq`. */
  dropped: number;
  /** Spooled lines that failed verification and were set aside, never sent. */
  damaged: number;
  /** Failed deliveries (each one retried). */
  failures: number;
  /** Bytes in the spool. */
  spool_bytes: number;
  /** The last delivery failure. */
  last_error: string | null;
}

/** A just-in-time grant as asked for. Give `ttlSeconds` or `until`. */
export interface GrantRequest {
  agent: string;
  actions: string[];
  /** The resource; anything `in` it is covered too. */
  resource: EntityRef;
  /** Seconds from `starts` (or now). */
  ttlSeconds?: number;
  /** The expiry (exclusive), RFC 3339 text or a Date. */
  until?: Date | string;
  /** The start; now when absent. */
  starts?: Date | string;
  /** Only requests naming this task (of the same agent) are covered. */
  task?: string;
  reason: string;
  /** Who grants it (recorded in the journal and the decision log). */
  grantedBy: string;
}

/** A grant in force. Decisions it allows have the reason `grant/<id>`. */
export interface Grant {
  id: string;
  agent: string;
  actions: string[];
  resource: EntityRef;
  /** RFC 3339, UTC, millisecond precision. */
  starts: string;
  /** RFC 3339, UTC, millisecond precision (exclusive). */
  expires: string;
  task?: string;
  reason: string;
  grantedBy: string;
}

/** Who makes a change. */
export interface ChangeOptions {
  by: string;
}

/** Who approves, and for how many checks and how long. */
export interface ApproveOptions extends ChangeOptions {
  /** Checks of exactly the approved request it allows (default 1). */
  uses?: number;
  /** Lifetime in seconds (default 900, at most 30 days). */
  ttl?: number;
}

export interface RotateOptions extends ChangeOptions {
  /** The rotated credential's new expiry (in the future). */
  expires: Date | string;
}

export interface TransferOptions extends ChangeOptions {
  /** The id of the user who becomes the agent's owner. */
  owner: string;
}

/** A task added at run time (as the inventory's `tasks:` entry). */
export interface TaskSpec {
  id: string;
  agent: string;
  notBefore: Date | string;
  notAfter: Date | string;
  purpose?: string;
  onBehalfOf?: string;
}

/** `engine.issueSession(input)`. */
export interface IssueSessionInput {
  agent: string;
  /** A Task id of this agent. */
  task?: string;
  /** Lifetime in seconds, capped by `[sessions] max_ttl_seconds` (default 900). */
  ttlSeconds?: number;
  /** The audience; `[sessions] audience` when absent. */
  audience?: string;
}

/** The claims of a session token; times in milliseconds since the epoch. */
export interface SessionClaims {
  sessionId: string;
  agent: string;
  task?: string;
  audience: string;
  issuer?: string;
  issuedAt: number;
  notBefore: number;
  expiresAt: number;
}

export interface IssuedSession {
  token: string;
  claims: SessionClaims;
}

export interface VerifySessionOptions {
  /** The audience the token must carry; `[sessions] audience` when absent. */
  audience?: string;
}

/** Session keys as PASERK (`k4.secret.…`, `k4.public.…`) or PEM text. */
export interface SessionKeysInput {
  signing?: { kid: string; key: string };
  verifying?: Record<string, string>;
}

/** A new key pair as PASERK text. */
export interface SessionKeyPair {
  kid: string;
  secret: string;
  public: string;
}

// ---------------------------------------------------------------- MCP

/** Who calls an MCP tool: a fixed agent, or an agentauthz session token
 * (verified on every call: signature, window, audience, revocation). */
export type McpIdentity = { agent: string } | { session: { token: string; audience?: string | null } } | { bearer: string };

/** A framework's tool call to decide (`engine.checkToolCall`): the one
 * tool-call mapper of the core. Give exactly one of `agent`, `session` and `token`. */
export interface ToolCallInput {
  /** The framework's tool name (for messages and the decision record). */
  tool: string;
  /** The tool's action; `null` when the caller's mapper has none for it:
   * a deny with reason `baseline/unknown-action`, never an error. */
  action: string | null;
  resource: EntityRef;
  /** The tool's arguments, `context.input` after the documented coercions
   * (`null` at an optional field dropped, numbers to `decimal` / `Long`
   * where the schema says so); absent: no `context.input`. */
  input?: unknown;
  agent?: string;
  /** A session token (`v4.public.…`) in place of `agent` and `task`. */
  session?: string;
  /** The audience the session token must carry (with `session`). */
  audience?: string;
  /** An identity provider's bearer token (a JWT) in place of `agent`. */
  token?: string;
  /** Other context fields (not `input`). */
  context?: Record<string, unknown>;
  task?: string;
  onBehalfOf?: string;
  on_behalf_of?: string;
  credential?: string;
  /** The time the policies see (engines that trust the caller's time). */
  now?: Date | string;
}

/** An MCP `tools/call` to decide: the tool `T` of the server `S` is the
 * action `"S:T"` on `McpServer::"S"`, `arguments` is `context.input`. */
export interface McpCallInput {
  identity: McpIdentity;
  /** The server's name (1-64 of `A-Z a-z 0-9 _ . -`). */
  server: string;
  /** The Cedar namespace of the generated schema, if any. */
  namespace?: string | null;
  tool: string;
  arguments?: Record<string, unknown> | null;
}

/** The tools of a `tools/list` result to filter for a caller. */
export interface McpListInput {
  identity: McpIdentity;
  server: string;
  namespace?: string | null;
  /** Tool names, in the server's order. */
  tools: string[];
}

/** A `tools/list` result (or its `tools` array) to turn into a Cedar schema fragment. */
export interface McpSchemaInput {
  tools: unknown;
  /** The server's name, the action ids' prefix (default `mcp`). */
  server?: string;
  namespace?: string;
}

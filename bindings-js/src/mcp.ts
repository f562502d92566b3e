// The guard for servers built with the MCP TypeScript SDK
// (`@modelcontextprotocol/sdk` 1.x): every `tools/call` is checked before its
// handler runs, `tools/list` shows only the tools the caller could be allowed
// to call. The decisions, the list-time rule and the denied call's result are
// the core's (the same as the Python middleware's and the stdio proxy's).
//
// The guard sits in the SDK's request-handler table (`Protocol`'s
// `_requestHandlers`), under every handler set now or later, by `McpServer`
// or by `Server.setRequestHandler`, and under a fallback handler: a tool
// handler cannot be reached around it.
//
// Human approval: a `needs_approval` call does not run; its result says that
// approval is pending (`_meta["agentauthz/approval"]`). A client that declared
// form elicitation is also asked, but its answer is the agent's side speaking:
// it approves only through `engine.approve` as the user the server's own
// `approver` option names, and the call is then checked again.

import type { Decision } from "./decision.js";
import { mcpGuardCall } from "./engine.js";
import { AuthzError, codedError } from "./errors.js";
import type { McpIdentity } from "./types.js";

/** The `_meta` member `sessionFromMeta` reads the session token from. */
export const SESSION_META_KEY = "agentauthz/session";

/** The `_meta` member of a pending-approval result: status, decision id, digest, approvers, reasons. */
export const APPROVAL_META_KEY = "agentauthz/approval";

// The form of an approving elicitation: one yes/no field.
const APPROVE_SCHEMA = {
  type: "object",
  properties: { approve: { type: "boolean", title: "Approve this call" } },
  required: ["approve"],
} as const;
// A notifying elicitation asks nothing: its answer cannot approve.
const NOTIFY_SCHEMA = { type: "object", properties: {} } as const;
const MAX_SHOWN = 500;

/** A JSON-RPC request as the SDK hands it to a request handler. */
export interface McpRequest {
  method: string;
  params?: Record<string, unknown>;
}

/** The SDK's `RequestHandlerExtra` (only what the guard reads). */
export interface McpRequestExtra {
  requestId?: string | number;
  authInfo?: { token?: string; clientId?: string; scopes?: string[]; expiresAt?: number; resource?: URL | string };
  [key: string]: unknown;
}

/** Who makes a request: an identity, or nothing (the call is denied, nothing is listed). */
export type IdentityResolver = (
  request: McpRequest,
  extra: McpRequestExtra,
) => McpIdentity | null | undefined | Promise<McpIdentity | null | undefined>;

/** The user the server has authenticated behind this connection (who
 * answers its elicitations), or nothing. */
export type ApproverResolver = (
  request: McpRequest,
  extra: McpRequestExtra,
) => string | null | undefined | Promise<string | null | undefined>;

interface GuardOptions {
  engine: object;
  server: string;
  identity: IdentityResolver;
  namespace?: string | null;
  onDecision?: (method: string, tool: unknown, requestId: unknown, outcome: Decision | AuthzError) => void;
  /** Ask by elicitation when a call needs approval (default true). */
  elicit?: boolean;
  approver?: ApproverResolver;
}

/** The SDK's `Server` (what the guard uses of it to elicit). */
interface ElicitingServer {
  getClientCapabilities?: () => { elicitation?: { form?: unknown } } | undefined;
  elicitInput?: (params: object, options?: object) => Promise<{ action?: unknown; content?: unknown }>;
}

type Handler = (request: McpRequest, extra: McpRequestExtra) => unknown;

const own = (o: unknown, key: string): unknown =>
  o !== null && typeof o === "object" && Object.hasOwn(o, key) ? (o as Record<string, unknown>)[key] : undefined;

/** Whether a lenient server could read `method` as `tools/call` / `tools/list` (as the proxy judges it). */
function kindOf(method: unknown): "call" | "list" | null {
  if (typeof method !== "string") return null;
  // Whitespace and control characters dropped, as a lenient server might.
  const kept = [...method].filter((c) => c.trim() !== "" && c.charCodeAt(0) > 0x1f && c.charCodeAt(0) !== 0x7f).join("");
  const m = kept.toLowerCase().replace(/^\/+|\/+$/g, "");
  if (m === "tools/call") return "call";
  if (m === "tools/list") return "list";
  return null;
}

/** A tool error result for a call that could not be decided (the handler does not run). */
function refusedResult(tool: unknown, code: string, message: string): Record<string, unknown> {
  return {
    content: [{ type: "text", text: `agentauthz refused tool ${JSON.stringify(tool)}: [${code}] ${message}` }],
    isError: true,
    _meta: { "agentauthz/error": { code, message } },
  };
}

/** JSON text of `value`, cut short (for a message a human reads). */
function shortJson(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = "(arguments that cannot be shown)";
  }
  return text.length > MAX_SHOWN ? `${text.slice(0, MAX_SHOWN)}…` : text;
}

/** The answer to a call that waits for approval: the core's denied result
 * (the Decision under `_meta`), saying that approval is pending. No token. */
function pendingResult(tool: unknown, decision: Decision, denied: Record<string, unknown> | null): Record<string, unknown> {
  const name = typeof tool === "string" ? tool : "";
  const text =
    `agentauthz: tool ${JSON.stringify(name)} needs approval by ${decision.approvers.join(", ")} ` +
    `(reasons ${JSON.stringify(decision.reasons)}, decision_id ${decision.decisionId}, ` +
    `request_digest ${decision.requestDigest}). It did not run; call it again with the same arguments once it is approved.`;
  const meta = { ...((own(denied, "_meta") as Record<string, unknown> | undefined) ?? {}) };
  meta[APPROVAL_META_KEY] = {
    status: "pending",
    decision_id: decision.decisionId,
    request_digest: decision.requestDigest,
    approvers: [...decision.approvers],
    reasons: [...decision.reasons],
  };
  return { content: [{ type: "text", text }], isError: true, _meta: meta };
}

/** A resource indicator as the SDK compares it: a URL's normal form (`https://a.example` is `https://a.example/`). */
function resourceText(r: unknown): string {
  try {
    return new URL(String(r)).href;
  } catch {
    return String(r);
  }
}

function errorOf(e: unknown): AuthzError {
  return e instanceof AuthzError ? e : codedError("internal", e instanceof Error ? e.message : String(e), e);
}

/** Builds the `agentauthz/mcp` module for a loader (`isEngine` recognizes its Engine). */
export function buildMcp(isEngine: (value: unknown) => boolean) {
  /** Every request is made by one agent (a stdio server started for it); `_meta` is ignored. */
  function fixedAgent(agent: string): IdentityResolver {
    if (typeof agent !== "string" || agent === "") throw new TypeError("fixedAgent needs an agent id");
    return () => ({ agent });
  }

  /** The agent and task of an agentauthz session token in the request's
   * `_meta` (`{"agentauthz/session": "v4.public..."}`), verified on every call. */
  function sessionFromMeta(options?: { key?: string; audience?: string | null }): IdentityResolver {
    const key = options?.key ?? SESSION_META_KEY;
    const audience = options?.audience ?? null;
    return (request) => {
      const token = own(own(request.params, "_meta"), key);
      return typeof token === "string" && token !== "" ? { session: { token, audience } } : null;
    };
  }

  /** The agent of the OAuth access token the SDK verified for this request
   * (`extra.authInfo`, set by its bearer-auth middleware): its `clientId` by
   * default, or what `agentOf(authInfo)` returns. With `resource`, a token
   * issued for another resource (RFC 8707) is refused; an expired one always is. */
  function accessTokenAgent(options?: {
    agentOf?: (authInfo: NonNullable<McpRequestExtra["authInfo"]>) => string | null | undefined;
    resource?: string | URL;
  }): IdentityResolver {
    const agentOf = options?.agentOf ?? ((info) => info.clientId);
    const resource = options?.resource === undefined ? null : resourceText(options.resource);
    return (_request, extra) => {
      const info = extra?.authInfo;
      if (info === null || typeof info !== "object") return null;
      if (typeof info.expiresAt === "number" && info.expiresAt * 1000 <= Date.now()) return null;
      if (resource !== null && (info.resource === undefined || resourceText(info.resource) !== resource)) return null;
      const agent = agentOf(info);
      return typeof agent === "string" && agent !== "" ? { agent } : null;
    };
  }

  /** The request's bearer token (an identity provider's JWT), verified by
   * agentauthz itself against `[identity.issuers]` on every call: signature,
   * issuer, this resource as audience (RFC 8707), expiry. Read from
   * `extra.authInfo.token` (the SDK's bearer-auth middleware) or the
   * request's `Authorization: Bearer` header (`extra.requestInfo`). */
  function bearerToken(): IdentityResolver {
    return (_request, extra) => {
      const fromAuth = own(own(extra, "authInfo"), "token");
      if (typeof fromAuth === "string" && fromAuth !== "") return { bearer: fromAuth };
      const headers = own(own(extra, "requestInfo"), "headers");
      let header: unknown = own(headers, "authorization");
      if (Array.isArray(header)) header = header.length === 1 ? header[0] : undefined;
      if (typeof header !== "string") return null;
      const m = /^Bearer +([^\s]+)$/i.exec(header.trim());
      return m?.[1] ? { bearer: m[1] } : null;
    };
  }

  function guardHandler(options: GuardOptions, handler: Handler, sdkServer: ElicitingServer | undefined): Handler {
    const { engine, server, identity, namespace } = options;
    const report = (method: string, tool: unknown, id: unknown, outcome: Decision | AuthzError) => {
      try {
        options.onDecision?.(method, tool, id, outcome);
      } catch {
        // A failing observer changes no decision.
      }
    };

    /**
     * Asks the client's user by form elicitation, when the client declared
     * it. Returns whether an answer came back (the call is then checked
     * again). An accepted approving form is `engine.approve` by the user
     * `approver` names, which the engine's `agentauthz:approve` check may
     * refuse; any failure leaves the call pending.
     */
    async function askApproval(
      tool: unknown,
      args: unknown,
      decision: Decision,
      request: McpRequest,
      extra: McpRequestExtra,
    ): Promise<boolean> {
      if (options.elicit === false || sdkServer === undefined || typeof sdkServer.elicitInput !== "function") return false;
      try {
        if (sdkServer.getClientCapabilities?.()?.elicitation?.form === undefined) return false;
      } catch {
        return false;
      }
      const approving = typeof options.approver === "function";
      let message =
        `The agent wants to call tool ${JSON.stringify(tool)} with arguments ${shortJson(args)}. ` +
        `It needs approval by ${decision.approvers.join(", ")} (policy ${decision.reasons.join(", ")}; ` +
        `decision ${decision.decisionId}; request ${decision.requestDigest}).`;
      if (!approving) message += " An approver must approve it in the application; this form only notifies.";
      let answer: { action?: unknown; content?: unknown };
      try {
        answer = await sdkServer.elicitInput(
          { mode: "form", message, requestedSchema: approving ? APPROVE_SCHEMA : NOTIFY_SCHEMA },
          extra?.requestId === undefined ? undefined : { relatedRequestId: extra.requestId },
        );
      } catch {
        return false; // a client that fails to answer (or answers off the form): still pending
      }
      const action = own(answer, "action");
      if (approving && action === "accept" && own(own(answer, "content"), "approve") === true) {
        try {
          const user = await (options.approver as ApproverResolver)(request, extra);
          if (typeof user === "string" && user !== "") {
            (engine as { approve(d: Decision, o: { by: string }): unknown }).approve(decision, { by: user });
          }
        } catch {
          // approval_refused, or a failing resolver: the call stays pending.
        }
      }
      return typeof action === "string";
    }

    async function onCall(request: McpRequest, extra: McpRequestExtra): Promise<unknown> {
      const tool = own(request?.params, "name");
      const id = extra?.requestId;
      const refuse = (e: unknown) => {
        const error = errorOf(e);
        report("tools/call", tool, id, error);
        return refusedResult(tool, error.code, error.message);
      };
      // The handler gets the very params that were checked: a copy through
      // JSON, so no getter, toJSON or later change (an in-process transport
      // passes objects by reference) can show it other arguments.
      let params: Record<string, unknown>;
      try {
        const raw = request?.params;
        if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
          throw codedError("request_invalid", "tools/call `params` must be an object");
        }
        params = JSON.parse(JSON.stringify(raw)) as Record<string, unknown>;
      } catch (e) {
        return refuse(e instanceof AuthzError ? e : codedError("request_parse", `tools/call params: ${errorOf(e).message}`));
      }
      const checkedRequest = { ...request, params };
      let who: McpIdentity | null | undefined;
      try {
        who = await identity(checkedRequest, extra);
      } catch (e) {
        return refuse(e);
      }
      if (who === null || who === undefined) {
        return {
          content: [{ type: "text", text: `agentauthz denied tool ${JSON.stringify(tool)}: no identity for this request` }],
          isError: true,
          _meta: { "agentauthz/error": { code: "session_invalid" } },
        };
      }
      const name = own(params, "name");
      const args = own(params, "arguments") as Record<string, unknown> | null | undefined;
      const check = () =>
        mcpGuardCall(engine, {
          identity: who,
          server,
          namespace: namespace ?? null,
          // Not a string: an empty name, which the core refuses (request_invalid).
          tool: typeof name === "string" ? name : "",
          arguments: args,
        });
      let checked: ReturnType<typeof mcpGuardCall>;
      try {
        checked = check();
      } catch (e) {
        return refuse(e);
      }
      report("tools/call", tool, id, checked.decision);
      if (checked.decision.requiresApproval) {
        if (await askApproval(tool, args, checked.decision, checkedRequest, extra)) {
          // Checked again: only an approval the engine recorded lets it run.
          try {
            checked = check();
          } catch (e) {
            return refuse(e);
          }
          report("tools/call", tool, id, checked.decision);
        }
        if (checked.decision.requiresApproval) return pendingResult(tool, checked.decision, checked.result);
      }
      if (checked.result !== null || !checked.decision.allowed) {
        return checked.result ?? refusedResult(tool, "internal", "denied");
      }
      return handler(checkedRequest, extra);
    }

    async function onList(request: McpRequest, extra: McpRequestExtra): Promise<unknown> {
      const result = await handler(request, extra);
      const tools = own(result, "tools");
      if (!Array.isArray(tools)) return result;
      let listed = new Set<string>();
      try {
        const who = await identity(request, extra);
        if (who !== null && who !== undefined) {
          const names = tools.map((t) => own(t, "name")).filter((n): n is string => typeof n === "string");
          const engineFor = engine as { mcpListableTools(input: object): string[] };
          listed = new Set(engineFor.mcpListableTools({ identity: who, server, namespace: namespace ?? null, tools: names }));
        }
      } catch (e) {
        report("tools/list", null, extra?.requestId, errorOf(e));
      }
      return { ...(result as object), tools: tools.filter((t) => listed.has(own(t, "name") as string)) };
    }

    return (request, extra) => {
      const kind = kindOf(request?.method);
      if (kind === "call") return onCall(request, extra);
      if (kind === "list") return onList(request, extra);
      return handler(request, extra);
    };
  }

  /**
   * Guards an `McpServer` or a low-level `Server` of `@modelcontextprotocol/sdk`:
   * every `tools/call` is decided before its handler runs (a denied one is
   * answered with a tool error result carrying the reasons and `decision_id`;
   * the handler never runs), and `tools/list` lists only the tools the caller
   * could be allowed to call. Handlers registered before or after are guarded.
   * Returns `target`.
   */
  function guardMcpServer<T extends object>(target: T, options: GuardOptions): T {
    if (options === null || typeof options !== "object") throw new TypeError("guardMcpServer(server, options): options must be an object");
    if (!isEngine(options.engine)) throw new TypeError("guardMcpServer: `engine` must be an agentauthz Engine");
    if (typeof options.server !== "string" || options.server === "")
      throw new TypeError("guardMcpServer: `server` (the server's name) is required");
    if (typeof options.identity !== "function") {
      throw new TypeError("guardMcpServer: `identity` is required (fixedAgent(id), sessionFromMeta(), accessTokenAgent(), bearerToken())");
    }
    if (options.elicit !== undefined && typeof options.elicit !== "boolean")
      throw new TypeError("guardMcpServer: `elicit` must be a boolean");
    if (options.approver !== undefined && typeof options.approver !== "function") {
      throw new TypeError("guardMcpServer: `approver` must be a function returning the authenticated user's id");
    }
    const opts: GuardOptions = { ...options };
    // An McpServer holds its low-level Server in `.server`; a Server is the Protocol itself.
    const direct = (target as { _requestHandlers?: unknown })._requestHandlers;
    const inner = (target as { server?: { _requestHandlers?: unknown } }).server;
    const protocol = direct instanceof Map ? target : inner;
    const handlers = (protocol as { _requestHandlers?: unknown } | undefined)?._requestHandlers;
    if (!(handlers instanceof Map)) {
      // Fail closed: a server whose handlers the guard cannot reach is not served unguarded.
      throw new TypeError("guardMcpServer: not an McpServer or Server of @modelcontextprotocol/sdk 1.x (no request-handler table)");
    }
    const table = handlers as Map<string, Handler>;
    const sdkServer = protocol as ElicitingServer;
    for (const [method, handler] of table) {
      if (kindOf(method) !== null) Map.prototype.set.call(table, method, guardHandler(opts, handler, sdkServer));
    }
    const previousSet = table.set;
    Object.defineProperty(table, "set", {
      value(method: string, handler: Handler) {
        return previousSet.call(this, method, kindOf(method) !== null ? guardHandler(opts, handler, sdkServer) : handler);
      },
      configurable: true,
      writable: true,
    });
    // The fallback handler answers methods without a handler of their own.
    const p = protocol as { fallbackRequestHandler?: Handler };
    let fallback = p.fallbackRequestHandler === undefined ? undefined : guardHandler(opts, p.fallbackRequestHandler, sdkServer);
    Object.defineProperty(p, "fallbackRequestHandler", {
      get: () => fallback,
      set: (h: Handler | undefined) => {
        fallback = h === undefined ? undefined : guardHandler(opts, h, sdkServer);
      },
      configurable: true,
      enumerable: true,
    });
    return target;
  }

  return { guardMcpServer, fixedAgent, sessionFromMeta, accessTokenAgent, bearerToken, SESSION_META_KEY, APPROVAL_META_KEY };
}

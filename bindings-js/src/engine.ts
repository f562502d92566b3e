// The Engine's methods, shared by Node and WASM: argument validation, name
// mapping, one native call, the answer converted back, and the decision
// records of that call handed to a function sink before the method returns.
// A loader provides the native engine behind each JS engine (`NATIVE`).

import { Decision } from "./decision.js";
import { call, codedError, type ErrorCode, readArgs, RequestError, text } from "./errors.js";
import type { NativeEngine } from "./native.js";
import { claimsFromWire, GRANT_KEYS, grantFromWire, renamed, requestToWire, SESSION_INPUT_KEYS, TASK_KEYS } from "./names.js";
import type {
  ApproveOptions,
  ChangeOptions,
  CheckRequest,
  DecisionLogHead,
  DecisionLogStats,
  Grant,
  GrantRequest,
  IssuedSession,
  IssueSessionInput,
  McpCallInput,
  ToolCallInput,
  McpListInput,
  McpSchemaInput,
  PolicyWarning,
  RotateOptions,
  SessionClaims,
  SessionKeysInput,
  SessionRequest,
  StringsInput,
  TokenClaims,
  TokenRequest,
  TaskSpec,
  TransferOptions,
  VerifySessionOptions,
} from "./types.js";
import { wireText } from "./wire.js";
import type {
  Approval,
  ApprovalRequest,
  Change,
  DecisionJson,
  DecisionRecord,
  EngineMetrics,
  GrantWire,
  JournalEntry,
  LockdownStatus,
  McpSchema,
  SessionClaimsWire,
  Usage,
} from "./wire-types.js";

/** The key under which a JS engine gives its native engine. */
export const NATIVE: unique symbol = Symbol.for("agentauthz.nativeEngine");

/** A decision-log sink: called with each record, in order, right after the call that made it. */
export type DecisionLogSink = (record: DecisionRecord) => void;

/** Called with each new request that starts waiting for a human. */
export type ApprovalRequestCallback = (request: ApprovalRequest) => void;

const RP: ErrorCode = "request_parse";
const LI: ErrorCode = "lifecycle_invalid";
const GI: ErrorCode = "grant_invalid";
const SI: ErrorCode = "session_invalid";
const KI: ErrorCode = "key_invalid";
const UI: ErrorCode = "usage_invalid";
const AI: ErrorCode = "approval_invalid";

/** `{decision_id | request, by, uses?, ttl_seconds?}` of approve / reject. */
function approvalArgs(target: unknown, options: unknown): Record<string, unknown> {
  return readArgs(AI, () => {
    const o = (options ?? {}) as ApproveOptions;
    const args: Record<string, unknown> = { by: o.by };
    if (typeof target === "string") args.decision_id = target;
    else if (target instanceof Decision) args.decision_id = target.decisionId;
    else if (target !== null && typeof target === "object" && "request" in target) {
      args.request = requestToWire((target as { request: CheckRequest }).request);
    } else {
      throw codedError(AI, "approve / reject take a decision id, a Decision, or {request}");
    }
    // Passed on as given: the core refuses bad values (and both on reject).
    if (o.uses !== undefined) args.uses = o.uses;
    if (o.ttl !== undefined) args.ttl_seconds = o.ttl;
    return args;
  });
}

/** JSON text of the value `make()` builds from the caller's argument; a value
 * JSON cannot hold (cycles, BigInt, extreme depth, a getter or Proxy that
 * throws) is a coded error (see wire.ts). */
export function stringify(make: () => unknown, code: ErrorCode, what = "request"): string {
  return wireText(make, code, what, codedError);
}

/** Bundle texts as JSON text; anything but an object is `bundle_invalid`. */
export function bundleJson(input: unknown): string {
  if (input === null || typeof input !== "object") {
    throw codedError("bundle_invalid", "expected {schema, policies, inventory?, config?}");
  }
  return stringify(() => input, "bundle_invalid", "bundle");
}

/** `{by}` of a change's options: who makes it. */
export function byOf(options: unknown): string {
  const by = readArgs(LI, () => (options as ChangeOptions | undefined)?.by);
  return text(by, LI, "a change needs {by: string}: who makes it; `by`");
}

// ---------------------------------------------------------------- callbacks

interface Sink {
  fn: DecisionLogSink;
  /** The first error the sink threw since the last flush. */
  error: { error: unknown } | null;
}

/** Per JS engine with a function sink. */
const sinks = new WeakMap<object, Sink>();

function sinkOf(engine: unknown): Sink | undefined {
  return engine !== null && typeof engine === "object" ? sinks.get(engine) : undefined;
}

/** Hands the records the last native call queued to the engine's function
 * sink, in order. A sink that throws does not change the decision: its first
 * error is kept and thrown by `flushDecisionLog()`. */
function deliver(engine: object, native: NativeEngine): void {
  deliverApprovalRequests(engine, native);
  const sink = sinkOf(engine);
  if (sink === undefined) return;
  const records = call(() => native.takeDecisionRecordsJson());
  if (records === "[]") return;
  for (const record of JSON.parse(records) as DecisionRecord[]) {
    try {
      sink.fn(record);
    } catch (error) {
      sink.error ??= { error };
    }
  }
}

/** Per JS engine with an `onApprovalRequest` callback. */
const approvalCallbacks = new WeakMap<object, ApprovalRequestCallback>();

/** Hands the requests the last native call started waiting to the engine's
 * `onApprovalRequest` callback. What it throws goes to `console.error`: a
 * broken notifier must not change, or lose, the agent's decision. */
function deliverApprovalRequests(engine: object, native: NativeEngine): void {
  const callback = approvalCallbacks.get(engine);
  if (callback === undefined) return;
  const requests = call(() => native.takeApprovalRequestsJson());
  if (requests === "[]") return;
  for (const request of JSON.parse(requests) as ApprovalRequest[]) {
    try {
      callback(request);
    } catch (error) {
      try {
        console.error("agentauthz: the onApprovalRequest callback threw:", error);
      } catch {
        // Nowhere left to report it; the decision stands.
      }
    }
  }
}

/** Calls `f` on the native engine (a failure an AuthzError, `code` unless the
 * core gave its own), then delivers the records it made, even when it failed. */
function recorded<T>(engine: object, native: NativeEngine, code: ErrorCode, f: (n: NativeEngine) => T): T {
  try {
    return call(() => f(native), code);
  } finally {
    deliver(engine, native);
  }
}

function nativeOf(engine: unknown): NativeEngine {
  const hook = readArgs("request_invalid", () =>
    engine !== null && (typeof engine === "object" || typeof engine === "function")
      ? (engine as { [NATIVE]?: unknown })[NATIVE]
      : undefined,
  );
  if (typeof hook !== "function") throw codedError("request_invalid", "not an agentauthz Engine: a method was called on another `this`");
  return hook.call(engine) as NativeEngine;
}

function isSessionRequest(request: unknown): boolean {
  return request !== null && typeof request === "object" && (request as { session?: unknown }).session !== undefined;
}

/** `check({session, ...})`: the session form. */
function checkSession(engine: object, request: SessionRequest): Decision {
  if (readArgs(RP, () => (request as { agent?: unknown }).agent) !== undefined) {
    const message = "give exactly one of `agent` and `session`";
    throw new RequestError(`[request_invalid] ${message}`, { code: "request_invalid", details: [{ message }] });
  }
  const json = stringify(() => requestToWire(request), RP);
  const native = nativeOf(engine);
  return new Decision(JSON.parse(recorded(engine, native, RP, (n) => n.checkSessionJson(json))) as DecisionJson);
}

function isTokenRequest(request: unknown): boolean {
  return request !== null && typeof request === "object" && (request as { token?: unknown }).token !== undefined;
}

/** `check({token, ...})`: the token form. */
function checkToken(engine: object, request: TokenRequest): Decision {
  const other = readArgs(RP, () => {
    const r = request as { agent?: unknown; session?: unknown };
    return r.agent !== undefined || r.session !== undefined;
  });
  if (other) {
    const message = "give exactly one of `agent`, `session` and `token`";
    throw new RequestError(`[request_invalid] ${message}`, { code: "request_invalid", details: [{ message }] });
  }
  const json = stringify(() => requestToWire(request), RP);
  const native = nativeOf(engine);
  return new Decision(JSON.parse(recorded(engine, native, RP, (n) => n.checkTokenJson(json))) as DecisionJson);
}

/** Decision-log options of Node (a file sink). */
export interface DecisionLogOptions {
  /** Rotate the file before it would grow past this many bytes. */
  maxBytes?: number;
}

/**
 * The methods of an agentauthz Engine. The WASM `Engine` extends it; the
 * Node loader copies its members onto the native addon's `Engine` class.
 * Per-engine state lives in WeakMaps, not in fields, for that reason.
 */
export abstract class EngineBase {
  /** The native engine behind this one (the loader's). */
  protected abstract [NATIVE](): NativeEngine;

  /** Decides one request. A deny is a Decision; only bad input throws. */
  check(request: CheckRequest | SessionRequest | TokenRequest): Decision {
    if (readArgs(RP, () => isTokenRequest(request))) return checkToken(this, request as TokenRequest);
    if (readArgs(RP, () => isSessionRequest(request))) return checkSession(this, request as SessionRequest);
    const json = stringify(() => requestToWire(request), RP);
    const native = nativeOf(this);
    return new Decision(JSON.parse(recorded(this, native, RP, (n) => n.checkJson(json))) as DecisionJson);
  }

  /** Decides a framework's tool call: `action` (`null`: the tool has none, a
   * deny with reason `baseline/unknown-action`), `input` the tool's
   * arguments, coerced to the schema's type of `context.input`. Exactly one
   * of `agent` and `session`. A deny is a Decision; bad input throws a
   * coded error (`RequestError` for arguments that do not fit). */
  checkToolCall(input: ToolCallInput): Decision {
    const json = stringify(() => requestToWire(input), RP, "tool call");
    const native = nativeOf(this);
    return new Decision(JSON.parse(recorded(this, native, RP, (n) => n.checkToolCallJson(json))) as DecisionJson);
  }

  /** Decides an MCP `tools/call` (`{identity, server, tool, arguments}`): the
   * tool `T` of the server `S` is the action `"S:T"` on `McpServer::"S"`, its
   * arguments are `context.input`. */
  mcpCheckCall(input: McpCallInput): Decision {
    const json = stringify(() => input, RP, "MCP tools/call input");
    const native = nativeOf(this);
    return new Decision(JSON.parse(recorded(this, native, RP, (n) => n.mcpCheckCallJson(json))) as DecisionJson);
  }

  /** Of `tools`, the names to show the caller in `tools/list`: those some
   * request could be allowed for (each call is still checked). */
  mcpListableTools(input: McpListInput): string[] {
    const json = stringify(() => input, RP, "MCP tools/list input");
    const native = nativeOf(this);
    return JSON.parse(call(() => native.mcpListableToolsJson(json), RP)) as string[];
  }

  /** `check` in the core's wire format: the request JSON text in, the Decision JSON text out (snake_case). */
  checkJson(request: string): string {
    text(request, RP, "checkJson's request (JSON text)");
    const native = nativeOf(this);
    return recorded(this, native, RP, (n) => n.checkJson(request));
  }

  /** Decides many requests against one snapshot. All or nothing: the first bad request throws, its index in the message. */
  checkBatch(requests: readonly CheckRequest[]): Decision[] {
    if (!readArgs(RP, () => Array.isArray(requests))) throw codedError(RP, "checkBatch expects an array of requests");
    const json = stringify(() => requests.map(requestToWire), RP, "requests");
    const native = nativeOf(this);
    const out = JSON.parse(recorded(this, native, RP, (n) => n.checkBatchJson(json))) as DecisionJson[];
    return out.map((d) => new Decision(d));
  }

  /**
   * Sets the decision-log sink: a function (called with each record, in
   * order, right after the call that made it), a JSON-lines file path (where
   * there is a filesystem; `'-'`: standard output), or `null` to stop logging.
   */
  setDecisionLog(sink: DecisionLogSink | string | URL | null, options?: DecisionLogOptions): void {
    const native = nativeOf(this);
    const [kind, maxBytes] = readArgs("config_invalid", () => {
      const max = options?.maxBytes;
      if (max !== undefined && !(Number.isSafeInteger(max) && max > 0)) {
        throw codedError("config_invalid", "decision log: maxBytes must be a positive integer");
      }
      if (sink === null || sink === undefined) return ["none", null] as const;
      if (typeof sink === "function") return ["callback", null] as const;
      if (native.setDecisionLogPath !== undefined && (typeof sink === "string" || (typeof URL !== "undefined" && sink instanceof URL))) {
        return ["path", max ?? null] as const;
      }
      const what =
        native.setDecisionLogPath === undefined ? "a function or null (there is no filesystem)" : "a function, a file path, or null";
      throw codedError("config_invalid", `decision log: the sink must be ${what}`);
    });
    if (kind === "path") call(() => native.setDecisionLogPath?.(sink as string | URL, maxBytes), "config_invalid");
    else call(() => native.setDecisionLogQueue(kind === "callback"), "config_invalid");
    if (kind === "callback") sinks.set(this, { fn: sink as DecisionLogSink, error: null });
    else sinks.delete(this);
  }

  /** Throws the first error a function sink threw since the previous flush, then writes buffered records out. */
  flushDecisionLog(): void {
    const sink = sinkOf(this);
    const failed = sink?.error ?? null;
    if (sink !== undefined) sink.error = null;
    if (failed !== null) throw failed.error;
    const native = nativeOf(this);
    if (native.flushDecisionLog !== undefined) call(() => native.flushDecisionLog?.());
  }

  /** `{seq, hash}` of the last record logged, or `null` without a sink. */
  get decisionLogHead(): DecisionLogHead | null {
    const native = nativeOf(this);
    return JSON.parse(call(() => native.decisionLogHeadJson())) as DecisionLogHead | null;
  }

  /**
   * The exporting sink's counters (`[log.otlp]`, `[log.syslog]`): records
   * spooled, acknowledged, sent, dropped, damaged, failed deliveries, spool
   * bytes and the last failure; `null` for any other sink.
   */
  get decisionLogStats(): DecisionLogStats | null {
    const native = nativeOf(this);
    return JSON.parse(call(() => native.decisionLogStatsJson())) as DecisionLogStats | null;
  }

  /** The enforcement mode: `'enforce'` or `'log-only'` (`[engine] mode`). */
  get mode(): "enforce" | "log-only" {
    const native = nativeOf(this);
    return call(() => native.mode) as "enforce" | "log-only";
  }

  /** What a forbid whose evaluation errors does: `'deny'` (fail closed, the
   * default) or `'skip'` (Cedar's rule) — `[engine] on_error`. */
  get onError(): "deny" | "skip" {
    const native = nativeOf(this);
    return call(() => native.onError) as "deny" | "skip";
  }

  /** The content hash of the active bundle (`sha256:…`). */
  get policyRevision(): string {
    const native = nativeOf(this);
    return call(() => native.policyRevision);
  }

  /** Forbids of the active bundle that may error at run time (or never match), with where they are. */
  warnings(): PolicyWarning[] {
    const native = nativeOf(this);
    return JSON.parse(call(() => native.warningsJson())) as PolicyWarning[];
  }

  /** Journal changes that no longer applied to the bundle when the engine was
   * last built, reloaded or restored, described. */
  skippedChanges(): string[] {
    const native = nativeOf(this);
    return JSON.parse(call(() => native.skippedChangesJson(), LI)) as string[];
  }

  /** Swaps in a new bundle (its texts, or a directory where there is a filesystem) atomically; on error the current one stays active. */
  reload(source: StringsInput | string | URL): void {
    const native = nativeOf(this);
    const dir = readArgs("bundle_invalid", () =>
      native.reloadDir !== undefined && (typeof source === "string" || (typeof URL !== "undefined" && source instanceof URL))
        ? source
        : null,
    );
    if (dir !== null) {
      recorded(this, native, "bundle_invalid", (n) => n.reloadDir?.(dir));
      return;
    }
    const json = bundleJson(source);
    recorded(this, native, "bundle_invalid", (n) => n.reloadJson(json));
  }

  // ------------------------------------------------------------ run-time changes

  /** Grants `actions` on `resource` (and anything in it) to an agent from
   * `starts` (default: now) for `ttlSeconds` or `until`. Decisions it allows
   * have the reason `grant/<id>`; a `forbid` still wins. */
  grant(request: GrantRequest): Grant {
    const json = stringify(() => renamed(request, GRANT_KEYS, GI, "grant request"), GI, "grant request");
    const native = nativeOf(this);
    return grantFromWire(JSON.parse(recorded(this, native, GI, (n) => n.grantJson(json))) as GrantWire);
  }

  /** The grants in force (not expired, not revoked), of one agent or all, by id. */
  grants(agent?: string | null): Grant[] {
    const who = readArgs(LI, () => (agent === undefined || agent === null ? null : text(agent, LI, "agent")));
    const native = nativeOf(this);
    return (JSON.parse(call(() => native.grantsJson(who), LI)) as GrantWire[]).map(grantFromWire);
  }

  /** The Cedar text of a grant in force, or `null`. */
  grantPolicyText(grantId: string): string | null {
    text(grantId, LI, "grantId");
    const native = nativeOf(this);
    return call(() => native.grantPolicyText(grantId), LI) ?? null;
  }

  /** Ends a grant before its expiry. */
  revoke(grantId: string, options: ChangeOptions): void {
    this.apply({ op: "revoke", grant: grantId }, options);
  }

  /** The agent may not act until reactivated. */
  suspend(agent: string, options: ChangeOptions): void {
    this.apply({ op: "suspend", agent }, options);
  }

  /** A suspended agent may act again. */
  reactivate(agent: string, options: ChangeOptions): void {
    this.apply({ op: "reactivate", agent }, options);
  }

  /** Final: the agent is offboarded; its grants and tasks are revoked, its credentials marked revoked. */
  offboard(agent: string, options: ChangeOptions): void {
    this.apply({ op: "offboard", agent }, options);
  }

  /** A credential was rotated: issued now, valid until `expires`. */
  rotateCredential(credential: string, options: RotateOptions): void {
    const expires = readArgs(LI, () => options?.expires);
    // A Date becomes RFC 3339 text in `apply`.
    this.apply({ op: "rotate_credential", credential, expires: expires as string }, options);
  }

  /** The agent's accountable owner becomes the user `owner`. */
  transferOwner(agent: string, options: TransferOptions): void {
    const owner = readArgs(LI, () => options?.owner);
    this.apply({ op: "transfer_owner", agent, owner }, options);
  }

  /** Adds a task (a just-in-time scope with a window) for an agent. */
  addTask(task: TaskSpec, options: ChangeOptions): void {
    const wire = readArgs(LI, () => renamed(task, TASK_KEYS, LI, "task"));
    this.apply({ op: "add_task", ...(wire as object) } as Change, options);
  }

  /** Applies one change in its journal form (`{op: 'suspend', agent}`, ...);
   * returns the journal entry `{seq, at, by, op, ...}`. */
  apply(change: Change, options: ChangeOptions): JournalEntry {
    const by = byOf(options);
    const json = stringify(() => renamed(change, {}, LI, "change"), LI, "change");
    const native = nativeOf(this);
    return JSON.parse(recorded(this, native, LI, (n) => n.applyJson(json, by))) as JournalEntry;
  }

  // ------------------------------------------------------------ limits, lockdown

  /** Emergency stop: every agent request is denied (reason `baseline/lockdown`)
   * until `liftLockdown`; journaled and recorded like every change. */
  lockdown(reason: string, options: ChangeOptions): void {
    this.apply({ op: "lockdown", reason }, options);
  }

  /** Ends the emergency stop (`lifecycle_invalid` when none is in force). */
  liftLockdown(options: ChangeOptions): void {
    this.apply({ op: "lift_lockdown" }, options);
  }

  /**
   * Counters since the engine was built: decisions by outcome, action and
   * first reason (bounded; the rest under the action `other`), the
   * check-latency histogram, the exporting log sink's queue depth and spool
   * size, a fleet store's staleness.
   */
  metrics(): EngineMetrics {
    const native = nativeOf(this);
    return JSON.parse(call(() => native.metricsJson())) as EngineMetrics;
  }

  /** The emergency stop in force `{reason, since, by}`, or `null`. */
  lockdownStatus(): LockdownStatus | null {
    const native = nativeOf(this);
    return JSON.parse(call(() => native.lockdownStatusJson(), LI)) as LockdownStatus | null;
  }

  /** Records `units` (a whole number) of cost `kind` (`"tokens"`, `"usd_cents"`)
   * spent by `agent`; policies see the sums as `context.usage.units_1h.<kind>`. */
  recordUsage(agent: string, units: number, kind: string): void {
    text(agent, UI, "agent");
    text(kind, UI, "kind");
    if (typeof units !== "number") throw codedError(UI, `units must be a number, not ${typeof units}`);
    const native = nativeOf(this);
    call(() => native.recordUsage(agent, units, kind), UI);
  }

  /** What the agent's next check sees as `context.usage` (keys as policies
   * read them: `calls_1h`, `action.calls_1h`, `units_1h.tokens`, ...). */
  usage(agent: string, action?: string | null): Usage {
    text(agent, UI, "agent");
    const act = action === undefined || action === null ? null : text(action, UI, "action");
    const native = nativeOf(this);
    return JSON.parse(call(() => native.usageJson(agent, act), UI)) as Usage;
  }

  // ------------------------------------------------------------ human approval

  /** Approves a request held back by `@approval` forbids: a waiting
   * decision (its `decisionId` or the Decision) or `{request}` (as for
   * `check`). `by` must pass the `agentauthz:approve` check (else
   * `approval_refused`). Allows `uses` (default 1) checks of exactly that
   * request within `ttl` seconds (default 900). Journaled like every change. */
  approve(target: string | Decision | { request: CheckRequest }, options: ApproveOptions): Approval {
    const json = stringify(() => approvalArgs(target, options), AI, "approval");
    const native = nativeOf(this);
    return JSON.parse(recorded(this, native, AI, (n) => n.approveJson(json))) as Approval;
  }

  /** Rejects a waiting request (who may reject is who may approve); returns it. */
  reject(target: string | Decision | { request: CheckRequest }, options: ChangeOptions): ApprovalRequest {
    const json = stringify(() => approvalArgs(target, options), AI, "rejection");
    const native = nativeOf(this);
    return JSON.parse(recorded(this, native, AI, (n) => n.rejectJson(json))) as ApprovalRequest;
  }

  /** Requests waiting for approval, of one agent or all, oldest first. */
  approvals(agent?: string | null): ApprovalRequest[] {
    const who = readArgs(AI, () => (agent === undefined || agent === null ? null : text(agent, AI, "agent")));
    const native = nativeOf(this);
    return JSON.parse(call(() => native.approvalsJson(who), AI)) as ApprovalRequest[];
  }

  /** Calls `callback(request)` once for each new request that starts waiting
   * for approval, right after the check that made it (to notify a human);
   * `null` removes it. What it throws is reported on `console.error`, never
   * to the agent: the check's decision stands. */
  onApprovalRequest(callback: ApprovalRequestCallback | null): void {
    if (callback !== null && callback !== undefined && typeof callback !== "function") {
      throw codedError(AI, "onApprovalRequest takes a function or null");
    }
    const native = nativeOf(this);
    const on = typeof callback === "function";
    call(() => native.setApprovalQueue(on), AI);
    if (on) approvalCallbacks.set(this, callback);
    else approvalCallbacks.delete(this);
  }

  // ------------------------------------------------------------ sessions

  /** Issues a session token for an active agent (and a task of its own):
   * `{token, claims}`. `ttlSeconds` is capped by `[sessions] max_ttl_seconds`. */
  issueSession(input: IssueSessionInput): IssuedSession {
    const json = stringify(() => renamed(input, SESSION_INPUT_KEYS, SI, "session input"), SI, "session input");
    const native = nativeOf(this);
    const out = JSON.parse(call(() => native.issueSessionJson(json), SI)) as { token: string; claims: SessionClaimsWire };
    return { token: out.token, claims: claimsFromWire(out.claims) };
  }

  /** The verified claims of a session token (engine clock, revocations,
   * agent standing); throws the reason it is refused. */
  verifySession(token: string, options?: VerifySessionOptions): SessionClaims {
    text(token, SI, "a session token");
    const audience = readArgs(SI, () => options?.audience);
    if (audience !== undefined && audience !== null) text(audience, SI, "audience");
    const native = nativeOf(this);
    return claimsFromWire(JSON.parse(call(() => native.verifySessionJson(token, audience ?? null), SI)) as SessionClaimsWire);
  }

  /** What an identity provider's token says once verified against
   * `[identity.issuers]` (engine clock); a refused token throws a `TokenError`. */
  verifyToken(token: string): TokenClaims {
    text(token, RP, "a token");
    const native = nativeOf(this);
    return JSON.parse(call(() => native.verifyTokenJson(token), RP)) as TokenClaims;
  }

  /** Replaces the keys of the configured issuer whose `iss` is `issuer` with
   * a JWKS given as data (JSON text or object): a browser's way to give keys. */
  setIssuerJwks(issuer: string, jwks: string | object): void {
    text(issuer, RP, "an issuer");
    const json = typeof jwks === "string" ? jwks : stringify(() => jwks, RP, "JWKS");
    const native = nativeOf(this);
    call(() => native.setIssuerJwks(issuer, json), RP);
  }

  /** Revokes one session by its `sessionId`; `by` names who does it. */
  revokeSession(sessionId: string, options: ChangeOptions): void {
    text(sessionId, LI, "sessionId");
    const by = byOf(options);
    const native = nativeOf(this);
    recorded(this, native, LI, (n) => n.revokeSession(sessionId, by));
  }

  /** Replaces the session keys: `signing: {kid, key}` (a secret key, PASERK
   * or PEM) and/or `verifying: {kid: publicKey}` (a verifier passes only these). */
  setSessionKeys(keys: SessionKeysInput): void {
    const json = stringify(() => keys ?? {}, KI, "session keys");
    const native = nativeOf(this);
    call(() => native.setSessionKeysJson(json), KI);
  }

  /** The public session keys `{kid: 'k4.public.…'}`, to hand to verifiers. */
  sessionPublicKeys(): Record<string, string> {
    const native = nativeOf(this);
    return JSON.parse(call(() => native.sessionPublicKeysJson())) as Record<string, string>;
  }
}

// ---------------------------------------------------------------- MCP

/** The Cedar schema fragment of a `tools/list` result, through a loader's native function. */
export function schemaFromMcpWith(native: (input: string) => string, input: McpSchemaInput): McpSchema {
  if (!readArgs("schema_invalid", () => input !== null && typeof input === "object")) {
    throw codedError("schema_invalid", "schemaFromMcp expects {tools, server?, namespace?}");
  }
  const json = stringify(() => input, "schema_invalid", "MCP schema input");
  return JSON.parse(call(() => native(json), "schema_invalid")) as McpSchema;
}

/** A guard's check of a `tools/call`: the Decision, and the tool error result
 * that answers it when denied (the core's, the one the stdio proxy sends). */
export function mcpGuardCall(engine: object, input: McpCallInput): { decision: Decision; result: Record<string, unknown> | null } {
  const json = stringify(() => input, RP, "MCP tools/call input");
  const native = nativeOf(engine);
  const out = JSON.parse(recorded(engine, native, RP, (n) => n.mcpGuardCallJson(json))) as {
    decision: DecisionJson;
    result: Record<string, unknown> | null;
  };
  return { decision: new Decision(out.decision), result: out.result };
}

// The agentauthz WASM API: camelCase JS values over the raw wasm-bindgen module.
// Each method converts its arguments to the wire JSON, calls one export, and
// converts the answer back. No authorization logic lives here.

import type { ErrorCode, ErrorFamily } from "./codes.js";
import { FAMILY_OF } from "./codes.js";
import { describe, wireText } from "./wire.js";

export type { ErrorCode, ErrorFamily } from "./codes.js";

/** The raw engine exported by the wasm-bindgen module (JSON text in and out). */
export interface NativeEngine {
  checkJson(request: string): string;
  checkBatchJson(requests: string): string;
  reloadJson(input: string): void;
  setDecisionLogQueue(on: boolean): void;
  takeDecisionRecordsJson(): string;
  decisionLogHeadJson(): string;
  grantJson(request: string): string;
  grantsJson(agent?: string | null): string;
  grantPolicyText(grantId: string): string | undefined;
  applyJson(change: string, by: string): string;
  readonly policyRevision: string;
  readonly mode: string;
  readonly onError: string;
  warningsJson(): string;
  free(): void;
}

/** The raw manual clock exported by the wasm-bindgen module. */
export interface NativeClock {
  set(at: string): void;
  advance(seconds: number): void;
  readonly now: string;
}

/** The parts of the raw wasm-bindgen module this wrapper uses. */
export interface NativeModule {
  WasmEngine: {
    fromStringsJson(input: string, trustCallerTime?: boolean | null): NativeEngine;
    fromStringsJsonWithClock(input: string, trustCallerTime: boolean | null, clock: NativeClock): NativeEngine;
  };
  WasmManualClock: new (start: string) => NativeClock;
  errorCodes(): unknown[];
  version(): string;
  __debugPanic(message: string): void;
  __wbg_reset_state?: () => void;
}

let native: NativeModule | undefined;
/** Bumped whenever the WASM instance is replaced after a panic or trap. */
let generation = 0;

/** Connects the wrapper to a raw module (done by the package's entry points). */
export function bindNative(module: NativeModule): void {
  native = module;
}

function raw(): NativeModule {
  if (native === undefined) {
    throw new InternalError("[internal] agentauthz WASM module is not bound", { code: "internal" });
  }
  return native;
}

// ---------------------------------------------------------------- requests

/** A typed entity reference. */
export interface EntityRef {
  type: string;
  id: string;
}

/** Agent form: an agent calls a tool (the action) on a resource. */
export interface AgentRequest {
  agent: string;
  action: string;
  resource: EntityRef;
  /** A Task id: the just-in-time scope the call runs under. */
  task?: string;
  /** A User id the agent acts for (`on_behalf_of` on the wire; either spelling works). */
  onBehalfOf?: string;
  on_behalf_of?: string;
  /** A Credential id the agent authenticated with. */
  credential?: string;
  /** Application context fields (`source_ip`, `endpoint`, `input`, ...). */
  context?: Record<string, unknown>;
  /** Time of the request; the JS clock (`Date.now()`) when absent. */
  now?: Date | string;
}

/** Cedar form: any Cedar request, evaluated as is. */
export interface CedarRequest {
  principal: EntityRef;
  action: EntityRef;
  resource: EntityRef;
  context?: Record<string, unknown>;
}

export type CheckRequest = AgentRequest | CedarRequest;

/** `fromStrings` / `reload` input: the texts of a bundle. */
export interface StringsInput {
  /** `schema.cedarschema` text (the app's types and actions; base types are merged in). */
  schema: string;
  /** Cedar policy text, several texts, or an object of file name to text. */
  policies: string | string[] | Record<string, string>;
  /** `inventory.yaml` or `.json` text, or a Cedar entities JSON array. */
  inventory?: string;
  /** `agentauthz.toml` text. */
  config?: string;
}

/** The wire (snake_case) form of a request. */
function toWire(request: unknown): unknown {
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    return request === undefined ? null : request;
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(request as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (key === "onBehalfOf") {
      if ("on_behalf_of" in (request as object)) {
        const message = "give onBehalfOf or on_behalf_of, not both";
        throw new RequestError(`[request_parse] ${message}`, { code: "request_parse", details: [{ message }] });
      }
      out.on_behalf_of = value;
    } else if (key === "now" && value instanceof Date) {
      out.now = Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
    } else {
      out[key] = value;
    }
  }
  return out;
}

// ---------------------------------------------------------------- decisions

/** A policy whose evaluation errored (Cedar skips it). */
export interface PolicyEvaluationError {
  policy: string;
  message: string;
}

/** The wire (JSON) form of a decision. */
export interface DecisionJson {
  decision: "allow" | "deny";
  reasons: string[];
  errors: PolicyEvaluationError[];
  decision_id: string;
  policy_revision: string;
}

/** The answer to one request. A deny is data, not an error. */
export class Decision {
  readonly allowed: boolean;
  readonly decision: "allow" | "deny";
  /** Ids of the policies (or built-in guards) that determined the decision, sorted. */
  readonly reasons: readonly string[];
  readonly errors: readonly PolicyEvaluationError[];
  readonly decisionId: string;
  readonly policyRevision: string;

  constructor(json: DecisionJson) {
    this.decision = json.decision;
    this.allowed = json.decision === "allow";
    this.reasons = Object.freeze(json.reasons);
    this.errors = Object.freeze(json.errors);
    this.decisionId = json.decision_id;
    this.policyRevision = json.policy_revision;
    Object.freeze(this);
  }

  /** The wire form, as every agentauthz surface prints it. */
  toJSON(): DecisionJson {
    return {
      decision: this.decision,
      reasons: [...this.reasons],
      errors: [...this.errors],
      decision_id: this.decisionId,
      policy_revision: this.policyRevision,
    };
  }
}

// ---------------------------------------------------------------- errors

export interface ErrorLocation {
  file: string;
  line: number;
  column: number;
}

export interface ErrorDetail {
  message: string;
  location?: ErrorLocation;
}

/** A load warning: a forbid that may error at run time (and so deny), or never match. */
export interface PolicyWarning {
  policy: string;
  kind: "absent_entity" | "overflow" | "extension" | "depth" | "impossible";
  message: string;
  location?: ErrorLocation;
}

/** The `code` and `family` of a stable error code. */
export interface ErrorCodeInfo {
  code: ErrorCode;
  family: ErrorFamily;
}

/** Every error agentauthz throws: a stable `code`, its `family`, and located details. */
export class AuthzError extends Error {
  /** The core's stable code, e.g. `"policy_parse"`. */
  readonly code: ErrorCode;
  readonly family: ErrorFamily;
  /** One entry per problem, located where the core knows the place. */
  readonly details: ErrorDetail[];

  constructor(message: string, info: { code?: ErrorCode; family?: ErrorFamily; details?: ErrorDetail[] } = {}) {
    super(message);
    this.name = new.target.name;
    this.code = info.code ?? "internal";
    this.family = info.family ?? FAMILY_OF[this.code];
    this.details = info.details ?? [{ message }];
  }
}

/** `io`, `bundle_invalid`, `config_invalid`. */
export class BundleError extends AuthzError {}
/** `schema_parse`, `schema_invalid`. */
export class SchemaError extends AuthzError {}
/** `policy_parse`, `policy_id_missing`, `policy_id_duplicate`, `policy_invalid`. */
export class PolicyError extends AuthzError {}
/** `inventory_parse`, `inventory_invalid`. */
export class InventoryError extends AuthzError {}
/** `request_parse`, `request_invalid`. */
export class RequestError extends AuthzError {}
/** `test_invalid`. */
export class TestError extends AuthzError {}
/** `grant_invalid`, `lifecycle_invalid`: a grant or lifecycle change names
 * something unknown, has a bad window, or is not allowed in the agent's state. */
export class LifecycleError extends AuthzError {}
/** `journal_corrupt`, `journal_locked` (there is no journal in the WASM package; the class is here for the table). */
export class JournalError extends AuthzError {}
/** `log_locked`, `log_corrupt` (there is no decision-log file in the WASM package; the class is here for the table). */
export class LogError extends AuthzError {}
/** `session_invalid`, `session_expired`, `session_revoked`, `key_invalid`. */
export class SessionError extends AuthzError {}
/** `input_too_deep` (a cycle too), `input_too_large`: an input past a `[limits]` bound, refused before it was parsed. */
export class LimitError extends AuthzError {}
/** `internal`: a bug; the operation was refused. */
export class InternalError extends AuthzError {}

const FAMILY_CLASSES: Record<ErrorFamily, typeof AuthzError> = {
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
};

/** The JS table of error codes; it equals the core's `errorCodes()`. */
export const ERROR_CODES: readonly ErrorCodeInfo[] = Object.freeze(
  (Object.keys(FAMILY_OF) as ErrorCode[]).map((code) => Object.freeze({ code, family: FAMILY_OF[code] })),
);

/** Every stable error code with its family, from the core. */
export function errorCodes(): ErrorCodeInfo[] {
  return raw().errorCodes() as ErrorCodeInfo[];
}

/** The `AuthzError` subclass for a code (`AuthzError` for an unknown one). */
export function errorClassFor(code: string): typeof AuthzError {
  return isKnownCode(code) ? FAMILY_CLASSES[FAMILY_OF[code]] : AuthzError;
}

/** The agentauthz core version. */
export function coreVersion(): string {
  return raw().version();
}

/** A fresh WASM instance; engines of the old one rebuild on their next call. */
function resetInstance(): void {
  native?.__wbg_reset_state?.();
  generation += 1;
}

function isKnownCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.prototype.hasOwnProperty.call(FAMILY_OF, code);
}

/** The thrown value of a raw call as an AuthzError; resets the instance after a panic or trap. */
function convertError(e: unknown): AuthzError {
  const thrown = e as { code?: unknown; message?: unknown; details?: unknown; panic?: unknown };
  if (e instanceof Error && isKnownCode(thrown.code)) {
    if (thrown.panic === true) {
      // The instance aborted mid-call: replace it now (the hook's scheduled
      // reinit would run only after the next call marshalled its arguments
      // into the old memory). Engines rebuild lazily on the new instance.
      resetInstance();
    }
    const code = thrown.code;
    const details = Array.isArray(thrown.details) ? (thrown.details as ErrorDetail[]) : [];
    return new FAMILY_CLASSES[FAMILY_OF[code]](e.message, { code, details });
  }
  const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  // A trap the panic hook did not see (out of memory, stack overflow) leaves
  // the instance unusable: replace it before the next call.
  const trapped = e instanceof WebAssembly.RuntimeError || e instanceof RangeError;
  if (trapped) resetInstance();
  const message = trapped ? `internal error (the WASM instance was reset): ${what}` : `internal error: ${what}`;
  return new InternalError(message, { code: "internal", details: [{ message }] });
}

function call<T>(f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw convertError(e);
  }
}

function bundleJson(input: StringsInput): string {
  if (input === null || typeof input !== "object") {
    const message = "expected {schema, policies, inventory?, config?}";
    throw new BundleError(`[bundle_invalid] ${message}`, { code: "bundle_invalid", details: [{ message }] });
  }
  return stringify(() => input, "bundle_invalid", "bundle");
}

/** An AuthzError made here, for bad arguments the core never sees. */
function codedError(code: string, message: string, cause?: unknown): AuthzError {
  if (cause instanceof AuthzError) return cause;
  const known: ErrorCode = isKnownCode(code) ? code : "internal";
  const error = new (errorClassFor(known))(`[${known}] ${message}`, { code: known, details: [{ message }] });
  if (cause !== undefined) Object.defineProperty(error, "cause", { value: cause, configurable: true, writable: true });
  return error;
}

/** JSON text of the value `make()` builds from the caller's argument; a value
 * JSON cannot hold (cycles, BigInt, extreme depth, a getter or Proxy that
 * throws) is a coded error (see wire.ts). */
function stringify(make: () => unknown, code: ErrorCode, what = "request"): string {
  return wireText(make, code, what, codedError);
}

/** Runs `f` (which reads the caller's arguments: getters, Proxies); anything it throws becomes a `code` error. */
function readArgs<T>(code: ErrorCode, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw codedError(code, `reading the arguments threw ${describe(e)}`, e);
  }
}

/** `value` if it is a string, else a `code` error (JS would coerce it on the way into WASM). */
function text(value: unknown, code: ErrorCode, what: string): string {
  if (typeof value !== "string") throw codedError(code, `${what} must be a string, not ${typeof value}`);
  return value;
}

const REQUEST_PARSE: ErrorCode = "request_parse";

// ---------------------------------------------------------------- decision log

/** A decision record (schema version 1), as the decision log stores it; see docs/decision-log.md. Keys are snake_case. */
export interface DecisionRecord {
  schema_version: number;
  seq: number;
  timestamp: string;
  decision_id: string;
  policy_revision: string;
  agent?: string;
  principal: EntityRef;
  owner?: string;
  on_behalf_of?: string;
  task?: string;
  credential?: string;
  action: string;
  resource: EntityRef;
  decision: "allow" | "deny" | "error";
  reasons: string[];
  errors: PolicyEvaluationError[];
  error?: { code: ErrorCode; message: string };
  /** A forbid whose evaluation errored denied (in `would_decision` when present). */
  fail_closed?: boolean;
  mode: "enforce" | "log-only";
  would_decision?: "allow" | "deny";
  would_reasons?: string[];
  would_errors?: PolicyEvaluationError[];
  context: Record<string, unknown>;
  request_time?: string;
  prev_hash: string;
  hash: string;
}

/** A decision-log sink: called with each record, in order, right after the check that made it. */
export type DecisionLogSink = (record: DecisionRecord) => void;

/** The last record of a decision log: its `seq` and `hash`. */
export interface DecisionLogHead {
  seq: number;
  hash: string;
}

export interface EngineOptions {
  /** A decision-log sink, as `engine.setDecisionLog(sink)`. */
  decisionLog?: DecisionLogSink | null;
  /** Requests may carry their own `now` (tests, replays). Default false: the
   * engine clock decides and a request with `now` throws `RequestError`
   * (`request_invalid`). Session checks always use the engine clock. */
  trustCallerTime?: boolean;
  /** The engine clock: a `ManualClock` (tests); `Date.now()` when absent. */
  clock?: ManualClock | null;
}

// ---------------------------------------------------------------- run-time changes

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
  /** The start; now (the JS clock) when absent. */
  starts?: Date | string;
  /** Only requests naming this task (of the same agent) are covered. */
  task?: string;
  reason: string;
  /** Who grants it (recorded in the decision log). */
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

/** A run-time change in its journal form (snake_case). */
export type Change =
  | ({ op: "grant"; granted_by: string } & Omit<Grant, "grantedBy">)
  | { op: "revoke"; grant: string }
  | { op: "suspend" | "reactivate" | "offboard"; agent: string }
  | { op: "rotate_credential"; credential: string; expires: Date | string }
  | { op: "transfer_owner"; agent: string; owner: string }
  | {
      op: "add_task";
      id: string;
      agent: string;
      not_before: Date | string;
      not_after: Date | string;
      purpose?: string;
      on_behalf_of?: string;
    }
  | { op: "revoke_session"; session: string };

/** A change as applied: its sequence number, time and author, and the change. */
export type JournalEntry = { seq: number; at: string; by: string; op: Change["op"] } & Record<string, unknown>;

/** `object` with its JS key spellings renamed to the wire's, Dates as RFC 3339
 * text and undefined members left out; other keys pass through (the core rejects unknown ones). */
function renamed(object: unknown, renames: Record<string, string>): unknown {
  if (object === null || typeof object !== "object" || Array.isArray(object)) {
    return object === undefined ? null : object;
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object as Record<string, unknown>)) {
    if (value === undefined) continue;
    out[renames[key] ?? key] = timeText(value);
  }
  return out;
}

/** A Date as RFC 3339 text (an invalid Date as text, which the core rejects). */
function timeText(value: unknown): unknown {
  if (!(value instanceof Date)) return value;
  return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
}

const GRANT_KEYS = { ttlSeconds: "ttl_seconds", grantedBy: "granted_by" };
const TASK_KEYS = { notBefore: "not_before", notAfter: "not_after", onBehalfOf: "on_behalf_of" };

type WireGrant = Omit<Grant, "grantedBy"> & { granted_by: string };

function grantFromWire(wire: WireGrant): Grant {
  const { granted_by: grantedBy, ...rest } = wire;
  return { ...rest, grantedBy };
}

function byOf(options: ChangeOptions | undefined): string {
  const by = readArgs(LIFECYCLE_INVALID, () => options?.by);
  return text(by, LIFECYCLE_INVALID, "a change needs {by: string}: who makes it; `by`");
}

const LIFECYCLE_INVALID: ErrorCode = "lifecycle_invalid";
const GRANT_INVALID: ErrorCode = "grant_invalid";

// ---------------------------------------------------------------- manual clock

const BUNDLE_INVALID: ErrorCode = "bundle_invalid";
const REQUEST_INVALID: ErrorCode = "request_invalid";

/** A clock that reads what it was last set to (tests): pass it as `{clock}` to
 * `Engine.fromStrings`; every check, change and session is judged at its time.
 * Bad input throws `RequestError` (`request_invalid`). */
export class ManualClock {
  #native: NativeClock;
  #generation: number;
  /** The time last read, to rebuild the clock after an instance reset. */
  #now: string;

  /** A clock at `start` (RFC 3339 text or a Date). */
  constructor(start: string | Date) {
    const text = ManualClock.#time(start);
    const module = raw();
    this.#native = call(() => new module.WasmManualClock(text));
    this.#generation = generation;
    this.#now = this.#native.now;
  }

  static #time(value: unknown): string {
    const t = timeText(value);
    if (typeof t !== "string") throw codedError(REQUEST_INVALID, "a time must be RFC 3339 text or a Date");
    return t;
  }

  /** Sets the clock to `at` (RFC 3339 text or a Date; earlier is allowed). */
  set(at: string | Date): void {
    const text = ManualClock.#time(at);
    const clock = ManualClock.live(this);
    call(() => clock.set(text));
    this.#now = clock.now;
  }

  /** Moves the clock by `seconds` (fractions to the millisecond; negative moves it back). */
  advance(seconds: number): void {
    if (typeof seconds !== "number") throw codedError(REQUEST_INVALID, "seconds must be a number");
    const clock = ManualClock.live(this);
    call(() => clock.advance(seconds));
    this.#now = clock.now;
  }

  /** The clock's time, RFC 3339 (`2026-11-29T10:00:00.000Z`). */
  get now(): string {
    return this.#now;
  }

  /** The native clock over the live instance (rebuilt at the last time after a reset). */
  static live(clock: ManualClock): NativeClock {
    if (clock.#generation !== generation) {
      const module = raw();
      const now = clock.#now;
      clock.#native = call(() => new module.WasmManualClock(now));
      clock.#generation = generation;
    }
    return clock.#native;
  }

  /** `options.clock`: a ManualClock, or null without one. */
  static from(value: unknown): ManualClock | null {
    if (value === undefined || value === null) return null;
    if (value instanceof ManualClock) return value;
    throw codedError(BUNDLE_INVALID, "`clock` must be a ManualClock");
  }
}

// ---------------------------------------------------------------- engine

/** In-process authorization for agents, over one bundle given as strings. */
export class Engine {
  #native: NativeEngine;
  #generation: number;
  /** The JSON of the bundle now active, to rebuild after an instance reset. */
  #input: string;
  #freed = false;
  #sink: DecisionLogSink | null = null;
  /** The first error the sink threw since the last flush. */
  #sinkError: { error: unknown } | null = null;
  /** Run-time changes applied so far (journal form, JSON text, and who made
   * them), re-applied to an engine rebuilt after an instance reset. */
  #changes: { change: string; by: string }[] = [];
  #trustCallerTime: boolean;
  #clock: ManualClock | null;

  private constructor(nativeEngine: NativeEngine, input: string, trustCallerTime: boolean, clock: ManualClock | null) {
    this.#native = nativeEngine;
    this.#generation = generation;
    this.#input = input;
    this.#trustCallerTime = trustCallerTime;
    this.#clock = clock;
  }

  /** A native engine over the live instance, with the manual clock when there is one. */
  static #build(module: NativeModule, json: string, trust: boolean, clock: ManualClock | null): NativeEngine {
    if (clock === null) return call(() => module.WasmEngine.fromStringsJson(json, trust));
    const nativeClock = ManualClock.live(clock);
    return call(() => module.WasmEngine.fromStringsJsonWithClock(json, trust, nativeClock));
  }

  /** Compiles a bundle from its texts. Throws an AuthzError subclass on bad input. */
  static fromStrings(input: StringsInput, options?: EngineOptions): Engine {
    const json = bundleJson(input);
    const module = raw();
    const trust = options?.trustCallerTime === true;
    const clock = readArgs(BUNDLE_INVALID, () => ManualClock.from(options?.clock));
    const engine = new Engine(Engine.#build(module, json, trust, clock), json, trust, clock);
    if (options?.decisionLog) engine.setDecisionLog(options.decisionLog);
    return engine;
  }

  /** The engine over the live instance (rebuilt from the active bundle after a reset). */
  #live(): NativeEngine {
    if (this.#freed) {
      throw new InternalError("[internal] this engine was freed", { code: "internal" });
    }
    if (this.#generation !== generation) {
      const json = this.#input;
      const module = raw();
      const trust = this.#trustCallerTime;
      this.#native = Engine.#build(module, json, trust, this.#clock);
      this.#generation = generation;
      // A rebuilt engine starts a new chain (seq 1) for its sink.
      const engine = this.#native;
      if (this.#sink !== null) call(() => engine.setDecisionLogQueue(true));
      // Changes that no longer apply (an expired grant) are left out.
      for (const { change, by } of this.#changes) {
        try {
          engine.applyJson(change, by);
        } catch {
          // expired or superseded
        }
      }
      if (this.#sink !== null) engine.takeDecisionRecordsJson();
    }
    return this.#native;
  }

  /** Hands the records of the last call to the sink, in order; a sink that throws does not change the decision. */
  #deliver(engine: NativeEngine): void {
    const sink = this.#sink;
    if (sink === null) return;
    const text = call(() => engine.takeDecisionRecordsJson());
    if (text === "[]") return;
    for (const record of JSON.parse(text) as DecisionRecord[]) {
      try {
        sink(record);
      } catch (error) {
        this.#sinkError ??= { error };
      }
    }
  }

  /** Decides one request. A deny is a Decision; bad input throws a RequestError. */
  check(request: CheckRequest | SessionRequest): Decision {
    if (readArgs(REQUEST_PARSE, () => isSessionRequest(request))) return this.#checkSession(request as SessionRequest);
    const json = stringify(() => toWire(request), REQUEST_PARSE);
    const engine = this.#live();
    try {
      return new Decision(JSON.parse(call(() => engine.checkJson(json))) as DecisionJson);
    } finally {
      this.#deliver(engine);
    }
  }

  /** `check` in the core's wire format: request JSON text in, Decision JSON text out (snake_case). */
  checkJson(request: string): string {
    text(request, REQUEST_PARSE, "checkJson's request (JSON text)");
    const engine = this.#live();
    try {
      return call(() => engine.checkJson(request));
    } finally {
      this.#deliver(engine);
    }
  }

  /** Decides many requests against one snapshot; the first bad request throws (its index in the message). */
  checkBatch(requests: readonly CheckRequest[]): Decision[] {
    if (!Array.isArray(requests)) {
      const message = "checkBatch expects an array of requests";
      throw new RequestError(`[request_parse] ${message}`, { code: "request_parse", details: [{ message }] });
    }
    const json = stringify(() => requests.map(toWire), REQUEST_PARSE, "requests");
    const engine = this.#live();
    try {
      const out = JSON.parse(call(() => engine.checkBatchJson(json))) as DecisionJson[];
      return out.map((d) => new Decision(d));
    } finally {
      this.#deliver(engine);
    }
  }

  /** Sets the decision-log sink (a function called with each record right after its check), or `null` to stop logging. */
  setDecisionLog(sink: DecisionLogSink | null): void {
    if (sink !== null && typeof sink !== "function") {
      throw codedError("config_invalid", "decision log: the sink must be a function or null (there is no filesystem)");
    }
    const engine = this.#live();
    call(() => engine.setDecisionLogQueue(sink !== null));
    this.#sink = sink;
    this.#sinkError = null;
  }

  /** Throws the first error the sink threw since the previous flush. */
  flushDecisionLog(): void {
    const failed = this.#sinkError;
    this.#sinkError = null;
    if (failed !== null) throw failed.error;
  }

  /** `{seq, hash}` of the last record logged, or `null` without a sink. */
  get decisionLogHead(): DecisionLogHead | null {
    const engine = this.#live();
    return JSON.parse(call(() => engine.decisionLogHeadJson())) as DecisionLogHead | null;
  }

  /** The enforcement mode: `"enforce"` or `"log-only"` (`[engine] mode`). */
  get mode(): "enforce" | "log-only" {
    const engine = this.#live();
    return call(() => engine.mode) as "enforce" | "log-only";
  }

  /** What a forbid whose evaluation errors does: `"deny"` (fail closed, the
   * default) or `"skip"` (Cedar's rule) — `[engine] on_error`. */
  get onError(): "deny" | "skip" {
    const engine = this.#live();
    return call(() => engine.onError) as "deny" | "skip";
  }

  /** Forbids of the active bundle that may error at run time (or never match), with where they are. */
  warnings(): PolicyWarning[] {
    const engine = this.#live();
    return JSON.parse(call(() => engine.warningsJson())) as PolicyWarning[];
  }

  /** Swaps in a new bundle atomically; on error the current one stays active. */
  reload(input: StringsInput): void {
    const json = bundleJson(input);
    const engine = this.#live();
    call(() => engine.reloadJson(json));
    this.#input = json;
  }

  /** Grants `actions` on `resource` (and anything in it) to an agent from
   * `starts` (default: now) for `ttlSeconds` or `until`. Decisions it allows
   * have the reason `grant/<id>`; a `forbid` still wins. In memory only. */
  grant(request: GrantRequest): Grant {
    const json = stringify(() => renamed(request, GRANT_KEYS), GRANT_INVALID, "grant request");
    const engine = this.#live();
    try {
      const wire = JSON.parse(call(() => engine.grantJson(json))) as WireGrant;
      this.#changes.push({ change: JSON.stringify({ op: "grant", ...wire }), by: wire.granted_by });
      return grantFromWire(wire);
    } finally {
      this.#deliver(engine);
    }
  }

  /** The grants in force (not expired, not revoked), of one agent or all, by id. */
  grants(agent?: string | null): Grant[] {
    if (agent !== undefined && agent !== null) text(agent, LIFECYCLE_INVALID, "agent");
    const engine = this.#live();
    return (JSON.parse(call(() => engine.grantsJson(agent ?? null))) as WireGrant[]).map(grantFromWire);
  }

  /** The Cedar text of a grant in force, or `null`. */
  grantPolicyText(grantId: string): string | null {
    text(grantId, LIFECYCLE_INVALID, "grantId");
    const engine = this.#live();
    return call(() => engine.grantPolicyText(grantId)) ?? null;
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
    const expires = readArgs(LIFECYCLE_INVALID, () => options?.expires);
    this.apply({ op: "rotate_credential", credential, expires }, options);
  }

  /** The agent's accountable owner becomes the user `owner`. */
  transferOwner(agent: string, options: TransferOptions): void {
    const owner = readArgs(LIFECYCLE_INVALID, () => options?.owner);
    this.apply({ op: "transfer_owner", agent, owner }, options);
  }

  /** Adds a task (a just-in-time scope with a window) for an agent. */
  addTask(task: TaskSpec, options: ChangeOptions): void {
    const wire = readArgs(LIFECYCLE_INVALID, () => renamed(task, TASK_KEYS));
    this.apply({ op: "add_task", ...(wire as object) } as Change, options);
  }

  /** Applies one change in its journal form (`{op: "suspend", agent}`, ...);
   * returns the entry `{seq, at, by, op, ...}`. In memory only: there is no journal here. */
  apply(change: Change, options: ChangeOptions): JournalEntry {
    const by = byOf(options);
    const json = stringify(() => renamed(change, {}), LIFECYCLE_INVALID, "change");
    const engine = this.#live();
    try {
      const entry = JSON.parse(call(() => engine.applyJson(json, by))) as JournalEntry;
      this.#changes.push({ change: json, by });
      return entry;
    } finally {
      this.#deliver(engine);
    }
  }

  /** The content hash of the active bundle (`sha256:…`). */
  get policyRevision(): string {
    const engine = this.#live();
    return call(() => engine.policyRevision);
  }

  /** Frees the engine's WASM memory now instead of at garbage collection. */
  free(): void {
    if (!this.#freed && this.#generation === generation) {
      this.#native.free();
    }
    this.#freed = true;
  }

  // --- sessions

  /** Session keys set (JSON) and sessions revoked, re-applied to an engine
   * rebuilt after an instance reset. */
  #sessionKeys: string | null = null;
  #revokedSessions: { id: string; by: string }[] = [];
  #sessionGeneration = generation;

  /** The live engine with its session keys and revocations (re-applied after a reset). */
  #sessionLive(): NativeSessionEngine {
    const engine = this.#live() as unknown as NativeSessionEngine;
    if (this.#sessionGeneration !== generation) {
      const keys = this.#sessionKeys;
      if (keys !== null) call(() => engine.setSessionKeysJson(keys));
      for (const { id, by } of this.#revokedSessions) call(() => engine.revokeSession(id, by));
      this.#sessionGeneration = generation;
    }
    return engine;
  }

  #checkSession(request: SessionRequest): Decision {
    if (readArgs(REQUEST_PARSE, () => (request as { agent?: unknown }).agent) !== undefined) {
      const message = "give exactly one of `agent` and `session`";
      throw new RequestError(`[request_invalid] ${message}`, { code: "request_invalid", details: [{ message }] });
    }
    const json = stringify(() => toWire(request), REQUEST_PARSE);
    const engine = this.#sessionLive();
    try {
      return new Decision(JSON.parse(call(() => engine.checkSessionJson(json))) as DecisionJson);
    } finally {
      this.#deliver(engine);
    }
  }

  /** Issues a session token for an active agent (and a task of its own).
   * Needs a signing key (`setSessionKeys({signing})`). */
  issueSession(input: IssueSessionInput): IssuedSession {
    const json = stringify(
      () => {
        if (input === null || typeof input !== "object" || Array.isArray(input)) return input;
        const { ttlSeconds, ...rest } = input;
        return ttlSeconds === undefined ? rest : { ...rest, ttl_seconds: ttlSeconds };
      },
      SESSION_INVALID,
      "session input",
    );
    const engine = this.#sessionLive();
    const out = JSON.parse(call(() => engine.issueSessionJson(json))) as { token: string; claims: SessionClaimsJson };
    return { token: out.token, claims: claimsFromWire(out.claims) };
  }

  /** The verified claims of a token (checked against `Date.now()`), or the error that refuses it. */
  verifySession(token: string, options?: VerifySessionOptions): SessionClaims {
    text(token, SESSION_INVALID, "a session token");
    const audience = readArgs(SESSION_INVALID, () => options?.audience);
    if (audience !== undefined && audience !== null) text(audience, SESSION_INVALID, "audience");
    const engine = this.#sessionLive();
    return claimsFromWire(
      JSON.parse(call(() => engine.verifySessionJson(token, audience))) as SessionClaimsJson,
    );
  }

  /** Revokes one session by its `sessionId`. */
  revokeSession(sessionId: string, options: { by: string }): void {
    text(sessionId, LIFECYCLE_INVALID, "sessionId");
    const by = byOf(options);
    const engine = this.#sessionLive();
    call(() => engine.revokeSession(sessionId, by));
    this.#revokedSessions.push({ id: sessionId, by });
  }

  /** Replaces the session keys; a verifier passes only `verifying` (public keys). */
  setSessionKeys(keys: SessionKeysInput): void {
    const json = stringify(() => keys ?? {}, KEY_INVALID, "session keys");
    const engine = this.#sessionLive();
    call(() => engine.setSessionKeysJson(json));
    this.#sessionKeys = json;
  }

  /** The public session keys `{kid: "k4.public.…"}`, to hand to verifiers. */
  sessionPublicKeys(): Record<string, string> {
    const engine = this.#sessionLive();
    return JSON.parse(call(() => engine.sessionPublicKeysJson())) as Record<string, string>;
  }
}

/** For the binding's own tests: panics inside the WASM instance. Not public API. */
export function __debugPanic(message: string): void {
  const module = raw();
  call(() => module.__debugPanic(message));
}

// ---------------------------------------------------------------- sessions
// --- sessions

/** The session form of a request: a session token (from `issueSession`) names the agent and task. */
export interface SessionRequest {
  /** A session token (`v4.public.…`), in place of `agent` and `task`. */
  session: string;
  action: string;
  resource: EntityRef;
  onBehalfOf?: string;
  on_behalf_of?: string;
  credential?: string;
  context?: Record<string, unknown>;
  /** The time the policies see; the token itself is checked against the engine clock (`Date.now()`). */
  now?: Date | string;
  /** The audience the token must carry; `[sessions] audience` when absent. */
  audience?: string;
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

/** The raw session exports of a `WasmEngine` (JSON text in and out). */
interface NativeSessionEngine extends NativeEngine {
  issueSessionJson(input: string): string;
  verifySessionJson(token: string, audience?: string | null): string;
  checkSessionJson(request: string): string;
  revokeSession(sessionId: string, by: string): void;
  setSessionKeysJson(keys: string): void;
  sessionPublicKeysJson(): string;
}

interface SessionClaimsJson {
  session_id: string;
  agent: string;
  task?: string;
  audience: string;
  issuer?: string;
  issued_at: number;
  not_before: number;
  expires_at: number;
}

function claimsFromWire(c: SessionClaimsJson): SessionClaims {
  const claims: SessionClaims = {
    sessionId: c.session_id,
    agent: c.agent,
    audience: c.audience,
    issuedAt: c.issued_at,
    notBefore: c.not_before,
    expiresAt: c.expires_at,
  };
  if (c.task !== undefined) claims.task = c.task;
  if (c.issuer !== undefined) claims.issuer = c.issuer;
  return claims;
}

function isSessionRequest(request: unknown): request is SessionRequest {
  return request !== null && typeof request === "object" && (request as { session?: unknown }).session !== undefined;
}

const SESSION_INVALID: ErrorCode = "session_invalid";
const KEY_INVALID: ErrorCode = "key_invalid";

/** A new session key pair `{kid, secret, public}` (PASERK). */
export function generateSessionKey(kid: string): SessionKeyPair {
  text(kid, KEY_INVALID, "kid");
  const module = raw() as NativeModule & { generateSessionKeyJson(kid: string): string };
  return JSON.parse(call(() => module.generateSessionKeyJson(kid))) as SessionKeyPair;
}

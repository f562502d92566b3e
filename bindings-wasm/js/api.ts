// The agentauthz WASM package: the loader. It hands the raw wasm-bindgen
// module to the shared JS layer (bindings-js, compiled into ./shared/), which
// owns errors, Decision, name mapping, dispatch and decision-log callbacks.
// What is here is only what WASM has and Node has not: binding the module
// (at import, before the web build's `init()`), replacing the instance after
// a panic or trap (restoring.ts), and freeing an engine's memory.

import { FAMILY_OF } from "./shared/generated/codes.js";
import {
  bind,
  bundleJson,
  call,
  codedError,
  type DecisionLogSink,
  describe,
  EngineBase,
  type ErrorCodeInfo,
  NATIVE,
  readArgs,
  type McpSchema,
  type McpSchemaInput,
  type NativeEngine,
  schemaFromMcpWith,
  type SessionKeyPair,
  type StringsInput,
  ManualClock,
  type NativeClock,
  text,
} from "./shared/index.js";
import { instanceGeneration, instanceReplaced, RestoringEngine, type WasmNativeEngine } from "./restoring.js";

export {
  AuthzError,
  BundleError,
  Decision,
  ERROR_CODES,
  errorClassFor,
  InternalError,
  InventoryError,
  JournalError,
  LifecycleError,
  LimitError,
  LogError,
  ManualClock,
  PolicyError,
  RequestError,
  SchemaError,
  SessionError,
  TestError,
  TokenError,
  toOcsf,
} from "./shared/index.js";
export type {
  AgentRequest,
  CedarRequest,
  Change,
  ChangeOptions,
  CheckRequest,
  DecisionJson,
  DecisionLogHead,
  DecisionLogStats,
  DecisionLogSink,
  DecisionRecord,
  EngineMetrics,
  EntityRef,
  ErrorCode,
  ErrorCodeInfo,
  ErrorDetail,
  ErrorFamily,
  ErrorLocation,
  Grant,
  GrantRequest,
  IssuedSession,
  IssueSessionInput,
  JournalEntry,
  McpCallInput,
  McpIdentity,
  McpListInput,
  McpSchema,
  McpSchemaInput,
  McpWarning,
  NativeEngine,
  OcsfEvent,
  PolicyEvaluationError,
  PolicyWarning,
  RotateOptions,
  SessionClaims,
  SessionKeyPair,
  SessionKeysInput,
  SessionRequest,
  StringsInput,
  TokenClaims,
  TokenRequest,
  TaskSpec,
  ToolCallInput,
  TransferOptions,
  VerifySessionOptions,
} from "./shared/index.js";

/** The parts of the raw wasm-bindgen module this package uses. */
export interface NativeModule {
  WasmEngine: {
    fromStringsJson(input: string, trustCallerTime?: boolean | null): WasmNativeEngine;
    fromStringsJsonWithClock(input: string, trustCallerTime: boolean | null, clock: NativeClock): WasmNativeEngine;
    restore(state: string): WasmNativeEngine;
    restoreWithClock(state: string, clock: NativeClock): WasmNativeEngine;
  };
  WasmManualClock: new (start: string) => NativeClock;
  errorCodes(): unknown[];
  version(): string;
  generateSessionKeyJson(kid: string): string;
  verifyBundleJson(archive: Uint8Array, signature: Uint8Array, publicKeys: string): string;
  schemaFromMcpJson(input: string): string;
  recordToOcsfJson(record: string): string;
  __debugPanic(message: string): void;
  __wbg_reset_state?: () => void;
}

let native: NativeModule | undefined;

function raw(): NativeModule {
  if (native === undefined) throw codedError("internal", "agentauthz WASM module is not bound");
  return native;
}

/** A fresh WASM instance; engines of the old one rebuild on their next call. */
function resetInstance(): void {
  native?.__wbg_reset_state?.();
  instanceReplaced();
}

/** Connects the package to a raw module (done by the package's entry points). */
export function bindNative(module: NativeModule): void {
  native = module;
}

// The code table is the generated copy of the core's errorCodes()
// (scripts/gen-codes.mjs checks it at build): the web build cannot call the
// module before `init()`, and the classes must exist at import.
bind({
  errorCodes: Object.entries(FAMILY_OF).map(([code, family]) => ({ code, family })),
  // The instance aborted mid-call: replace it now (the hook's scheduled
  // reinit would run only after the next call marshalled its arguments into
  // the old memory). Engines rebuild lazily on the new instance.
  onPanic: resetInstance,
  foreign(e) {
    // A trap the panic hook did not see (out of memory, stack overflow) leaves
    // the instance unusable: replace it before the next call.
    const trapped = e instanceof WebAssembly.RuntimeError || e instanceof RangeError;
    if (trapped) resetInstance();
    const what = e instanceof Error ? `${e.name}: ${e.message}` : describe(e);
    return ["internal", trapped ? `internal error (the WASM instance was reset): ${what}` : `internal error: ${what}`];
  },
  clock: { create: (start) => new (raw().WasmManualClock)(start), epoch: instanceGeneration },
  recordToOcsf: (record) => raw().recordToOcsfJson(record),
});

/** Every stable error code with its family, from the core. */
export function errorCodes(): ErrorCodeInfo[] {
  return raw().errorCodes() as ErrorCodeInfo[];
}

/** The agentauthz core version. */
export function coreVersion(): string {
  return raw().version();
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

/** In-process authorization for agents, over one bundle given as strings. */
export class Engine extends EngineBase {
  #engine: RestoringEngine;
  #freed = false;

  private constructor(engine: RestoringEngine) {
    super();
    this.#engine = engine;
  }

  /** Compiles a bundle from its texts. Throws an AuthzError subclass on bad input. */
  static fromStrings(input: StringsInput, options?: EngineOptions): Engine {
    const json = bundleJson(input);
    const module = raw();
    const trust = options?.trustCallerTime === true;
    const clock = ManualClock.option(options?.clock);
    // After an instance reset, the engine and its clock are made again on the new instance.
    const restore = (state: string) =>
      clock === null ? module.WasmEngine.restore(state) : module.WasmEngine.restoreWithClock(state, ManualClock.nativeOf(clock));
    const build = () =>
      clock === null
        ? module.WasmEngine.fromStringsJson(json, trust)
        : module.WasmEngine.fromStringsJsonWithClock(json, trust, ManualClock.nativeOf(clock));
    const engine = new Engine(call(() => new RestoringEngine(build(), restore), "bundle_invalid"));
    if (options?.decisionLog) engine.setDecisionLog(options.decisionLog);
    return engine;
  }

  protected override [NATIVE](): NativeEngine {
    if (this.#freed) throw codedError("internal", "this engine was freed");
    return this.#engine;
  }

  /** Swaps in a new bundle (its texts) atomically; on error the current one stays active. */
  override reload(input: StringsInput): void {
    super.reload(input);
  }

  /** Sets the decision-log sink (a function called with each record right after its call), or `null` to stop logging. */
  override setDecisionLog(sink: DecisionLogSink | null): void {
    super.setDecisionLog(sink);
  }

  /** Frees the engine's WASM memory now instead of at garbage collection. */
  free(): void {
    if (!this.#freed) this.#engine.free();
    this.#freed = true;
  }
}

/** A new session key pair `{kid, secret, public}` (PASERK). */
export function generateSessionKey(kid: string): SessionKeyPair {
  text(kid, "key_invalid", "kid");
  const module = raw();
  return JSON.parse(call(() => module.generateSessionKeyJson(kid), "key_invalid")) as SessionKeyPair;
}

/** A bundle whose signature verified: its revision, the key id that signed it, its files (path → text). */
export interface VerifiedBundle {
  revision: string;
  kid: string;
  files: Record<string, string>;
}

/** Verifies a signed bundle archive (`bundle.tar.gz` bytes, fetched by the
 * caller) against its detached signature (`bundle.tar.gz.sig`) with public
 * keys `{kid: "k4.public.…" | PEM}`. Throws `bundle_signature_invalid`,
 * `bundle_archive_invalid` or `key_invalid`. */
export function verifyBundle(archive: Uint8Array, signature: Uint8Array, publicKeys: Record<string, string>): VerifiedBundle {
  const module = raw();
  const bytes = (v: unknown, what: string): Uint8Array => {
    if (!(v instanceof Uint8Array)) throw codedError("bundle_archive_invalid", `${what} must be a Uint8Array`);
    return v;
  };
  const a = bytes(archive, "archive");
  const s = bytes(signature, "signature");
  const keys = readArgs("key_invalid", () => JSON.stringify(publicKeys));
  return JSON.parse(call(() => module.verifyBundleJson(a, s, keys), "internal")) as VerifiedBundle;
}

/** The Cedar schema fragment of a `tools/list` result: `{tools, server?, namespace?}` → `{text, actions, warnings, ...}`. */
export function schemaFromMcp(input: McpSchemaInput): McpSchema {
  const module = raw();
  return schemaFromMcpWith((json) => module.schemaFromMcpJson(json), input);
}

/** For the binding's own tests: panics inside the WASM instance. Not public API. */
export function __debugPanic(message: string): void {
  const module = raw();
  call(() => module.__debugPanic(message));
}

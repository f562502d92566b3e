// Surviving an instance reset: after a panic or trap the WASM instance is
// replaced, and every engine made on the old one is rebuilt on the new one
// from one opaque state string (the core's `engineState()`: bundle texts,
// run-time changes with their original times, session keys, settings) by one
// call, `WasmEngine.restore(state)`, which replays through the core's own
// journal replay (changes that no longer apply are listed by skippedChanges).

import type { NativeEngine } from "./shared/index.js";

/** The raw engine exported by the wasm-bindgen module (JSON text in and out). */
export interface WasmNativeEngine extends NativeEngine {
  engineState(): string;
  changesMade(): number;
  skippedChangesJson(): string;
  free(): void;
}

/** Rebuilds a raw engine from its state on the live instance. */
export type Restore = (state: string) => WasmNativeEngine;

/** Bumped whenever the WASM instance is replaced after a panic or trap. */
let generation = 0;

/** How many times the instance was replaced (native clocks are made again after each). */
export function instanceGeneration(): number {
  return generation;
}

/** The instance was replaced: engines of the old one are restored on their next call. */
export function instanceReplaced(): void {
  generation += 1;
}

/**
 * A raw engine that survives instance resets: it forwards each call to the
 * engine of the live instance and, after each call that changes the engine,
 * keeps its state.
 */
export class RestoringEngine implements NativeEngine {
  #native: WasmNativeEngine;
  #generation = generation;
  #restore: Restore;
  #state: string;
  #queue = false;
  #approvalQueue = false;

  constructor(native: WasmNativeEngine, restore: Restore) {
    this.#native = native;
    this.#restore = restore;
    this.#state = native.engineState();
  }

  /** Frees the engine's memory (only on the instance that made it). */
  free(): void {
    if (this.#generation === generation) this.#native.free();
  }

  /** The engine of the live instance (restored after a reset). */
  get live(): WasmNativeEngine {
    if (this.#generation !== generation) {
      const engine = this.#restore(this.#state);
      this.#native = engine;
      this.#generation = generation;
      // A restored engine has no sink; it starts a new chain (seq 1).
      if (this.#queue) engine.setDecisionLogQueue(true);
      if (this.#approvalQueue) engine.setApprovalQueue(true);
    }
    return this.#native;
  }

  /** Runs a check; when it changed the engine's state (it used up an
   * approval: a journaled change) keeps the new state, so a reset cannot
   * give the use back. */
  #checking(f: (engine: WasmNativeEngine) => string): string {
    const engine = this.live;
    const before = engine.changesMade();
    const out = f(engine);
    if (engine.changesMade() !== before) this.#state = engine.engineState();
    return out;
  }

  /** Runs a call that changes the engine, then keeps the new state (a refused
   * change leaves the engine, and so its state, as it was). */
  #changing<T>(f: (engine: WasmNativeEngine) => T): T {
    const engine = this.live;
    const out = f(engine);
    this.#state = engine.engineState();
    return out;
  }

  reloadJson(bundle: string): void {
    this.#changing((e) => e.reloadJson(bundle));
  }
  grantJson(request: string): string {
    return this.#changing((e) => e.grantJson(request));
  }
  applyJson(change: string, by: string): string {
    return this.#changing((e) => e.applyJson(change, by));
  }
  revokeSession(sessionId: string, by: string): void {
    this.#changing((e) => e.revokeSession(sessionId, by));
  }
  setSessionKeysJson(keys: string): void {
    this.#changing((e) => e.setSessionKeysJson(keys));
  }
  approveJson(args: string): string {
    return this.#changing((e) => e.approveJson(args));
  }
  // Requests waiting for a human are not part of the state: after a reset
  // they are asked again (an approval, a change, survives).
  rejectJson(args: string): string {
    return this.live.rejectJson(args);
  }
  approvalsJson(agent: string | null): string {
    return this.live.approvalsJson(agent);
  }
  setApprovalQueue(on: boolean): void {
    this.live.setApprovalQueue(on);
    this.#approvalQueue = on;
  }
  takeApprovalRequestsJson(): string {
    return this.live.takeApprovalRequestsJson();
  }
  setDecisionLogQueue(on: boolean): void {
    this.live.setDecisionLogQueue(on);
    this.#queue = on;
  }

  checkJson(request: string): string {
    return this.#checking((e) => e.checkJson(request));
  }
  checkSessionJson(request: string): string {
    return this.#checking((e) => e.checkSessionJson(request));
  }
  checkTokenJson(request: string): string {
    return this.#checking((e) => e.checkTokenJson(request));
  }
  verifyTokenJson(token: string): string {
    return this.live.verifyTokenJson(token);
  }
  setIssuerJwks(issuer: string, jwks: string): void {
    this.live.setIssuerJwks(issuer, jwks);
  }
  checkBatchJson(requests: string): string {
    return this.#checking((e) => e.checkBatchJson(requests));
  }
  takeDecisionRecordsJson(): string {
    return this.live.takeDecisionRecordsJson();
  }
  decisionLogHeadJson(): string {
    return this.live.decisionLogHeadJson();
  }
  decisionLogStatsJson(): string {
    return this.live.decisionLogStatsJson();
  }
  // Usage counters are not part of the state: after a reset they start at
  // zero, as after a restart (a lockdown is a change and survives).
  recordUsage(agent: string, units: number, kind: string): void {
    this.live.recordUsage(agent, units, kind);
  }
  usageJson(agent: string, action: string | null): string {
    return this.live.usageJson(agent, action);
  }
  lockdownStatusJson(): string {
    return this.live.lockdownStatusJson();
  }
  // Counters live with the engine: after a reset they start at zero.
  metricsJson(): string {
    return this.live.metricsJson();
  }
  grantsJson(agent: string | null): string {
    return this.live.grantsJson(agent);
  }
  grantPolicyText(grantId: string): string | null | undefined {
    return this.live.grantPolicyText(grantId);
  }
  warningsJson(): string {
    return this.live.warningsJson();
  }
  skippedChangesJson(): string {
    return this.live.skippedChangesJson();
  }
  issueSessionJson(input: string): string {
    return this.live.issueSessionJson(input);
  }
  verifySessionJson(token: string, audience: string | null): string {
    return this.live.verifySessionJson(token, audience);
  }
  sessionPublicKeysJson(): string {
    return this.live.sessionPublicKeysJson();
  }
  checkToolCallJson(input: string): string {
    return this.#checking((e) => e.checkToolCallJson(input));
  }
  mcpCheckCallJson(input: string): string {
    return this.#checking((e) => e.mcpCheckCallJson(input));
  }
  mcpGuardCallJson(input: string): string {
    return this.#checking((e) => e.mcpGuardCallJson(input));
  }
  mcpListableToolsJson(input: string): string {
    return this.live.mcpListableToolsJson(input);
  }
  get policyRevision(): string {
    return this.live.policyRevision;
  }
  get mode(): string {
    return this.live.mode;
  }
  get onError(): string {
    return this.live.onError;
  }
}

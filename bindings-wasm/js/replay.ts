// Instance-reset recovery by replay (to be replaced by the core's
// `engine_state` / `engine_restore`): after a panic or trap the WASM instance
// is replaced, and every engine made on the old one is rebuilt on the new one
// from what this file kept — the bundle, the sink switch, the run-time changes
// (re-applied at the new time; those that no longer apply, such as an expired
// grant, are left out silently), the session keys and revocations.
// All of the package's replay logic is here.

import type { NativeEngine } from "./shared/index.js";

/** The raw engine exported by the wasm-bindgen module (JSON text in and out). */
export interface WasmNativeEngine extends NativeEngine {
  free(): void;
}

/** Makes a raw engine from bundle texts (JSON) on the live instance. */
export type MakeEngine = (bundle: string, trustCallerTime: boolean) => WasmNativeEngine;

/** Bumped whenever the WASM instance is replaced after a panic or trap. */
let generation = 0;

/** The instance was replaced: engines of the old one rebuild on their next call. */
export function instanceReplaced(): void {
  generation += 1;
}

/**
 * A raw engine that survives instance resets: it forwards each call to the
 * engine of the live instance, keeps what changes the engine, and rebuilds it
 * from that after a reset.
 */
export class ReplayingEngine implements NativeEngine {
  #native: WasmNativeEngine;
  #generation = generation;
  #make: MakeEngine;
  #trustCallerTime: boolean;
  /** The JSON of the bundle now active. */
  #bundle: string;
  #queue = false;
  /** Run-time changes applied so far (journal form, JSON text) and who made them. */
  #changes: { change: string; by: string }[] = [];
  #sessionKeys: string | null = null;
  #revokedSessions: { id: string; by: string }[] = [];

  constructor(make: MakeEngine, bundle: string, trustCallerTime: boolean) {
    this.#make = make;
    this.#bundle = bundle;
    this.#trustCallerTime = trustCallerTime;
    this.#native = make(bundle, trustCallerTime);
  }

  /** Frees the engine's memory (only on the instance that made it). */
  free(): void {
    if (this.#generation === generation) this.#native.free();
  }

  /** The engine of the live instance (rebuilt after a reset). */
  get live(): WasmNativeEngine {
    if (this.#generation !== generation) {
      const engine = this.#make(this.#bundle, this.#trustCallerTime);
      this.#native = engine;
      this.#generation = generation;
      // A rebuilt engine starts a new chain (seq 1) for its sink.
      if (this.#queue) engine.setDecisionLogQueue(true);
      for (const { change, by } of this.#changes) {
        try {
          engine.applyJson(change, by);
        } catch {
          // expired or superseded
        }
      }
      if (this.#sessionKeys !== null) engine.setSessionKeysJson(this.#sessionKeys);
      for (const { id, by } of this.#revokedSessions) engine.revokeSession(id, by);
      if (this.#queue) engine.takeDecisionRecordsJson();
    }
    return this.#native;
  }

  reloadJson(bundle: string): void {
    this.live.reloadJson(bundle);
    this.#bundle = bundle;
  }
  setDecisionLogQueue(on: boolean): void {
    this.live.setDecisionLogQueue(on);
    this.#queue = on;
  }
  grantJson(request: string): string {
    const out = this.live.grantJson(request);
    const wire = JSON.parse(out) as { granted_by: string };
    this.#changes.push({ change: JSON.stringify({ op: "grant", ...wire }), by: wire.granted_by });
    return out;
  }
  applyJson(change: string, by: string): string {
    const out = this.live.applyJson(change, by);
    this.#changes.push({ change, by });
    return out;
  }
  revokeSession(sessionId: string, by: string): void {
    this.live.revokeSession(sessionId, by);
    this.#revokedSessions.push({ id: sessionId, by });
  }
  setSessionKeysJson(keys: string): void {
    this.live.setSessionKeysJson(keys);
    this.#sessionKeys = keys;
  }

  checkJson(request: string): string {
    return this.live.checkJson(request);
  }
  checkSessionJson(request: string): string {
    return this.live.checkSessionJson(request);
  }
  checkBatchJson(requests: string): string {
    return this.live.checkBatchJson(requests);
  }
  takeDecisionRecordsJson(): string {
    return this.live.takeDecisionRecordsJson();
  }
  decisionLogHeadJson(): string {
    return this.live.decisionLogHeadJson();
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
  issueSessionJson(input: string): string {
    return this.live.issueSessionJson(input);
  }
  verifySessionJson(token: string, audience: string | null): string {
    return this.live.verifySessionJson(token, audience);
  }
  sessionPublicKeysJson(): string {
    return this.live.sessionPublicKeysJson();
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

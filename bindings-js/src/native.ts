// What the shared layer needs from a binding's native module: an engine that
// takes and returns JSON text (wasm-bindgen exports these names as they are;
// the Node loader adapts the napi addon to them).

/** A native engine: JSON text in and out, errors thrown with the core's `code`. */
export interface NativeEngine {
  checkJson(request: string): string;
  checkSessionJson(request: string): string;
  /** A token-form request (JSON text) decided: the Decision (JSON text). */
  checkTokenJson(request: string): string;
  /** A verified identity-provider token's claims (JSON text). */
  verifyTokenJson(token: string): string;
  /** Replaces the keys of the configured issuer `issuer` with a JWKS (JSON text). */
  setIssuerJwks(issuer: string, jwks: string): void;
  checkBatchJson(requests: string): string;
  reloadJson(bundle: string): void;
  /** A bundle directory, where there is a filesystem. */
  reloadDir?(dir: string | URL): void;
  /** On: queue the records of each call for `takeDecisionRecordsJson`; off: no log. */
  setDecisionLogQueue(on: boolean): void;
  /** A JSON-lines file sink, where there is a filesystem. */
  setDecisionLogPath?(path: string | URL, maxBytes: number | null): void;
  takeDecisionRecordsJson(): string;
  /** Writes buffered records out; throws the first logging failure since the last flush. */
  flushDecisionLog?(): void;
  decisionLogHeadJson(): string;
  /** The exporting sink's counters as JSON text, or `null`. */
  decisionLogStatsJson(): string;
  /** Decision counters, check latency and gauges (JSON text). */
  metricsJson(): string;
  grantJson(request: string): string;
  grantsJson(agent: string | null): string;
  grantPolicyText(grantId: string): string | null | undefined;
  applyJson(change: string, by: string): string;
  /** Records cost units of an agent (`usage_invalid` for a bad kind, agent or amount). */
  recordUsage(agent: string, units: number, kind: string): void;
  /** What the agent's next check sees as `context.usage` (JSON text). */
  usageJson(agent: string, action: string | null): string;
  /** The lockdown in force as JSON text (`null` when none). */
  lockdownStatusJson(): string;
  /** `{decision_id | request, by, uses?, ttl_seconds?}` → the approval (JSON text). */
  approveJson(args: string): string;
  /** `{decision_id | request, by}` → the rejected request (JSON text). */
  rejectJson(args: string): string;
  /** Waiting requests of one agent or all (JSON array text). */
  approvalsJson(agent: string | null): string;
  /** On: queue each new waiting request for `takeApprovalRequestsJson`; off: none. */
  setApprovalQueue(on: boolean): void;
  /** The waiting requests queued since the last call (JSON array text). */
  takeApprovalRequestsJson(): string;
  warningsJson(): string;
  /** Journal changes that no longer applied when the engine was (re)built, described (JSON array). */
  skippedChangesJson(): string;
  issueSessionJson(input: string): string;
  verifySessionJson(token: string, audience: string | null): string;
  revokeSession(sessionId: string, by: string): void;
  setSessionKeysJson(keys: string): void;
  sessionPublicKeysJson(): string;
  /** A tool call (`ToolCall` wire JSON text) decided: the Decision (JSON text). */
  checkToolCallJson(input: string): string;
  /** An MCP `tools/call` decided: the Decision (JSON text). */
  mcpCheckCallJson(input: string): string;
  /** `mcpCheckCallJson` for a guard: `{decision, result}` (the denied call's tool error result, or null). */
  mcpGuardCallJson(input: string): string;
  /** The tool names listed for a caller (JSON array text). */
  mcpListableToolsJson(input: string): string;
  readonly policyRevision: string;
  readonly mode: string;
  readonly onError: string;
}

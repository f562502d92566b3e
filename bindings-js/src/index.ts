// The one JavaScript layer of agentauthz, shared by the Node addon's package
// and the WASM package: errors, Decision, name mapping, request dispatch,
// decision-log callbacks and argument validation. Each package's loader binds
// its native module (`bind`) and exports what this module exports.

import { bindClock, type ClockFactory } from "./clock.js";
import { bindCodes, bindFailures, type ForeignError } from "./errors.js";
import { bindOcsf, type RecordToOcsf } from "./ocsf.js";

export { type ClockFactory, ManualClock, type NativeClock } from "./clock.js";
export { Decision } from "./decision.js";
export {
  type ApprovalRequestCallback,
  type DecisionLogOptions,
  type DecisionLogSink,
  EngineBase,
  NATIVE,
  bundleJson,
  mcpGuardCall,
  schemaFromMcpWith,
  stringify,
} from "./engine.js";
export * from "./errors.js";
export { type AiSdkExecuteOptions, type AiSdkTool, buildAiSdk } from "./ai-sdk.js";
export { buildLangChain, DEFAULT_NAME, type LangChain } from "./langchain.js";
export { buildMcp, SESSION_META_KEY } from "./mcp.js";
export {
  type AgentsGuardrailData,
  type AgentsToolCall,
  type AgentsToolInputGuardrail,
  buildOpenAIAgents,
  DEFAULT_GUARDRAIL_NAME,
  type GuardrailOptions,
} from "./openai-agents.js";
export type { NativeEngine } from "./native.js";
export { type OcsfEvent, type RecordToOcsf, toOcsf } from "./ocsf.js";
export { buildTracing, type OtelApi, SPAN_NAME } from "./tracing.js";
export { claimsFromWire, grantFromWire, renamed, requestToWire, timeText } from "./names.js";
export type * from "./types.js";
export {
  type ActionMap,
  type ActionOption,
  errorCode,
  type FromCall,
  type OnError,
  outcomeInfo,
  refusalText,
  type ToolCall,
  type ToolCallAuthorizer,
  type ToolCallOptions,
  type ToolCallOutcome,
  ToolCallRefused,
  toolCallAuthorizer,
} from "./tool-call.js";
export { describe, wireText } from "./wire.js";
export type * from "./wire-types.js";

/** What a loader hands over when it binds its native module. */
export interface Binding {
  /** The core's `errorCodes()`: every stable code with its family. */
  errorCodes: readonly { code: string; family: string }[];
  /** A thrown value that is not a core error, as `[code, message]`. */
  foreign?: ForeignError;
  /** Called after the core caught a panic (the WASM instance is replaced). */
  onPanic?: () => void;
  /** The native manual clock (`ManualClock`). */
  clock: ClockFactory;
  /** The core's OCSF mapping: a decision record as JSON text in, its event as JSON text out. */
  recordToOcsf: RecordToOcsf;
}

/** Binds the shared layer to a loader's native module; once, at import. */
export function bind(binding: Binding): void {
  bindCodes(binding.errorCodes);
  bindFailures(binding);
  bindClock(binding.clock);
  bindOcsf(binding.recordToOcsf);
}

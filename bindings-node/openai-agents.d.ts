import type { RunToolApprovalItem, Tool, ToolInputGuardrailData, ToolInputGuardrailDefinition } from '@openai/agents'
import type { Decision, EntityRef, Engine } from './index'

/** The tool call being checked: the tool's name, its arguments (parsed from JSON), the SDK's call id. */
export interface ToolCall {
  name: string
  args: unknown
  id?: string
}

/** The SDK's guardrail data, for a run context of any type. */
// biome-ignore lint/suspicious/noExplicitAny: the app's own run-context type, unknown here
export type GuardrailData = ToolInputGuardrailData<any>

/** A fixed value, or a function of the tool call (and the guardrail data: run context, agent, call item). */
export type FromToolCall<T> = T | ((call: ToolCall, data: GuardrailData) => T | Promise<T>)

export interface AuthorizationGuardrailOptions {
  /** The engine that decides. */
  engine: Engine
  /** The agent's id in the inventory (or give `session`). */
  agent?: FromToolCall<string>
  /** A session token (`v4.public.…`) in place of `agent`. */
  session?: FromToolCall<string>
  /** The audience the session token must carry. */
  audience?: FromToolCall<string | undefined>
  /** The resource the tool acts on. */
  resource: FromToolCall<EntityRef>
  /** The action: the tool name by default; a map (object or Map) of tool names to actions (an unlisted tool is denied); or a function (`null`: denied). */
  action?:
    | Readonly<Record<string, string>>
    | ReadonlyMap<string, string>
    | ((call: ToolCall, data: GuardrailData) => string | null | undefined | Promise<string | null | undefined>)
  /** `context.input`: the call's arguments by default; `undefined` leaves it out. */
  input?: FromToolCall<Record<string, unknown> | undefined>
  /** Further context fields (`source_ip`, `endpoint`, ...). */
  context?: FromToolCall<Record<string, unknown> | undefined>
  task?: FromToolCall<string | undefined>
  onBehalfOf?: FromToolCall<string | undefined>
  credential?: FromToolCall<string | undefined>
  /** The request time (engines that trust the caller's time); the engine clock when absent. */
  now?: FromToolCall<Date | string | undefined>
  /** A call that cannot be decided (a coded error of the engine, or an exception from an option function or `onDecision`): `"deny"` (default: refused, the model sees the error code), `"throw"` (the error ends the run), or a function told the error (refused). */
  onError?: 'deny' | 'throw' | ((error: unknown, call: ToolCall) => void)
  /** Called with every decision, allow or deny, before the tool runs; throwing (or rejecting) vetoes the call: it is refused under `onError`. */
  onDecision?: (decision: Decision, call: ToolCall) => void | Promise<void>
  /** The guardrail's name (default `agentauthz`). */
  name?: string
}

/**
 * A tool input guardrail that asks agentauthz before the tool runs; a refused
 * call is answered with `rejectContent` (the model sees the reasons and
 * decision id) and the tool does not run.
 */
// biome-ignore lint/suspicious/noExplicitAny: fits the guardrails of tools of any run-context type
export declare function authorizationGuardrail(options: AuthorizationGuardrailOptions): ToolInputGuardrailDefinition<any>

export interface GuardAgentToolsOptions extends AuthorizationGuardrailOptions {
  /** Names of tools that cannot be guarded in process (hosted, computer, shell) to keep anyway. */
  unguarded?: readonly string[]
  /** A `needs_approval` decision: `"deny"` (default) refuses the call; `"interrupt"` pauses the run with the SDK's tool approval (`result.interruptions`). */
  approval?: 'deny' | 'interrupt'
}

/**
 * Guards every function tool of an Agent (copies with the guardrail first;
 * the tools passed in are unchanged). A tool that cannot be guarded in
 * process (hosted, computer, shell) is a TypeError unless `unguarded` lists it.
 * With `approval: "interrupt"`, each copy's `needsApproval` asks the engine;
 * the guardrail checks again when the run resumes, so a call runs only when
 * `engine.approve` recorded an approval of those arguments (once).
 */
// biome-ignore lint/suspicious/noExplicitAny: agents of any run-context type
export declare function guardAgentTools<A extends { tools: Tool<any>[] }>(agent: A, options: GuardAgentToolsOptions): A

/** An interruption that waits for an agentauthz approval. */
export interface PendingApproval {
  /** The SDK's item: `state.approve(item)` / `state.reject(item)`. */
  item: RunToolApprovalItem
  tool: string
  callId: string
  /** The arguments that were checked. */
  args: unknown
  /** The `needs_approval` decision: `engine.approve(decision, { by })`. */
  decision: Decision
  decisionId: string
  requestDigest: string | null
  approvers: readonly string[]
  reasons: readonly string[]
}

/** The run's interruptions that wait for an agentauthz approval, each with its decision (others are left out). */
export declare function pendingApprovals(result: { interruptions?: RunToolApprovalItem[]; runContext?: unknown }): PendingApproval[]

export declare const DEFAULT_GUARDRAIL_NAME: 'agentauthz'

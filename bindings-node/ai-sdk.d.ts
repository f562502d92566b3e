import type { ToolExecutionOptions, ToolSet } from 'ai'
import type { Decision, EntityRef, Engine } from './index'

/** The tool call being checked: the tool's name (its key in the set), its parsed input, the SDK's call id. */
export interface ToolCall {
  name: string
  args: unknown
  id?: string
}

/** A fixed value, or a function of the tool call (and the SDK's execute options) that computes it. */
export type FromToolCall<T> = T | ((call: ToolCall, options: ToolExecutionOptions<unknown>) => T | Promise<T>)

export interface AuthorizeToolsOptions {
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
    | ((call: ToolCall, options: ToolExecutionOptions<unknown>) => string | null | undefined | Promise<string | null | undefined>)
  /** `context.input`: the tool's input by default; `undefined` leaves it out. */
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
}

/** What a refused tool's `execute` throws: the SDK sends its message (reasons and decision id, or the error code) to the model. */
export declare class ToolCallRefused extends Error {
  readonly name: 'ToolCallRefused'
  /** The deny, when the call was decided. */
  readonly decision: Decision | undefined
  /** The error, when it could not be decided: an AuthzError, or what an option function or `onDecision` threw. */
  readonly error: unknown
  readonly toolCallId: string | undefined
}

/**
 * A copy of a tool set in which every tool asks agentauthz before its
 * `execute` runs; a refused call never runs the tool. Every tool needs an
 * `execute` (a client-side or provider tool cannot be checked here: TypeError).
 */
export declare function authorizeTools<T extends ToolSet>(tools: T, options: AuthorizeToolsOptions): T

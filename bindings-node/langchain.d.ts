import type { AgentMiddleware, ToolCallRequest } from 'langchain'
import type { Decision, EntityRef, Engine } from './index'

/** The tool call the model asked for: `{ name, args, id }`. */
export type ToolCall = ToolCallRequest['toolCall']

/** A fixed value, or a function of the tool call (and the full request: state, runtime), possibly async. */
export type FromToolCall<T> = T | ((toolCall: ToolCall, request: ToolCallRequest) => T | Promise<T>)

export interface AuthorizationMiddlewareOptions {
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
  /** The action: the tool name by default; a map (object or Map) of tool names to actions (a tool it does not list is denied, `baseline/unknown-action`); or a function (`null`: denied). */
  action?:
    | Readonly<Record<string, string>>
    | ReadonlyMap<string, string>
    | ((toolCall: ToolCall, request: ToolCallRequest) => string | null | undefined | Promise<string | null | undefined>)
  /** `context.input`: the tool call's arguments by default; `undefined` leaves it out. */
  input?: FromToolCall<Record<string, unknown> | undefined>
  task?: FromToolCall<string | undefined>
  onBehalfOf?: FromToolCall<string | undefined>
  credential?: FromToolCall<string | undefined>
  /** Further context fields (`source_ip`, `endpoint`, ...). */
  context?: FromToolCall<Record<string, unknown> | undefined>
  /** The request time; the engine clock when absent. */
  now?: FromToolCall<Date | string | undefined>
  /** The middleware's name (default `AgentauthzMiddleware`). */
  name?: string
  /** Called with every decision, allow or deny, before the tool runs; throwing (or rejecting) vetoes the call: it is refused under `onError`. */
  onDecision?: (decision: Decision, toolCall: ToolCall) => void | Promise<void>
  /** A call that cannot be decided (a coded error of the engine, or an exception from an option function or `onDecision`): `"deny"` (default: an error ToolMessage with the code), `"throw"` (the error ends the run), or a function told the error (refused). The tool never runs. */
  onError?: 'deny' | 'throw' | ((error: unknown, toolCall: ToolCall) => void)
  /** What a `needs_approval` decision does: `"interrupt"` (default) pauses the graph with LangGraph's `interrupt(ApprovalRequest)` (a graph without a checkpointer cannot resume: there the call is refused); on resume the call is checked again and runs only if the engine holds an approval (`engine.approve`), once; the resume value is never an approval. `"deny"` refuses at once. */
  approval?: 'interrupt' | 'deny'
}

/** The value of the interrupt a `needs_approval` call raises. It holds no credential: approve with `engine.approve(decision_id, { by })`, which the engine checks. */
export interface ApprovalRequest {
  type: 'agentauthz/approval'
  tool: string
  tool_call_id: string | null
  /** The tool call's arguments, as the model gave them. */
  args: unknown
  decision_id: string
  /** `sha256:<hex>` of the request: an approval covers these exact arguments. */
  request_digest: string | null
  /** Who may approve (`owner`, `team:ID`, `user:ID`). */
  approvers: string[]
  /** The `@approval` policies that held the call back. */
  reasons: string[]
}

/**
 * A LangChain.js agent middleware (`createMiddleware({ name, wrapToolCall })`)
 * that asks agentauthz before every tool call. On a deny, or when the call
 * cannot be decided, the tool does not run and the model receives an error
 * ToolMessage with the reasons and decision id (or the error code). A call
 * that needs a human's approval pauses the graph (see `approval`).
 */
export declare function authorizationMiddleware(options: AuthorizationMiddlewareOptions): AgentMiddleware

import type { AgentMiddleware, ToolCallRequest } from 'langchain'
import type { AuthzError, Decision, EntityRef, Engine } from './index'

/** The tool call the model asked for: `{ name, args, id }`. */
export type ToolCall = ToolCallRequest['toolCall']

/** A fixed value, or a function of the tool call (and the full request: state, runtime). */
export type FromToolCall<T> = T | ((toolCall: ToolCall, request: ToolCallRequest) => T)

export interface AuthorizationMiddlewareOptions {
  /** The engine that decides. */
  engine: Engine
  /** The agent's id in the inventory. */
  agent: FromToolCall<string>
  /** The resource the tool acts on. */
  resource: FromToolCall<EntityRef>
  /** The action: the tool name by default; an object maps tool names to actions. */
  action?: Record<string, string> | ((toolCall: ToolCall, request: ToolCallRequest) => string)
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
  /** Called with every decision, allow or deny (audit, metrics). */
  onDecision?: (decision: Decision, toolCall: ToolCall) => void
  /** Called when a tool call could not be decided; the tool does not run. */
  onError?: (error: AuthzError | Error, toolCall: ToolCall) => void
}

/**
 * A LangChain.js agent middleware (`createMiddleware({ name, wrapToolCall })`)
 * that asks agentauthz before every tool call. On a deny, or when the call
 * cannot be decided, the tool does not run and the model receives an error
 * ToolMessage naming the reasons.
 */
export declare function authorizationMiddleware(options: AuthorizationMiddlewareOptions): AgentMiddleware

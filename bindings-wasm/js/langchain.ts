// agentauthz-wasm/langchain: a LangChain.js agent middleware that checks every
// tool call with a WASM Engine; a call that needs a human's approval pauses the
// graph with LangGraph's `interrupt()` (the web build needs `await init()`
// before the Engine is made, as always).
import { interrupt, isGraphBubbleUp } from "@langchain/langgraph";
import { type AgentMiddleware, createMiddleware, type ToolCallRequest, ToolMessage } from "langchain";
import { Engine } from "./api.js";
import { buildLangChain, type ToolCallOptions } from "./shared/index.js";
import type { ApprovalMode } from "./shared/langchain.js";

export type { ApprovalMode, ApprovalRequest } from "./shared/langchain.js";

/** The middleware's options (docs/frameworks/langchain-js.md): the tool-call
 * options of every adapter, deciding with a WASM `Engine`; option functions
 * get `(toolCall, request)`. */
export type AuthorizationMiddlewareOptions = ToolCallOptions<ToolCallRequest> & {
  engine: Engine;
  /** The middleware's name (default `AgentauthzMiddleware`). */
  name?: string;
  /** What a `needs_approval` decision does: `"interrupt"` (default) pauses the graph; `"deny"` refuses at once. */
  approval?: ApprovalMode;
};

// Imported, not optional as in the Node package: a bundler needs a static
// import, and `langchain` 1.x depends on `@langchain/langgraph`.
const { authorizationMiddleware: middleware } = buildLangChain(
  { createMiddleware, ToolMessage, interrupt, isGraphBubbleUp },
  (engine) => engine instanceof Engine,
);

/** A LangChain.js agent middleware (`createAgent({ middleware: [...] })`) that asks agentauthz before every tool call. */
export const authorizationMiddleware = middleware as (options: AuthorizationMiddlewareOptions) => AgentMiddleware;

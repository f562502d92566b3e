// The LangChain.js middleware, written once over the `langchain` exports it
// needs, so that each entry point binds it to the build of `langchain` its
// caller uses (CommonJS or ESM).
//
// Human approval (`approval: "interrupt"`, the default, as in Python): a
// `needs_approval` call pauses the graph with LangGraph's `interrupt()`. The
// resumed graph runs the tool node again, so the call is checked again: only
// an approval the engine holds lets it run (once); the resume value is never
// read as one.

import type { Decision } from "./decision.js";
import { outcomeInfo, type ToolCall, type ToolCallOptions, type ToolCallOutcome, toolCallAuthorizer } from "./tool-call.js";

export const DEFAULT_NAME = "AgentauthzMiddleware";

interface ToolCallRequest {
  toolCall: ToolCall;
}

/** What a `needs_approval` decision does: pause the graph, or refuse at once. */
export type ApprovalMode = "interrupt" | "deny";

/** The middleware's options: the tool-call mapper's, its name, and `approval`. */
type Options = ToolCallOptions<ToolCallRequest> & { name?: string; approval?: ApprovalMode };

/** The value of the interrupt a `needs_approval` call raises (the keys of
 * Python's `Verdict.approval_request()`). No credential: approving means
 * `engine.approve(decision_id, {by})`, which the engine itself checks. */
export interface ApprovalRequest {
  type: "agentauthz/approval";
  tool: string;
  tool_call_id: string | null;
  args: unknown;
  decision_id: string;
  request_digest: string | null;
  approvers: string[];
  reasons: string[];
}

// biome-ignore lint/suspicious/noExplicitAny: langchain's own types; each entry point binds its build
type LangChainArgs = any;

/** The `langchain` (and `@langchain/langgraph`) exports the middleware is built from. */
export interface LangChain {
  createMiddleware: (config: LangChainArgs) => unknown;
  ToolMessage: new (fields: LangChainArgs) => unknown;
  /** LangGraph's `interrupt`; absent when `@langchain/langgraph` cannot be loaded (calls are then refused, not paused). */
  interrupt?: (value: ApprovalRequest) => unknown;
  /** LangGraph's `isGraphBubbleUp`: the pause itself, which must reach the graph. */
  isGraphBubbleUp?: (error: unknown) => boolean;
}

const RESUMED = "The run was resumed without an approval the engine holds. ";

/** The interrupt's value for a `needs_approval` call. */
export function approvalRequest(call: ToolCall, decision: Decision): ApprovalRequest {
  return {
    type: "agentauthz/approval",
    tool: call.name,
    tool_call_id: call.id ?? null,
    args: call.args,
    decision_id: decision.decisionId,
    request_digest: decision.requestDigest,
    approvers: [...decision.approvers],
    reasons: [...decision.reasons],
  };
}

/**
 * A LangChain.js agent middleware that asks agentauthz before every tool call.
 * The tool name is the action (or `options.action` maps it; a tool the map
 * does not list is denied), the tool call's arguments are `context.input`.
 * On a deny, or when the request cannot be decided (`onError: "deny"`, the
 * default), the tool does not run: the model gets an error ToolMessage with
 * the reasons and decision id, or the error code. A `needs_approval` call
 * pauses the graph (see the top of this file), or is refused with
 * `approval: "deny"` or when the graph cannot pause (no checkpointer).
 */
export function buildLangChain(
  { createMiddleware, ToolMessage, interrupt, isGraphBubbleUp }: LangChain,
  isEngine: (value: unknown) => boolean,
): { authorizationMiddleware: (options: Options) => unknown } {
  function authorizationMiddleware(options: Options): unknown {
    const authorizer = toolCallAuthorizer(options, isEngine, "authorizationMiddleware");
    const name = options.name ?? DEFAULT_NAME;
    if (typeof name !== "string" || name === "") throw new TypeError("authorizationMiddleware: `name` must be a non-empty string");
    const approval = options.approval ?? "interrupt";
    if (approval !== "interrupt" && approval !== "deny") {
      throw new TypeError(`authorizationMiddleware: \`approval\` must be "interrupt" or "deny", not ${JSON.stringify(approval)}`);
    }

    function refusal(toolCall: ToolCall, outcome: ToolCallOutcome & { allowed: false }, prefix = ""): unknown {
      return new ToolMessage({
        content: prefix + outcome.refusal,
        tool_call_id: toolCall.id ?? "",
        name: toolCall.name,
        status: "error",
        artifact: outcomeInfo(outcome),
      });
    }

    /** Pauses the graph for a human. When `interrupt` returns, the graph was
     * resumed and this call, checked again, still needs an approval: the
     * resume value is ignored and the call refused. */
    function pause(toolCall: ToolCall, outcome: ToolCallOutcome & { allowed: false }, decision: Decision): unknown {
      if (interrupt === undefined || isGraphBubbleUp === undefined) return refusal(toolCall, outcome);
      try {
        interrupt(approvalRequest(toolCall, decision));
      } catch (e) {
        if (isGraphBubbleUp(e)) throw e;
        // No checkpointer, or not inside a graph: it cannot resume, so refuse.
        return refusal(toolCall, outcome);
      }
      return refusal(toolCall, outcome, RESUMED);
    }

    return createMiddleware({
      name,
      wrapToolCall: async (request: ToolCallRequest, handler: (r: ToolCallRequest) => unknown) => {
        const toolCall = request.toolCall;
        const call: ToolCall = { name: toolCall.name, args: toolCall.args, id: toolCall.id };
        const outcome = await authorizer.authorize(call, request);
        if (outcome.allowed) return handler(request);
        const decision = outcome.error === undefined ? outcome.decision : undefined;
        if (approval === "interrupt" && decision?.requiresApproval === true) return pause(call, outcome, decision);
        return refusal(call, outcome);
      },
    });
  }
  return { authorizationMiddleware };
}

// The LangChain.js middleware, written once over the `langchain` exports it
// needs, so that each entry point binds it to the build of `langchain` its
// caller uses (CommonJS or ESM).

import { outcomeInfo, type ToolCall, type ToolCallOptions, toolCallAuthorizer } from "./tool-call.js";

export const DEFAULT_NAME = "AgentauthzMiddleware";

interface ToolCallRequest {
  toolCall: ToolCall;
}

/** The middleware's options: the tool-call mapper's, and its name. */
type Options = ToolCallOptions<ToolCallRequest> & { name?: string };

// biome-ignore lint/suspicious/noExplicitAny: langchain's own types; each entry point binds its build
type LangChainArgs = any;

/** The `langchain` exports the middleware is built from. */
export interface LangChain {
  createMiddleware: (config: LangChainArgs) => unknown;
  ToolMessage: new (fields: LangChainArgs) => unknown;
}

/**
 * A LangChain.js agent middleware that asks agentauthz before every tool call.
 * The tool name is the action (or `options.action` maps it; a tool the map
 * does not list is denied), the tool call's arguments are `context.input`.
 * On a deny, or when the request cannot be decided (`onError: "deny"`, the
 * default), the tool does not run: the model gets an error ToolMessage with
 * the reasons and decision id, or the error code.
 */
export function buildLangChain(
  { createMiddleware, ToolMessage }: LangChain,
  isEngine: (value: unknown) => boolean,
): { authorizationMiddleware: (options: Options) => unknown } {
  function authorizationMiddleware(options: Options): unknown {
    const authorizer = toolCallAuthorizer(options, isEngine, "authorizationMiddleware");
    const name = options.name ?? DEFAULT_NAME;
    if (typeof name !== "string" || name === "") throw new TypeError("authorizationMiddleware: `name` must be a non-empty string");

    return createMiddleware({
      name,
      wrapToolCall: async (request: ToolCallRequest, handler: (r: ToolCallRequest) => unknown) => {
        const toolCall = request.toolCall;
        const call: ToolCall = { name: toolCall.name, args: toolCall.args, id: toolCall.id };
        const outcome = await authorizer.authorize(call, request);
        if (outcome.allowed) return handler(request);
        return new ToolMessage({
          content: outcome.refusal,
          tool_call_id: toolCall.id ?? "",
          name: toolCall.name,
          status: "error",
          artifact: outcomeInfo(outcome),
        });
      },
    });
  }
  return { authorizationMiddleware };
}

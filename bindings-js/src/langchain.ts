// The LangChain.js middleware, written once over the `langchain` exports it
// needs, so that each entry point binds it to the build of `langchain` its
// caller uses (CommonJS or ESM).

import type { Decision } from "./decision.js";
import type { EntityRef } from "./types.js";

export const DEFAULT_NAME = "AgentauthzMiddleware";

interface ToolCall {
  name: string;
  args?: unknown;
  id?: string;
}
interface ToolCallRequest {
  toolCall: ToolCall;
}
type Option<T> = T | ((toolCall: ToolCall, request: ToolCallRequest) => T);

interface Options {
  engine: { check(request: object): Decision };
  agent: Option<string>;
  resource: Option<EntityRef>;
  action?: Record<string, string> | ((toolCall: ToolCall, request: ToolCallRequest) => string);
  input?: Option<unknown>;
  task?: Option<string | undefined>;
  onBehalfOf?: Option<string | undefined>;
  credential?: Option<string | undefined>;
  context?: Option<Record<string, unknown> | undefined>;
  now?: Option<Date | string | undefined>;
  name?: string;
  onDecision?: (decision: Decision, toolCall: ToolCall) => void;
  onError?: (error: unknown, toolCall: ToolCall) => void;
}

// biome-ignore lint/suspicious/noExplicitAny: langchain's own types; each entry point binds its build
type LangChainArgs = any;

/** The `langchain` exports the middleware is built from. */
export interface LangChain {
  createMiddleware: (config: LangChainArgs) => unknown;
  ToolMessage: new (fields: LangChainArgs) => unknown;
}

/** A fixed value, or a function of (toolCall, request) that computes it. */
function resolve<T>(option: Option<T>, toolCall: ToolCall, request: ToolCallRequest): T {
  return typeof option === "function" ? (option as (t: ToolCall, r: ToolCallRequest) => T)(toolCall, request) : option;
}

function actionFor(option: Options["action"], toolCall: ToolCall, request: ToolCallRequest): string {
  if (option === undefined) return toolCall.name;
  if (typeof option === "function") return option(toolCall, request);
  // An object maps tool names to actions; a tool it does not list keeps its name.
  return Object.hasOwn(option, toolCall.name) ? (option[toolCall.name] as string) : toolCall.name;
}

function describeCall(action: unknown, resource: unknown): string {
  const r = resource as { type?: unknown; id?: unknown } | null;
  const where = r && typeof r === "object" ? ` on ${r.type}::${JSON.stringify(r.id)}` : "";
  return `${JSON.stringify(action)}${where}`;
}

/**
 * A LangChain.js agent middleware that asks agentauthz before every tool call.
 * The tool name is the action (or `options.action` maps it), the tool call's
 * arguments are `context.input`. On a deny, or when the request cannot be
 * decided at all, the tool does not run: the model gets an error ToolMessage
 * that names the reasons.
 */
export function buildLangChain(
  { createMiddleware, ToolMessage }: LangChain,
  isEngine: (value: unknown) => boolean,
): { authorizationMiddleware: (options: Options) => unknown } {
  function authorizationMiddleware(options: Options): unknown {
    if (options === null || typeof options !== "object") throw new TypeError("authorizationMiddleware(options): options must be an object");
    const { engine, agent, resource } = options;
    if (!isEngine(engine)) throw new TypeError("authorizationMiddleware: `engine` must be an agentauthz Engine");
    if (agent === undefined)
      throw new TypeError("authorizationMiddleware: `agent` is required (the agent id, or a function of the tool call)");
    if (resource === undefined)
      throw new TypeError("authorizationMiddleware: `resource` is required ({type, id}, or a function of the tool call)");

    function requestFor(toolCall: ToolCall, request: ToolCallRequest) {
      const context: Record<string, unknown> = { ...(resolve(options.context, toolCall, request) ?? {}) };
      const input = options.input === undefined ? toolCall.args : resolve(options.input, toolCall, request);
      if (input !== undefined) context.input = input;
      const now = options.now === undefined ? undefined : resolve(options.now, toolCall, request);
      return {
        agent: resolve(agent, toolCall, request),
        action: actionFor(options.action, toolCall, request),
        resource: resolve(resource, toolCall, request),
        task: resolve(options.task, toolCall, request),
        onBehalfOf: resolve(options.onBehalfOf, toolCall, request),
        credential: resolve(options.credential, toolCall, request),
        context,
        now,
      };
    }

    function refuse(toolCall: ToolCall, content: string, artifact: unknown) {
      return new ToolMessage({ content, tool_call_id: toolCall.id ?? "", name: toolCall.name, status: "error", artifact });
    }

    return createMiddleware({
      name: options.name ?? DEFAULT_NAME,
      wrapToolCall: async (request: ToolCallRequest, handler: (r: ToolCallRequest) => unknown) => {
        const toolCall = request.toolCall;
        let checkRequest: ReturnType<typeof requestFor> | undefined;
        let decision: Decision;
        try {
          checkRequest = requestFor(toolCall, request);
          decision = options.engine.check(checkRequest);
        } catch (error) {
          // Never fail open: a request that cannot be decided does not run.
          const e = error as { code?: string; message?: string } | null;
          const what = checkRequest ? describeCall(checkRequest.action, checkRequest.resource) : JSON.stringify(toolCall.name);
          const code = e?.code ? `${e.code}: ` : "";
          const message = e ? e.message : e; // `error && error.message`, null and all
          options.onError?.(error, toolCall);
          return refuse(toolCall, `Not authorized: agentauthz could not decide ${what} (${code}${message}).`, {
            agentauthz: { error: { code: e ? e.code : e, message } },
          });
        }
        options.onDecision?.(decision, toolCall);
        if (decision.allowed) return handler(request);
        const why = decision.reasons.length > 0 ? `denied by ${decision.reasons.join(", ")}` : "no policy permits it";
        return refuse(
          toolCall,
          `Not authorized: ${describeCall(checkRequest.action, checkRequest.resource)} was refused (${why}; decision ${decision.decisionId}).`,
          { agentauthz: decision.toJSON() },
        );
      },
    });
  }
  return { authorizationMiddleware };
}
